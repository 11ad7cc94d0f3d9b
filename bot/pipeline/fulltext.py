"""The full-text stage: items that did not match on their headline wait for their page's text.

Rules (issue 12, PAGES §4.5):
- Only items that may alert and did not match on title, summary and content wait (the poll
  queued them with the item, in one transaction): a headline match alerts at once and its page
  is never awaited.
- Each poll of a source reads at most ``full_text_per_poll`` of its waiting items, oldest first;
  the rest keep waiting in the database.
- A page read: the item is matched on title, summary, content and the page's text (and PDF),
  and decided — text stored with the item, alerts queued, row done — in one transaction.
- A transient failure (timeout, network, 5xx, 429, a host deferred by Retry-After) leaves the
  item waiting for the source's next poll; after :data:`BACKOFF_AFTER` failures in a row the
  retries back off; after ``full_text_give_up`` (24 h) it is decided on what it has. A permanent
  failure (404, too large, neither HTML nor PDF, a login wall, a broken PDF) is decided at once
  on the headline. Either way the reason is kept as the feed's last article error.
- Never raises into the poll: an unexpected error leaves the item waiting and is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.config import Feed
from bot.pipeline.digests import queue_alert
from bot.pipeline.plan import plan_alert, tracked_by
from bot.pipeline.reading import ArticleReader, Reading
from bot.pipeline.report import PlannedAlert
from bot.pipeline.runtime import Runtime
from bot.store import archive, articles, subs
from bot.store.db import Connection, transaction

log = logging.getLogger("vigil.fulltext")

BACKOFF_AFTER = 3
MAX_BACKOFF = 6 * 3600.0


class FullTextStage:
    """Reads waiting items' pages for the poller; inline for `vigil once`, in the background
    for `vigil run` (so feed polling never waits for article fetching)."""

    def __init__(
        self,
        conn: Connection,
        reader: ArticleReader,
        runtime: Callable[[], Runtime],
        *,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[], None] | None = None,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.reader = reader
        self.runtime = runtime
        self.clock = clock
        self.on_queued = on_queued
        self.on_outcome = on_outcome
        self._tasks: dict[str, asyncio.Task[tuple[PlannedAlert, ...]]] = {}

    def kick(self, feed: Feed) -> None:
        """Reads the feed's due items in the background (one task per feed at a time)."""
        task = self._tasks.get(feed.id)
        if task is not None and not task.done():
            return
        self._tasks[feed.id] = asyncio.get_running_loop().create_task(
            self.run(feed), name=f"fulltext:{feed.id}"
        )

    async def aclose(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    async def run(self, feed: Feed) -> tuple[PlannedAlert, ...]:
        """Reads up to ``full_text_per_poll`` due items of ``feed``; returns the alerts queued."""
        rt = self.runtime()
        settings = rt.config.settings
        waiting = articles.due(self.conn, feed.id, self.clock(), settings.full_text_per_poll)
        if not waiting:
            return ()
        readings = await asyncio.gather(
            *(self.reader.read(row.url, settings) for row in waiting), return_exceptions=True
        )
        alerts: list[PlannedAlert] = []
        for row, reading in zip(waiting, readings, strict=True):
            if isinstance(reading, asyncio.CancelledError):
                raise reading
            if isinstance(reading, BaseException):
                log.error("article reading failed: %r", reading, extra={"feed_id": feed.id})
                reading = Reading("transient", error=f"unexpected {type(reading).__name__}")
            plan = self._settle(feed, row, reading, rt)
            if plan is not None:
                alerts.append(plan)
        if alerts and self.on_queued is not None:
            self.on_queued()
        return tuple(alerts)

    def _settle(
        self, feed: Feed, row: articles.Waiting, reading: Reading, rt: Runtime
    ) -> PlannedAlert | None:
        now = self.clock()
        settings = rt.config.settings
        outcome = reading.outcome
        if reading.transient:
            attempts = row.attempts + (0 if outcome == "deferred" else 1)
            if now - row.first_seen_at < settings.full_text_give_up:
                delay = 0.0
                if attempts >= BACKOFF_AFTER:
                    interval = rt.config.feed_interval(feed)
                    delay = min(interval * 2 ** (attempts - BACKOFF_AFTER), MAX_BACKOFF)
                with transaction(self.conn):
                    articles.retry_later(
                        self.conn,
                        row.item_id,
                        attempts=attempts,
                        next_at=now + delay,
                        error=reading.error or outcome,
                    )
                    articles.record_error(self.conn, feed.id, reading.error or outcome, now)
                self._count(outcome)
                return None
            outcome = "gave_up"
        audience = subs.load_audience(self.conn, now)
        matches = rt.matcher.match_item(row.item, reading.full_text, reading.pdf)
        tracked, tracked_matches = tracked_by(
            rt, audience.tracks, row.item, reading.full_text, reading.pdf
        )
        plan = None
        if matches or tracked:
            plan = plan_alert(
                feed,
                row.item,
                matches,
                tracked,
                rt,
                audience,
                tracked_matches=tracked_matches,
                full_text=reading.full_text,
                pdf=reading.pdf,
            )
        topics = tuple(m.topic_id for m in matches)
        with transaction(self.conn):
            decided = articles.decide(
                self.conn,
                row.item_id,
                outcome=outcome,
                error=reading.error,
                full_text=reading.full_text,
                pdf_text=reading.pdf,
                topics=topics,
                now=now,
            )
            if decided and reading.error:
                articles.record_error(self.conn, feed.id, reading.error, now)
            if decided:
                archive.reindex(self.conn, row.item_id)  # the page's text becomes searchable
            if decided and plan is not None:
                queue_alert(self.conn, rt.config, plan, row.item_id, now)  # digests, quiet hours
        self._count(outcome)
        if reading.error:
            log.info(
                "article: %s: %s",
                outcome,
                reading.error,
                extra={"feed_id": feed.id, "url": row.url},
            )
        return plan if decided else None

    def _count(self, outcome: str) -> None:
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("article outcome could not be counted")
