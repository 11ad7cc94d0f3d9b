"""The optional HTTP listener of `vigil run`: `/healthz` for probes, `/metrics` for Prometheus.

Rules:
- Off unless `VIGIL_HTTP_PORT` is set; it binds `VIGIL_HTTP_HOST` (default 127.0.0.1, so nothing
  is exposed by accident; the container image sets 0.0.0.0). An invalid port refuses the start
  with a clear reason (`run` checks it before anything starts); a port that cannot be bound is
  logged and the service runs on without the listener — polling and delivery matter more than
  the probe.
- Plain asyncio streams and a deliberately tiny HTTP/1.x reader: GET and HEAD only, one request
  per connection (`Connection: close`), the request head bounded in bytes, lines and time, at
  most a few connections at once. A slow, oversized or malformed client gets a 4xx or is cut
  off; no request can raise into the service.
- `/healthz` answers 200 `ok` or 503 with the reason: the scheduler stopped ticking (the
  in-process monotonic tick older than 30 s), Telegram refused the token, or whatever
  :func:`bot.service.health.health_problem` finds in the database (stale heartbeat, database not
  writable, outbox stuck) — the same judgement as `vigil health`, so the two never disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from bot.service.health import health_problem
from bot.service.metrics import CONTENT_TYPE as METRICS_TYPE
from bot.service.metrics import Metrics
from bot.service.view import ServiceView
from bot.store.db import DatabaseError
from bot.store.replicas import replica_id

log = logging.getLogger("vigil.http")

DEFAULT_HOST = "127.0.0.1"
SCHEDULER_STALL = 30.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 10.0
MAX_HEAD_BYTES = 8192
MAX_HEADER_LINES = 64
MAX_CONNECTIONS = 16
LINGER_SECONDS = 1.0
CLOSE_SECONDS = 1.0
LINGER_BYTES = 256 * 1024
TEXT_TYPE = "text/plain; charset=utf-8"


class BadRequest(Exception):
    """The request cannot be answered; `status` says how to refuse it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int


def address_from_env(env: Mapping[str, str] | None = None) -> ListenAddress | None:
    """The address from `VIGIL_HTTP_PORT`/`VIGIL_HTTP_HOST`, or None when the port is unset."""
    env = os.environ if env is None else env
    raw = env.get("VIGIL_HTTP_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"VIGIL_HTTP_PORT must be a port number 1..65535 (or unset), not {raw!r}")
    host = env.get("VIGIL_HTTP_HOST", "").strip() or DEFAULT_HOST
    return ListenAddress(host, int(raw))


def health_reason(
    service: ServiceView, *, mono: float | None = None, wall: float | None = None
) -> str | None:
    """Why the running service is unhealthy, or None; `/healthz` answers 503 with this text."""
    mono = time.monotonic() if mono is None else mono
    wall = time.time() if wall is None else wall
    stalled = mono - service.scheduler.last_tick
    if stalled > SCHEDULER_STALL:
        return f"the scheduler has not ticked for {stalled:.0f}s"
    if service.worker.fatal:
        return f"delivery stopped: Telegram refused the bot token: {service.worker.fatal}"
    try:
        return health_problem(service.conn, wall, replica_id())
    except DatabaseError as exc:
        return f"the state database is not readable: {exc}"


def _response(status: int, body: bytes, content_type: str, *, head_only: bool) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
    )
    if status == 405:
        head += "Allow: GET, HEAD\r\n"
    return head.encode("ascii") + b"\r\n" + (b"" if head_only else body)


async def read_request_head(reader: asyncio.StreamReader) -> tuple[str, str]:
    """Reads a request line and its headers; returns (method, path without the query)."""
    size = 0
    lines: list[bytes] = []
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise BadRequest(431, "request head too large") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and not lines:
                raise BadRequest(0, "connection closed before a request") from None
            raise BadRequest(400, "incomplete request") from None
        size += len(line)
        if size > MAX_HEAD_BYTES or len(lines) > MAX_HEADER_LINES:
            raise BadRequest(431, "request head too large")
        if line in (b"\r\n", b"\n"):
            if lines:
                break
            continue  # tolerated blank lines before the request line (RFC 9112 §2.2)
        lines.append(line)
    parts = lines[0].decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, _version = parts
    return method, target.split("?", 1)[0]


class HttpListener:
    """Serves `/healthz` and `/metrics` for one running service."""

    def __init__(self, service: ServiceView, metrics: Metrics, host: str, port: int) -> None:
        self.service = service
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Binds; raises OSError when the address cannot be used."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_HEAD_BYTES
        )
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):  # inside Docker's 10 s stop budget
                await server.wait_closed()

    def answer(self, method: str, path: str) -> tuple[int, bytes, str]:
        """Status, body and content type for one request."""
        if method not in ("GET", "HEAD"):
            return 405, b"method not allowed\n", TEXT_TYPE
        if path == "/healthz":
            reason = health_reason(self.service)
            if reason is None:
                return 200, b"ok\n", TEXT_TYPE
            return 503, f"unhealthy: {reason}\n".encode(), TEXT_TYPE
        if path == "/metrics":
            return 200, self.metrics.render(self.service), METRICS_TYPE
        return 404, b"not found: try /healthz or /metrics\n", TEXT_TYPE

    def _answer_safely(self, method: str, path: str) -> tuple[int, bytes, str]:
        try:
            return self.answer(method, path)
        except Exception:
            log.exception("HTTP %s %s failed", method, path)
            return 500, b"internal error (logged)\n", TEXT_TYPE

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._writers) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except Exception:
            log.exception("HTTP request failed")
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                method, path = await read_request_head(reader)
            status, body, content_type = self._answer_safely(method, path)
        except TimeoutError:
            status, body, content_type = 408, b"request timeout\n", TEXT_TYPE
        except BadRequest as exc:
            if exc.status == 0:
                return
            status, body, content_type = exc.status, f"{exc}\n".encode(), TEXT_TYPE
        except ConnectionError:
            return
        writer.write(_response(status, body, content_type, head_only=method == "HEAD"))
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(WRITE_TIMEOUT):
                await writer.drain()
        if status >= 400:
            await _linger(reader, writer)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads what a refused client still sends, briefly, before closing.

    Closing a socket with unread input makes the kernel send RST, which can destroy the error
    response before the client reads it; half-closing first and draining a little avoids that.
    """
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_SECONDS):
            received = 0
            while received < LINGER_BYTES:
                chunk = await reader.read(16384)
                if not chunk:
                    return
                received += len(chunk)


async def start_listener(
    service: ServiceView, metrics: Metrics, address: ListenAddress
) -> HttpListener | None:
    """The started listener, or None (logged) when the address cannot be bound."""
    listener = HttpListener(service, metrics, address.host, address.port)
    try:
        await listener.start()
    except OSError as exc:
        log.error(
            "HTTP listener not started on %s:%d: %s; /healthz and /metrics are unavailable",
            address.host,
            address.port,
            exc.strerror or exc,
        )
        return None
    log.info("HTTP listener on http://%s:%d (/healthz, /metrics)", listener.host, listener.port)
    return listener
