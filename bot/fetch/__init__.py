"""The fetch stage: one bounded, classified HTTP GET per source.

`client` holds the :class:`Fetcher` (deadline, size cap, redirects one hop at a time,
per-host and total concurrency, conditional GET); `guard` refuses private destinations at
connect time on every hop; `body` decodes the raw bytes within the size cap; `transport`
adapts our own httpcore pool to httpx; `classify` turns every failure into one ErrorKind.

Rule: a fetch never raises past this package (except cancellation): every outcome is a
:class:`bot.model.FetchResult`.
"""

from bot.fetch.classify import classify_error, parse_retry_after
from bot.fetch.client import Fetcher, FetchPolicy

__all__ = ["FetchPolicy", "Fetcher", "classify_error", "parse_retry_after"]
