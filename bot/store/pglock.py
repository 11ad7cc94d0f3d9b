"""The leader lock on PostgreSQL: a session advisory lock held on a connection of its own.

Apart from `bot.store.replicas` so that psycopg loads only when the state is in PostgreSQL
(`bot.store.leadership.leadership_for` imports this module then). The rules are in
`bot.store.replicas`: the server releases the lock when the session ends; keepalives on both
sides notice a vanished machine; `holder` and `depose` deal with a frozen one.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bot.store.postgres import redact
from bot.store.replicas import lock_name

LEADER_SEED = 15  # the lock key hashes the database and schema with this seed
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    # The server side too: it ends a vanished leader's session (and its lock) by itself.
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
}


class Leadership:
    """The advisory lock on a dedicated session; `acquire` tries, `check` confirms it is held."""

    grace = 5.0  # seconds a new leader waits for a living former leader to stop (ha.TICK + 3)

    def __init__(self, url: str, name: str = "") -> None:
        self.url = url
        self.name = lock_name(name)  # pg_stat_activity shows who holds it
        self._conn: psycopg.Connection[Any] | None = None
        self.held = False
        self.last_error = ""
        self.confirmed_at = 0.0

    def _session(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=5,
                application_name=self.name,
                **KEEPALIVE,  # type: ignore[arg-type]
            )
        return self._conn

    def acquire(self) -> bool:
        """True when this session now holds (or already held) the leader lock."""
        try:
            session = self._session()
            if not self.held:
                row = session.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended("
                    "current_database() || '.' || current_schema(), %s))",
                    (LEADER_SEED,),
                ).fetchone()
                self.held = bool(row and row[0])
                if self.held:
                    self.confirmed_at = time.monotonic()
            else:
                self.held = self.check()
        except psycopg.Error as exc:
            self._lost(exc)
        return self.held

    def check(self) -> bool:
        """Whether the lock is still ours: the session that took it must still answer."""
        if not self.held or self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
            self.confirmed_at = time.monotonic()
        except psycopg.Error as exc:
            self._lost(exc)
        return self.held

    def holder(self) -> tuple[int, str] | None:
        """(backend pid, application name) of the session holding the leader lock, or None."""
        try:
            row = self._session().execute(_HOLDER, (LEADER_SEED,)).fetchone()
        except psycopg.Error as exc:
            self._lost(exc)
            return None
        return (int(row[0]), str(row[1] or "")) if row else None

    def depose(self, pid: int) -> bool:
        """Ends the session `pid` (a frozen leader's), waiting up to 5 s for it to go, so its
        lock is free when this returns True."""
        try:
            row = (
                self._session().execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
            )
        except psycopg.Error as exc:
            self.last_error = redact(" ".join(str(exc).split()), self.url)
            return False
        return bool(row and row[0])

    def _lost(self, exc: psycopg.Error) -> None:
        self.held = False
        self.last_error = redact(" ".join(str(exc).split()), self.url)
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def release(self) -> None:
        self.held = False
        if self._conn is not None:
            try:
                self._conn.close()  # ending the session releases the lock
            finally:
                self._conn = None


# The advisory lock of a bigint key shows in pg_locks as classid (high 32 bits), objid (low 32
# bits) and objsubid 1.
_HOLDER = (
    "WITH k AS (SELECT hashtextextended(current_database() || '.' || current_schema(), %s) "
    "AS key) SELECT l.pid, a.application_name FROM k, pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.objsubid = 1 AND l.classid::bigint = (k.key >> 32) & 4294967295 "
    "AND l.objid::bigint = k.key & 4294967295"
)
