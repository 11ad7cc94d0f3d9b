"""Whether the service is healthy: one judgement shared by `vigil health` and `/healthz`.

Unhealthy means: the service recorded why it stopped, the scheduler heartbeat is missing or
older than HEARTBEAT_MAX_AGE, the database refuses a write, or the outbox has held an alert for
OUTBOX_STUCK_AFTER with nothing sent since.
"""

from __future__ import annotations

import sqlite3

from bot.store import outbox
from bot.store import runtime as runtime_rows
from bot.store.db import transaction

HEARTBEAT_MAX_AGE = 60.0
OUTBOX_STUCK_AFTER = 900.0


def health_problem(conn: sqlite3.Connection, now: float) -> str | None:
    """The reason the service is unhealthy, or None."""
    fatal = runtime_rows.get(conn, "fatal")
    if fatal:
        return f"the service stopped: {fatal}"
    beat = runtime_rows.get(conn, "heartbeat")
    if beat is None:
        return "the service is not running (no scheduler heartbeat)"
    age = now - float(beat)
    if age > HEARTBEAT_MAX_AGE or age < -HEARTBEAT_MAX_AGE:
        return f"the scheduler has not ticked for {age:.0f}s"
    try:
        with transaction(conn):
            runtime_rows.put(conn, "health_probe", f"{now:.0f}")
    except sqlite3.Error as exc:
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
