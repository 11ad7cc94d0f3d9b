"""What went wrong with a fetch, as one ErrorKind and a short message; Retry-After read safely.

Every exception the fetch can meet (TLS, timeouts anywhere in the cause chain, a refused
destination, a body over the cap or badly encoded, a plain socket error) lands in exactly one
kind, so the scheduler's back-off and the status output never see a raw exception.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import httpcore
import httpx

from bot.fetch.body import BodyTooLarge, CorruptBody, UnsupportedEncoding
from bot.fetch.guard import DestinationRefused
from bot.model import ErrorKind


class FetchFailure(Exception):
    """A classified failure raised inside the fetch and turned into a FetchResult at the edge."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Reads Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); garbage is None.

    A date in the past means "now" (0.0). Clamping to a sane range is the scheduler's job.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_error(exc: BaseException) -> tuple[ErrorKind, str]:
    """Maps an exception raised while fetching to an error kind and a short message."""
    chain = _chain(exc)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, FetchFailure):
        return exc.kind, exc.message
    if isinstance(exc, DestinationRefused):
        return ErrorKind.REFUSED, message
    if isinstance(exc, BodyTooLarge):
        return ErrorKind.TOO_LARGE, message
    if isinstance(exc, UnsupportedEncoding):
        return ErrorKind.REFUSED, message
    if isinstance(exc, CorruptBody):
        return ErrorKind.NETWORK, message
    for link in chain:
        if isinstance(link, ssl.SSLError):
            return ErrorKind.TLS, f"TLS error: {getattr(link, 'reason', None) or link}"
    for link in chain:
        if isinstance(link, DestinationRefused):
            return ErrorKind.REFUSED, str(link)
        if isinstance(link, TimeoutError | httpx.TimeoutException | httpcore.TimeoutException):
            return ErrorKind.TIMEOUT, "timed out"
    if isinstance(exc, httpx.TransportError | httpcore.NetworkError | OSError):
        return ErrorKind.NETWORK, message
    return ErrorKind.NETWORK, f"unexpected {type(exc).__name__}: {message}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def status_message(status: int) -> str:
    return f"HTTP {status} {_reason(status)}".rstrip()
