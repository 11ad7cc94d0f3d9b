"""An httpx transport over our own httpcore pool, so every connection uses the guarded backend.

httpx.AsyncHTTPTransport builds its own pool and offers no way to pass a network backend; this
adapter does the small part of its job that the fetcher needs and nothing else: no decoding
(the body is decoded by :mod:`bot.fetch.body` with its own bounds), and httpcore's exceptions
renamed to httpx's so the classifier sees one family.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import httpcore
import httpx

# httpcore's exceptions as httpx names them; most specific first.
_EXCEPTION_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx_error(exc: Exception) -> Exception:
    for source, target in _EXCEPTION_MAP:
        if isinstance(exc, source):
            mapped = target(str(exc))
            mapped.__cause__ = exc
            return mapped
    return exc


class _RawStream(httpx.AsyncByteStream):
    """httpcore's response stream, undecoded, with httpcore errors renamed to httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            raise _as_httpx_error(exc) from exc

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


class PoolTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool we built ourselves (with the guarded backend).

    httpx.AsyncHTTPTransport builds its own pool and offers no way to pass a network backend, so
    this adapter does the small part of its job that we need and nothing else (no decoding).
    """

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            raise _as_httpx_error(exc) from exc
        if not isinstance(response.stream, AsyncIterable):  # pragma: no cover - async pool
            raise TypeError("httpcore returned a synchronous stream")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_RawStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
