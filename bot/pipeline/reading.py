"""Reading one item's page: fetch (politely) → HTML main text or PDF text layer → a verdict.

Rules:
- Fetches go through the article :class:`~bot.fetch.Fetcher` (its own concurrency budget, apart
  from feed polling) and the :class:`~bot.fetch.polite.HostGate` (one request per host at a time,
  a gap between requests, Retry-After honoured for the whole host).
- Caps by type: an HTML page past ``full_text_max_html`` and a PDF past ``full_text_max_pdf``
  are refused while reading. A response is a PDF by its ``%PDF-`` magic bytes, its Content-Type,
  or (for ``application/octet-stream``) a ``.pdf`` path; HTML by its Content-Type or by markup.
- A PDF attachment linked from the page is read too (one), with the same envelope.
- Every answer is a :class:`Reading`: the text found, or whether the failure is *transient*
  (timeout, network, 5xx, 408, 429: try again at a later poll) or *permanent* (404 and other
  4xx, too large, refused, neither HTML nor PDF, a login wall: decide now on the headline).
- HTML extraction runs in a worker thread with a deadline; PDFs in a killable child
  (:mod:`bot.sources.pdf`), at most :data:`PDF_WORKERS` at once, which bounds their memory.
  Nothing here raises except cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.config import Settings
from bot.fetch import Fetcher
from bot.fetch.client import CapRule
from bot.fetch.polite import HostGate
from bot.model import ErrorKind, FetchResult, Outcome
from bot.sources.article import Article, extract_article, is_pdf_url
from bot.sources.pdf import PdfLimits, read_pdf_in_child

EXTRACT_DEADLINE = 30.0
TEXT_CAP = 100_000  # characters kept per text (page, PDF) with the item
DEFAULT_429_WAIT = 60.0  # a 429 without Retry-After still means "slow down"
LONG_DEFERRAL = 10.0
PDF_WORKERS = 2  # a host deferred longer than this is left for a later poll
ACCEPT = "text/html, application/xhtml+xml, application/pdf;q=0.9, */*;q=0.5"
_TRANSIENT = frozenset(
    {ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.TLS, ErrorKind.RATE_LIMITED}
)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True, slots=True)
class Reading:
    """What reading an item's page came to."""

    outcome: str  # text, pdf, no_text, transient, permanent, deferred
    full_text: str = ""
    pdf: str = ""
    error: str | None = None

    @property
    def transient(self) -> bool:
        return self.outcome in ("transient", "deferred")


def _is_pdf(result: FetchResult) -> bool:
    kind = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if result.body[:1024].lstrip().startswith(b"%PDF-"):
        return True
    return kind == "application/pdf" or (
        kind in ("application/octet-stream", "") and is_pdf_url(result.final_url)
    )


def _is_html(result: FetchResult) -> bool:
    kind = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in _HTML_TYPES:
        return True
    head = result.body[:2048].lstrip().lower()
    return not kind and (head.startswith((b"<!doctype html", b"<html")) or b"<body" in head)


def cap_rule(settings: Settings) -> CapRule:
    """The byte cap by response: PDF-looking responses get the PDF cap, the rest the HTML one."""

    def cap(url: str, headers: Mapping[str, str]) -> int:
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        pdf_like = kind == "application/pdf" or (
            kind in ("application/octet-stream", "") and is_pdf_url(url)
        )
        return settings.full_text_max_pdf if pdf_like else settings.full_text_max_html

    return cap


class ArticleReader:
    """Reads item pages for the full-text stage; one per service (its gate is per host)."""

    def __init__(self, fetcher: Fetcher, gate: HostGate, *, pdf_workers: int = PDF_WORKERS) -> None:
        self.fetcher = fetcher
        self.gate = gate
        # PDF children at once: each holds a parser and a document in memory (about 35 MB).
        self._pdf_slots = asyncio.Semaphore(pdf_workers)

    async def read(self, url: str, settings: Settings) -> Reading:
        """The text of ``url`` (HTML or PDF, plus one linked PDF), or why there is none."""
        self.gate.gap = settings.full_text_host_gap
        page = await self._fetch(url, settings)
        if isinstance(page, Reading):
            return page
        if _is_pdf(page):
            return await self._pdf(page.body, settings)
        if not _is_html(page):
            kind = page.headers.get("content-type", "unknown") or "unknown"
            return Reading("permanent", error=f"neither HTML nor PDF ({kind[:60]})")
        if len(page.body) > settings.full_text_max_html:
            return Reading("permanent", error="page over the HTML size limit")
        article = await self._extract(page)
        if article is None:
            return Reading("permanent", error=f"extraction took over {EXTRACT_DEADLINE:g} s")
        if article.login_wall:
            return Reading("permanent", error="the page is a login form")
        pdf_text = ""
        pdf_error: str | None = None
        for attachment in article.attachments:
            attached = await self._fetch(attachment, settings)
            if isinstance(attached, Reading):
                pdf_error = f"attachment: {attached.error}"
            elif _is_pdf(attached):
                reading = await self._pdf(attached.body, settings)
                pdf_text, pdf_error = reading.pdf, reading.error
        text = article.text[:TEXT_CAP]
        if not text and not pdf_text:
            return Reading("no_text", error=pdf_error or "no text on the page")
        return Reading("text" if text else "pdf", text, pdf_text, pdf_error)

    async def _fetch(self, url: str, settings: Settings) -> FetchResult | Reading:
        host = (urlsplit(url).hostname or "").lower()
        if self.gate.deferred_for(host) > LONG_DEFERRAL:
            return Reading("deferred", error=f"{host} asked us to wait (Retry-After)")
        async with self.gate.turn(host):
            result = await self.fetcher.fetch(url, cap=cap_rule(settings))
        if result.outcome is Outcome.OK:
            return result
        kind = result.error_kind or ErrorKind.NETWORK
        status = result.status or 0
        if result.retry_after is not None and status in (429, 503):
            self.gate.defer(host, result.retry_after)
        elif status == 429:
            self.gate.defer(host, DEFAULT_429_WAIT)
        transient = kind in _TRANSIENT or status >= 500 or status == 408
        return Reading("transient" if transient else "permanent", error=result.error or str(kind))

    async def _extract(self, page: FetchResult) -> Article | None:
        job = asyncio.to_thread(extract_article, page.body, page.headers, page.final_url)
        try:
            async with asyncio.timeout(EXTRACT_DEADLINE):
                return await job
        except TimeoutError:
            return None  # the thread finishes on its own; its result is dropped

    async def _pdf(self, data: bytes, settings: Settings) -> Reading:
        limits = PdfLimits(max_pages=settings.full_text_pdf_pages, max_chars=TEXT_CAP)
        async with self._pdf_slots:
            result = await read_pdf_in_child(data, limits)
        partial = (
            f"first {result.read} of {result.pages} pages read"
            if result.read < result.pages
            else None
        )
        if result.ok:
            return Reading("pdf", pdf=result.text, error=partial)
        if result.reason == "no_text":
            return Reading("no_text", error="PDF without a text layer")
        detail = f": {result.detail}" if result.detail else ""
        return Reading("permanent", error=f"PDF {result.reason}{detail}")
