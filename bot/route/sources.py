"""The "Also published by" line of an alert whose statement appeared in other sources (pure).

The line is appended to the alert as rendered (HTML and plain text), each source linked when it
has an http(s) link. The message stays within Telegram's 4096 characters: sources that do not
fit are counted ("+2 more"), never cut in the middle. The line is said in the language the alert
was rendered in (the outbox row's), with the alert frame's own label
(:data:`bot.route.render.ALSO_PUBLISHED_BY`); in a right-to-left language it starts right to left
and the source names are isolated.
"""

from __future__ import annotations

import html
import json

from bot.i18n import Tr, translator
from bot.route.render import ALSO_PUBLISHED_BY

__all__ = ["with_sources"]

MAX_MESSAGE = 4096
SEPARATOR = " · "


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


def with_sources(
    text_html: str, text_plain: str, also: str, tr: Tr | None = None
) -> tuple[str, str]:
    """The alert with its other sources appended (unchanged when there are none)."""
    sources = _sources(also)
    if not sources:
        return text_html, text_plain
    tr = tr or translator(None)
    for shown in range(len(sources), -1, -1):
        rest = len(sources) - shown
        more = [tr.plural("+{n} more", "+{n} more", rest)] if rest else []
        names_html = [tr.value(_html_source(*s)) for s in sources[:shown]]
        names_plain = [tr.value(name) for name, _ in sources[:shown]]
        line_html = tr.lines(tr(ALSO_PUBLISHED_BY, sources=SEPARATOR.join(names_html + more)))
        line_plain = tr.lines(tr(ALSO_PUBLISHED_BY, sources=SEPARATOR.join(names_plain + more)))
        full_html = f"{text_html}\n\n{line_html}"
        full_plain = f"{text_plain}\n\n{line_plain}"
        if len(full_html) <= MAX_MESSAGE and len(full_plain) <= MAX_MESSAGE:
            return full_html, full_plain
    return text_html, text_plain
