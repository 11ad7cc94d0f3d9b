"""Several `vigil run` on one PostgreSQL: who is alive, who leads, and the leader lock itself.

Rules:
- Every replica keeps a row in `replicas` (id, host, pid, heartbeat, leader flag, the hash of its
  feeds.yaml); `vigil status` and `/status` read them, `vigil health` judges its own.
- The leader is whoever holds a PostgreSQL session advisory lock, taken with
  `pg_try_advisory_lock` on a connection of its own. The server releases it when that session
  ends — a killed process, a lost network — so leadership is never stuck with the dead. The
  connection sets TCP keepalives on both sides, so a vanished machine is noticed within about
  eleven seconds (5 s idle, then 3 probes 2 s apart). `Leadership.check` asks the session each
  tick; any error means the lock is lost.
- A frozen leader (SIGSTOP, a VM paused, a machine whose kernel still answers TCP) keeps its
  session and so the lock. `holder` names the session holding it (its backend pid and
  application name, `vigil-leader <id>`), and `depose` ends that session with
  `pg_terminate_backend` (the replicas share one database role, which may signal its own
  sessions); `bot.service.ha` decides when: the holder's heartbeat stood still too long.
- `confirmed_at` (monotonic) is when the lock was last seen held, for the gate in front of
  Telegram: a process that was frozen finds it old and asks again before sending anything.
- A replica whose feeds.yaml differs from the one the leader runs (`runtime.leader_config`)
  refuses to lead while a live replica still runs that file; once none does, the new file
  wins (a rolling update of every replica).
- On SQLite the single process holding the state lock leads; `SoloLeadership` says so.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bot.store import runtime as runtime_rows
from bot.store.backend import Connection
from bot.store.postgres import PgConnection, redact

ID_ENV = "VIGIL_REPLICA_ID"
LEADER_CONFIG = "leader_config"
ALIVE = 15.0  # seconds: a replica whose heartbeat is older is taken for dead
LEADER_SEED = 15  # the lock key hashes the database and schema with this seed
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    # The server side too: it ends a vanished leader's session (and its lock) by itself.
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
}


def replica_id() -> str:
    """VIGIL_REPLICA_ID, else the host name (a container's is its own)."""
    return os.environ.get(ID_ENV, "").strip() or socket.gethostname()


@dataclass(frozen=True, slots=True)
class ReplicaRow:
    replica_id: str
    host: str
    pid: int
    started_at: float
    heartbeat: float
    leader: bool
    config_hash: str
    note: str


def beat(
    conn: Connection,
    rid: str,
    *,
    now: float,
    started_at: float,
    leader: bool,
    config_hash: str,
    note: str = "",
) -> None:
    conn.execute(
        "INSERT INTO replicas (replica_id, host, pid, started_at, heartbeat, leader, "
        "config_hash, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (replica_id) DO UPDATE "
        "SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at, "
        "heartbeat = excluded.heartbeat, leader = excluded.leader, "
        "config_hash = excluded.config_hash, note = excluded.note",
        (rid, socket.gethostname(), os.getpid(), started_at, now, int(leader), config_hash, note),
    )
    if leader:  # one leader flag at a time, even when a dead leader's row remains
        conn.execute("UPDATE replicas SET leader = 0 WHERE replica_id != ? AND leader = 1", (rid,))


def forget(conn: Connection, rid: str) -> None:
    conn.execute("DELETE FROM replicas WHERE replica_id = ?", (rid,))


def all_replicas(conn: Connection) -> list[ReplicaRow]:
    rows = conn.execute(
        "SELECT replica_id, host, pid, started_at, heartbeat, leader, config_hash, note "
        "FROM replicas ORDER BY replica_id"
    )
    return [
        ReplicaRow(
            replica_id=r[0],
            host=r[1],
            pid=int(r[2]),
            started_at=float(r[3]),
            heartbeat=float(r[4]),
            leader=bool(r[5]),
            config_hash=r[6],
            note=r[7],
        )
        for r in rows
    ]


def get_replica(conn: Connection, rid: str) -> ReplicaRow | None:
    return next((r for r in all_replicas(conn) if r.replica_id == rid), None)


def lead_refusal(
    conn: Connection, rid: str, config_hash: str, *, now: float, alive: float
) -> str | None:
    """Why this replica must not lead (its feeds.yaml differs from a live leader's), or None."""
    expected = runtime_rows.get(conn, LEADER_CONFIG)
    if not expected or expected == config_hash:
        return None
    holders = [
        r.replica_id
        for r in all_replicas(conn)
        if r.replica_id != rid and r.config_hash == expected and now - r.heartbeat <= alive
    ]
    if not holders:
        return None  # every live replica moved on: this file becomes the one to run
    return (
        f"its feeds.yaml (hash {config_hash[:12]}) differs from the one the leader runs "
        f"(hash {expected[:12]}, still on {', '.join(holders)}); deploy the same feeds.yaml "
        "on every replica"
    )


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


class SoloLeadership:
    """SQLite: the process that holds the state directory's lock is the only one, so it leads."""

    held = True
    last_error = ""
    grace = 0.0
    confirmed_at = float("inf")  # never needs asking again

    def holder(self) -> tuple[int, str] | None:
        return None

    def depose(self, pid: int) -> bool:
        return False

    def acquire(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def release(self) -> None:
        return None


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


def lock_name(rid: str) -> str:
    """The application name a replica's lock session carries (PostgreSQL keeps 63 bytes)."""
    return f"vigil-leader {rid}".strip()[:63]


def leadership_for(conn: Connection, name: str = "") -> Leadership | SoloLeadership:
    """The leader lock that fits the database: an advisory lock, or SQLite's solo process."""
    if isinstance(conn, PgConnection):
        return Leadership(conn.url, name)
    return SoloLeadership()
