"""The state database, opened one way everywhere: SQLite under the state directory by default,
PostgreSQL when `VIGIL_DATABASE_URL` (or `settings.database_url`) names one.

Rules this module enforces:
- Where the state lives is decided here only: `VIGIL_DATABASE_URL` wins over the settings' URL;
  with neither, `<state>/vigil.db`. Every command gets a `Connection` and cannot tell which.
- WAL journal, `synchronous=NORMAL`, a busy timeout: a kill -9 loses at most uncommitted work and
  another reader never blocks the writer (RELIABILITY §5.5 measured integrity after SIGKILL).
- The schema carries a version. Older versions are migrated in order at open; a *newer* version
  or a file that is not a Vigil database stops Vigil with a clear message. A database is never
  silently recreated: that would baseline or resend every feed (RELIABILITY D7).
- One process writes a SQLite state directory at a time: `StateLock` takes an exclusive `flock`
  (RELIABILITY D9) that the kernel releases when the process dies, even by kill -9. On
  PostgreSQL several replicas share the database (`bot.store.replicas` coordinates them).
- PostgreSQL gets the same migrations (translated by `bot.store.dialect`) and the same refusals;
  replicas starting together migrate one at a time (`Connection.lock_schema`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.store.backend import Connection, DatabaseError, SqliteConnection
from bot.store.migrations import MIGRATIONS, POSTGRESQL_ONLY, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Connection", "DatabaseError"]

URL_ENV = "VIGIL_DATABASE_URL"

DB_NAME = "vigil.db"
LOCK_NAME = "vigil.lock"


class StateError(Exception):
    """The state directory or database cannot be used; the message says why and what to do."""


class LockedError(StateError):
    """Another Vigil process holds the state directory."""


def state_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / DB_NAME


def database_url(configured: str | None = None) -> str | None:
    """The PostgreSQL URL to use: `VIGIL_DATABASE_URL`, else the settings' one, else None."""
    return os.environ.get(URL_ENV, "").strip() or (configured or "").strip() or None


def database_secrets(*urls: str) -> tuple[str, ...]:
    """Passwords the logs must mask: the URLs' own (env first) and libpq's PGPASSWORD."""
    urls = tuple(u for u in (os.environ.get(URL_ENV, ""), *urls) if u)
    found: list[str | None] = []
    if urls:  # psycopg loads only when a PostgreSQL URL is in play (0.1 s per command)
        from bot.store.postgres import password_of

        found = [password_of(u) for u in urls]
    found.append(os.environ.get("PGPASSWORD"))
    return tuple(s for s in found if s)


def connect(
    state_dir: str | os.PathLike[str], *, create: bool = True, url: str | None = None
) -> Connection:
    """Opens (and migrates) the state database; raises StateError with a reason otherwise."""
    chosen = database_url(url)
    if chosen is not None:
        return connect_postgres(chosen, create=create)
    return connect_sqlite(state_dir, create=create)


def open_postgres(url: str) -> Connection:
    """A PostgreSQL connection, schema untouched; the password never appears in a message."""
    from bot.store.postgres import PgConnection, is_postgres_url, redact

    if not is_postgres_url(url):
        shown = redact(url, url) if "://" in url else "(not a URL)"
        raise StateError(
            f"the database URL {shown} is not a PostgreSQL URL; write "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    try:
        return PgConnection(url)
    except DatabaseError as exc:
        raise StateError(f"cannot open the state database: {exc}") from None


def connect_postgres(url: str, *, create: bool = True) -> Connection:
    """Opens (and migrates) a PostgreSQL state, with the same refusals as SQLite's."""
    conn = open_postgres(url)
    try:
        if not create and conn.schema_version() == 0 and not conn.user_tables():
            raise StateError(
                f"no state database: {conn.where} holds no Vigil tables "
                "(run `vigil once` or `vigil run` first)"
            )
        migrate(conn, conn.where)
    except DatabaseError as exc:
        conn.close()
        raise StateError(f"the state database cannot be used: {exc}") from None
    except StateError:
        conn.close()
        raise
    return conn


def connect_sqlite(state_dir: str | os.PathLike[str], *, create: bool) -> SqliteConnection:
    directory = Path(state_dir)
    path = directory / DB_NAME
    if not path.exists() and not create:
        raise StateError(f"no state database at {path} (run `vigil once` or `vigil run` first)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        raw = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"cannot open the state database {path}: {exc}") from None
    conn = SqliteConnection(raw, str(path))
    try:
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA busy_timeout = 5000")
        # Refused files are checked before switching to WAL, which would rewrite their header.
        refuse_foreign(conn, path)
        mode = raw.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            # WAL needs shared memory; network filesystems refuse it (RELIABILITY D16).
            raise StateError(
                f"the state database {path} cannot use WAL (journal_mode={mode}); "
                "put VIGIL_STATE_DIR on a local filesystem"
            )
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(
            f"the state database {path} is unreadable ({exc}); it was left untouched — "
            "restore it from a backup or move it away to start from a fresh baseline"
        ) from None
    except StateError:
        conn.close()
        raise
    return conn


def schema_version(conn: Connection) -> int:
    return conn.schema_version()


def refuse_foreign(conn: Connection, where: str | os.PathLike[str]) -> None:
    """Raises StateError for a database from a newer Vigil or from another program."""
    version = conn.schema_version()
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {where} has schema version {version}, newer than this Vigil "
            f"understands ({SCHEMA_VERSION}); upgrade Vigil or restore an older backup"
        )
    if version == 0 and conn.user_tables():
        raise StateError(
            f"{where} holds tables but no Vigil schema version; it is not Vigil's database"
        )


def migrate(conn: Connection, where: str | os.PathLike[str]) -> None:
    """Brings the schema to SCHEMA_VERSION, refusing databases that are newer or not ours."""
    refuse_foreign(conn, where)
    if conn.schema_version() == SCHEMA_VERSION:
        return
    with transaction(conn):
        conn.lock_schema()
        refuse_foreign(conn, where)  # another replica may have migrated while this one waited
        for target in range(conn.schema_version(), SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[target], conn.dialect):
                conn.execute(statement)
            conn.set_schema_version(target + 1)


def _statements(script: str, dialect: str = "sqlite") -> list[str]:
    """A migration's statements for this database (PostgreSQL's own skipped on SQLite)."""
    statements = [s.strip() for s in script.split(";") if s.strip()]
    if dialect == "postgresql":
        return statements
    return [s for s in statements if not s.startswith(POSTGRESQL_ONLY)]


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (the connection is autocommit)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def state_lock(
    state_dir: str | os.PathLike[str], url: str | None = None
) -> contextlib.AbstractContextManager[object]:
    """SQLite's one-writer lock; PostgreSQL replicas share their database instead (no lock)."""
    if database_url(url) is not None:
        return contextlib.nullcontext()
    return StateLock(state_dir)


class StateLock:
    """An exclusive advisory lock on `<state>/vigil.lock`, held for the life of the process."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StateError(f"cannot create the lock file {self.path}: {exc}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockedError(
                f"another Vigil ({holder}) is already using the state directory "
                f"{self.path.parent}; stop it first, or give this one its own --state"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
