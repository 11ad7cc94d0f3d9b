"""PostgreSQL behind the store's `Connection`: psycopg 3, autocommit, SQLite's SQL translated.

Rules:
- Only `postgresql://` (or `postgres://`) URLs are accepted; the password is never printed:
  `redact` replaces it with `***` in the URL and in every message that leaves this module.
- Each statement is translated once (`bot.store.dialect`) and cached; psycopg prepares the
  frequent ones itself.
- Values read back look like SQLite's (`bot.store.pgrows`): a sum (PostgreSQL `numeric`) is an
  int or a float, not a Decimal; a Python bool is written as 0/1, as sqlite3 does; rows index by
  position and by column name.
- `batch()` sends independent reads together outside a transaction (one round trip).
- A transaction is sent in pipeline mode: statements are queued and go out together when a
  result is read or at COMMIT (a poll's BEGIN, UPDATE, COMMIT: one round trip). An error is
  raised where the answers are read, still inside the transaction, which then rolls back.
- A connection that breaks outside a transaction is re-opened on the next statement, at most
  once per back-off step (1 s doubling to 30 s), so a database that went away costs failed ticks,
  never a crash, and its return is picked up by itself. Inside a transaction the statement
  fails; the transaction's ROLLBACK on a dead connection is a no-op (the server already undid it).
- Sessions commit with `synchronous_commit = off` (SQLite's WAL + `synchronous=NORMAL`
  guarantee) unless the URL sets it; `options=-csynchronous_commit%3Don` asks for more.
- The connection's search_path decides the schema; `user_tables` and the schema version look
  there only, so several deployments (or tests) can share one database in separate schemas.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import pq

from bot.store import dialect
from bot.store.backend import Connection, Cursor, Params
from bot.store.pgrows import BoolAsInt, Number, row_factory

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT = 10
BACKOFF_MAX = 30.0


class PgDatabaseError(sqlite3.DatabaseError):
    """A PostgreSQL error that is neither a lost connection nor a constraint."""


class PgOperationalError(sqlite3.OperationalError):
    """The database is unreachable, went away, or refused the login."""


class PgIntegrityError(sqlite3.IntegrityError):
    """A constraint refused the statement."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(SCHEMES)


def password_of(url: str) -> str | None:
    try:
        value = psycopg.conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        value = urlsplit(url).password if "://" in url else None
    return str(value) if value else None


def redact(text: str, url: str) -> str:
    """`text` with the URL's password replaced by `***` (raw and percent-encoded forms)."""
    secret = password_of(url)
    if not secret:
        return text
    for form in {secret, unquote(secret), quote(secret, safe=""), quote(secret)}:
        text = text.replace(form, "***")
    return text


def _has_rows(cursor: psycopg.Cursor[Any]) -> bool:
    result = cursor.pgresult
    return result is not None and result.status == pq.ExecStatus.TUPLES_OK


class PgCursor:
    """psycopg's cursor shaped like sqlite3's: no result set reads as nothing, not an error.

    Inside a transaction the statement may still sit in the pipeline: reading anything from the
    cursor first sends what is queued and waits for the answers (one round trip for all).
    """

    def __init__(self, cursor: psycopg.Cursor[Any] | None, owner: PgConnection) -> None:
        self._cursor = cursor
        self._owner = owner
        self._mark = owner.syncs

    def _ready(self) -> psycopg.Cursor[Any] | None:
        if self._cursor is not None and self._mark == self._owner.syncs:
            self._owner.sync()
        return self._cursor

    @property
    def rowcount(self) -> int:
        cursor = self._ready()
        return cursor.rowcount if cursor is not None else -1

    def fetchone(self) -> Any:
        cursor = self._ready()
        if cursor is None or not _has_rows(cursor):
            return None
        with self._owner.errors():
            return cursor.fetchone()

    def fetchall(self) -> list[Any]:
        cursor = self._ready()
        if cursor is None or not _has_rows(cursor):
            return []
        with self._owner.errors():
            return cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection(Connection):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url, url)
        self._raw: psycopg.Connection[Any] | None = None
        self._in_tx = False
        self._pipe_cm: contextlib.AbstractContextManager[psycopg.Pipeline] | None = None
        self._pipe: psycopg.Pipeline | None = None
        self.syncs = 0
        self._closed = False
        self._retry_at = 0.0
        self._backoff = 1.0
        self._keys: dict[str, tuple[str, ...]] = {}
        self._open()

    # -- connection life ---------------------------------------------------------------------

    def _open(self) -> None:
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                row_factory=row_factory,
                application_name="vigil",
            )
        except psycopg.Error as exc:
            raise PgOperationalError(self.explain(exc)) from None
        raw.adapters.register_loader("numeric", Number)
        raw.adapters.register_dumper(bool, BoolAsInt)
        if "synchronous_commit" not in self.url:
            # SQLite's guarantee in WAL mode with synchronous=NORMAL, which Vigil's design
            # assumes: a crash of the machine may undo the last commits (re-detected, never
            # lost), never corrupt them. Without it every poll waits for a WAL flush (bench).
            with self.errors():
                raw.execute("SET synchronous_commit = off")
        self._raw = raw
        self._backoff = 1.0

    def _ensure_open(self) -> psycopg.Connection[Any]:
        raw = self._raw
        if raw is not None and not raw.closed and not raw.broken:
            return raw
        if self._closed:
            raise PgOperationalError(f"the connection to {self.where} was closed")
        now = time.monotonic()
        if now < self._retry_at:
            raise PgOperationalError(
                f"the database {self.where} is unreachable; next try in {self._retry_at - now:.0f}s"
            )
        try:
            self._open()
        except PgOperationalError:
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            raise
        assert self._raw is not None
        return self._raw

    def explain(self, exc: BaseException) -> str:
        """The error's text, one line, the password masked, naming the database."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        return redact(f"PostgreSQL {self.where}: {text}", self.url)

    def errors(self) -> _Errors:
        return _Errors(self)

    @property
    def broken(self) -> bool:
        raw = self._raw
        return raw is None or raw.closed or raw.broken

    # -- statements --------------------------------------------------------------------------

    def _translate(self, sql: str) -> str:
        return _translate_cached(sql, self._primary_key)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        text = self._translate(sql)
        word = text.lstrip()[:8].upper()
        if word.startswith("BEGIN"):
            return self._begin()
        if word.startswith(("COMMIT", "END")):
            return self._finish("COMMIT")
        if word.startswith("ROLLBACK"):
            return self._finish("ROLLBACK")
        raw = self._raw if self._in_tx and self._raw is not None else self._ensure_open()
        with self.errors():
            return PgCursor(raw.execute(text, params), self)

    def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        raw = self._raw if self._in_tx and self._raw is not None else self._ensure_open()
        with self.errors():
            cursor = raw.cursor()
            cursor.executemany(self._translate(sql), list(seq))
            return PgCursor(cursor, self)

    # A transaction runs in pipeline mode: BEGIN and every statement are queued, and go to the
    # server together when a result is read or at COMMIT. A poll's transaction (BEGIN, an
    # UPDATE, COMMIT) is one round trip instead of three (bench: the warm cycle).

    def _begin(self) -> Cursor:
        raw = self._ensure_open()
        with self.errors():
            self._pipe_cm = raw.pipeline()
            self._pipe = self._pipe_cm.__enter__()
            self._in_tx = True
            raw.execute("BEGIN")
        return PgCursor(None, self)

    def _finish(self, word: str) -> Cursor:
        self._in_tx = False
        cm, self._pipe_cm, self._pipe = self._pipe_cm, None, None
        self.syncs += 1
        raw = self._raw
        error: psycopg.Error | None = None
        try:
            if word == "COMMIT" and raw is not None and not self.broken:
                raw.execute("COMMIT")  # queued after the transaction's statements
        except psycopg.Error as exc:  # the pipeline was aborted by an earlier statement
            error = exc
        if cm is not None:
            try:
                cm.__exit__(None, None, None)  # sends it all; raises the first failure
            except psycopg.Error as exc:
                error = error or exc
        if raw is None or self.broken:
            if word == "ROLLBACK":
                return PgCursor(None, self)  # the server undid it when the session died
            error = error or psycopg.OperationalError("the connection was lost before COMMIT")
        elif raw.info.transaction_status != pq.TransactionStatus.IDLE:
            # A failed statement (or our ROLLBACK): the server skipped the rest, COMMIT
            # included, and waits in the aborted transaction until it is rolled back.
            with contextlib.suppress(psycopg.Error):
                raw.execute("ROLLBACK")
        if error is not None and word == "COMMIT":
            with self.errors():
                raise error
        return PgCursor(None, self)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Outside a transaction: a pipeline without BEGIN, each statement its own transaction;
        the first result read sends them all (inside a transaction they are pipelined anyway)."""
        if self._in_tx or self._pipe is not None:
            yield
            return
        raw = self._ensure_open()
        with self.errors(), raw.pipeline() as pipe:
            self._pipe = pipe
            try:
                yield
            finally:
                self._pipe = None

    def sync(self) -> None:
        """Sends what the pipeline holds and waits for every answer."""
        self.syncs += 1
        if self._pipe is not None:
            with self.errors():
                self._pipe.sync()

    def close(self) -> None:
        self._closed = True
        if self._raw is not None:
            self._raw.close()

    def _primary_key(self, table: str) -> tuple[str, ...]:
        if table not in self._keys:
            rows = self.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) "
                "AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
                (table,),
            ).fetchall()
            self._keys[table] = tuple(str(r[0]) for r in rows)
        return self._keys[table]

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        if "vigil_schema" not in self._tables():
            return 0
        row = self.execute("SELECT max(version) FROM vigil_schema").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def set_schema_version(self, version: int) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS vigil_schema (version INTEGER NOT NULL)")
        self.execute("DELETE FROM vigil_schema")
        self.execute("INSERT INTO vigil_schema (version) VALUES (?)", (int(version),))

    def _tables(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        )
        return [str(r[0]) for r in rows]

    def user_tables(self) -> list[str]:
        return [t for t in self._tables() if t != "vigil_schema"]

    def lock_schema(self) -> None:
        # Replicas starting together: one migrates, the others wait and then find it done.
        self.execute("SELECT pg_advisory_xact_lock(?)", (schema_lock_key(self),))


def schema_lock_key(conn: Connection) -> int:
    """A 64-bit key naming this database and schema, so deployments never share a lock."""
    row = conn.execute("SELECT hashtextextended(current_database() || '.' || current_schema(), 7)")
    return int(row.fetchone()[0])


@functools.lru_cache(maxsize=1024)
def _translate_key(sql: str) -> str:
    return dialect.to_postgres(sql)


def _translate_cached(sql: str, primary_key: Any) -> str:
    if "REPLACE" in sql.upper():  # needs this database's catalog: not shared across connections
        return dialect.to_postgres(sql, primary_key)
    return _translate_key(sql)


class _Errors:
    """Re-raises psycopg's errors as the store's (sqlite3-shaped) ones, password masked."""

    def __init__(self, owner: PgConnection) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, psycopg.Error):
            return
        message = self.owner.explain(exc)
        if isinstance(exc, psycopg.IntegrityError):
            raise PgIntegrityError(message) from exc
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or self.owner.broken:
            raise PgOperationalError(message) from exc
        raise PgDatabaseError(message) from exc
