"""A feed server on 127.0.0.1 for tests and bench scripts: well-behaved feeds and hostile modes.

Use :class:`FeedServer` from async code (``await start()`` / ``await stop()``), or
:class:`FeedServerThread` as a context manager from sync tests and scripts (it runs the server's
own event loop in a background thread and returns the :class:`FeedServer`, whose set-up methods
are plain synchronous calls).

Published feeds (``set``) answer conditional GETs: the ETag is derived from the body hash and
Last-Modified is the publish time, so an unchanged feed answers 304. Every request is logged
(path and lowercase headers), and the server counts how many requests it holds at once.

Hostile modes (RELIABILITY §B): ``drip``, ``hang``, ``endless``, ``gzip_bomb`` (one layer or
``gzip, gzip``), ``huge_length``, ``redirect``, ``redirect_chain``, ``redirect_loop``, ``status``
(with Retry-After), ``html``, ``empty``, ``cloudflare``. Every hostile loop is bounded in bytes or
time and ends when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Self

from aiohttp import web

from tests.servers.feedgen import atom, rdf, rss

__all__ = ["FeedServer", "FeedServerThread", "LoggedRequest", "atom", "gzip_bytes", "rdf", "rss"]

RSS_TYPE = "application/rss+xml; charset=utf-8"
HANG_LIMIT = 120.0  # seconds a hanging handler waits at most, so nothing outlives a test run
ENDLESS_LIMIT = 4 * 1024**3  # bytes an endless body sends at most

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    time: float


def gzip_bytes(data: bytes, *, level: int = 9) -> bytes:
    """Gzip-compresses ``data`` (a helper for building compressed or bomb bodies)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def _zeros_gzip(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    parts = []
    remaining = size
    while remaining > 0:
        step = min(remaining, len(block))
        parts.append(compressor.compress(block[:step]))
        remaining -= step
    parts.append(compressor.flush())
    return b"".join(parts)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == wanted:
            return True
    return False


class FeedServer:
    """An aiohttp server on 127.0.0.1 with a route table that tests fill per path."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._ssl = ssl_context
        self._routes: dict[str, Handler] = {}
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self.requests: list[LoggedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the bound port when 0 was asked for

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._ssl else "http"
        if not path.startswith("/"):
            path = "/" + path
        return f"{scheme}://{self.host}:{self.port}{path}"

    # Observations ------------------------------------------------------------------------------

    def requests_for(self, path: str) -> list[LoggedRequest]:
        """The logged requests for one path, oldest first."""
        return [request for request in self.requests if request.path == path]

    def reset_stats(self) -> None:
        self.requests.clear()
        self.max_in_flight = self.in_flight

    # Well-behaved feeds ------------------------------------------------------------------------

    def set(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = RSS_TYPE,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
        delay: float = 0.0,
        conditional: bool = True,
    ) -> None:
        """Publishes ``body`` at ``path``; with ``conditional`` it answers 304 when unchanged."""
        etag = _etag(body)
        modified = formatdate(time.time(), usegmt=True)
        extra = dict(headers or {})

        async def handle(request: web.Request) -> web.StreamResponse:
            if delay:
                await self._sleep(delay)
            validators = {"ETag": etag, "Last-Modified": modified} if conditional else {}
            if conditional and status == 200 and self._not_modified(request, etag, modified):
                return web.Response(status=304, headers={**validators, **extra})
            response_headers = {"Content-Type": content_type, **validators, **extra}
            return web.Response(status=status, body=body, headers=response_headers)

        self._routes[path] = handle

    def html(self, path: str, *, status: int = 200) -> None:
        """An HTML page where a feed was expected."""
        page = b"<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>"
        self.set(path, page, content_type="text/html; charset=utf-8", status=status)

    def empty(self, path: str) -> None:
        """200 with an empty body."""
        self.set(path, b"", conditional=False)

    def status(
        self,
        path: str,
        status: int,
        *,
        retry_after: str | None = None,
        body: bytes = b"error\n",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """A fixed status, optionally with Retry-After (seconds, HTTP-date, or garbage)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        self.set(
            path,
            body,
            content_type="text/plain",
            headers=extra,
            status=status,
            conditional=False,
        )

    def cloudflare(self, path: str) -> None:
        """A Cloudflare managed challenge: 403, ``cf-mitigated: challenge``, an HTML page."""
        page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"
        self.set(
            path,
            page,
            content_type="text/html; charset=UTF-8",
            headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
            status=403,
            conditional=False,
        )

    # Redirects ---------------------------------------------------------------------------------

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Redirects ``path`` to ``location`` (a path or an absolute URL, any scheme)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self._routes[path] = handle

    def redirect_chain(self, path: str, hops: int, *, final: str, status: int = 302) -> None:
        """``path`` → ``path/1`` → … → ``path/{hops-1}`` → ``final``: ``hops`` redirects in all."""
        names = [path] + [f"{path}/{index}" for index in range(1, hops)]
        for name, target in zip(names, [*names[1:], final], strict=True):
            self.redirect(name, target, status=status)

    def redirect_loop(self, path: str) -> None:
        """``path`` → ``path/again`` → ``path`` → … forever."""
        self.redirect(path, f"{path}/again")
        self.redirect(f"{path}/again", path)

    # Hostile bodies ----------------------------------------------------------------------------

    def drip(self, path: str, body: bytes, *, interval: float = 0.5, chunk: int = 1) -> None:
        """200 with ``Content-Length``, the body sent ``chunk`` bytes every ``interval`` seconds."""

        async def handle(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": RSS_TYPE})
            response.content_length = len(body)
            await response.prepare(request)
            with contextlib.suppress(ConnectionError):
                for start in range(0, len(body), chunk):
                    await response.write(body[start : start + chunk])
                    if await self._sleep(interval):
                        break
            return response

        self._routes[path] = handle

    def hang(self, path: str) -> None:
        """Accepts the request and never answers (until the server stops)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            await self._sleep(HANG_LIMIT)
            return web.Response(status=503)

        self._routes[path] = handle

    def endless(self, path: str, *, chunk: int = 64 * 1024) -> None:
        """A chunked body that never ends (bounded at 4 GiB, or until the client goes away)."""
        block = b"<item>x</item>" * (chunk // 14 + 1)

        async def handle(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": RSS_TYPE})
            response.enable_chunked_encoding()
            await response.prepare(request)
            sent = 0
            with contextlib.suppress(ConnectionError):
                while sent < ENDLESS_LIMIT and not self._stopping():
                    await response.write(block)
                    sent += len(block)
            return response

        self._routes[path] = handle

    def huge_length(self, path: str, *, length: int = 10 * 1024**3) -> None:
        """Declares a huge Content-Length, sends a few bytes, then waits."""

        async def handle(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": RSS_TYPE})
            response.content_length = length
            await response.prepare(request)
            with contextlib.suppress(ConnectionError):
                await response.write(b"<rss>")
                await self._sleep(HANG_LIMIT)
            return response

        self._routes[path] = handle

    def gzip_bomb(self, path: str, *, size: int = 64 * 1024**2, layers: int = 1) -> None:
        """``size`` zero bytes gzip-compressed ``layers`` times, labelled ``gzip`` per layer."""
        body = _zeros_gzip(size)
        for _ in range(layers - 1):
            body = gzip_bytes(body)
        encoding = ", ".join(["gzip"] * layers)
        self.set(
            path,
            body,
            headers={"Content-Encoding": encoding},
            conditional=False,
        )

    # Internals ---------------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._closing is not None and self._closing.is_set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleeps, waking early when the server stops; True when it is stopping."""
        if self._closing is None:
            await asyncio.sleep(seconds)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        return self._closing.is_set()

    @staticmethod
    def _not_modified(request: web.Request, etag: str, modified: str) -> bool:
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag)
        since = request.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            LoggedRequest(
                path=request.path,
                headers={key.lower(): value for key, value in request.headers.items()},
                time=time.monotonic(),
            )
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler = self._routes.get(request.path)
            if handler is None:
                return web.Response(status=404, text="not found\n")
            return await handler(request)
        finally:
            self.in_flight -= 1


class FeedServerThread:
    """Runs a :class:`FeedServer` on its own event loop in a daemon thread."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.server = FeedServer(ssl_context=ssl_context)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="feed-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self) -> FeedServer:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("feed server failed to start") from self._error
        return self.server

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving() -> Iterator[FeedServer]:
    """``with serving() as server:`` — a feed server in a background thread."""
    with FeedServerThread() as server:
        yield server
