"""The fetch stage: one conditional GET per feed, bounded and classified.

Rules enforced here (RELIABILITY §B, §4.5; API-NOTES §1.15, §1.16, §6):

- ``Fetcher.fetch`` never raises (except ``CancelledError``): every outcome is a ``FetchResult``
  with OK, NOT_MODIFIED, or FAILED plus an ``ErrorKind``.
- **Time:** one total deadline (``asyncio.timeout``) spans the whole fetch, redirects included.
  httpx's timeouts are per socket operation, so a server dripping a byte a second never trips
  them. Waiting for a concurrency slot for the first hop is not counted: fifty feeds on one host
  queue behind the per-host limit without eating each other's deadline.
- **Bytes:** a declared ``Content-Length`` above the cap is refused before reading; otherwise the
  raw bytes from ``aiter_raw()`` are counted and decoded by :mod:`bot.fetch.body`, which bounds the
  *decompressed* size inside zlib.
- **Destinations:** only ``http``/``https``, on every hop; redirects are followed here, one hop at
  a time, at most ``max_redirects``; every TCP connection goes through
  :class:`bot.fetch_guard.GuardedBackend`, which refuses private addresses at connect time.
  Through a configured proxy the proxy is the one private endpoint allowed, and each hop's host is
  vetted by resolving it before the request is sent.
- **Environment:** ``HTTP_PROXY`` and friends are never read; only ``FetchPolicy.proxy`` is used.
  The User-Agent names Vigil and a contact URL and is never a browser's.
- **Politeness:** at most ``per_host_concurrency`` requests in flight per host and
  ``max_concurrency`` overall; validators are sent verbatim for conditional GET.
- **Cost:** one connection pool for the Fetcher's lifetime, keep-alive, no per-request client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpcore
import httpx

from bot.fetch.body import BodyTooLarge, BoundedDecoder, CorruptBody, UnsupportedEncoding
from bot.fetch.classify import FetchFailure, classify_error, parse_retry_after, status_message
from bot.fetch.guard import DestinationRefused, GuardedBackend
from bot.fetch.transport import PoolTransport
from bot.model import ErrorKind, FetchResult, Outcome

log = logging.getLogger("vigil.fetch")

_SCHEMES = ("http", "https")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
# Unread bodies (304, redirects, error pages) up to this size are drained so that the connection
# goes back to the pool; httpcore closes a connection whose response was not read to the end.
_DRAIN_LIMIT = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True)
class FetchPolicy:
    """How far a fetch may go: time, bytes, hops, destinations, and how many at once."""

    timeout: float = 30.0  # total deadline per fetch, redirects included
    max_bytes: int = 10 * 1024 * 1024  # counted on decompressed bytes
    max_redirects: int = 5
    allow_private_networks: bool = False
    user_agent: str = "Vigil/0.1 (+https://github.com/vigil-bot/vigil; feed alerts)"
    proxy: str | None = None  # the only proxy used; environment proxies are ignored
    per_host_concurrency: int = 2
    max_concurrency: int = 16
    accept: str = _ACCEPT


# The byte cap of one response, from its final URL and headers (article pages: HTML or PDF).
CapRule = Callable[[str, Mapping[str, str]], int]


@dataclass
class _Progress:
    """What a fetch has done so far, for the result built when it fails."""

    hops: list[str]
    start: float
    cap: CapRule | None = None


async def _release(response: httpx.Response) -> None:
    """Closes a response, first draining a small unread body so the connection can be reused.

    Only bodies known to be small are drained (304s, and a declared Content-Length up to
    ``_DRAIN_LIMIT``): anything else would let a hostile server hold us here.
    """
    declared = response.headers.get("content-length", "")
    small = response.status_code == 304 or (declared.isdigit() and int(declared) <= _DRAIN_LIMIT)
    if small and not response.is_stream_consumed:
        with contextlib.suppress(httpx.HTTPError):
            async for _chunk in response.aiter_raw():
                pass
    await response.aclose()


class Fetcher:
    """Fetches feeds over one shared, guarded connection pool. Use ``async with`` or ``aclose``."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Callable[[str, int], Awaitable[list[str]]] | None = None,
        trusted_endpoints: Collection[tuple[str, int]] = (),
    ) -> None:
        """``trusted_endpoints``: ``(host, port)`` pairs allowed to be private (the proxy is one).

        Tests use it to stand a loopback server in for a public host, which is how a redirect
        from an allowed host to a private one is shown to be refused.
        """
        self.policy = policy
        trusted = set(trusted_endpoints)
        proxy: httpcore.Proxy | None = None
        if policy.proxy:
            proxy_url = httpx.URL(policy.proxy)
            if proxy_url.scheme not in (*_SCHEMES, "socks5", "socks5h") or not proxy_url.host:
                raise ValueError(f"unsupported proxy URL scheme: {proxy_url.scheme!r}")
            port = proxy_url.port or _DEFAULT_PORTS[proxy_url.scheme]
            trusted.add((proxy_url.host, port))
            proxy = httpcore.Proxy(url=policy.proxy)
        self._proxied = proxy is not None
        self._backend = GuardedBackend(
            resolver=resolver,
            allow_private=policy.allow_private_networks,
            trusted=trusted,
        )
        pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            proxy=proxy,
            max_connections=policy.max_concurrency,
            max_keepalive_connections=policy.max_concurrency,
            keepalive_expiry=30.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=self._backend,
        )
        self._transport = PoolTransport(pool)
        self._all = asyncio.Semaphore(policy.max_concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._base_headers = {
            "user-agent": policy.user_agent,
            "accept": policy.accept,
            "accept-encoding": "gzip, deflate",
        }
        # Per-operation limits only stop a dead socket early; the total deadline is asyncio's.
        self._extensions = {
            "timeout": {
                "connect": policy.timeout,
                "read": policy.timeout,
                "write": policy.timeout,
                "pool": policy.timeout,
            }
        }

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes every pooled connection."""
        await self._transport.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        cap: CapRule | None = None,
    ) -> FetchResult:
        """One conditional GET of ``url``, following redirects; never raises past here.

        ``cap``: the byte cap by final URL and headers, at most ``policy.max_bytes``.
        """
        progress = _Progress(hops=[url], start=time.monotonic(), cap=cap)
        try:
            return await self._fetch(url, etag, last_modified, progress)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            kind, message = classify_error(exc)
            if not isinstance(exc, FetchFailure | DestinationRefused):
                log.debug("fetch failed: %s", message, extra={"url": url, "error_kind": str(kind)})
            failure = exc if isinstance(exc, FetchFailure) else None
            return FetchResult(
                outcome=Outcome.FAILED,
                url=url,
                final_url=progress.hops[-1],
                status=failure.status if failure else None,
                headers=failure.headers if failure else {},
                error_kind=kind,
                error=message,
                retry_after=failure.retry_after if failure else None,
                elapsed=time.monotonic() - progress.start,
            )

    async def _acquire(self, host: str) -> asyncio.Semaphore:
        """Takes the host's slot, then a global one; returns the host slot to release later.

        Always host first: a fetch waiting for a busy host must not sit on a global slot that a
        fetch for another host could use.
        """
        slot = self._host_slot(host)
        await slot.acquire()
        try:
            await self._all.acquire()
        except BaseException:
            slot.release()
            raise
        return slot

    def _release_slots(self, slot: asyncio.Semaphore) -> None:
        self._all.release()
        slot.release()

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.policy.per_host_concurrency)
        return slot

    def _check_url(self, url: httpx.URL, *, redirect: bool) -> None:
        where = "redirect to" if redirect else "URL with"
        if url.scheme not in _SCHEMES:
            raise FetchFailure(ErrorKind.REFUSED, f"{where} unsupported scheme {url.scheme!r}")
        if not url.host:
            raise FetchFailure(ErrorKind.REFUSED, f"{where} no host")

    async def _fetch(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        progress: _Progress,
    ) -> FetchResult:
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchFailure(ErrorKind.REFUSED, f"invalid URL: {exc}") from exc
        self._check_url(current, redirect=False)
        headers = dict(self._base_headers)
        if etag:
            headers["if-none-match"] = etag
        if last_modified:
            headers["if-modified-since"] = last_modified

        # Queueing for the first hop's slots is outside the deadline and the elapsed time.
        slot: asyncio.Semaphore | None = await self._acquire(current.host)
        progress.start = time.monotonic()
        try:
            async with asyncio.timeout(self.policy.timeout):
                redirects = 0
                while True:
                    if self._proxied and not self.policy.allow_private_networks:
                        port = current.port or _DEFAULT_PORTS[current.scheme]
                        await self._backend.vet(current.host, port)
                    request = httpx.Request(
                        "GET", current, headers=headers, extensions=self._extensions
                    )
                    response = await self._transport.handle_async_request(request)
                    try:
                        location = response.headers.get("location")
                        if response.status_code in _REDIRECTS and location:
                            try:
                                target = current.join(location)
                            except httpx.InvalidURL as exc:
                                raise FetchFailure(
                                    ErrorKind.REFUSED, f"redirect to an invalid URL: {exc}"
                                ) from exc
                            progress.hops.append(str(target))
                            self._check_url(target, redirect=True)
                            redirects += 1
                            if redirects > self.policy.max_redirects:
                                raise FetchFailure(
                                    ErrorKind.REFUSED,
                                    f"too many redirects (more than {self.policy.max_redirects})",
                                    status=response.status_code,
                                )
                            if response.status_code in _PERMANENT:
                                log.debug("permanent redirect", extra={"url": str(target)})
                        else:
                            return await self._finish(
                                url, current, response, etag, last_modified, progress
                            )
                    finally:
                        await _release(response)
                    if target.host != current.host:
                        if slot is not None:
                            self._release_slots(slot)
                            slot = None
                        slot = await self._acquire(target.host)
                    current = target
        except TimeoutError as exc:
            raise FetchFailure(
                ErrorKind.TIMEOUT, f"no complete response within {self.policy.timeout:g} s"
            ) from exc
        finally:
            if slot is not None:
                self._release_slots(slot)

    async def _finish(
        self,
        url: str,
        current: httpx.URL,
        response: httpx.Response,
        etag: str | None,
        last_modified: str | None,
        progress: _Progress,
    ) -> FetchResult:
        start = progress.start
        status = response.status_code
        headers = dict(response.headers.items())
        final_url = str(current)
        if status == 304:
            if not etag and not last_modified:
                log.warning("304 Not Modified although no validators were sent", extra={"url": url})
            return FetchResult(
                outcome=Outcome.NOT_MODIFIED,
                url=url,
                final_url=final_url,
                status=status,
                headers=headers,
                etag=headers.get("etag"),
                last_modified=headers.get("last-modified"),
                elapsed=time.monotonic() - start,
            )
        if status == 429 or (status == 503 and "retry-after" in headers):
            raise FetchFailure(
                ErrorKind.RATE_LIMITED,
                status_message(status),
                status=status,
                headers=headers,
                retry_after=parse_retry_after(headers.get("retry-after")),
            )
        if status == 403 and headers.get("cf-mitigated", "").lower() == "challenge":
            raise FetchFailure(
                ErrorKind.HTTP_STATUS,
                "blocked by a Cloudflare challenge",
                status=status,
                headers=headers,
            )
        if not 200 <= status < 300:
            raise FetchFailure(
                ErrorKind.HTTP_STATUS, status_message(status), status=status, headers=headers
            )
        cap = self.policy.max_bytes
        if progress.cap is not None:
            cap = min(cap, progress.cap(final_url, headers))
        body = await self._read_body(response, headers, cap)
        outcome = Outcome.OK if body else Outcome.FAILED
        return FetchResult(
            outcome=outcome,
            url=url,
            final_url=final_url,
            status=status,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            error_kind=None if body else ErrorKind.EMPTY,
            error=None if body else "empty body",
            elapsed=time.monotonic() - start,
        )

    async def _read_body(
        self, response: httpx.Response, headers: dict[str, str], cap: int
    ) -> bytes:
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise FetchFailure(
                ErrorKind.TOO_LARGE,
                f"Content-Length {declared} exceeds the {cap}-byte limit",
                status=response.status_code,
                headers=headers,
            )
        try:
            decoder = BoundedDecoder(headers.get("content-encoding"), cap)
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
            return decoder.finish()
        except (BodyTooLarge, UnsupportedEncoding, CorruptBody) as exc:
            kind, message = classify_error(exc)
            raise FetchFailure(kind, message, status=response.status_code, headers=headers) from exc
