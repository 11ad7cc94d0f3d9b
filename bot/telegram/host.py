"""What the Telegram front end and its handlers use of the service, as protocols.

:class:`bot.service.app.Service` provides it; the handlers and the front end only know this
shape, so neither imports the service nor each other's internals.
"""

from __future__ import annotations

from typing import Protocol

from bot.config import Config
from bot.store.db import Connection


class HasConfig(Protocol):
    @property
    def config(self) -> Config: ...


class Host(Protocol):
    """What the front end uses of the service."""

    @property
    def conn(self) -> Connection: ...

    @property
    def runtime(self) -> HasConfig: ...

    def reload(self) -> tuple[bool, str]: ...

    def stop(self, code: int, reason: str) -> None: ...
