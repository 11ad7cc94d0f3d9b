"""A digest's text: the period's statements grouped by topic, each a linked title and its source.

Rules: Telegram HTML, every feed and config string escaped; one line per statement and no tag
across lines, so the text is cut only between lines — at most :data:`MAX_MESSAGE` characters
per part, a statement never split (API-NOTES §2.5). A statement that matched several topics is
listed under the first of them; phrases a chat tracks are grouped under "Your tracked phrases".
The frame (header, group names, "untitled", the date with CLDR month names) is in the chat's
language (``tr``); titles stay in their own language, and in a right-to-left language each line
starts right to left with titles and source names isolated (:mod:`bot.i18n`).
Pure: values in, text out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.i18n import N_, Tr, translator
from bot.route.render import UNTITLED

MAX_MESSAGE = 4096
TITLE_CHARS = 200
TRACKED = N_("Your tracked phrases")


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One statement in a digest."""

    title: str
    link: str | None
    source: str
    topic: str | None  # the first matched topic id; None for tracked phrases only


def _line(entry: DigestLine, tr: Tr) -> str:
    title = entry.title.strip() or tr(UNTITLED)
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1] + "…"
    shown = html.escape(title)
    link = entry.link or ""
    if link.startswith(("https://", "http://")) and len(link) <= 2000:
        shown = f'<a href="{html.escape(link)}">{shown}</a>'
    return tr.lines(f"• {tr.value(shown)} — {tr.value(html.escape(entry.source))}")


def render_digest(
    entries: Sequence[DigestLine],
    topic_names: Mapping[str, str],
    *,
    since: float,
    now: float,
    tz: tzinfo,
    tr: Tr | None = None,
) -> list[str]:
    """The digest as one or more HTML parts (more only when it exceeds Telegram's limit).

    ``topic_names`` are already in the chat's language; ``tr`` speaks it (default English).
    """
    tr = tr or translator(None)
    start = tr.moment(datetime.fromtimestamp(since, tz))
    header = tr.lines(
        tr.plural(
            "<b>Vigil digest</b> · {n} statement since {start}",
            "<b>Vigil digest</b> · {n} statements since {start}",
            len(entries),
            start=html.escape(start),
        )
    )
    groups: dict[str | None, list[DigestLine]] = {}
    for entry in entries:
        groups.setdefault(entry.topic, []).append(entry)
    order = [t for t in topic_names if t in groups] + [t for t in groups if t not in topic_names]
    lines = [header]
    for topic in order:
        name = tr(TRACKED) if topic is None else topic_names.get(topic, topic)
        group = f"{tr.value(f'<b>{html.escape(name)}</b>')} ({len(groups[topic])})"
        lines += ["", tr.lines(group)]
        lines += [_line(entry, tr) for entry in groups[topic]]
    return _split(lines)


def _split(lines: Sequence[str]) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > MAX_MESSAGE:
            parts.append("\n".join(current).strip())
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        parts.append("\n".join(current).strip())
    return [part for part in parts if part]


def plain_text(html_text: str) -> str:
    """The same digest without markup (the sender's fallback when Telegram refuses the HTML)."""
    out: list[str] = []
    inside = False
    for ch in html_text:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return html.unescape("".join(out))
