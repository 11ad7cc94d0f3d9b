"""One small ``async def`` per command, and the one table that registers them all.

The handlers only read arguments, call the store and reply, in the chat's language (``req.tr``);
who may run them is decided before they are called, in one place
(:meth:`bot.telegram.gate.Gate.authorize`), from the ``need`` column of :data:`COMMANDS`.
Rules enforced here:
- Bad or missing arguments get a short usage reply and change nothing.
- ``/track`` phrases use the keyword syntax of topics and are compiled before they are stored,
  are at most 100 characters without control or invisible characters, and a chat keeps at most
  20; at most 10 000 chats may hold subscriptions or phrases (RELIABILITY F2, F3).
- ``/mute`` lasts between one second and 30 days; matches during a mute are not sent later.
- Every write is one transaction; chat ids are stored as ``str(chat.id)``.
- Subscriptions and phrases made inside a forum topic deliver into that topic.
"""

from __future__ import annotations

import unicodedata

from bot.config import parse_duration
from bot.i18n import N_, Tr
from bot.match.rules import compile_keyword
from bot.store import articles, outbox, replicas, subs
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store.db import transaction
from bot.telegram import delivery, keyboards, layout, replies, searching, settings
from bot.telegram.replies import code, echo, esc
from bot.telegram.request import (
    Command,
    Need,
    Request,
    chat_is_full,
    resolve_topics,
    subscribe_chat,
    unsubscribe_chat,
)
from bot.telegram.status import status_text

MAX_PHRASE = 100
MAX_PHRASES = 20
MAX_MUTE = 30 * 86_400.0
RECENT = 10
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def _phrase_problem(phrase: str, tr: Tr) -> str | None:
    if len(phrase) > MAX_PHRASE:
        return tr("A phrase is at most {n} characters.", n=MAX_PHRASE)
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in phrase):
        return tr("A phrase cannot contain line breaks, control or invisible characters.")
    try:
        compile_keyword(phrase)
    except ValueError as exc:  # KeywordError, or anything the pattern compiler refuses
        return tr("Cannot track that: {reason}", reason=echo(str(exc), 200))
    return None


# ---------------------------------------------------------------- commands


async def cmd_start(req: Request) -> None:
    followed = subs.subscriptions_of(req.host.conn, req.chat)
    topics = req.config.topics
    keyboard = keyboards.topic_keyboard(topics, followed, req.tr) if topics else None
    await req.reply(replies.welcome(req.config, followed, req.tr), keyboard)


async def cmd_help(req: Request) -> None:
    users = [(c.syntax, c.description) for c in COMMANDS if c.need is not Need.ADMIN]
    admins = [(c.syntax, c.description) for c in COMMANDS if c.need is Need.ADMIN]
    await req.reply(replies.help_text(req.tr, users, admins if req.admin else []))


async def cmd_topics(req: Request) -> None:
    followed = subs.subscriptions_of(req.host.conn, req.chat)
    topics = req.config.topics
    keyboard = keyboards.topic_keyboard(topics, followed, req.tr, toggle=True) if topics else None
    await req.reply(replies.topics_text(req.config, followed, req.tr), keyboard)


async def cmd_subscribe(req: Request) -> None:
    tr = req.tr
    words = req.args.split()
    if not words:
        await req.reply(
            tr(
                "Usage: {usage} (or {all}). Topic ids are in {topics}.",
                usage="/subscribe TOPIC",
                all="/subscribe all",
                topics="/topics",
            )
        )
        return
    topic_ids, unknown = resolve_topics(req.config, words)
    if unknown is not None:
        await req.reply(replies.unknown_topic(unknown, [t.id for t in req.config.topics], tr))
        return
    if not topic_ids:
        await req.reply(tr("No topics are configured."))
        return
    added = subscribe_chat(req, topic_ids)
    names = replies.topic_names(req.config, topic_ids, tr)
    if added is None:
        await req.reply(tr(replies.FULL))
    elif added:
        await req.reply(
            tr("Subscribed to {names}. New matching statements will arrive here.", names=names)
        )
    else:
        await req.reply(tr("Already subscribed to {names}.", names=names))


async def cmd_unsubscribe(req: Request) -> None:
    tr = req.tr
    words = req.args.split()
    if not words:
        await req.reply(
            tr(
                "Usage: {usage} (or {all}). See {list}.",
                usage="/unsubscribe TOPIC",
                all="/unsubscribe all",
                list="/list",
            )
        )
        return
    if any(w.lower() == "all" for w in words):
        removed = unsubscribe_chat(req, None)
        await req.reply(
            tr("Unsubscribed from every topic.") if removed else tr("No subscriptions.")
        )
        return
    current = subs.subscriptions_of(req.host.conn, req.chat)
    topic_ids: list[str] = []
    for word in words:
        if word in current:  # a topic removed from feeds.yaml can still be left
            topic_ids.append(word)
            continue
        resolved, unknown = resolve_topics(req.config, [word])
        if unknown is not None:
            await req.reply(replies.unknown_topic(unknown, [t.id for t in req.config.topics], tr))
            return
        topic_ids.extend(resolved)
    names = replies.topic_names(req.config, topic_ids, tr)
    if unsubscribe_chat(req, topic_ids):
        await req.reply(tr("Unsubscribed from {names}.", names=names))
    else:
        await req.reply(tr("Not subscribed to {names}.", names=names))


async def cmd_track(req: Request) -> None:
    tr = req.tr
    phrase = req.args
    if not phrase:
        await req.reply(
            tr(
                "Usage: {usage} — e.g. {example1}, {example2}, {example3}",
                usage="/track PHRASE",
                example1="/track Caesar Act",
                example2="/track tortur*",
                example3="/track re:PATTERN",
            )
        )
        return
    problem = _phrase_problem(phrase, tr)
    if problem is not None:
        await req.reply(problem)
        return
    conn = req.host.conn
    with transaction(conn):
        current = subs.tracks_of(conn, req.chat)
        if phrase in current:
            text = tr("Already tracking {phrase}.", phrase=code(esc(phrase)))
        elif len(current) >= MAX_PHRASES:
            text = tr(
                "A chat can track at most {n} phrases; {untrack} one first.",
                n=MAX_PHRASES,
                untrack="/untrack",
            )
        elif chat_is_full(req):
            text = tr(replies.FULL)
        else:
            req.store_chat()
            subs.track(conn, req.chat, phrase, req.now, req.thread_id)
            text = tr("Tracking {phrase} in every source.", phrase=code(esc(phrase)))
    await req.reply(text)


async def cmd_untrack(req: Request) -> None:
    tr = req.tr
    phrase = req.args
    if not phrase:
        await req.reply(
            tr("Usage: {usage} — {list} shows your phrases.", usage="/untrack PHRASE", list="/list")
        )
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
        await req.reply(
            tr(
                "Not tracking {phrase}. {list} shows your phrases.",
                phrase=code(echo(phrase)),
                list="/list",
            )
        )
    else:
        await req.reply(tr("Stopped tracking {phrase}.", phrase=code(esc(target))))


async def cmd_list(req: Request) -> None:
    conn = req.host.conn
    text = replies.list_text(
        req.config,
        subs.subscriptions_of(conn, req.chat),
        subs.tracks_of(conn, req.chat),
        subs.muted_until(conn, req.chat),
        req.now,
        req.tz,
        req.tr,
    )
    await req.reply(text + "\n\n" + delivery.summary_text(req))


async def cmd_recent(req: Request) -> None:
    tr = req.tr
    words = req.args.split()
    topic = None
    if len(words) > 1:
        await req.reply(tr("Usage: {usage} or {topic}", usage="/recent", topic="/recent TOPIC"))
        return
    if words:
        resolved, unknown = resolve_topics(req.config, words)
        if unknown is not None or len(resolved) != 1:
            topic_ids = [t.id for t in req.config.topics]
            await req.reply(replies.unknown_topic(words[0], topic_ids, tr))
            return
        topic = req.config.topic(resolved[0])
    matches = item_rows.recent_matches(
        req.host.conn, topic_id=topic.id if topic else None, limit=RECENT
    )
    await req.reply(replies.recent_text(req.config, matches, req.tz, topic, tr))


async def cmd_mute(req: Request) -> None:
    tr = req.tr
    try:
        seconds = parse_duration(req.args) if req.args else 0.0
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= MAX_MUTE:
        await req.reply(
            tr(
                "Usage: {usage} — e.g. {example1} or {example2} (at most 30 days).",
                usage="/mute DURATION",
                example1="/mute 2h",
                example2="/mute 1d",
            )
        )
        return
    until = req.now + seconds
    with transaction(req.host.conn):
        req.store_chat()
        subs.set_mute(req.host.conn, req.chat, until)
    await req.reply(
        tr(
            "Muted until {until}. Statements matched meanwhile are not sent later. "
            "{unmute} to resume now.",
            until=esc(replies.when(until, req.tz, tr)),
            unmute="/unmute",
        )
    )


async def cmd_unmute(req: Request) -> None:
    with transaction(req.host.conn):
        was = subs.muted_until(req.host.conn, req.chat)
        subs.set_mute(req.host.conn, req.chat, None)
    muted = was is not None and was > req.now
    await req.reply(req.tr("Alerts resumed.") if muted else req.tr("Alerts were not muted."))


async def cmd_status(req: Request) -> None:
    conn = req.host.conn
    text = status_text(
        req.config,
        feed_rows.all_feeds(conn),
        outbox.backlog(conn),
        subs.count_chats(conn),
        req.now,
        req.tz,
        req.tr,
        articles.awaiting(conn),
        articles.last_errors(conn),
        replicas.all_replicas(conn),
    )
    await req.reply(text)


async def cmd_reload(req: Request) -> None:
    ok, message = req.host.reload()
    if ok:
        await req.reply(req.tr("Reloaded: {summary}.", summary=esc(message)))
    else:
        await req.reply(
            req.tr(
                "Reload refused; the running configuration stays.\n{problems}",
                problems=esc(message[:8000]),
            )
        )


COMMANDS: tuple[Command, ...] = (
    Command("start", cmd_start, "/start", N_("what Vigil watches, with buttons to subscribe")),
    Command("help", cmd_help, "/help", N_("this list")),
    Command("topics", cmd_topics, "/topics", N_("the topics, with buttons to follow or leave")),
    Command(
        "subscribe", cmd_subscribe, "/subscribe TOPIC|all", N_("follow a topic"), Need.SUBSCRIBE
    ),
    Command(
        "unsubscribe", cmd_unsubscribe, "/unsubscribe TOPIC|all", N_("stop a topic"), Need.CHANGE
    ),
    Command(
        "track",
        cmd_track,
        "/track PHRASE",
        N_("your own keyword over every source"),
        Need.SUBSCRIBE,
    ),
    Command("untrack", cmd_untrack, "/untrack PHRASE", N_("stop a tracked phrase"), Need.CHANGE),
    Command("list", cmd_list, "/list", N_("what this chat follows")),
    Command("recent", cmd_recent, "/recent [TOPIC]", N_("the latest matching statements")),
    Command(
        "search",
        searching.cmd_search,
        "/search WORDS",
        N_("search every statement read"),
        Need.SUBSCRIBE,
    ),
    Command("mute", cmd_mute, "/mute DURATION", N_("pause alerts, e.g. /mute 2h"), Need.CHANGE),
    Command("unmute", cmd_unmute, "/unmute", N_("resume alerts"), Need.CHANGE),
    Command(
        "digest",
        delivery.cmd_digest,
        "/digest off|daily HH:MM|weekly DAY HH:MM",
        N_("one summary message instead of each alert"),
        Need.CHANGE,
    ),
    Command(
        "quiet",
        delivery.cmd_quiet,
        "/quiet HH:MM-HH:MM|off",
        N_("hold alerts at night, deliver after"),
        Need.CHANGE,
    ),
    Command(
        "timezone",
        delivery.cmd_timezone,
        "/timezone ZONE",
        N_("time zone of digests and quiet hours"),
        Need.CHANGE,
    ),
    Command(
        "lang", settings.cmd_lang, "/lang [ar|en|fr|nl]", N_("the bot's language"), Need.CHANGE
    ),
    Command(
        "preview",
        settings.cmd_preview,
        "/preview on|off",
        N_("show a preview of the linked page under alerts"),
        Need.CHANGE,
    ),
    Command(
        "silent",
        settings.cmd_silent,
        "/silent on|off",
        N_("alerts without a sound, except urgent topics"),
        Need.CHANGE,
    ),
    Command("status", cmd_status, "/status", N_("feed health and outbox backlog"), Need.ADMIN),
    Command("reload", cmd_reload, "/reload", N_("reload feeds.yaml"), Need.ADMIN),
    Command(
        "rebaseline",
        layout.cmd_rebaseline,
        "/rebaseline ID",
        N_("accept a page source's new layout: its next poll alerts nothing"),
        Need.ADMIN,
    ),
)
