"""Inline keyboards for choosing topics, and the callback data their buttons carry.

Callback data is ``sub:<topic_id>``, ``unsub:<topic_id>`` or ``sub:*`` (every topic). Anyone can
send any callback data to a bot (RELIABILITY F9), so a press is acted on only when it parses
exactly and names a topic configured *now*; stale buttons from before a reload fail the same
way. Topic ids are at most 32 characters, so the data stays under Telegram's 64-byte limit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Topic

ALL = "*"
MAX_TOPIC_BUTTONS = 60  # Telegram refuses very large keyboards; /subscribe covers the rest
CHECK = "✓ "
MAX_LABEL = 60


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True, slots=True)
class Press:
    """A validated button press."""

    action: Literal["sub", "unsub"]
    topic_id: str  # a configured topic id, or ALL (only with "sub")


def callback_data(action: Literal["sub", "unsub"], topic_id: str) -> str:
    return f"{action}:{topic_id}"


def parse_press(data: str | None, topic_ids: Collection[str]) -> Press | None:
    """The press, or None when the data is forged, malformed or refers to no current topic."""
    if not data:
        return None
    action, sep, topic_id = data.partition(":")
    if not sep:
        return None
    if action == "sub" and topic_id == ALL:
        return Press("sub", ALL)
    if action == "sub" and topic_id in topic_ids:
        return Press("sub", topic_id)
    if action == "unsub" and topic_id in topic_ids:
        return Press("unsub", topic_id)
    return None


def topic_keyboard(topics: Sequence[Topic], subscribed: Collection[str]) -> InlineKeyboardMarkup:
    """One button per topic (✓ when followed: pressing it unsubscribes), then "All topics"."""
    rows: list[list[InlineKeyboardButton]] = []
    for topic in topics[:MAX_TOPIC_BUTTONS]:
        if topic.id in subscribed:
            button = InlineKeyboardButton(
                CHECK + _label(topic.name), callback_data=callback_data("unsub", topic.id)
            )
        else:
            button = InlineKeyboardButton(
                _label(topic.name), callback_data=callback_data("sub", topic.id)
            )
        rows.append([button])
    every = all(t.id in subscribed for t in topics)
    label = (CHECK if every and topics else "") + "All topics"
    rows.append([InlineKeyboardButton(label, callback_data=callback_data("sub", ALL))])
    return InlineKeyboardMarkup(rows)
