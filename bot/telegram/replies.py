"""The texts of Vigil's command replies: pure functions from values to Telegram HTML.

Rules:
- Replies use HTML parse mode, and every piece of text that comes from a user, a feed or the
  config goes through :func:`esc` (``html.escape``), so nobody can inject markup or break the
  message (RELIABILITY F3, G3). Only Telegram's tags are used: ``b``, ``i``, ``code``, ``a``.
- A tag never spans a line break, so :func:`split_message` can cut at any line boundary and each
  part stays valid HTML. Telegram takes at most 4096 characters per message (API-NOTES §2.5).
- Echoed user input is shortened first (:func:`echo`), so a 4 KB argument yields a short reply.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo

from bot.config import Config, Topic
from bot.store.feeds import FeedRow
from bot.store.items import RecentMatch
from bot.store.outbox import Backlog

MAX_MESSAGE = 4096
ECHO_LIMIT = 64
_OPENING_TAG = re.compile(r"<(?!/)")
MAX_LISTED_FEEDS = 30

SLOW_DOWN = "Slow down — try again in a few seconds."
ADMIN_ONLY = "This command is for Vigil's administrators."
GROUP_ADMIN_ONLY = "Only this group's administrators can change what Vigil sends here."
SUBSCRIPTIONS_CLOSED = "Subscriptions are closed on this Vigil. Ask its administrators."
NOT_ALLOWED = "Subscriptions on this Vigil are by invitation. Ask its administrators to add you."
SOMETHING_WRONG = "Something went wrong. Please try again later."
OUT_OF_DATE = "This button is out of date."
FULL = "Vigil has reached its limit of subscribed chats. Ask its administrators."


def esc(text: str) -> str:
    return html.escape(text)


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """User input, shortened, escaped and with control characters shown as '?'."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return esc(shown)


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cuts text into parts of at most ``limit`` characters, at line boundaries.

    A single line longer than the limit is cut inside the line, never inside an HTML tag or
    entity. Blank parts are dropped (Telegram refuses empty messages).
    """
    if limit < 16:
        raise ValueError("limit too small to split safely")
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            candidate = piece if not current else f"{current}\n{piece}"
            if len(candidate) <= limit:
                current = candidate
                continue
            if current.strip():
                parts.append(current)
            current = piece
    if current.strip():
        parts.append(current)
    return parts


def _cut_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(line) > limit:
        head = line[:limit]
        last_open = max((m.start() for m in _OPENING_TAG.finditer(head)), default=-1)
        unsafe = (
            head.rfind("&") if head.rfind("&") > head.rfind(";") else -1,  # inside an entity
            head.rfind("<") if head.rfind("<") > head.rfind(">") else -1,  # inside a tag
            last_open if last_open > head.rfind("</") else -1,  # inside an element
        )
        cut = min((u for u in unsafe if u > 0), default=limit)
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


def when(ts: float | None, tz: tzinfo) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %Z")


def span(seconds: float) -> str:
    """A rough human duration: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def topic_line(topic: Topic, followed: bool) -> str:
    mark = "✓ " if followed else ""
    return f"{mark}<b>{esc(topic.name)}</b> — <code>{esc(topic.id)}</code>"


def welcome(config: Config, subscribed: Iterable[str]) -> str:
    followed = set(subscribed)
    names = [f.name for f in config.feeds[:MAX_LISTED_FEEDS]]
    more = len(config.feeds) - len(names)
    sources = ", ".join(esc(n) for n in names) + (f" and {more} more" if more > 0 else "")
    count = len(config.feeds)
    lines = [
        "<b>Vigil</b> watches the public statements of "
        f"{count} source{'s' if count != 1 else ''}: {sources}.",
        "When a new statement mentions a topic you follow, you get a message here.",
        "",
        "<b>Topics</b>",
    ]
    lines.extend(f"• {topic_line(t, t.id in followed)}" for t in config.topics)
    lines += [
        "",
        "Tap a topic below to follow it, or send /subscribe TOPIC. "
        "/track PHRASE follows your own keyword over every source. /help lists every command.",
    ]
    return "\n".join(lines)


def help_text(
    commands: Sequence[tuple[str, str]], admin_commands: Sequence[tuple[str, str]]
) -> str:
    """``commands`` are (syntax, what it does); admin ones are shown only to administrators."""
    lines = ["<b>Commands</b>"]
    lines.extend(f"{esc(syntax)} — {esc(what)}" for syntax, what in commands)
    if admin_commands:
        lines += ["", "<b>Administrators</b>"]
        lines.extend(f"{esc(syntax)} — {esc(what)}" for syntax, what in admin_commands)
    lines += [
        "",
        "TOPIC is a topic id from /topics, or <code>all</code>. DURATION is like 30m, 2h or 1d.",
        "A PHRASE matches whole words, ignoring case and accents; <code>tortur*</code> matches a "
        "word prefix; <code>re:PATTERN</code> is a regular expression.",
    ]
    return "\n".join(lines)


def topics_text(config: Config, subscribed: Iterable[str]) -> str:
    followed = set(subscribed)
    if not config.topics:
        return "No topics are configured."
    lines = ["<b>Topics</b> (✓ = this chat follows it)"]
    for topic in config.topics:
        sample = ", ".join(esc(k) for k in topic.keywords[:3])
        lines.append(f"{topic_line(topic, topic.id in followed)}")
        lines.append(f"    e.g. {sample}")
    lines += ["", "Follow one with /subscribe TOPIC, or all with /subscribe all."]
    return "\n".join(lines)


def unknown_topic(raw: str, topic_ids: Sequence[str]) -> str:
    guess = difflib.get_close_matches(raw.lower(), list(topic_ids), n=1, cutoff=0.6)
    hint = f" Did you mean <code>{esc(guess[0])}</code>?" if guess else ""
    return f"Unknown topic <code>{echo(raw)}</code>.{hint} Try /topics"


def topic_names(config: Config, topic_ids: Iterable[str]) -> str:
    names = []
    for topic_id in topic_ids:
        try:
            names.append(f"<b>{esc(config.topic(topic_id).name)}</b>")
        except KeyError:
            names.append(f"<code>{esc(topic_id)}</code> (no longer configured)")
    return ", ".join(names)


def list_text(
    config: Config,
    topic_ids: Sequence[str],
    phrases: Sequence[str],
    muted_until: float | None,
    now: float,
    tz: tzinfo,
) -> str:
    lines = ["<b>This chat follows</b>"]
    if topic_ids:
        lines.extend(f"• {topic_names(config, [t])}" for t in topic_ids)
    else:
        lines.append("no topics — see /topics")
    lines += ["", "<b>Tracked phrases</b>"]
    if phrases:
        lines.extend(f"• <code>{esc(p)}</code>" for p in phrases)
    else:
        lines.append("none — add one with /track PHRASE")
    lines.append("")
    if muted_until is not None and muted_until > now:
        lines.append(f"Muted until {esc(when(muted_until, tz))} (/unmute to resume).")
    else:
        lines.append("Alerts are on.")
    return "\n".join(lines)


def recent_text(
    config: Config, matches: Sequence[RecentMatch], tz: tzinfo, topic: Topic | None
) -> str:
    scope = f" for <b>{esc(topic.name)}</b>" if topic else ""
    if not matches:
        return f"No matching statements yet{scope}."
    lines = [f"<b>Latest matching statements</b>{scope}"]
    for match in matches:
        try:
            source = config.feed(match.feed_id).name
        except KeyError:
            source = match.feed_id
        date = when(match.published_at or match.first_seen_at, tz)
        title = esc(match.title.strip() or "(untitled)")
        lines.append("")
        link = match.link or ""
        if link.startswith(("https://", "http://")):
            lines.append(f'<a href="{esc(link)}">{title}</a>')
        else:
            lines.append(f"<b>{title}</b>")
        lines.append(f"{esc(source)} · {esc(date)}")
    return "\n".join(lines)


def status_text(
    config: Config,
    rows: Sequence[FeedRow],
    backlog: Backlog,
    chats: tuple[int, int],
    now: float,
    tz: tzinfo,
    awaiting: Mapping[str, int] | None = None,
    article_errors: Mapping[str, tuple[str, float]] | None = None,
) -> str:
    """``awaiting``: items per feed waiting for their page's text; ``article_errors``: the
    last article error per feed (message, when)."""
    by_id = {row.feed_id: row for row in rows}
    failing = 0
    lines = ["<b>Feeds</b>"]
    for feed in config.feeds:
        row = by_id.get(feed.id)
        name = f"<code>{esc(feed.id)}</code>"
        if row is None or (row.last_success_at is None and not row.consecutive_errors):
            lines.append(f"• {name}: not polled yet")
            continue
        if row.consecutive_errors:
            failing += 1
            kind = esc(row.last_error_kind or "error")
            lines.append(f"• {name}: <b>failing</b> ({kind}, {row.consecutive_errors} in a row)")
            if row.last_error:
                lines.append(f"    {echo(row.last_error, 200)}")
        else:
            lines.append(f"• {name}: ok")
        due = row.next_poll_at - now
        next_poll = "due now" if due <= 0 else f"in {span(due)}"
        lines.append(
            f"    last success {esc(when(row.last_success_at, tz))}; next poll {next_poll}"
        )
        waiting = (awaiting or {}).get(feed.id, 0)
        article_error = (article_errors or {}).get(feed.id)
        if waiting or article_error:
            note = f"    {waiting} waiting for their text"
            if article_error:
                note += f"; last article error: {echo(article_error[0], 160)}"
            lines.append(note)
    lines.insert(1, f"{len(config.feeds)} feeds, {failing} failing")
    lines += ["", "<b>Outbox</b>"]
    pending = f"{backlog.pending} pending"
    if backlog.oldest_created_at is not None:
        pending += f", oldest {span(now - backlog.oldest_created_at)} old"
    lines.append(pending)
    lines.append(f"{backlog.sent} sent, {backlog.failed} failed, {backlog.dropped} dropped")
    active, inactive = chats
    lines += ["", "<b>Subscribers</b>", f"{active} chats subscribed, {inactive} gone"]
    return "\n".join(lines)
