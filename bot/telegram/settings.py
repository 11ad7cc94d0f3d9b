"""The chat's own settings: /lang, /preview and /silent.

Rules: the language is one of ar, en, fr, nl (``/lang fr``, or a button); anything else gets a
short answer listing them, with the buttons, and changes nothing. A new language is stored for
the chat, answered in that language, and the chat's command menu follows it. /preview and
/silent take on or off (also in the chat's words: oui/non, aan/uit, تشغيل/إيقاف…); without one
they say the current state. Silent alerts still ring for topics marked ``urgent``.
"""

from __future__ import annotations

import dataclasses

from bot.i18n import LANGUAGE_NAMES, LANGUAGES, translator
from bot.store import subs
from bot.store.db import transaction
from bot.telegram import keyboards, replies
from bot.telegram.replies import code, echo
from bot.telegram.request import Request

_ON = frozenset({"on", "yes", "true", "1", "oui", "aan", "ja", "نعم", "تشغيل"})
_OFF = frozenset({"off", "no", "false", "0", "non", "uit", "nee", "لا", "إيقاف"})


def set_language(req: Request, lang: str) -> Request:
    """Stores the chat's language; returns the request speaking it."""
    with transaction(req.host.conn):
        req.store_chat()
        subs.set_language(req.host.conn, req.chat, lang)
    return dataclasses.replace(req, tr=translator(lang))


async def cmd_lang(req: Request) -> None:
    word = req.args.strip().lower()
    if not word:
        current = req.tr.lang
        await req.reply(
            replies.language_text(current, req.tr), keyboards.language_keyboard(current)
        )
        return
    if word not in LANGUAGES:
        choices = req.tr.join(f"<code>{code}</code>" for code in LANGUAGES)
        await req.reply(
            req.tr(
                "Unknown language {language}. Choose one of {choices}.",
                language=code(echo(word, 20)),
                choices=choices,
            ),
            keyboards.language_keyboard(req.tr.lang),
        )
        return
    req = set_language(req, word)
    await req.reply(
        req.tr("Vigil now speaks {language} in this chat.", language=LANGUAGE_NAMES[word])
    )
    await req.set_menu(word)


async def _switch(req: Request, setting: str) -> None:
    tr = req.tr
    word = req.args.strip().lower()
    if word not in _ON | _OFF:
        prefs = subs.prefs_of(req.host.conn, req.chat)
        on = bool(prefs and getattr(prefs, setting))
        usage = f"/{setting} on|off"
        await req.reply(
            tr(
                "Usage: {usage}. Now: {state}.",
                usage=usage,
                state=tr("on") if on else tr("off"),
            )
        )
        return
    on = word in _ON
    with transaction(req.host.conn):
        req.store_chat()
        subs.set_switch(req.host.conn, req.chat, setting, on)
    await req.reply(replies.switch_text(setting, on, tr))


async def cmd_preview(req: Request) -> None:
    await _switch(req, "preview")


async def cmd_silent(req: Request) -> None:
    await _switch(req, "silent")
