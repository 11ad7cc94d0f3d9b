"""What a validated button press does, and how the message it was pressed on is redrawn.

Rules: a press changes what its button says and nothing else; the message it sits on is edited
in place (the keyboard under /start, the whole text and keyboard under /topics and /lang), so
pressing never adds a message. "Accept the new layout" under an admin notice is for Vigil's
administrators only; once pressed (or found stale) its button is removed and the notice stays.
The answer shown to the presser is short plain text (Telegram shows at most 200 characters).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.i18n import LANGUAGE_NAMES
from bot.logs import redact
from bot.store import subs
from bot.telegram import keyboards, layout, replies, searching, settings
from bot.telegram.request import Need, Request, subscribe_chat, unsubscribe_chat

MAX_ANSWER = 200
log = logging.getLogger("vigil.telegram")


@dataclass(frozen=True, slots=True)
class Redraw:
    """The new look of the pressed message: text (None keeps it) and keyboard."""

    text: str | None
    markup: InlineKeyboardMarkup | None


def need_of(press: keyboards.Press, followed: list[str], topic_ids: list[str]) -> Need:
    """Following needs the subscribe right; leaving and the language only the change right."""
    if press.action == "lang" or press.action == "unsub":
        return Need.CHANGE
    if press.action == "find":
        return searching.NEED
    if press.action == "rebase":
        return Need.ADMIN
    if press.action == "tog":
        wanted = topic_ids if press.topic_id == keyboards.ALL else [press.topic_id]
        if all(t in followed for t in wanted):
            return Need.CHANGE  # the press leaves
    return Need.SUBSCRIBE


def press_button(req: Request, press: keyboards.Press) -> tuple[Request, str]:
    """Applies the press; returns the request (in the chat's new language) and the answer."""
    tr = req.tr
    topic_ids = [t.id for t in req.config.topics]
    if press.action == "find":  # the page itself is drawn by redraw()
        return req, searching.press_answer(req, press.search_id)
    if press.action == "rebase":
        return req, layout.press_answer(req, press.feed_id)
    if press.action == "lang":
        req = settings.set_language(req, press.language)
        return req, LANGUAGE_NAMES[press.language]
    if press.action == "tog":
        followed = subs.subscriptions_of(req.host.conn, req.chat)
        wanted = topic_ids if press.topic_id == keyboards.ALL else [press.topic_id]
        if all(t in followed for t in wanted):
            unsubscribe_chat(req, wanted)
            if press.topic_id == keyboards.ALL:
                return req, tr("Unsubscribed from every topic.")
            return req, _answer(tr("Unsubscribed from {name}", name=_name(req, press.topic_id)))
        press = keyboards.Press("sub", press.topic_id)
    if press.action == "unsub":
        unsubscribe_chat(req, [press.topic_id])
        return req, _answer(tr("Unsubscribed from {name}", name=_name(req, press.topic_id)))
    if press.topic_id == keyboards.ALL:
        if subscribe_chat(req, topic_ids) is None:
            return req, tr(replies.FULL)
        return req, tr("Subscribed to every topic")
    if subscribe_chat(req, [press.topic_id]) is None:
        return req, tr(replies.FULL)
    return req, _answer(tr("Subscribed to {name}", name=_name(req, press.topic_id)))


def redraw(req: Request, press: keyboards.Press) -> Redraw | None:
    """How the pressed message looks now (None: leave it as it is)."""
    topics = req.config.topics
    if press.action == "find":
        page = searching.page_look(req, press.search_id, press.offset)
        return None if page is None else Redraw(req.tr.lines(page[0]), page[1])
    if press.action == "rebase":  # done, stale or refused by name: the button has no more use
        return Redraw(None, None)
    if press.action == "lang":
        text = req.tr.lines(replies.language_text(req.tr.lang, req.tr))
        return Redraw(text, keyboards.language_keyboard(req.tr.lang))
    followed = subs.subscriptions_of(req.host.conn, req.chat)
    if press.action == "tog":
        text = req.tr.lines(replies.topics_text(req.config, followed, req.tr))
        return Redraw(text, keyboards.topic_keyboard(topics, followed, req.tr, toggle=True))
    return Redraw(None, keyboards.topic_keyboard(topics, followed, req.tr))


def _name(req: Request, topic_id: str) -> str:
    return req.config.topic(topic_id).label(req.tr.lang)


def _answer(text: str) -> str:
    return text[:MAX_ANSWER]


async def edit_in_place(bot: Bot, chat_id: int, message_id: int, look: Redraw | None) -> None:
    """Edits the pressed message: one edit, never a new message (none when ``look`` is None)."""
    if look is None:
        return
    text = look.text
    if text is not None and len(text) > replies.MAX_MESSAGE:
        text = None  # a listing split over several messages: only its keyboard is redrawn
    try:
        if text is None:
            await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=look.markup)
        else:
            await bot.edit_message_text(
                text,
                chat_id,
                message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=look.markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
    except BadRequest as exc:  # "message is not modified" when nothing changed
        log.debug("message not redrawn: %s", exc)
    except TelegramError as exc:
        log.info("message not redrawn: %s", redact(str(exc), (bot.token,)))
