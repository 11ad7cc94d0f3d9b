"""The texts of Vigil's command replies: pure functions from values to Telegram HTML.

Rules:
- Every word is said through a :class:`bot.i18n.Tr` (the chat's language); the constants below
  are message ids marked with ``N_`` and translated where they are shown.
- Replies use HTML parse mode, and every piece of text that comes from a user, a feed or the
  config goes through :func:`esc` (``html.escape``), so nobody can inject markup or break the
  message (RELIABILITY F3, G3). Only Telegram's tags are used: ``b``, ``i``, ``code``, ``a``.
- A tag never spans a line break, so :func:`split_message` can cut at any line boundary and each
  part stays valid HTML. Telegram takes at most 4096 characters per message (API-NOTES §2.5).
- Echoed user input is shortened first (:func:`echo`), so a 4 KB argument yields a short reply.
- A parser's refusal is shown with :func:`reason_text`: a :class:`bot.i18n.Reason` in the chat's
  language, its user text echoed and what to type (and configured ids) in ``<code>``.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from bot.config import Config, Topic
from bot.i18n import LANGUAGE_NAMES, N_, Given, Names, Reason, Syntax, Tr
from bot.route.render import ALSO_PUBLISHED_BY
from bot.store.items import RecentMatch

MAX_MESSAGE = 4096
ECHO_LIMIT = 64
_OPENING_TAG = re.compile(r"<(?!/)")
MAX_LISTED_FEEDS = 30

SLOW_DOWN = N_("Slow down — try again in a few seconds.")
ADMIN_ONLY = N_("This command is for Vigil's administrators.")
GROUP_ADMIN_ONLY = N_("Only this group's administrators can change what Vigil sends here.")
SUBSCRIPTIONS_CLOSED = N_("Subscriptions are closed on this Vigil. Ask its administrators.")
NOT_ALLOWED = N_(
    "Subscriptions on this Vigil are by invitation. Ask its administrators to add you."
)
SOMETHING_WRONG = N_("Something went wrong. Please try again later.")
OUT_OF_DATE = N_("This button is out of date.")
FULL = N_("Vigil has reached its limit of subscribed chats. Ask its administrators.")


def esc(text: str) -> str:
    return html.escape(text)


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """User input, shortened, escaped and with control characters shown as '?'."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return esc(shown)


def code(shown: str) -> str:
    """Text already escaped (:func:`esc`, :func:`echo`), set in ``<code>``.

    A value for a ``tr(...)`` placeholder is built with a call like this one rather than an
    f-string inside the ``tr(...)`` call: Babel's extractor warns about every f-string among a
    message call's arguments, and that noise would hide a real untranslatable message.
    """
    return f"<code>{shown}</code>"


def bold(shown: str) -> str:
    """Text already escaped, set in ``<b>`` (see :func:`code`)."""
    return f"<b>{shown}</b>"


def reason_text(exc: ValueError, tr: Tr) -> str:
    """Why an argument was refused: translated when the parser said it as a :class:`Reason`."""
    if not isinstance(exc, Reason):
        return tr.value(echo(str(exc), 200))
    shown: dict[str, object] = {}
    for key, value in exc.values.items():
        if isinstance(value, Given):
            shown[key] = f"<code>{echo(value.shown)}</code>"
        elif isinstance(value, Syntax):
            codes = [f"<code>{esc(word)}</code>" for word in value.words]
            if len(codes) == 1:
                shown[key] = codes[0]
            else:
                items = tr.join(tr.value(code) for code in codes[:-1])
                shown[key] = tr("{items} or {last}", items=items, last=codes[-1])
        elif isinstance(value, Names):
            names = [f"<code>{esc(word)}</code>" for word in value.words]
            shown[key] = (
                tr.join(tr.value(name) for name in names) if len(names) > 1 else "".join(names)
            )
        else:
            shown[key] = value
    return tr(exc.message, **shown)


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


def when(ts: float | None, tz: tzinfo, tr: Tr) -> str:
    if ts is None:
        return tr("never")
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %Z")


def span(seconds: float, tr: Tr) -> str:
    """A rough human duration: 45s, 12m, 3h 5m, 2d 4h (in the chat's units)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return tr("{n}s", n=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return tr("{n}m", n=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return tr("{h}h {m}m", h=hours, m=minutes) if minutes else tr("{h}h", h=hours)
    days, hours = divmod(hours, 24)
    return tr("{d}d {h}h", d=days, h=hours) if hours else tr("{d}d", d=days)


def topic_line(topic: Topic, followed: bool, tr: Tr) -> str:
    mark = "✓ " if followed else ""
    name = tr.value(f"<b>{esc(topic.label(tr.lang))}</b>")
    return f"{mark}{name} — {tr.value(f'<code>{esc(topic.id)}</code>')}"


def welcome(config: Config, subscribed: Iterable[str], tr: Tr) -> str:
    followed = set(subscribed)
    names = [f.name for f in config.feeds[:MAX_LISTED_FEEDS]]
    more = len(config.feeds) - len(names)
    sources = tr.join(tr.value(esc(n)) for n in names)
    if more > 0:
        sources = tr("{sources} and {more} more", sources=sources, more=more)
    count = len(config.feeds)
    lines = [
        tr.plural(
            "<b>Vigil</b> watches the public statements of {n} source: {sources}.",
            "<b>Vigil</b> watches the public statements of {n} sources: {sources}.",
            count,
            sources=sources,
        ),
        tr("When a new statement mentions a topic you follow, you get a message here."),
        "",
        tr("<b>Topics</b>"),
    ]
    lines.extend(f"• {topic_line(t, t.id in followed, tr)}" for t in config.topics)
    lines += [
        "",
        tr(
            "Tap a topic below to follow it, or send {subscribe}. {track} follows your own "
            "keyword over every source. {help} lists every command. {lang} changes the language.",
            subscribe="/subscribe TOPIC",
            track="/track PHRASE",
            help="/help",
            lang="/lang",
        ),
    ]
    return "\n".join(lines)


def help_text(
    tr: Tr, commands: Sequence[tuple[str, str]], admin_commands: Sequence[tuple[str, str]]
) -> str:
    """``commands`` are (syntax, message id of what it does); admin ones only for admins."""
    lines = [tr("<b>Commands</b>")]
    lines.extend(f"{tr.value(esc(syntax))} — {esc(tr(what))}" for syntax, what in commands)
    if admin_commands:
        lines += ["", tr("<b>Administrators</b>")]
        lines.extend(
            f"{tr.value(esc(syntax))} — {esc(tr(what))}" for syntax, what in admin_commands
        )
    lines += [
        "",
        tr(
            "TOPIC is a topic id from {topics}, or {all}. DURATION is like 30m, 2h or 1d.",
            topics="/topics",
            all="<code>all</code>",
        ),
        tr(
            "A PHRASE matches whole words, ignoring case and accents; {prefix} matches a word "
            "prefix; {regex} is a regular expression.",
            prefix="<code>tortur*</code>",
            regex="<code>re:PATTERN</code>",
        ),
    ]
    return "\n".join(lines)


def topics_text(config: Config, subscribed: Iterable[str], tr: Tr) -> str:
    followed = set(subscribed)
    if not config.topics:
        return tr("No topics are configured.")
    lines = [tr("<b>Topics</b> (✓ = this chat follows it)")]
    for topic in config.topics:
        sample = tr.join(tr.value(esc(k)) for k in topic.keywords[:3])
        lines.append(topic_line(topic, topic.id in followed, tr))
        lines.append("    " + tr("e.g. {sample}", sample=sample))
    lines += [
        "",
        tr(
            "Tap a topic to follow or leave it, or send {subscribe} or {all}.",
            subscribe="/subscribe TOPIC",
            all="/subscribe all",
        ),
    ]
    return "\n".join(lines)


def unknown_topic(raw: str, topic_ids: Sequence[str], tr: Tr) -> str:
    guess = difflib.get_close_matches(raw.lower(), list(topic_ids), n=1, cutoff=0.6)
    text = tr("Unknown topic {topic}.", topic=code(echo(raw)))
    if guess:
        text += " " + tr("Did you mean {topic}?", topic=code(esc(guess[0])))
    return text + " " + tr("Try {topics}", topics="/topics")


def topic_names(config: Config, topic_ids: Iterable[str], tr: Tr) -> str:
    names = []
    for topic_id in topic_ids:
        try:
            names.append(tr.value(f"<b>{esc(config.topic(topic_id).label(tr.lang))}</b>"))
        except KeyError:
            names.append(tr("{topic} (no longer configured)", topic=code(esc(topic_id))))
    return tr.join(names)


def list_text(
    config: Config,
    topic_ids: Sequence[str],
    phrases: Sequence[str],
    muted_until: float | None,
    now: float,
    tz: tzinfo,
    tr: Tr,
) -> str:
    lines = [tr("<b>This chat follows</b>")]
    if topic_ids:
        lines.extend(f"• {topic_names(config, [t], tr)}" for t in topic_ids)
    else:
        lines.append(tr("no topics — see {topics}", topics="/topics"))
    lines += ["", tr("<b>Tracked phrases</b>")]
    if phrases:
        lines.extend(f"• {tr.value(f'<code>{esc(p)}</code>')}" for p in phrases)
    else:
        lines.append(tr("none — add one with {track}", track="/track PHRASE"))
    lines.append("")
    if muted_until is not None and muted_until > now:
        until = esc(when(muted_until, tz, tr))
        lines.append(tr("Muted until {until} ({unmute} to resume).", until=until, unmute="/unmute"))
    else:
        lines.append(tr("Alerts are on."))
    return "\n".join(lines)


def recent_text(
    config: Config, matches: Sequence[RecentMatch], tz: tzinfo, topic: Topic | None, tr: Tr
) -> str:
    name = f"<b>{esc(topic.label(tr.lang))}</b>" if topic else ""
    if not matches:
        if topic:
            return tr("No matching statements yet for {topic}.", topic=name)
        return tr("No matching statements yet.")
    if topic:
        lines = [tr("<b>Latest matching statements</b> for {topic}", topic=name)]
    else:
        lines = [tr("<b>Latest matching statements</b>")]
    for match in matches:
        try:
            source = config.feed(match.feed_id).name
        except KeyError:
            source = match.feed_id
        date = when(match.published_at or match.first_seen_at, tz, tr)
        title = esc(match.title.strip() or tr("(untitled)"))
        lines.append("")
        link = match.link or ""
        if link.startswith(("https://", "http://")):
            lines.append(tr.value(f'<a href="{esc(link)}">{title}</a>'))
        else:
            lines.append(tr.value(f"<b>{title}</b>"))
        lines.append(f"{tr.value(esc(source))} · {tr.value(esc(date))}")
        if match.also:
            lines.append(also_published(config, match.also, tr))
    return "\n".join(lines)


def also_published(config: Config, sources: Sequence[tuple[str, str | None]], tr: Tr) -> str:
    """ "Also published by: A · B", each linked to its copy (sources by feed id); the label is
    the alert frame's (:data:`bot.route.render.ALSO_PUBLISHED_BY`)."""
    shown = []
    for feed_id, link in sources:
        try:
            name = esc(config.feed(feed_id).name)
        except KeyError:
            name = esc(feed_id)
        if link and link.startswith(("https://", "http://")):
            name = f'<a href="{esc(link)}">{name}</a>'
        shown.append(tr.value(name))
    return tr(ALSO_PUBLISHED_BY, sources=" · ".join(shown))


def language_text(current: str, tr: Tr) -> str:
    """The /lang answer: the language in use and how to change it."""
    return "\n".join(
        [
            tr(
                "This chat reads Vigil in {language}.",
                language=bold(esc(LANGUAGE_NAMES[current])),
            ),
            tr(
                "Tap a language below, or send {command}.",
                command="<code>/lang ar</code>, <code>/lang en</code>, <code>/lang fr</code>, "
                "<code>/lang nl</code>",
            ),
        ]
    )


def switch_text(setting: str, on: bool, tr: Tr) -> str:
    """The answer of /preview and /silent."""
    if setting == "preview":
        if on:
            return tr("Alerts in this chat now show a preview of the linked page.")
        return tr("Alerts in this chat no longer show a link preview.")
    if on:
        return tr(
            "Alerts in this chat now arrive without a notification sound, except for urgent topics."
        )
    return tr("Alerts in this chat now arrive with a notification.")
