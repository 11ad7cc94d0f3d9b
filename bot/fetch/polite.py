"""Politeness towards the hosts that serve article pages (PAGES §4.5).

Rules enforced here:

- One request at a time per host: a host's turn is an :class:`asyncio.Lock`.
- At least ``gap`` seconds between the end of one request to a host and the start of the next.
- ``Retry-After`` on a 429/503 defers the whole host, not just the URL: :meth:`HostGate.defer`.
  A caller asks :meth:`HostGate.deferred_for` first and leaves its item waiting rather than
  sleeping through a long deferral inside a poll.
- The clock is injectable, so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["HostGate"]


class HostGate:
    """Turns per host: one request at a time, ``gap`` seconds apart, deferrable."""

    def __init__(
        self,
        gap: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.gap = gap
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}

    def deferred_for(self, host: str) -> float:
        """Seconds before ``host`` may be asked again (0 when it may be asked now)."""
        return max(0.0, self._next.get(host, 0.0) - self._clock())

    def defer(self, host: str, seconds: float) -> None:
        """The host asked us to wait (Retry-After): no request to it before then."""
        until = self._clock() + max(0.0, seconds)
        self._next[host] = max(self._next.get(host, 0.0), until)

    @contextlib.asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[None]:
        """Holds ``host`` for one request, after waiting out the gap since the last one."""
        lock = self._locks.get(host)
        if lock is None:
            lock = self._locks[host] = asyncio.Lock()
        async with lock:
            wait = self.deferred_for(host)
            if wait > 0:
                await self._sleep(wait)
            try:
                yield
            finally:
                self._next[host] = max(self._next.get(host, 0.0), self._clock() + self.gap)
