"""The one connection type the store hands out, over SQLite (the default) or PostgreSQL.

Rules:
- Store modules and the code above them see `Connection`: `execute`/`executemany` returning a
  cursor with `fetchone`, `fetchall`, iteration and `rowcount`; rows index by position and by
  column name. They write SQLite's SQL in the subset `bot.store.dialect` translates.
- Every database error is a `DatabaseError` (`sqlite3.Error`): PostgreSQL's are raised as
  subclasses of the matching sqlite3 class, so one `except DatabaseError` covers both.
- The schema version lives in `PRAGMA user_version` on SQLite and in the `vigil_schema` table on
  PostgreSQL; `schema_version`, `set_schema_version` and `user_tables` hide which.
- `batch()` groups reads that do not depend on each other (one round trip on PostgreSQL).
- `dialect` says which database it is, for the rare statement that must differ; `where` names
  it for messages (a path, or a URL with the password replaced by `***`).
"""

from __future__ import annotations

import abc
import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

DatabaseError = sqlite3.Error
OperationalError = sqlite3.OperationalError
IntegrityError = sqlite3.IntegrityError

Params = Sequence[Any]


class Cursor(Protocol):
    """What `execute` returns: sqlite3's cursor, or the PostgreSQL one wrapped to match it."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(abc.ABC):
    """A connection in autocommit mode; `bot.store.db.transaction` groups statements.

    Abstract: each database implements every method, so a new one cannot forget one.
    """

    dialect: str = ""
    where: str = ""

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Cursor: ...

    @abc.abstractmethod
    def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def set_schema_version(self, version: int) -> None: ...

    @abc.abstractmethod
    def user_tables(self) -> list[str]:
        """Tables of this database (schema) that are not the engine's own."""

    @abc.abstractmethod
    def lock_schema(self) -> None:
        """Inside a transaction: waits until no other process is migrating this database."""

    @abc.abstractmethod
    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Reads issued together: on PostgreSQL the statements executed inside go out at once
        when the first result is read (one round trip for all)."""


class SqliteConnection(Connection):
    """sqlite3 itself: statements go through untouched."""

    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection, where: str) -> None:
        self.raw = raw
        self.where = where

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        return self.raw.executemany(sql, seq)

    def close(self) -> None:
        self.raw.close()

    def schema_version(self) -> int:
        return int(self.raw.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.raw.execute(f"PRAGMA user_version = {int(version)}")

    def user_tables(self) -> list[str]:
        rows = self.raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [str(r[0]) for r in rows]

    def lock_schema(self) -> None:
        """Nothing to do: SQLite serialises writers on the database file itself."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to group: every statement is a call into this process."""
        return contextlib.nullcontext()
