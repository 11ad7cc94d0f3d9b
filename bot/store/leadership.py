"""Which leader lock fits the state: PostgreSQL's advisory lock, or SQLite's single process.

Apart from `bot.store.pglock` so that `vigil run` on SQLite never loads psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store.backend import Connection

if TYPE_CHECKING:
    from bot.store.pglock import Leadership


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


def leadership_for(conn: Connection, name: str = "") -> Leadership | SoloLeadership:
    """The leader lock that fits the database: an advisory lock, or SQLite's solo process."""
    if conn.dialect == "postgresql":
        from bot.store.pglock import Leadership
        from bot.store.postgres import PgConnection

        assert isinstance(conn, PgConnection)
        return Leadership(conn.url, name)
    return SoloLeadership()
