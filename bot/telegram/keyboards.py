"""Inline keyboards for choosing topics and the language, and the callback data they carry.

Callback data is ``sub:<topic_id>``, ``unsub:<topic_id>`` or ``sub:*`` (every topic) under the
/start message, whose keyboard is redrawn on a press; ``tog:<topic_id>`` or ``tog:*`` under the
/topics message, where a press follows or leaves the topic and redraws the whole message (text
and keyboard, one edit, no new message); ``lang:<code>`` under the /lang message;
``find:<search id>:<offset>`` under /search results (the page from that result; the search must
have been made in the same chat, offsets up to 200); ``rebase:<feed id>`` under the admin
notice of a layout change ("Accept the new layout", :mod:`bot.telegram.layout`). Anyone can send
any callback data to a bot (RELIABILITY F9), so a press is acted on only when it parses exactly
and names a topic configured *now* or one of the four languages; stale buttons from before a
reload fail the same way. A ``rebase:`` press is parsed by the feed-id syntax only, so a button
for a feed removed since is told so by name (:mod:`bot.telegram.layout`). Topic and feed ids are
at most 32 characters, so the data stays under Telegram's 64-byte limit.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Topic
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Tr

ALL = "*"
MAX_TOPIC_BUTTONS = 60  # Telegram refuses very large keyboards; /subscribe covers the rest
CHECK = "✓ "
MAX_LABEL = 60
ALL_TOPICS = N_("All topics")

# find:<search id>:<offset> — a page of /search results (at most 28 bytes).
_FIND = re.compile(r"([1-9][0-9]{0,11}):(0|[1-9][0-9]{0,3})")
MAX_SEARCH_OFFSET = 200
# rebase:<feed id> — a feed id as feeds.yaml allows it (bot.config.entries), at most 39 bytes.
_FEED_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
ACCEPT_LAYOUT = N_("Accept the new layout")
Action = Literal["sub", "unsub", "tog", "lang", "find", "rebase"]


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True, slots=True)
class Press:
    """A validated button press."""

    action: Action
    topic_id: str = ""  # a configured topic id, or ALL (sub and tog); empty for lang
    language: str = ""  # one of LANGUAGES, for lang
    search_id: int = 0  # for find: a saved /search (bot.telegram.searching) and the result to
    offset: int = 0  # show first
    feed_id: str = ""  # for rebase: a feed id (maybe no longer configured)


def callback_data(action: Action, value: str) -> str:
    return f"{action}:{value}"


def parse_press(data: str | None, topic_ids: Collection[str]) -> Press | None:
    """The press, or None when the data is forged, malformed or refers to no current topic."""
    if not data:
        return None
    action, sep, value = data.partition(":")
    if not sep:
        return None
    if action == "lang":
        return Press("lang", language=value) if value in LANGUAGES else None
    if action == "find":
        found = _FIND.fullmatch(value)
        if found is None or int(found.group(2)) > MAX_SEARCH_OFFSET:
            return None
        return Press("find", search_id=int(found.group(1)), offset=int(found.group(2)))
    if action == "rebase":
        return Press("rebase", feed_id=value) if _FEED_ID.fullmatch(value) else None
    if action in ("sub", "tog") and value == ALL:
        return Press(action, ALL)  # type: ignore[arg-type]  # narrowed by the test above
    if action in ("sub", "unsub", "tog") and value in topic_ids:
        return Press(action, value)  # type: ignore[arg-type]
    return None


def topic_keyboard(
    topics: Sequence[Topic], subscribed: Collection[str], tr: Tr, *, toggle: bool = False
) -> InlineKeyboardMarkup:
    """One button per topic (✓ when followed), then "All topics".

    Under /start a followed topic's button unsubscribes (``unsub:``) and the others subscribe;
    with ``toggle`` (under /topics) every button toggles (``tog:``).
    """
    rows: list[list[InlineKeyboardButton]] = []
    for topic in topics[:MAX_TOPIC_BUTTONS]:
        followed = topic.id in subscribed
        label = (CHECK if followed else "") + _label(topic.label(tr.lang))
        action: Action = "tog" if toggle else ("unsub" if followed else "sub")
        rows.append([InlineKeyboardButton(label, callback_data=callback_data(action, topic.id))])
    every = all(t.id in subscribed for t in topics)
    label = (CHECK if every and topics else "") + tr(ALL_TOPICS)
    action = "tog" if toggle else "sub"
    rows.append([InlineKeyboardButton(label, callback_data=callback_data(action, ALL))])
    return InlineKeyboardMarkup(rows)


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """One button per language, each named in itself; ✓ on the one in use."""
    buttons = [
        InlineKeyboardButton(
            (CHECK if code == current else "") + LANGUAGE_NAMES[code],
            callback_data=callback_data("lang", code),
        )
        for code in LANGUAGES
    ]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:]])


def accept_layout_keyboard(feed_id: str, tr: Tr) -> InlineKeyboardMarkup:
    """The one button under a layout-changed notice: accept the page's new layout."""
    button = InlineKeyboardButton(tr(ACCEPT_LAYOUT), callback_data=callback_data("rebase", feed_id))
    return InlineKeyboardMarkup([[button]])
