"""What the HTTP listener and the metrics read of a running service, as protocols.

They describe the service without importing it: :mod:`bot.service.app` composes the listener
and the metrics, so they must not know its class (no import circle), only these few figures.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol

from bot.store.db import Connection


class SchedulerView(Protocol):
    @property
    def last_tick(self) -> float:
        """`time.monotonic()` of the scheduler's last tick."""

    @property
    def polling(self) -> Set[str]:
        """The feeds being polled right now."""


class WorkerView(Protocol):
    @property
    def sent(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def rate_limited(self) -> int: ...

    @property
    def fatal(self) -> str | None:
        """Why delivery stopped for good (Telegram refused the token), or None."""


class ServiceView(Protocol):
    @property
    def conn(self) -> Connection: ...

    @property
    def started_at(self) -> float: ...

    @property
    def scheduler(self) -> SchedulerView: ...

    @property
    def worker(self) -> WorkerView: ...
