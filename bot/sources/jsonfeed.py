"""JSON Feed (1.0 and 1.1, https://jsonfeed.org) read into a ParsedFeed, as RSS and Atom are.

Rules: pure, never raising; a body is a JSON Feed when it is a JSON object whose ``version``
starts with ``https://jsonfeed.org/version/``. Item identity is ``id``, else the normalised
``url`` (:func:`bot.sources.identity.item_key`); ``content_text`` or ``content_html`` is the
content, ``summary`` the summary, ``date_published`` else ``date_modified`` the date; relative
``url``s resolve against ``home_page_url``/the feed URL. Nesting deeper than Python's JSON
decoder allows is a PARSE error, not a crash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from bot.model import ErrorKind, Item, ParsedFeed
from bot.sources.dates import parse_date
from bot.sources.identity import item_key
from bot.sources.text import clean_text, html_to_text

MAX_ITEMS = 2_000
MAX_FIELD = 100_000


def looks_like_json_feed(body: bytes) -> bool:
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"jsonfeed.org/version" in body[:65536]


def read_json_feed(body: bytes, *, url: str = "", now: datetime | None = None) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as exc:
        return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"invalid JSON Feed: {exc}"[:300])
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        return ParsedFeed(error_kind=ErrorKind.NOT_A_FEED, error="not a JSON Feed (no version)")
    moment = now or datetime.now(UTC)
    base = url or str(data.get("feed_url") or data.get("home_page_url") or "")
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        return ParsedFeed(error_kind=ErrorKind.PARSE, error="JSON Feed without an items list")
    items: list[Item] = []
    seen: set[str] = set()
    skipped = 0
    warnings = []
    if len(raw_items) > MAX_ITEMS:
        warnings.append(f"feed has {len(raw_items)} items; only the first {MAX_ITEMS} are used")
    for raw in raw_items[:MAX_ITEMS]:
        item = _item(raw, base, moment) if isinstance(raw, dict) else None
        if item is None or item.key in seen:
            skipped += 1
            continue
        seen.add(item.key)
        items.append(item)
    return ParsedFeed(
        items=tuple(items),
        title=clean_text(_text(data.get("title")))[:300],
        skipped=skipped,
        warnings=tuple(warnings),
        kind="feed",
    )


def _item(raw: dict[str, Any], base: str, now: datetime) -> Item | None:
    link = _text(raw.get("url")).strip()
    if link:
        link = urljoin(base, link)
    if not link.startswith(("http://", "https://")):
        link = ""
    content = _text(raw.get("content_text"))
    if not content and raw.get("content_html"):
        content = html_to_text(_text(raw.get("content_html"))[: MAX_FIELD * 4])
    summary = clean_text(_text(raw.get("summary")))
    key = item_key({"id": _text(raw.get("id")), "link": link, "title": _text(raw.get("title")),
                    "summary": summary or content})  # fmt: skip
    if key is None:
        return None
    author = raw.get("authors") or ([raw["author"]] if isinstance(raw.get("author"), dict) else [])
    name = _text(author[0].get("name")) if author and isinstance(author[0], dict) else ""
    return Item(
        key=key,
        title=clean_text(_text(raw.get("title")))[:MAX_FIELD],
        link=link or None,
        summary=summary[:MAX_FIELD],
        content=content[:MAX_FIELD],
        published=parse_date(
            _text(raw.get("date_published")) or _text(raw.get("date_modified")), now
        ),
        author=clean_text(name)[:512] or None,
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""
