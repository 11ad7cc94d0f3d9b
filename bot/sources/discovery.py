"""The feeds an HTML page advertises (``<link rel="alternate">``), for a source without ``page:``.

Rules (PAGES.md appendix 1.5, Miniflux's finder): RSS, Atom, RDF and JSON Feed types count;
``application/json`` links into ``/wp-json/`` are WordPress's REST API, not a feed; hrefs are
resolved against the page's base URL; comment feeds come last. A page advertising none gets an
error saying so and what to add (``page:``), with WordPress's ``/feed/`` offered as a guess —
never tried silently — when the page is WordPress.
"""

from __future__ import annotations

from urllib.parse import urljoin

from bot.model import ErrorKind, ParsedFeed
from bot.sources.htmldoc import HtmlDoc

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "text/xml",
        "application/xml",
    }
)
MAX_FOUND = 10


def advertised_feeds(doc: HtmlDoc) -> list[str]:
    """Absolute URLs of the advertised feeds, the likeliest first."""
    found: list[tuple[int, str]] = []
    for link in doc.root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";", 1)[0].strip().lower()
        href = "".join((link.get("href") or "").split())
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        if "json" in kind and "/wp-json/" in href:
            continue
        absolute = urljoin(doc.base_url, href)
        if not absolute.startswith(("http://", "https://")):
            continue
        label = f"{href} {link.get('title') or ''}".lower()
        found.append((1 if "comment" in label else 0, absolute))
    ranked = [url for _, url in sorted(found, key=lambda pair: pair[0])]
    return list(dict.fromkeys(ranked))[:MAX_FOUND]


def no_feed_error(doc: HtmlDoc, url: str) -> ParsedFeed:
    """The error for an HTML page that advertises no feed."""
    hint = ""
    raw = " ".join(link.get("rel") or "" for link in doc.root.iter("link"))
    if "https://api.w.org/" in raw or "/wp-content/" in (url + str(doc.base_url)):
        hint = f" It looks like WordPress: {urljoin(doc.base_url, '/feed/')} may be its feed."
    return ParsedFeed(
        error_kind=ErrorKind.NOT_A_FEED,
        error='the URL is an HTML page that advertises no feed (no <link rel="alternate"> '
        "RSS, Atom or JSON Feed); add `page:` to this source to read the page's entries, or "
        "point `url` at a feed." + hint,
        kind="page",
    )
