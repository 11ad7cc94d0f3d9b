"""An HTML listing page read into a :class:`~bot.model.ParsedFeed` of kind ``page``.

Rules: like :func:`bot.sources.feed.parse_feed`, pure and never raising. The outcome is one
state: items (ok); no items and the page says it is empty (ok, nothing); a bot challenge
(``BLOCKED``, checked first so a block page is never an empty listing); an app shell
(``NEEDS_JAVASCRIPT``); otherwise ``NO_ENTRIES``, naming the selector that found nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.model import ErrorKind, PageSpec, ParsedFeed
from bot.sources.auto import find_rows
from bot.sources.htmldoc import parse_html
from bot.sources.links import LinkJudge
from bot.sources.listing import Listing, read_rows
from bot.sources.pagestate import app_shell, challenge, says_empty
from bot.sources.text import clean_text


def read_page(
    body: bytes,
    spec: PageSpec,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    now: datetime | None = None,
) -> ParsedFeed:
    """Items of a listing page, or the state that explains why there are none."""
    try:
        return _read(body, spec, {k.lower(): v for k, v in (headers or {}).items()}, url, now)
    except Exception as exc:  # a bug must cost one source, not the cycle
        return ParsedFeed(
            error_kind=ErrorKind.PARSE, error=f"page reader failed: {exc!r}"[:300], kind="page"
        )


def _read(
    body: bytes, spec: PageSpec, headers: dict[str, str], url: str, now: datetime | None
) -> ParsedFeed:
    blocked = challenge(body, headers)
    if blocked:
        return ParsedFeed(error_kind=ErrorKind.BLOCKED, error=f"blocked: {blocked}", kind="page")
    doc = parse_html(body, url, headers)
    if doc is None:
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty page", kind="page")
    judge = LinkJudge(doc.base_url, url or doc.base_url, spec.link_pattern)
    moment = now or datetime.now(UTC)
    listing = read_rows(doc, spec, judge, moment) if spec.items else find_rows(doc, judge, moment)
    title = clean_text(doc.root.findtext(".//title") or "")[:300]
    warnings = (*doc.warnings, *listing.warnings)
    common = {
        "title": title,
        "warnings": warnings,
        "kind": "page",
        "dropped": tuple(listing.dropped),
        "selector": listing.selector,
    }
    if listing.items:
        return ParsedFeed(items=tuple(listing.items), **common)  # type: ignore[arg-type]
    if says_empty(doc.root):
        return ParsedFeed(**common)  # type: ignore[arg-type]
    if app_shell(doc.root, body[:1_000_000].decode("utf-8", "replace")):
        return ParsedFeed(
            error_kind=ErrorKind.NEEDS_JAVASCRIPT,
            error="the page is drawn by JavaScript and has no entries without it; look for a "
            "feed or the JSON the page loads, and poll that instead",
            **common,  # type: ignore[arg-type]
        )
    return ParsedFeed(
        error_kind=ErrorKind.NO_ENTRIES,
        error=_no_entries(spec, listing),
        **common,  # type: ignore[arg-type]
    )


def _no_entries(spec: PageSpec, listing: Listing) -> str:
    if spec.items is None:
        return (
            "automatic mode found no repeated entries on the page; the site may have changed "
            "(`vigil probe` shows what it sees; set page.items to pin a selector)"
        )
    if not listing.rows:
        return f"page.items {spec.items!r} matched nothing; the site may have changed"
    return f"page.items {spec.items!r} matched {listing.rows} rows but none had a usable link" + (
        " matching link_pattern" if spec.link_pattern else ""
    )
