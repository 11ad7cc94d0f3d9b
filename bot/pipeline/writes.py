"""Group commit: the one-row writes of polls that finish together share one transaction.

An unchanged poll (304, or the same body) writes one row: its schedule, validators, counters and
the end of its claim. A thousand feeds polled at once made a thousand transactions: on
PostgreSQL a round trip and a commit each. `GroupWriter.write` queues the write and waits for
it; every write queued before the event loop comes back to the writer is committed in one
transaction.

Rules:
- Each caller waits until its own write is committed: a poll reports only what is durable, and
  its claim never ends before its row says when the next poll is due. A process killed before
  the commit loses the writes of that batch only, each a poll that is simply made again.
- A batch that fails is retried write by write, each in its own transaction, so one bad write
  fails only its own poll (and a database that went away fails each, as it did before).
- Writes go through the one connection on the event loop thread, as every store call does.
- Only independent writes belong here: one row per poll, no reads whose answers the caller uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.store.db import Connection, transaction

Write = Callable[[Connection], None]


class GroupWriter:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._queue: list[tuple[Write, asyncio.Future[None]]] = []
        self.batches = 0  # transactions committed (for tests and the bench)
        self.writes = 0

    async def write(self, work: Write) -> None:
        """Runs `work(conn)` in the next group transaction; returns once it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((work, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        await future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            with transaction(self.conn):
                for work, _ in batch:
                    work(self.conn)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for work, future in batch:
                self._alone(work, future)
            return
        self.batches += 1
        self.writes += len(batch)
        for _, future in batch:
            _settle(future, None)

    def _alone(self, work: Write, future: asyncio.Future[None]) -> None:
        try:
            with transaction(self.conn):
                work(self.conn)
        except Exception as exc:
            _settle(future, exc)
            return
        self.batches += 1
        self.writes += 1
        _settle(future, None)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its poll was cancelled meanwhile: the write stands, nobody waits
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
