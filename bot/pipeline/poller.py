"""Poll one feed: the orchestrator that composes fetch → parse → match → store → route → render.

Stages never call each other; this module passes values between them. Its rules:
- An unchanged poll's one-row write joins the writes of the polls finishing with it in one
  transaction (:class:`bot.pipeline.writes.GroupWriter`); the poll returns once it is committed.
- A bad fetch or parse never advances or prunes state: validators, seen keys and baseline stay
  as they were; only the error counters and the next poll time change (RELIABILITY §4.2).
- New items, their archive text, their outbox rows (held for a digest or deferred past quiet
  hours: :mod:`bot.pipeline.digests`) and the feed's new validators are committed in ONE
  transaction, so an item is never "seen" without its alerts queued, and a crash before the
  commit simply re-detects the items on the next poll (RELIABILITY D1, D2).
- A feed's first successful poll follows `first_run`: `baseline` remembers the current items
  without alerting, `latest: N` alerts only for the newest N, `all` alerts for everything.
- A statement that copies one another feed published within 72 h (:mod:`bot.pipeline.copies`)
  takes that statement's key: a chat that got the first never gets the copy, it gets the
  copy's source added to its message instead; a chat that only follows the copy's feed gets it.
- GUID churn (a publisher rewrites every GUID, e.g. http → https): a "new" key whose link this
  feed already published is remembered silently, not re-sent (RELIABILITY A9).
- Parsing is :class:`bot.sources.reader.FeedReader`'s: off the event loop, bounded, never raising.
- Fetching and reading (discovered feeds, unchanged bodies, blocked pages) is
  :func:`bot.pipeline.intake.take_in`'s; every page state that is not ok or empty
  (``no_entries``, ``blocked``, ``needs_javascript``, ``layout_changed``…) is a failed poll.
- A page source whose entries are mostly new with links of a new shape is held as
  ``layout_changed`` (:func:`bot.sources.drift.layout_change`): nothing stored, nothing sent,
  until `vigil rebaseline` makes the next read a silent baseline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from bot.config import Feed
from bot.fetch import Fetcher
from bot.model import ErrorKind, FetchResult, Item, Outcome
from bot.pipeline.copies import CopyFinder
from bot.pipeline.digests import queue_alert
from bot.pipeline.fulltext import FullTextStage
from bot.pipeline.intake import Intake, take_in
from bot.pipeline.novelty import dedupe_keys, eligible
from bot.pipeline.plan import plan_alert, tracked_by
from bot.pipeline.prepare import Prepared, prepare
from bot.pipeline.report import PlannedAlert, PollReport
from bot.pipeline.runtime import Runtime
from bot.pipeline.schedule import next_after_failure, next_after_success
from bot.pipeline.writes import GroupWriter
from bot.sources.drift import layout_change
from bot.sources.identity import normalize_link
from bot.sources.reader import FeedReader
from bot.store import archive, articles, subs
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store.db import Connection, transaction

log = logging.getLogger("vigil.poll")


class Poller:
    """Polls feeds against one state database; shared by `vigil once` and the service."""

    def __init__(
        self,
        conn: Connection,
        fetcher: Fetcher,
        runtime: Callable[[], Runtime],
        *,
        clock: Callable[[], float] = time.time,
        parse_workers: int = 2,
        parse_processes: bool | None = None,
        on_queued: Callable[[], None] | None = None,
        fulltext: FullTextStage | None = None,
        fulltext_inline: bool = False,
        owner: str | None = None,
    ) -> None:
        """``parse_workers`` and ``parse_processes``: see :class:`bot.sources.reader.FeedReader`.

        ``fulltext``: reads the pages of items waiting for their text after each poll of their
        feed — awaited when ``fulltext_inline`` (`vigil once`: a poll is a poll), else in the
        background so polling never waits for article fetching.

        ``owner``: the name feeds are claimed under (`bot.store.feeds.claim_due`, `claim`); the
        write that records a poll also ends its claim, so a poll costs no extra round trip.
        """
        self.owner = owner
        self.writer = GroupWriter(conn)
        self.fulltext = fulltext
        self.fulltext_inline = fulltext_inline
        self.conn = conn
        self.fetcher = fetcher
        self.runtime = runtime
        self.clock = clock
        self.on_queued = on_queued
        self.reader = FeedReader(parse_workers, parse_processes)

    def close(self) -> None:
        self.reader.close()

    async def poll(
        self, feed: Feed, *, dry_run: bool = False, row: feed_rows.FeedRow | None = None
    ) -> PollReport:
        """One conditional GET and everything after it. Never raises except on cancellation.

        ``row``: the feed's row as its claim returned it, so the poll does not read it again
        (a round trip on PostgreSQL); None reads it.
        """
        report = await self._poll(feed, dry_run=dry_run, row=row)
        if self.fulltext is None or dry_run:
            return report
        if not self.fulltext_inline:
            self.fulltext.kick(feed)
            return report
        alerts = await self.fulltext.run(feed)
        return dataclasses.replace(report, alerts=report.alerts + alerts) if alerts else report

    async def _poll(
        self, feed: Feed, *, dry_run: bool, row: feed_rows.FeedRow | None
    ) -> PollReport:
        rt = self.runtime()
        if row is None:
            row = feed_rows.get_feed(self.conn, feed.id)
        intake = await take_in(self.fetcher, self.reader, feed, row)
        interval = rt.config.feed_interval(feed)
        now = self.clock()
        if intake.forget_source and not dry_run:
            with transaction(self.conn):
                feed_rows.forget_source(self.conn, feed.id)
        if intake.error_kind is not None:
            message = intake.error or str(intake.error_kind)
            return self._failed(
                feed, intake.error_kind, message, intake.result, interval, now, row, dry_run=dry_run
            )
        if intake.parsed is None:
            kept = None if intake.forget_source else row  # forgetting reset its validators
            return await self._unchanged(
                feed, intake.result, interval, now, dry_run=dry_run, row=kept
            )
        prepared: dict[str, Prepared] = {}
        known: set[str] | None = None
        if not dry_run:
            items = intake.parsed.items
            known = item_rows.known_keys(self.conn, feed.id, [i.key for i in items])
            new = [item for item in items if item.key not in known]
            prepared = await asyncio.to_thread(prepare, new) if new else {}
        # Only this poll (it holds the feed's claim) writes the feed's items and its row.
        return self._store(feed, intake, rt, interval, now, prepared, row, known, dry_run=dry_run)

    async def _unchanged(
        self,
        feed: Feed,
        result: FetchResult,
        interval: float,
        now: float,
        *,
        dry_run: bool,
        row: feed_rows.FeedRow | None = None,
    ) -> PollReport:
        """Nothing new. `row`: the feed row read before the poll, when nothing wrote it since
        (only this poll writes a feed's validators); None reads it again. The write joins the
        other polls' in one transaction (`GroupWriter`) and is committed when this returns."""
        rt = self.runtime()
        next_at = next_after_success(now, interval, jitter=rt.config.settings.jitter)
        if not dry_run:
            if row is None:
                row = feed_rows.get_feed(self.conn, feed.id)
            etag = result.etag or (row.etag if row else None)
            modified = result.last_modified or (row.last_modified if row else None)
            baselined = bool(row and row.baselined)
            await self.writer.write(
                lambda conn: feed_rows.record_success(
                    conn,
                    feed.id,
                    now=now,
                    next_poll_at=next_at,
                    etag=etag,
                    last_modified=modified,
                    baselined=baselined,
                    owner=self.owner,
                )
            )
        return PollReport(
            feed.id,
            Outcome.NOT_MODIFIED,
            next_poll_at=next_at,
            status=result.status,
            elapsed=result.elapsed,
        )

    def _failed(
        self,
        feed: Feed,
        kind: ErrorKind,
        message: str,
        result: FetchResult,
        interval: float,
        now: float,
        row: feed_rows.FeedRow | None,
        *,
        dry_run: bool,
    ) -> PollReport:
        settings = self.runtime().config.settings
        errors = (row.consecutive_errors if row else 0) + 1
        next_at = next_after_failure(
            now,
            interval,
            consecutive_errors=errors,
            max_backoff=settings.max_backoff,
            retry_after=result.retry_after,
            jitter=settings.jitter,
        )
        if not dry_run:
            with transaction(self.conn):
                feed_rows.record_failure(
                    self.conn,
                    feed.id,
                    now=now,
                    next_poll_at=next_at,
                    kind=kind,
                    message=message,
                    owner=self.owner,
                )
        log.warning(
            "feed failed: %s",
            message,
            extra={"feed_id": feed.id, "error_kind": str(kind), "count": errors},
        )
        return PollReport(
            feed.id,
            Outcome.FAILED,
            error_kind=kind,
            error=message,
            next_poll_at=next_at,
            status=result.status,
            elapsed=result.elapsed,
        )

    def _store(
        self,
        feed: Feed,
        intake: Intake,
        rt: Runtime,
        interval: float,
        now: float,
        prepared: dict[str, Prepared],
        row: feed_rows.FeedRow | None,
        known: set[str] | None,
        *,
        dry_run: bool,
    ) -> PollReport:
        """`row` and `known`: the feed's row and its known item keys as read for this poll."""
        conn = self.conn
        result, parsed = intake.result, intake.parsed
        assert parsed is not None
        first_poll = not (row and row.baselined)
        rebaseline = bool(row and row.rebaseline)
        if known is None:
            known = item_rows.known_keys(conn, feed.id, [item.key for item in parsed.items])
        fresh = dedupe_keys([item for item in parsed.items if item.key not in known])
        if parsed.kind == "page" and not (first_poll or rebaseline):
            moved = layout_change(parsed.items, fresh, item_rows.recent_links(conn, feed.id))
            if moved:
                kind = ErrorKind.LAYOUT_CHANGED
                return self._failed(feed, kind, moved, result, interval, now, row, dry_run=dry_run)
        links = {item.key: normalize_link(item.link) for item in fresh if item.link}
        churned = item_rows.known_links(conn, feed.id, list(set(links.values())))
        may_alert = eligible(fresh, first_poll, rt.config, links, churned, rebaseline=rebaseline)
        if churned and not first_poll:
            log.warning(
                "items republished under new ids were not re-sent",
                extra={"feed_id": feed.id, "count": sum(1 for k in links if links[k] in churned)},
            )
        audience = subs.load_audience(conn, now)
        plans: dict[str, PlannedAlert] = {}
        topics_of: dict[str, tuple[str, ...]] = {}
        read_pages = self.fulltext is not None and rt.config.full_text_for(feed) and not dry_run
        waiting: set[str] = set()
        for item in fresh:
            if item.key not in may_alert:
                continue
            matches = rt.matcher.match_item(item)
            tracked, tracked_matches = tracked_by(rt, audience.tracks, item)
            topic_ids = tuple(m.topic_id for m in matches)
            if not topic_ids and not tracked:
                if read_pages and item.link:
                    waiting.add(item.key)  # decided when its page is read (full text)
                continue
            topics_of[item.key] = topic_ids
            plan = plan_alert(
                feed, item, matches, tracked, rt, audience, tracked_matches=tracked_matches
            )
            if plan is not None:
                plans[item.key] = plan
        finder = CopyFinder(conn, {key: p.shingles for key, p in prepared.items()})
        originals = {
            key: found
            for key, plan in plans.items()
            if (found := finder.original(feed.id, plan.item, _date(plan.item, now)))
        }
        next_at = next_after_success(
            now, interval, ttl_minutes=parsed.ttl_minutes, jitter=rt.config.settings.jitter
        )
        queued = 0
        if not dry_run:
            with transaction(conn):
                ids = item_rows.insert_items(
                    conn,
                    feed.id,
                    [
                        item_rows.NewItem(item, links.get(item.key), topics_of.get(item.key, ()))
                        for item in fresh
                    ],
                    now=now,
                )
                for item in fresh:
                    item_id = ids.get(item.key)
                    if item_id is not None:
                        ready = prepared.get(item.key)
                        indexed = (ready.title_index, ready.body_index) if ready else None
                        archive.add(conn, item_id, item, now=now, indexed=indexed)
                        finder.remember(item_id, item, now)
                    if item_id is not None and item.key in waiting and item.link:
                        articles.enqueue(
                            conn,
                            item_id=item_id,
                            feed_id=feed.id,
                            url=item.link,
                            item=item,
                            now=now,
                        )
                    plan = plans.get(item.key)
                    if item_id is None or plan is None:
                        continue
                    original = originals.get(item.key)
                    source = (feed.name, item.link)
                    queued += queue_alert(conn, rt.config, plan, item_id, now, original, source)
                feed_rows.record_success(
                    conn,
                    feed.id,
                    now=now,
                    next_poll_at=next_at,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    title=parsed.title or None,
                    new_items=len(fresh),
                    alerts=queued,
                    body_hash=intake.body_hash,
                    source_url=intake.source_url,
                    read=True,
                    owner=self.owner,
                )
            if queued and self.on_queued is not None:
                self.on_queued()
        if parsed.warnings:
            log.info(
                "feed parsed with warnings: %s",
                "; ".join(parsed.warnings)[:300],
                extra={"feed_id": feed.id},
            )
        log.info(
            "feed polled",
            extra={"feed_id": feed.id, "new_items": len(fresh), "alerts": len(plans)},
        )
        return PollReport(
            feed.id,
            Outcome.OK,
            new_items=len(fresh),
            alerts=tuple(plans.values()),
            next_poll_at=next_at,
            status=result.status,
            elapsed=result.elapsed,
            baselined=len(fresh) - len(may_alert) if first_poll or rebaseline else 0,
        )


def _date(item: Item, now: float) -> float:
    return item.published.timestamp() if item.published else now
