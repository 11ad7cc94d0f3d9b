"""Group commit (`bot.pipeline.writes.GroupWriter`) and the round trips of a warm poll.

Runs on SQLite and on PostgreSQL (the `database` fixture).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.pipeline.writes import GroupWriter
from bot.store import feeds as feed_rows
from bot.store.db import Connection, DatabaseError, connect, transaction

pytestmark = pytest.mark.usefixtures("database")


def _next_polls(conn: Connection) -> dict[str, float]:
    rows = conn.execute("SELECT feed_id, next_poll_at FROM feeds ORDER BY feed_id")
    return {str(r[0]): float(r[1]) for r in rows}


def test_writes_queued_together_share_one_transaction(tmp_path: Path) -> None:
    """Fifty writes queued at once: one transaction, and each caller returns after the commit
    with its own row written."""
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {f"f{i:02}": f"https://x.example/{i}" for i in range(50)})
    writer = GroupWriter(conn)

    async def one(i: int) -> float:
        await writer.write(lambda c: feed_rows.reschedule(c, f"f{i:02}", 1000.0 + i))
        return _next_polls(conn)[f"f{i:02}"]  # committed by the time the write returns

    async def main() -> list[float]:
        return await asyncio.gather(*(one(i) for i in range(50)))

    seen = asyncio.run(main())
    assert seen == [1000.0 + i for i in range(50)]
    assert writer.batches == 1 and writer.writes == 50
    conn.close()


def test_a_failing_write_fails_only_its_own_caller(tmp_path: Path) -> None:
    """A batch with a bad write is retried write by write: the others are committed, the bad
    one's caller gets the database's error."""
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"a": "https://x.example/a", "b": "https://x.example/b"})
    writer = GroupWriter(conn)

    def bad(c: Connection) -> None:
        c.execute("UPDATE no_such_table SET x = 1")

    async def main() -> list[object]:
        return await asyncio.gather(
            writer.write(lambda c: feed_rows.reschedule(c, "a", 111.0)),
            writer.write(bad),
            writer.write(lambda c: feed_rows.reschedule(c, "b", 222.0)),
            return_exceptions=True,
        )

    results = asyncio.run(main())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], DatabaseError)
    assert _next_polls(conn) == {"a": 111.0, "b": 222.0}
    conn.close()
