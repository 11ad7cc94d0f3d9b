"""Many feeds polled at once under claims: `vigil once`, beside replicas that may be running.

Rules:
- The feeds are claimed first (`bot.store.feeds.claim`, one statement per 500 feeds). A feed
  another process holds a live claim on is being polled by it right now: it is left out and
  reported as busy, so each poll happens once across every process on the database.
- Claims are renewed every third of their lease while the polls run (a long cycle outlives a
  lease), and whatever is still held is released at the end, whatever happened; a killed process
  leaves claims that expire, as a replica's do.
- The claim returns each feed's row, so a poll does not read it again, and the write that
  records the poll ends its claim: one round trip per unchanged feed on PostgreSQL.
- On SQLite the state lock makes the process the only poller: claiming reads the rows and writes
  nothing. A dry run writes nothing at all: no claims, every feed polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.config import Feed
from bot.pipeline.poller import Poller
from bot.pipeline.report import PollReport
from bot.store import feeds as feed_rows
from bot.store.db import DatabaseError

log = logging.getLogger("vigil.poll")


@dataclass(frozen=True, slots=True)
class Cycle:
    reports: list[PollReport]
    busy: list[str]  # feed ids another process was polling: its poll is this one


async def poll_feeds(
    poller: Poller,
    feeds: Sequence[Feed],
    *,
    lease: float,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> Cycle:
    """Claims `feeds` under `poller.owner` and polls the claimed ones concurrently."""
    owner = poller.owner
    if dry_run or owner is None:
        reports = await asyncio.gather(*(poller.poll(f, dry_run=dry_run) for f in feeds))
        return Cycle(list(reports), [])
    conn = poller.conn
    ids = [feed.id for feed in feeds]
    rows = {r.feed_id: r for r in feed_rows.claim(conn, owner, ids, now=clock(), lease=lease)}
    pending = set(rows)

    async def one(feed: Feed) -> PollReport:
        try:
            return await poller.poll(feed, row=rows[feed.id])
        finally:
            pending.discard(feed.id)

    renewing = asyncio.create_task(_renew(poller, owner, pending, lease, clock))
    try:
        reports = await asyncio.gather(*(one(feed) for feed in feeds if feed.id in rows))
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        try:
            feed_rows.release_all(conn, owner)
        except DatabaseError as exc:  # they expire by themselves
            log.warning("feed claims not released (they expire in %.0fs): %s", lease, exc)
    return Cycle(list(reports), [feed_id for feed_id in ids if feed_id not in rows])


async def _renew(
    poller: Poller, owner: str, pending: set[str], lease: float, clock: Callable[[], float]
) -> None:
    while pending:
        await asyncio.sleep(lease / 3)
        try:
            feed_rows.claim(poller.conn, owner, sorted(pending), now=clock(), lease=lease)
        except DatabaseError as exc:
            log.warning("feed claims not renewed: %s", exc)
