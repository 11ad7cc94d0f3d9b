"""Whether the service is healthy: one judgement shared by `vigil health` and `/healthz`.

Unhealthy means: the service recorded why it stopped, the scheduler heartbeat is missing or
older than HEARTBEAT_MAX_AGE, the database refuses a write, or the outbox has held an alert for
OUTBOX_STUCK_AFTER with nothing sent since. With several replicas the heartbeat judged is the
asking replica's own row (`replicas`), so each container's HEALTHCHECK speaks for itself.
"""

from __future__ import annotations

from bot.store import outbox, replicas
from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, transaction

HEARTBEAT_MAX_AGE = 60.0
OUTBOX_STUCK_AFTER = 900.0


def health_problem(conn: Connection, now: float, replica: str | None = None) -> str | None:
    """The reason the service (this replica, when named and known) is unhealthy, or None."""
    fatal = runtime_rows.get(conn, "fatal")
    if fatal:
        return f"the service stopped: {fatal}"
    row = replicas.get_replica(conn, replica) if replica else None
    beat: float | str | None = row.heartbeat if row else runtime_rows.get(conn, "heartbeat")
    if beat is None:
        return "the service is not running (no scheduler heartbeat)"
    age = now - float(beat)
    if row is not None and (age > replicas.ALIVE or age < -HEARTBEAT_MAX_AGE):
        # Beaten every 2 s by the loop the scheduler runs in; others take it for dead by now.
        return f"replica {row.replica_id} has not beaten for {age:.0f}s"
    if age > HEARTBEAT_MAX_AGE or age < -HEARTBEAT_MAX_AGE:
        return f"the scheduler has not ticked for {age:.0f}s"
    try:
        with transaction(conn):
            runtime_rows.put(conn, "health_probe", f"{now:.0f}")
    except DatabaseError as exc:
        return f"the state database is not writable: {exc}"
    backlog = outbox.backlog(conn)
    if (
        backlog.oldest_created_at is not None
        and now - backlog.oldest_created_at > OUTBOX_STUCK_AFTER
    ):
        last_sent = conn.execute("SELECT max(sent_at) FROM outbox").fetchone()[0]
        if last_sent is None or now - float(last_sent) > OUTBOX_STUCK_AFTER:
            return (
                f"the outbox is stuck: {backlog.pending} pending, oldest "
                f"{now - backlog.oldest_created_at:.0f}s old, nothing sent since"
            )
    return None
