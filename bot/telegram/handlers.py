"""One small ``async def`` per command, and the one table that registers them all.

The handlers only read arguments, call the store and reply; who may run them is decided before
they are called, in one place (:meth:`bot.telegram.gate.Gate.authorize`), from the
``need`` column of :data:`COMMANDS`. Rules enforced here:
- Bad or missing arguments get a short usage reply and change nothing.
- ``/track`` phrases use the keyword syntax of topics and are compiled before they are stored,
  are at most 100 characters without control or invisible characters, and a chat keeps at most
  20; at most 10 000 chats may hold subscriptions or phrases (RELIABILITY F2, F3).
- ``/mute`` lasts between one second and 30 days; matches during a mute are not sent later.
- Every write is one transaction; chat ids are stored as ``str(chat.id)``.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from bot.config import Config, parse_duration
from bot.match.rules import compile_keyword
from bot.store import articles, outbox, subs
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store.db import transaction
from bot.telegram import keyboards, replies
from bot.telegram.access import Actor
from bot.telegram.host import Host
from bot.telegram.replies import echo, esc

MAX_PHRASE = 100
MAX_PHRASES = 20
MAX_CHATS = 10_000
MAX_MUTE = 30 * 86_400.0
RECENT = 10
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


class Need(enum.Enum):
    """What a command needs from whoever sends it."""

    ANYONE = "anyone"
    CHANGE = "change"  # in a group: a group administrator (or a Vigil administrator)
    SUBSCRIBE = "subscribe"  # CHANGE, and the `subscriptions` mode must let them add
    ADMIN = "admin"  # a Vigil administrator


Send = Callable[[str, InlineKeyboardMarkup | None], Awaitable[None]]


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

    @property
    def chat(self) -> str:
        return str(self.chat_id)

    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await self.send(text, markup)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    run: Callable[[Request], Awaitable[None]]
    syntax: str
    description: str
    need: Need = Need.ANYONE


# ---------------------------------------------------------------- shared steps


def resolve_topics(config: Config, words: Sequence[str]) -> tuple[list[str], str | None]:
    """Topic ids for the words (by id or name, any case; ``all``), or the first unknown word."""
    ids = [t.id for t in config.topics]
    found: list[str] = []
    for word in words:
        lowered = word.lower()
        if lowered == "all":
            found.extend(ids)
            continue
        match = next((t.id for t in config.topics if lowered in (t.id, t.name.lower())), None)
        if match is None:
            return [], word
        found.append(match)
    return list(dict.fromkeys(found)), None


def _chat_is_full(req: Request) -> bool:
    """New chats are refused once MAX_CHATS chats hold subscriptions or phrases."""
    if subs.subscriptions_of(req.host.conn, req.chat) or subs.tracks_of(req.host.conn, req.chat):
        return False
    active, _ = subs.count_chats(req.host.conn)
    return active >= MAX_CHATS


def subscribe_chat(req: Request, topic_ids: Sequence[str]) -> int | None:
    """Adds subscriptions; returns how many were new, or None when Vigil is full."""
    conn = req.host.conn
    with transaction(conn):
        if _chat_is_full(req):
            return None
        subs.ensure_chat(conn, req.chat, req.chat_kind, req.chat_title, req.now)
        return subs.subscribe(conn, req.chat, topic_ids, req.now)


def unsubscribe_chat(req: Request, topic_ids: Sequence[str] | None) -> int:
    """Removes the given subscriptions (all when None); returns how many there were."""
    with transaction(req.host.conn):
        return subs.unsubscribe(req.host.conn, req.chat, topic_ids)


def _phrase_problem(phrase: str) -> str | None:
    if len(phrase) > MAX_PHRASE:
        return f"A phrase is at most {MAX_PHRASE} characters."
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in phrase):
        return "A phrase cannot contain line breaks, control or invisible characters."
    try:
        compile_keyword(phrase)
    except ValueError as exc:  # KeywordError, or anything the pattern compiler refuses
        return f"Cannot track that: {echo(str(exc), 200)}"
    return None


# ---------------------------------------------------------------- commands


async def cmd_start(req: Request) -> None:
    followed = subs.subscriptions_of(req.host.conn, req.chat)
    keyboard = keyboards.topic_keyboard(req.config.topics, followed) if req.config.topics else None
    await req.reply(replies.welcome(req.config, followed), keyboard)


async def cmd_help(req: Request) -> None:
    users = [(c.syntax, c.description) for c in COMMANDS if c.need is not Need.ADMIN]
    admins = [(c.syntax, c.description) for c in COMMANDS if c.need is Need.ADMIN]
    await req.reply(replies.help_text(users, admins if req.admin else []))


async def cmd_topics(req: Request) -> None:
    followed = subs.subscriptions_of(req.host.conn, req.chat)
    await req.reply(replies.topics_text(req.config, followed))


async def cmd_subscribe(req: Request) -> None:
    words = req.args.split()
    if not words:
        await req.reply("Usage: /subscribe TOPIC (or /subscribe all). Topic ids are in /topics.")
        return
    topic_ids, unknown = resolve_topics(req.config, words)
    if unknown is not None:
        await req.reply(replies.unknown_topic(unknown, [t.id for t in req.config.topics]))
        return
    if not topic_ids:
        await req.reply("No topics are configured.")
        return
    added = subscribe_chat(req, topic_ids)
    names = replies.topic_names(req.config, topic_ids)
    if added is None:
        await req.reply(replies.FULL)
    elif added:
        await req.reply(f"Subscribed to {names}. New matching statements will arrive here.")
    else:
        await req.reply(f"Already subscribed to {names}.")


async def cmd_unsubscribe(req: Request) -> None:
    words = req.args.split()
    if not words:
        await req.reply("Usage: /unsubscribe TOPIC (or /unsubscribe all). See /list.")
        return
    if any(w.lower() == "all" for w in words):
        removed = unsubscribe_chat(req, None)
        await req.reply("Unsubscribed from every topic." if removed else "No subscriptions.")
        return
    current = subs.subscriptions_of(req.host.conn, req.chat)
    topic_ids: list[str] = []
    for word in words:
        if word in current:  # a topic removed from feeds.yaml can still be left
            topic_ids.append(word)
            continue
        resolved, unknown = resolve_topics(req.config, [word])
        if unknown is not None:
            await req.reply(replies.unknown_topic(unknown, [t.id for t in req.config.topics]))
            return
        topic_ids.extend(resolved)
    names = replies.topic_names(req.config, topic_ids)
    if unsubscribe_chat(req, topic_ids):
        await req.reply(f"Unsubscribed from {names}.")
    else:
        await req.reply(f"Not subscribed to {names}.")


async def cmd_track(req: Request) -> None:
    phrase = req.args
    if not phrase:
        await req.reply(
            "Usage: /track PHRASE — e.g. /track Caesar Act, /track tortur*, /track re:PATTERN"
        )
        return
    problem = _phrase_problem(phrase)
    if problem is not None:
        await req.reply(problem)
        return
    conn = req.host.conn
    with transaction(conn):
        current = subs.tracks_of(conn, req.chat)
        if phrase in current:
            text = f"Already tracking <code>{esc(phrase)}</code>."
        elif len(current) >= MAX_PHRASES:
            text = f"A chat can track at most {MAX_PHRASES} phrases; /untrack one first."
        elif _chat_is_full(req):
            text = replies.FULL
        else:
            subs.ensure_chat(conn, req.chat, req.chat_kind, req.chat_title, req.now)
            subs.track(conn, req.chat, phrase, req.now)
            text = f"Tracking <code>{esc(phrase)}</code> in every source."
    await req.reply(text)


async def cmd_untrack(req: Request) -> None:
    phrase = req.args
    if not phrase:
        await req.reply("Usage: /untrack PHRASE — /list shows your phrases.")
        return
    conn = req.host.conn
    with transaction(conn):
        current = subs.tracks_of(conn, req.chat)
        target = phrase if phrase in current else None
        if target is None:
            folded = phrase.casefold()
            target = next((p for p in current if p.casefold() == folded), None)
        if target is not None:
            subs.untrack(conn, req.chat, target)
    if target is None:
        await req.reply(f"Not tracking <code>{echo(phrase)}</code>. /list shows your phrases.")
    else:
        await req.reply(f"Stopped tracking <code>{esc(target)}</code>.")


async def cmd_list(req: Request) -> None:
    conn = req.host.conn
    text = replies.list_text(
        req.config,
        subs.subscriptions_of(conn, req.chat),
        subs.tracks_of(conn, req.chat),
        subs.muted_until(conn, req.chat),
        req.now,
        req.tz,
    )
    await req.reply(text)


async def cmd_recent(req: Request) -> None:
    words = req.args.split()
    topic = None
    if len(words) > 1:
        await req.reply("Usage: /recent or /recent TOPIC")
        return
    if words:
        resolved, unknown = resolve_topics(req.config, words)
        if unknown is not None or len(resolved) != 1:
            await req.reply(replies.unknown_topic(words[0], [t.id for t in req.config.topics]))
            return
        topic = req.config.topic(resolved[0])
    matches = item_rows.recent_matches(
        req.host.conn, topic_id=topic.id if topic else None, limit=RECENT
    )
    await req.reply(replies.recent_text(req.config, matches, req.tz, topic))


async def cmd_mute(req: Request) -> None:
    usage = "Usage: /mute DURATION — e.g. /mute 2h or /mute 1d (at most 30 days)."
    try:
        seconds = parse_duration(req.args) if req.args else 0.0
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= MAX_MUTE:
        await req.reply(usage)
        return
    until = req.now + seconds
    with transaction(req.host.conn):
        subs.ensure_chat(req.host.conn, req.chat, req.chat_kind, req.chat_title, req.now)
        subs.set_mute(req.host.conn, req.chat, until)
    await req.reply(
        f"Muted until {esc(replies.when(until, req.tz))}. Statements matched meanwhile are not "
        "sent later. /unmute to resume now."
    )


async def cmd_unmute(req: Request) -> None:
    with transaction(req.host.conn):
        was = subs.muted_until(req.host.conn, req.chat)
        subs.set_mute(req.host.conn, req.chat, None)
    muted = was is not None and was > req.now
    await req.reply("Alerts resumed." if muted else "Alerts were not muted.")


async def cmd_status(req: Request) -> None:
    conn = req.host.conn
    text = replies.status_text(
        req.config,
        feed_rows.all_feeds(conn),
        outbox.backlog(conn),
        subs.count_chats(conn),
        req.now,
        req.tz,
        articles.awaiting(conn),
        articles.last_errors(conn),
    )
    await req.reply(text)


async def cmd_reload(req: Request) -> None:
    ok, message = req.host.reload()
    if ok:
        await req.reply(f"Reloaded: {esc(message)}.")
    else:
        await req.reply("Reload refused; the running configuration stays.\n" + esc(message[:8000]))


COMMANDS: tuple[Command, ...] = (
    Command("start", cmd_start, "/start", "what Vigil watches, with buttons to subscribe"),
    Command("help", cmd_help, "/help", "this list"),
    Command("topics", cmd_topics, "/topics", "the topics, with sample keywords"),
    Command("subscribe", cmd_subscribe, "/subscribe TOPIC|all", "follow a topic", Need.SUBSCRIBE),
    Command("unsubscribe", cmd_unsubscribe, "/unsubscribe TOPIC|all", "stop a topic", Need.CHANGE),
    Command(
        "track", cmd_track, "/track PHRASE", "your own keyword over every source", Need.SUBSCRIBE
    ),
    Command("untrack", cmd_untrack, "/untrack PHRASE", "stop a tracked phrase", Need.CHANGE),
    Command("list", cmd_list, "/list", "what this chat follows"),
    Command("recent", cmd_recent, "/recent [TOPIC]", "the latest matching statements"),
    Command("mute", cmd_mute, "/mute DURATION", "pause alerts, e.g. /mute 2h", Need.CHANGE),
    Command("unmute", cmd_unmute, "/unmute", "resume alerts", Need.CHANGE),
    Command("status", cmd_status, "/status", "feed health and outbox backlog", Need.ADMIN),
    Command("reload", cmd_reload, "/reload", "reload feeds.yaml", Need.ADMIN),
)


def press_button(req: Request, press: keyboards.Press) -> str:
    """Applies a validated button press; returns the short plain-text answer for the presser."""
    if press.action == "unsub":
        unsubscribe_chat(req, [press.topic_id])
        return f"Unsubscribed from {req.config.topic(press.topic_id).name}"[:200]
    if press.topic_id == keyboards.ALL:
        if subscribe_chat(req, [t.id for t in req.config.topics]) is None:
            return replies.FULL
        return "Subscribed to every topic"
    if subscribe_chat(req, [press.topic_id]) is None:
        return replies.FULL
    return f"Subscribed to {req.config.topic(press.topic_id).name}"[:200]
