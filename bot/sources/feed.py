"""Turn a fetched body into a :class:`~bot.model.ParsedFeed`: items with stable keys and plain text.

Rules enforced here (RELIABILITY.md section A, API-NOTES.md section 5):

- ``parse_feed`` is pure CPU and never raises: every failure becomes an ``error_kind``. It is
  synchronous; the caller runs it in a worker thread, or through :class:`ParserProcesses` in
  child processes (:mod:`bot.sources.workers`) when many bodies wait at once.
- feedparser only ever sees ``io.BytesIO``: given bytes or a str it may read a local file or fetch
  a URL. Response headers are passed lowercase (feedparser ignores capitalised ones), with
  ``content-location`` set to the feed URL so relative links resolve.
- The body is decoded and stripped of DTDs by :mod:`bot.sources.xmldoc` before feedparser.
- When entity declarations were removed, the feed is still parsed (references stay literal) with a
  warning; if what comes out is garbage (no items, or items showing a removed entity's literal
  reference) the feed is refused with ``ErrorKind.DTD``.
- feedparser runs with ``sanitize_html=False, resolve_relative_uris=False``: we never display
  feed HTML, :func:`bot.sources.text.html_to_text` reduces it to text, so sanitising it first
  only costs time (about half the parse). Element links (``link``, ``id``) are still resolved
  by feedparser.
- Empty body → ``EMPTY``; a body feedparser cannot identify as RSS, Atom or RDF → ``NOT_A_FEED``;
  a not-well-formed feed with usable entries is accepted with a warning.
- Item keys come from :mod:`bot.sources.identity`. A key shared by several entries of one
  document is made unique by a hash of link and title on *every* entry sharing it, so the result
  does not depend on the order of the entries.
- A truncated document keeps its complete entries; the last entry, which may be cut short, is
  dropped so that a later complete copy of it is not mistaken for an item already seen.
- Text fields are capped at ``max_field_chars``; only http and https links are kept; dates come
  from ``published_parsed`` else ``updated_parsed`` and are dropped when absurd (before 1990 or
  more than two days in the future), never replaced by "now".
"""

from __future__ import annotations

import html.entities
import io
import re
import threading
import warnings
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import feedparser

from bot.model import ErrorKind, Item, ParsedFeed
from bot.sources.identity import cap_key, item_key, sha256
from bot.sources.text import clean_text, html_to_text
from bot.sources.xmldoc import (
    HEADER_CHARSET,
    NOT_XML_CHARS,
    as_utf8_document,
    decode_body,
    strip_dtd_text,
)

__all__ = ["parse_feed"]

MAX_TTL_MINUTES = 7 * 24 * 60
MAX_AUTHOR_CHARS = 512
MIN_YEAR = 1990
FUTURE_SLACK = timedelta(days=2)
# HTML is reduced to text after this many characters of markup per allowed text character:
# markup-heavy fields still yield their text, and the work per field stays bounded.
_MARKUP_FACTOR = 4

# feedparser mutates the global warning filters through catch_warnings(), which is not thread-safe;
# parsing holds the GIL anyway, so serialising parses costs no throughput.
_PARSE_LOCK = threading.Lock()

_ROOT_CLOSE = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF|channel)\s*>")
_TRUNCATION_MESSAGES = ("no element found", "unclosed token", "unclosed cdata", "partial character")
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_KNOWN_ENTITIES = frozenset(name.rstrip(";") for name in html.entities.html5)


def parse_feed(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    max_field_chars: int = 100_000,
    max_items: int = 2_000,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse one fetched body; every failure is reported in the result, never raised.

    ``now`` is the reference for "absurdly far in the future" dates; it defaults to the clock.
    """
    try:
        return _parse(
            body,
            headers=headers or {},
            url=url,
            max_field_chars=max(1, max_field_chars),
            max_items=max(0, max_items),
            now=now or datetime.now(UTC),
        )
    except Exception as exc:  # a bug or a parser crash must cost one feed, not the cycle
        return ParsedFeed(error_kind=ErrorKind.PARSE, error=_describe("parser failed", exc))


def _parse(
    body: bytes,
    *,
    headers: Mapping[str, str],
    url: str,
    max_field_chars: int,
    max_items: int,
    now: datetime,
) -> ParsedFeed:
    if not body.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty body")
    lower_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    text, encoding_warnings = decode_body(body, lower_headers.get("content-type", ""))
    text, invalid_count = NOT_XML_CHARS.subn("", text)
    text, dtd_removed, entity_names = strip_dtd_text(text)
    if not text.strip():
        if dtd_removed:
            return _dtd_refused()
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty body")

    warnings_out = list(encoding_warnings)
    if invalid_count:
        warnings_out.append(f"removed {invalid_count} characters not allowed in XML")
    if dtd_removed:
        warnings_out.append("removed DTD entity declarations; entity references left unexpanded")

    result = _run_feedparser(as_utf8_document(text), lower_headers, url)
    if isinstance(result, BaseException):
        return ParsedFeed(
            error_kind=ErrorKind.PARSE,
            error=_describe("parser failed", result),
            warnings=tuple(warnings_out),
        )

    entries = list(result.get("entries") or [])
    if not result.get("version"):
        if dtd_removed:
            return _dtd_refused(warnings_out)
        return ParsedFeed(
            error_kind=ErrorKind.NOT_A_FEED,
            error=_not_a_feed_reason(body, lower_headers),
            warnings=tuple(warnings_out),
        )
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
            warnings_out.append(_describe("questionable content type", exc))
        else:
            prefix = f"feed is not well-formed; {len(entries)} entries recovered"
            warnings_out.append(_describe(prefix, exc))

    skipped = 0
    if entries and _looks_truncated(text, result.get("bozo_exception")):
        entries.pop()
        skipped += 1
        warnings_out.append("document is truncated; its last entry was ignored")
    if len(entries) > max_items:
        warnings_out.append(f"feed has {len(entries)} entries; only the first {max_items} are used")
        entries = entries[:max_items]

    items, unusable, duplicates = _build_items(entries, max_field_chars, now)
    skipped += unusable
    if duplicates:
        warnings_out.append(f"dropped {duplicates} duplicate entries")

    if dtd_removed and (not items or _shows_entity_refs(items, entity_names)):
        return _dtd_refused(warnings_out)

    feed = result.get("feed") or {}
    return ParsedFeed(
        items=tuple(items),
        title=_typed_text(
            feed.get("title"), feed.get("title_detail"), max_field_chars, "text/plain"
        ),
        ttl_minutes=_ttl(feed.get("ttl")),
        skipped=skipped,
        warnings=tuple(warnings_out),
    )


def _run_feedparser(document: bytes, headers: Mapping[str, str], url: str) -> Any:
    response_headers = {
        key: headers[key] for key in ("content-type", "content-language") if key in headers
    }
    # The document is UTF-8 now, whatever the server said; a missing type would only add a
    # NonXMLContentType complaint about a document we already decoded.
    base_type = HEADER_CHARSET.sub("", response_headers.get("content-type", "")).strip()
    response_headers["content-type"] = f"{base_type or 'application/xml'}; charset=utf-8"
    if url:
        response_headers["content-location"] = url
    with _PARSE_LOCK, warnings.catch_warnings():
        # feedparser's own DeprecationWarnings must not become errors in callers that escalate them.
        warnings.simplefilter("ignore")
        try:
            return feedparser.parse(
                io.BytesIO(document),
                response_headers=response_headers,
                sanitize_html=False,
                resolve_relative_uris=False,
            )
        except Exception as exc:  # feedparser has raised AssertionError on odd CDATA
            return exc


def _looks_truncated(text: str, exc: object) -> bool:
    message = str(getattr(exc, "getMessage", lambda: "")()).lower() if exc is not None else ""
    if any(marker in message for marker in _TRUNCATION_MESSAGES):
        return True
    return _ROOT_CLOSE.search(text, max(0, len(text) - 65_536)) is None


def _build_items(
    entries: list[Any], max_field_chars: int, now: datetime
) -> tuple[list[Item], int, int]:
    """Return the items, the number of unusable entries, and the number of exact duplicates."""
    base_keys: list[str | None] = []
    for entry in entries:
        try:
            base_keys.append(item_key(entry))
        except Exception:  # a malformed entry is unusable, not fatal
            base_keys.append(None)
    shared = {key for key, count in Counter(k for k in base_keys if k).items() if count > 1}

    items: list[Item] = []
    seen: set[str] = set()
    unusable = duplicates = 0
    for entry, key in zip(entries, base_keys, strict=True):
        if key is None:
            unusable += 1
            continue
        if key in shared:
            link = _str(entry.get("link"))
            title = _str(entry.get("title"))
            key = cap_key(f"{key}#{sha256(link + chr(10) + title)[:16]}")
        if key in seen:
            duplicates += 1
            continue
        try:
            items.append(_build_item(entry, key, max_field_chars, now))
        except Exception:  # a malformed entry is unusable, not fatal
            unusable += 1
            continue
        seen.add(key)
    return items, unusable, duplicates


def _build_item(entry: Any, key: str, max_field_chars: int, now: datetime) -> Item:
    title = _typed_text(
        entry.get("title"), entry.get("title_detail"), max_field_chars, "text/plain"
    )
    summary = _typed_text(
        entry.get("summary"), entry.get("summary_detail"), max_field_chars, "text/html"
    )
    parts = [
        _typed_text(part.get("value"), part, max_field_chars, "text/html")
        for part in (entry.get("content") or [])
        if isinstance(part, Mapping)
    ]
    content = "\n".join(part for part in parts if part)[:max_field_chars]
    if content == summary:
        content = ""
    author = clean_text(_str(entry.get("author"))[: MAX_AUTHOR_CHARS * 4])[:MAX_AUTHOR_CHARS]
    return Item(
        key=key,
        title=title,
        link=_http_link(entry.get("link")),
        summary=summary,
        content=content,
        published=_published(entry, now),
        author=author or None,
    )


def _typed_text(value: object, detail: object, cap: int, default_type: str) -> str:
    """Plain text of a feed string, reading it as HTML only when feedparser says it is HTML."""
    raw = _str(value)
    if not raw:
        return ""
    content_type = default_type
    if isinstance(detail, Mapping):
        content_type = _str(detail.get("type")) or default_type
    raw = raw[: cap * _MARKUP_FACTOR]
    text = html_to_text(raw) if "html" in content_type.lower() else clean_text(raw)
    return text[:cap]


def _http_link(value: object) -> str | None:
    link = _str(value).strip()
    try:
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link if scheme in ("http", "https") and clean_text(link) == link else None


def _published(entry: Any, now: datetime) -> datetime | None:
    for field in ("published_parsed", "updated_parsed"):
        # Membership, not .get(): feedparser maps a missing updated_parsed to published_parsed
        # with a DeprecationWarning.
        if field not in entry:
            continue
        value = entry[field]
        if value is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(v) for v in tuple(value)[:6])
            moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
        if moment.year < MIN_YEAR or moment > now + FUTURE_SLACK:
            return None
        return moment
    return None


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    return min(minutes, MAX_TTL_MINUTES) if minutes > 0 else None


def _shows_entity_refs(items: list[Item], names: frozenset[str]) -> bool:
    suspicious = [name for name in names if name not in _KNOWN_ENTITIES]
    if not suspicious:
        return False
    refs = tuple(f"&{name};" for name in suspicious)
    return any(
        ref in text
        for item in items
        for text in (item.title, item.summary, item.content)
        for ref in refs
    )


def _not_a_feed_reason(body: bytes, headers: Mapping[str, str]) -> str:
    head = body[:4096]
    if _HTML_HINT.search(head) or "html" in headers.get("content-type", "").lower():
        return "not a feed (looks like an HTML page)"
    if head.lstrip().startswith((b"{", b"[")):
        return "not a feed (looks like JSON; JSON Feed is not supported)"
    return "not a feed (no RSS, Atom or RDF document found)"


def _dtd_refused(warnings_out: list[str] | None = None) -> ParsedFeed:
    return ParsedFeed(
        error_kind=ErrorKind.DTD,
        error="rejected: DTD entity declarations",
        warnings=tuple(warnings_out or ()),
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _describe(prefix: str, exc: object) -> str:
    if exc is None:
        return prefix
    return f"{prefix}: {type(exc).__name__}: {exc}"[:300]
