"""The poll loop: an APScheduler tick that starts every due feed, never one feed twice.

The schedule itself lives on the feed rows (`next_poll_at`), so a restart resumes it and a
reload changes it without rebuilding jobs. APScheduler runs one `tick` job each second with
`max_instances=1, coalesce=True` and no misfire grace limit: a slow tick is skipped, not
queued, and a wall-clock jump causes no burst of catch-up runs (RELIABILITY D10, D11). A feed
already being polled is never started again until its poll ends.

A wall clock that jumps back moves every feed's next poll back by the same amount, so a feed
waits its interval, not the interval plus the jump (D10); a forward jump makes each feed due once.
The same tick sends the digests that are due (checked every 10 s; bot.pipeline.digests) and
prunes the archive (text older than `settings.keep`, a batch at a time, hourly).
A store that keeps failing (disk full, D5) is logged on the first failed tick and then once a
minute, not every second.

Several replicas on one PostgreSQL share the feeds: each tick *claims* the due feeds for this
replica (`owner`) with a lease (`feeds.claim_due`, SKIP LOCKED), so each poll happens once across
the replicas; in-flight feeds are claimed again each tick, which renews their lease, and the write
that records a finished poll ends it (the poller carries the same owner; a poll that failed to
record releases it apart). The claim returns the feed rows, so a poll does not read its row.
A replica killed mid-poll leaves leases that expire after `lease_seconds`, and another replica
polls those feeds then. On SQLite the state lock makes the one process the only poller: the
same calls, and the store writes no lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config, Feed
from bot.pipeline.digests import send_due_digests
from bot.pipeline.poller import Poller
from bot.pipeline.report import PollReport
from bot.pipeline.runtime import Runtime
from bot.store import archive
from bot.store import copies as copy_rows
from bot.store import feeds as feed_rows
from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, transaction

log = logging.getLogger("vigil.scheduler")

TICK_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
CLOCK_JUMP = 5.0  # the wall clock falling this far behind the monotonic one jumped back
ERROR_LOG_EVERY = 60.0
PRUNE_EVERY = 3600.0
DIGEST_EVERY = 10.0


def lease_seconds(config: Config) -> float:
    """How long a claim lasts: longer than a poll can take (fetch timeout twice, plus parsing)."""
    return config.settings.timeout * 2 + 30.0


class PollScheduler:
    def __init__(
        self,
        conn: Connection,
        poller: Poller,
        runtime: Callable[[], Runtime],
        *,
        clock: Callable[[], float] = time.time,
        on_report: Callable[[PollReport], None] | None = None,
        owner: str = "local",
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self.conn = conn
        self.owner = owner
        self.leading = leading
        self.poller = poller
        self.runtime = runtime
        self.clock = clock
        self.on_report = on_report
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._last_heartbeat = 0.0
        self._not_before: dict[str, float] = {}
        self.last_tick = time.monotonic()
        self.ticks = 0
        self._clock_mark: tuple[float, float] | None = None
        self._tick_errors = 0
        self._last_error_log = 0.0
        self._next_prune = 0.0
        self._next_digest_check = 0.0

    def start(self) -> None:
        """Must run inside the event loop (APScheduler 3 takes the running loop)."""
        self.sync_feeds()
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    def sync_feeds(self) -> None:
        feeds = {feed.id: feed.url for feed in self.runtime().config.feeds}
        with transaction(self.conn):
            feed_rows.sync_feeds(self.conn, feeds)

    async def stop(self, grace: float = 5.0) -> None:
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    @property
    def polling(self) -> frozenset[str]:
        return frozenset(self._in_flight)

    async def tick(self) -> None:
        self.last_tick = time.monotonic()
        self.ticks += 1
        now = self.clock()
        try:
            self._follow_clock(now)
            self._heartbeat(now)
            self._prune(now)
            self._digests(now)
            self._start_due(now)
        except DatabaseError as exc:
            self._tick_errors += 1
            mono = time.monotonic()
            if self._tick_errors == 1 or mono - self._last_error_log >= ERROR_LOG_EVERY:
                self._last_error_log = mono
                log.error("scheduler tick failed (%d in a row): %s", self._tick_errors, exc)
            return
        if self._tick_errors:
            log.info("scheduler ticks work again after %d failures", self._tick_errors)
            self._tick_errors = 0

    def _follow_clock(self, now: float) -> None:
        mono = time.monotonic()
        mark = self._clock_mark
        if mark is not None:
            drift = (now - mark[0]) - (mono - mark[1])
            if drift < -CLOCK_JUMP:
                with transaction(self.conn):  # on failure the mark stays: retried next tick
                    feed_rows.shift_schedule(self.conn, drift)
                log.warning("wall clock went back %.0fs; poll schedule moved with it", -drift)
        self._clock_mark = (now, mono)

    def _heartbeat(self, now: float) -> None:
        if now - self._last_heartbeat < HEARTBEAT_SECONDS and now >= self._last_heartbeat:
            return
        self._last_heartbeat = now
        with transaction(self.conn):
            runtime_rows.put(self.conn, "heartbeat", f"{now:.3f}")

    def _digests(self, now: float) -> None:
        """Sends the digests that are due (checked every DIGEST_EVERY seconds)."""
        if now < self._next_digest_check and now >= self._next_digest_check - DIGEST_EVERY:
            return
        self._next_digest_check = now + DIGEST_EVERY
        if self.leading():  # replicas: one digest per chat, from the leader only
            send_due_digests(self.conn, self.runtime().config, now, self.poller.on_queued)

    def _prune(self, now: float) -> None:
        """Forgets archived text older than settings.keep: one small batch a tick until done,
        then again an hour later (the seen set is never pruned)."""
        if now < self._next_prune:
            return
        keep = self.runtime().config.settings.keep
        with transaction(self.conn):
            removed = archive.prune(self.conn, before=now - keep)
            # Near-duplicate fingerprints are only compared within 72 h: a week is plenty.
            fingerprints = copy_rows.prune(self.conn, now - copy_rows.KEEP)
        if removed:
            log.info("archive pruned", extra={"count": removed})
        if removed < archive.PRUNE_BATCH and fingerprints < copy_rows.PRUNE_BATCH:
            self._next_prune = now + PRUNE_EVERY

    def _start_due(self, now: float) -> None:
        config = self.runtime().config
        by_id = {feed.id: feed for feed in config.feeds}
        horizon = max(config.settings.max_backoff, 86_400.0) * 2
        claimed = feed_rows.claim_due(
            self.conn, self.owner, now=now, horizon=horizon, lease=lease_seconds(config)
        )
        for row in claimed:
            feed_id = row.feed_id
            feed = by_id.get(feed_id)
            if feed is None:  # not in this replica's feeds.yaml: leave it to the others
                feed_rows.release(self.conn, feed_id, self.owner)
                continue
            if feed_id in self._in_flight:
                continue
            if self._not_before.get(feed_id, 0.0) > time.monotonic():
                continue
            task = asyncio.create_task(self._poll(feed, row), name=f"poll:{feed_id}")
            self._in_flight[feed_id] = task

    async def _poll(self, feed: Feed, row: feed_rows.FeedRow) -> None:
        recorded = False
        try:
            # The poller was built with this scheduler's owner: the write that records the
            # poll also ends the claim, so a finished poll needs no separate release.
            report = await self.poller.poll(feed, row=row)
            recorded = self.poller.owner == self.owner
            if self.on_report is not None:
                self.on_report(report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The store failed (disk full, locked): back off in memory so the feed is not
            # retried every tick; its row keeps the last committed state.
            log.error("poll failed: %s", exc, extra={"feed_id": feed.id})
            self._not_before[feed.id] = time.monotonic() + 60.0
            with contextlib.suppress(DatabaseError):
                interval = self.runtime().config.feed_interval(feed)
                with transaction(self.conn):
                    feed_rows.reschedule(self.conn, feed.id, self.clock() + min(interval, 300))
        finally:
            self._in_flight.pop(feed.id, None)
            if not recorded:
                with contextlib.suppress(DatabaseError), transaction(self.conn):
                    feed_rows.release(self.conn, feed.id, self.owner)
