"""Fetch and read one source: the fetch → read half of a poll, shared by the poller and probe.

Rules:
- A source polls its configured URL, or the feed that URL advertised (``source_url`` in its
  row) once one was found; a page without ``page:`` that advertises feeds has its first one
  fetched right away (one extra request, redirects and the private-address guard as for any
  fetch) and read as a feed — never searched again from there. An advertised feed that is gone
  (404, 410, no longer a feed) is forgotten, so the next poll looks at the page again.
- Page sources (``page:`` or a ``t.me/s/`` channel) answered 401, 403, 429 or 503 are
  ``BLOCKED`` (the Retry-After of a 429/503 still sets the back-off).
- A 200 whose body, read the same way, hashes as the last good read is *unchanged*, exactly
  like a 304: nothing is parsed (many government sites send no validators). Only after a good
  poll: a held or failed state is always read again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.config import Feed
from bot.fetch import Fetcher
from bot.model import ErrorKind, FetchResult, Outcome, ParsedFeed
from bot.sources.drift import body_fingerprint
from bot.sources.pagestate import BLOCKING_STATUSES
from bot.sources.reader import FeedReader
from bot.sources.telegram import channel_name
from bot.store.feeds import FeedRow

_GONE = frozenset({404, 410})


@dataclass(frozen=True, slots=True)
class Intake:
    """What fetching and reading a source came to: unchanged, failed, or read."""

    result: FetchResult  # the fetch whose validators are kept
    parsed: ParsedFeed | None = None  # None: unchanged or failed
    error_kind: ErrorKind | None = None
    error: str | None = None
    body_hash: str | None = None
    source_url: str | None = None  # the advertised feed read in the page's place
    forget_source: bool = False  # the advertised feed is gone; look at the page again

    @property
    def unchanged(self) -> bool:
        return self.parsed is None and self.error_kind is None


def is_page_source(feed: Feed) -> bool:
    return feed.page is not None or channel_name(feed.url) is not None


async def take_in(
    fetcher: Fetcher,
    reader: FeedReader,
    feed: Feed,
    row: FeedRow | None,
    *,
    use_validators: bool = True,
) -> Intake:
    """Fetch the source (conditionally) and read it; never raises except on cancellation."""
    source = row.source_url if row and row.source_url and feed.page is None else None
    target = source or feed.url
    known = row if use_validators else None
    result = await fetcher.fetch(
        target,
        etag=known.etag if known else None,
        last_modified=known.last_modified if known else None,
    )
    if result.outcome is Outcome.NOT_MODIFIED:
        return Intake(result)
    if result.outcome is Outcome.FAILED:
        return _failed(feed, result, forget=source is not None and result.status in _GONE)
    fingerprint = body_fingerprint(result.body, feed.page)
    if (
        known is not None
        and known.body_hash == fingerprint
        and known.baselined
        and not known.consecutive_errors
        and not known.rebaseline
    ):
        return Intake(result)
    parsed = await reader.read(result, page=feed.page, discover=source is None)
    if source is not None:
        if parsed.error_kind is ErrorKind.NOT_A_FEED:
            return Intake(result, None, parsed.error_kind, parsed.error, forget_source=True)
        parsed = dataclasses.replace(parsed, kind="discovered feed")
    elif parsed.feeds_found:
        return await _discovered(fetcher, reader, parsed.feeds_found[0])
    if not parsed.ok:
        kind = parsed.error_kind or ErrorKind.PARSE
        return Intake(result, parsed, kind, parsed.error or str(kind))
    return Intake(result, parsed, body_hash=fingerprint, source_url=source)


async def _discovered(fetcher: Fetcher, reader: FeedReader, url: str) -> Intake:
    result = await fetcher.fetch(url)
    if result.outcome is not Outcome.OK:
        kind = result.error_kind or ErrorKind.NETWORK
        return Intake(result, None, kind, f"the advertised feed {url}: {result.error or kind}")
    parsed = await reader.read(result, discover=False)
    if not parsed.ok:
        kind = parsed.error_kind or ErrorKind.PARSE
        error = f"the advertised feed {url}: {parsed.error or kind}"
        return Intake(result, parsed, kind, error)
    parsed = dataclasses.replace(parsed, kind="discovered feed")
    fingerprint = body_fingerprint(result.body, None)
    return Intake(result, parsed, body_hash=fingerprint, source_url=url)


def _failed(feed: Feed, result: FetchResult, *, forget: bool) -> Intake:
    kind = result.error_kind or ErrorKind.NETWORK
    message = result.error or str(kind)
    if is_page_source(feed) and result.status in BLOCKING_STATUSES:
        kind, message = ErrorKind.BLOCKED, f"blocked: {message}"
    return Intake(result, None, kind, message, forget_source=forget)
