"""The "Also published by" line of an alert whose statement appeared in other sources (pure).

The line is appended to the alert as rendered (HTML and plain text), each source linked when it
has an http(s) link. The message stays within Telegram's 4096 characters: sources that do not
fit are counted ("+2 more"), never cut in the middle.
"""

from __future__ import annotations

import html
import json

__all__ = ["with_sources"]

MAX_MESSAGE = 4096
LEAD = "Also published by: "


def _sources(also: str) -> list[tuple[str, str | None]]:
    try:
        entries = json.loads(also) if also else []
    except ValueError:
        return []
    return [(str(e[0]), e[1] if isinstance(e[1], str) else None) for e in entries if e]


def _html_source(name: str, link: str | None) -> str:
    shown = html.escape(name)
    if link and link.startswith(("https://", "http://")):
        return f'<a href="{html.escape(link)}">{shown}</a>'
    return shown


def with_sources(text_html: str, text_plain: str, also: str) -> tuple[str, str]:
    """The alert with its other sources appended (unchanged when there are none)."""
    sources = _sources(also)
    if not sources:
        return text_html, text_plain
    for shown in range(len(sources), -1, -1):
        rest = len(sources) - shown
        more = f" +{rest} more" if rest else ""
        line_html = LEAD + " · ".join(_html_source(*s) for s in sources[:shown]) + more
        line_plain = LEAD + " · ".join(name for name, _ in sources[:shown]) + more
        full_html = f"{text_html}\n\n{line_html}"
        full_plain = f"{text_plain}\n\n{line_plain}"
        if len(full_html) <= MAX_MESSAGE and len(full_plain) <= MAX_MESSAGE:
            return full_html, full_plain
    return text_html, text_plain
