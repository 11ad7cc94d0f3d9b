"""Small facts the running service publishes for other processes (`vigil health`, `status`).

The heartbeat is wall-clock time written every few seconds by the scheduler tick; `vigil health`
in the container's HEALTHCHECK reads it without talking to the service.
"""

from __future__ import annotations

from bot.store.backend import Connection


def put(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO runtime (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM runtime WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def delete(conn: Connection, key: str) -> None:
    conn.execute("DELETE FROM runtime WHERE key = ?", (key,))
