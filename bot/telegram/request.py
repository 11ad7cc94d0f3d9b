"""What a command handler is given (:class:`Request`) and the steps several handlers share.

Rules: who may run a command is decided before it runs, in one place
(:meth:`bot.telegram.gate.Gate.authorize`), from the command's :class:`Need`. A request speaks
the chat's language (``tr``: the language stored for the chat, else the sender's Telegram
``language_code``, else English) and answers in the forum topic it was asked in (``thread_id``).
A chat stored for the first time keeps the language it was spoken to in.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from telegram import InlineKeyboardMarkup, Message, User

from bot.config import Config
from bot.i18n import Tr, pick_language, translator
from bot.store import subs
from bot.store.db import Connection, DatabaseError, transaction
from bot.telegram.access import Actor
from bot.telegram.host import Host

MAX_CHATS = 10_000


class Need(enum.Enum):
    """What a command needs from whoever sends it."""

    ANYONE = "anyone"
    CHANGE = "change"  # in a group: a group administrator (or a Vigil administrator)
    SUBSCRIBE = "subscribe"  # CHANGE, and the `subscriptions` mode must let them add
    ADMIN = "admin"  # a Vigil administrator


Send = Callable[[str, InlineKeyboardMarkup | None], Awaitable[None]]


async def _no_menu(lang: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Request:
    """One authorized command: where it came from, its argument text, and how to answer."""

    host: Host
    config: Config
    chat_id: int
    chat_kind: str
    chat_title: str
    actor: Actor
    admin: bool
    args: str  # the text after the command, stripped; kept whole for phrases and patterns
    now: float  # wall clock, seconds
    tz: tzinfo
    send: Send
    tr: Tr
    thread_id: int | None = None  # the forum topic the command was sent in
    set_menu: Callable[[str], Awaitable[None]] = _no_menu  # the chat's command menu, by language

    @property
    def chat(self) -> str:
        return str(self.chat_id)

    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await self.send(self.tr.lines(text), markup)

    def store_chat(self) -> None:
        """Stores (or revives) the chat, keeping the language it is spoken to in if it has none.

        Call inside a transaction.
        """
        conn = self.host.conn
        subs.ensure_chat(conn, self.chat, self.chat_kind, self.chat_title, self.now, self.tr.lang)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    run: Callable[[Request], Awaitable[None]]
    syntax: str
    description: str  # a catalog id, marked with N_
    need: Need = Need.ANYONE


def resolve_topics(config: Config, words: Sequence[str]) -> tuple[list[str], str | None]:
    """Topic ids for the words (by id or any of its names, any case; ``all``), or the unknown."""
    ids = [t.id for t in config.topics]
    found: list[str] = []
    for word in words:
        lowered = word.lower()
        if lowered == "all":
            found.extend(ids)
            continue
        match = next(
            (
                t.id
                for t in config.topics
                if lowered in (t.id, t.name.lower(), *(n.lower() for _, n in t.names))
            ),
            None,
        )
        if match is None:
            return [], word
        found.append(match)
    return list(dict.fromkeys(found)), None


def chat_is_full(req: Request) -> bool:
    """New chats are refused once MAX_CHATS chats hold subscriptions or phrases."""
    if subs.subscriptions_of(req.host.conn, req.chat) or subs.tracks_of(req.host.conn, req.chat):
        return False
    active, _ = subs.count_chats(req.host.conn)
    return active >= MAX_CHATS


def subscribe_chat(req: Request, topic_ids: Sequence[str]) -> int | None:
    """Subscribes in the request's forum topic; how many were new or moved, None when full."""
    conn = req.host.conn
    with transaction(conn):
        if chat_is_full(req):
            return None
        req.store_chat()
        return subs.subscribe(conn, req.chat, topic_ids, req.now, req.thread_id)


def unsubscribe_chat(req: Request, topic_ids: Sequence[str] | None) -> int:
    """Removes the given subscriptions (all when None); returns how many there were."""
    with transaction(req.host.conn):
        return subs.unsubscribe(req.host.conn, req.chat, topic_ids)


def thread_of(message: Message) -> int | None:
    """The forum topic a message was sent in; None for a chat's General topic or no forum."""
    if message.is_topic_message and message.message_thread_id is not None:
        return message.message_thread_id
    return None


def language_of(conn: Connection, chat_id: int) -> str | None:
    """The language a chat chose (or was first stored with), if any; None if unreadable."""
    try:
        prefs = subs.prefs_of(conn, str(chat_id))
    except DatabaseError:  # an apology for a failed handler must not fail on the store too
        return None
    return prefs.language if prefs else None


def speaker(conn: Connection, chat_id: int, user: User | None) -> Tr:
    """The chat's language, else the sender's Telegram ``language_code``, else English."""
    stored = language_of(conn, chat_id)
    if stored is None and user is not None:
        stored = pick_language(user.language_code)
    return translator(stored)
