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
- The lock itself lives in `bot.store.pglock` (psycopg) and `bot.store.leadership` picks it, so
  a SQLite state never loads psycopg.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from bot.store import runtime as runtime_rows
from bot.store.backend import Connection

ID_ENV = "VIGIL_REPLICA_ID"
LEADER_CONFIG = "leader_config"
ALIVE = 15.0  # seconds: a replica whose heartbeat is older is taken for dead


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


def lock_name(rid: str) -> str:
    """The application name a replica's lock session carries (PostgreSQL keeps 63 bytes)."""
    return f"vigil-leader {rid}".strip()[:63]
