"""What a fetched body is, and the reader for it: one entry point for every kind of source.

Order: a source with ``page:`` is a listing page (:mod:`bot.sources.page`); a Telegram channel
preview is recognised by URL shape or markup (:mod:`bot.sources.telegram`); a JSON Feed is read
as one (:mod:`bot.sources.jsonfeed`); everything else goes to feedparser. When feedparser finds
HTML, the page is checked for a bot challenge (``BLOCKED``) and searched for the feeds it
advertises: the result is then a NOT_A_FEED error carrying ``feeds_found``, which the pipeline
fetches (:mod:`bot.pipeline.intake`), or the error telling the user to add ``page:``.
Pure and never raising, like every reader.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.model import ErrorKind, PageSpec, ParsedFeed
from bot.sources.discovery import advertised_feeds, no_feed_error
from bot.sources.feed import parse_feed
from bot.sources.htmldoc import parse_html
from bot.sources.jsonfeed import looks_like_json_feed, read_json_feed
from bot.sources.page import read_page
from bot.sources.pagestate import challenge
from bot.sources.telegram import looks_like_channel, read_channel


def read_source(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    page: PageSpec | None = None,
    discover: bool = True,
) -> ParsedFeed:
    """Items of any source; ``discover`` False reads a discovered feed (no second hop)."""
    if page is not None:
        return read_page(body, page, headers=headers, url=url)
    if looks_like_channel(body, url):
        return read_channel(body, headers=headers, url=url)
    if looks_like_json_feed(body):
        return read_json_feed(body, url=url)
    parsed = parse_feed(body, headers=headers, url=url)
    if parsed.error_kind is not ErrorKind.NOT_A_FEED or "HTML" not in (parsed.error or ""):
        return parsed
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    blocked = challenge(body, lower)
    if blocked:
        return ParsedFeed(error_kind=ErrorKind.BLOCKED, error=f"blocked: {blocked}", kind="page")
    doc = parse_html(body, url, lower)
    if doc is None:
        return parsed
    found = advertised_feeds(doc) if discover else []
    if not found:
        if not discover:
            return ParsedFeed(
                error_kind=ErrorKind.NOT_A_FEED,
                error=f"the advertised feed {url} is an HTML page, not a feed",
            )
        return no_feed_error(doc, url)
    return ParsedFeed(
        error_kind=ErrorKind.NOT_A_FEED,
        error=f"an HTML page advertising {len(found)} feed(s)",
        feeds_found=tuple(found),
        kind="page",
    )
