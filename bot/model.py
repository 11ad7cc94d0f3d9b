"""Values shared by the pipeline stages: fetch → parse → match → store → route → render → deliver.

Every type here is immutable. Stages exchange these values and never call each other; the
orchestrator in :mod:`bot.pipeline.poller` composes them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Outcome(enum.StrEnum):
    """What a fetch came to."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


class ErrorKind(enum.StrEnum):
    """Why a fetch or parse failed. Shown in `vigil status` and `/status`, and used for metrics."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    REFUSED = "refused"  # private destination, bad scheme, too many redirects
    NOT_A_FEED = "not_a_feed"
    EMPTY = "empty"
    DTD = "dtd"  # entity declarations refused (billion laughs, quadratic blow-up)
    PARSE = "parse"
    # Page sources (listing pages, Telegram channels, pages advertising a feed):
    NO_ENTRIES = "no_entries"  # a normal page where the selector or automatic mode found nothing
    LAYOUT_CHANGED = "layout_changed"  # most entries new and their links left the old pattern
    BLOCKED = "blocked"  # 401/403/429/503, or a 200 carrying a bot challenge
    NEEDS_JAVASCRIPT = "needs_javascript"  # an app shell: the entries are drawn by scripts


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The classified result of one conditional GET. The fetcher never raises past its edge."""

    outcome: Outcome
    url: str
    final_url: str = ""
    status: int | None = None
    body: bytes = b""
    # Lowercase header names: feedparser ignores capitalised ones (API-NOTES §1.11).
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, as the server asked (not yet clamped)
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class PageSpec:
    """How to read an HTML listing page (feeds.yaml ``page:``); None selectors mean "find it".

    Selectors are CSS, or XPath after an ``xpath:`` prefix; ``date`` and the others may end in
    ``@attribute``. ``link_pattern`` is an RE2 pattern searched in the link's path (and query).
    """

    items: str | None = None  # None: automatic mode
    link: str | None = None
    title: str | None = None
    date: str | None = None
    summary: str | None = None
    link_pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One statement from a feed, with the text a reader sees (HTML already turned into text)."""

    key: str  # stable identity within the feed: GUID, else normalized link, else a content hash
    title: str
    link: str | None
    summary: str
    content: str
    published: datetime | None = None  # UTC-aware, or None when the feed gave no usable date
    author: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed body, or the reason it is not a usable feed."""

    items: tuple[Item, ...] = ()
    title: str = ""
    ttl_minutes: int | None = None  # RSS <ttl>, honoured as a minimum interval
    error_kind: ErrorKind | None = None
    error: str | None = None
    skipped: int = 0  # entries with nothing usable (no key could be made)
    warnings: tuple[str, ...] = ()
    kind: str = "feed"  # feed, discovered feed, page, channel
    feeds_found: tuple[str, ...] = ()  # feeds an HTML page advertises (absolute URLs)
    dropped: tuple[tuple[str, str], ...] = ()  # (link, why) for links a page did not make items
    selector: str | None = None  # the entry selector automatic mode inferred

    @property
    def ok(self) -> bool:
        return self.error_kind is None


class Field(enum.StrEnum):
    """Where in an item a keyword was found."""

    TITLE = "title"
    SUMMARY = "summary"
    CONTENT = "content"
    FULL_TEXT = "full_text"  # the article page's main text
    PDF = "pdf"  # the text layer of the PDF the item links or attaches


@dataclass(frozen=True, slots=True)
class Hit:
    """One keyword occurrence: which keyword, in which field, at which span of that field's text."""

    keyword: str
    field: Field
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why a topic matched an item: the keyword hits, and the context hit when the topic has one."""

    topic_id: str
    hits: tuple[Hit, ...]
    context: Hit | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One rendered message for one chat, as stored in the outbox."""

    chat_id: str
    feed_id: str
    item_key: str
    statement_key: str  # dedup across feeds: canonical link, else feed id + item key
    topics: tuple[str, ...]
    text_html: str
    text_plain: str
