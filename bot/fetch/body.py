"""Bounded decoding of a response body from its raw wire bytes (RELIABILITY B3, B4, B5).

Rules enforced here:

- The byte cap counts **decompressed** bytes and is enforced *inside* decompression: every call to
  ``zlib`` asks for at most the bytes still allowed (plus one, to notice the overflow), and keeps
  the unconsumed input for the next call. httpx's own decoders call ``decompress(data)`` without a
  bound, so a 1 KB ``gzip, gzip`` body becomes a 512 MiB chunk before any counter can look at it
  (API-NOTES §1.16); that is why the fetcher reads ``aiter_raw()`` and decodes here.
- Supported codings: identity, gzip (``x-gzip``, several members), deflate (zlib-wrapped or raw,
  as servers disagree on which "deflate" means). Stacked codings (``gzip, gzip``) are decoded
  layer by layer, each layer bounded, up to :data:`MAX_LAYERS`. Anything else is refused: we only
  ever ask for ``gzip, deflate``.
"""

from __future__ import annotations

import zlib

# Per-call output bound for inner layers and the step size of the outer one; small enough that a
# bomb never materialises, large enough that a normal feed needs few calls.
CHUNK = 64 * 1024
MAX_LAYERS = 3

_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS  # auto-detects the gzip or zlib header
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class BodyTooLarge(Exception):
    """The body exceeds the byte cap (declared, on the wire, or after decompression)."""


class UnsupportedEncoding(Exception):
    """The response uses a content coding we did not ask for and will not decode."""


class CorruptBody(Exception):
    """The compressed stream is not valid."""


def parse_content_encoding(header: str | None) -> list[str]:
    """Returns the codings in the order the server applied them, identity dropped."""
    if not header:
        return []
    codings: list[str] = []
    for token in header.split(","):
        coding = token.strip().lower()
        if coding in ("", "identity"):
            continue
        if coding == "x-gzip":
            coding = "gzip"
        if coding not in ("gzip", "deflate"):
            raise UnsupportedEncoding(f"unsupported Content-Encoding: {coding}")
        codings.append(coding)
    if len(codings) > MAX_LAYERS:
        raise UnsupportedEncoding(f"too many stacked Content-Encodings ({len(codings)})")
    return codings


class _Layer:
    """One decompression layer that never produces more than it is asked for."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._wbits = _GZIP_OR_ZLIB if coding == "gzip" else _ZLIB
        self._inflater = zlib.decompressobj(self._wbits)
        self._pending = b""
        self._started = False
        self._maybe_more = False  # zlib may hold output even when all input was consumed
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            return  # trailing bytes after the final deflate stream are ignored, as browsers do
        self._pending = self._pending + data if self._pending else data

    def has_work(self) -> bool:
        return not self._done and (bool(self._pending) or self._maybe_more)

    def read(self, limit: int) -> bytes:
        """Returns up to ``limit`` bytes of output, or b"" when it needs more input."""
        while self.has_work():
            data = self._pending
            try:
                out = self._inflater.decompress(data, limit)
            except zlib.error as exc:
                if self._coding == "deflate" and not self._started:
                    # "deflate" without the zlib header: retry the same bytes as raw deflate.
                    self._started = True
                    self._inflater = zlib.decompressobj(_RAW_DEFLATE)
                    continue
                raise CorruptBody(f"corrupt {self._coding} body: {exc}") from exc
            self._started = True
            self._pending = self._inflater.unconsumed_tail
            self._maybe_more = len(out) == limit
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if self._coding == "gzip" and rest.strip(b"\x00"):
                    # Another gzip member follows (RFC 1952 §2.2 allows several).
                    self._inflater = zlib.decompressobj(self._wbits)
                    self._pending = rest
                else:
                    # End of stream: zlib has delivered all output. Trailing bytes are ignored.
                    self._done = True
                    self._pending = b""
            if out:
                return out
        return b""


class BoundedDecoder:
    """Turns raw body chunks into at most ``max_bytes`` decoded bytes, or raises BodyTooLarge."""

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        # Decoding runs in reverse order of application: the last coding listed is the outermost.
        self._layers = [
            _Layer(coding) for coding in reversed(parse_content_encoding(content_encoding))
        ]
        self._max = max_bytes
        self._out = bytearray()
        self._wire = 0

    def feed(self, raw: bytes) -> None:
        # Raw bytes are capped too: a stream of empty gzip members decodes to nothing forever.
        self._wire += len(raw)
        if self._wire > self._max:
            raise BodyTooLarge(f"body exceeds {self._max} bytes on the wire")
        if not self._layers:
            self._append(raw)
            return
        self._layers[0].feed(raw)
        self._drain()

    def finish(self) -> bytes:
        if self._layers:
            self._drain()
        return bytes(self._out)

    def _append(self, data: bytes) -> None:
        if len(self._out) + len(data) > self._max:
            raise BodyTooLarge(f"body exceeds {self._max} bytes")
        self._out += data

    def _drain(self) -> None:
        last = len(self._layers) - 1
        while True:
            allowed = self._max - len(self._out) + 1
            piece = self._pull(last, min(CHUNK, allowed))
            if not piece:
                return
            self._append(piece)

    def _pull(self, index: int, limit: int) -> bytes:
        layer = self._layers[index]
        while True:
            out = layer.read(limit)
            if out or index == 0:
                return out
            upstream = self._pull(index - 1, CHUNK)
            if not upstream:
                return b""
            layer.feed(upstream)
