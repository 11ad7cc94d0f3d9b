"""Poll one feed: the orchestrator that composes fetch → parse → match → store → route → render.

Stages never call each other; this module passes values between them. Its rules:
- A bad fetch or parse never advances or prunes state: validators, seen keys and baseline stay
  as they were; only the error counters and the next poll time change (RELIABILITY §4.2).
- New items, their outbox rows and the feed's new validators are committed in ONE transaction,
  so an item is never "seen" without its alerts queued, and a crash before the commit simply
  re-detects the items on the next poll (RELIABILITY D1, D2).
- A feed's first successful poll follows `first_run`: `baseline` remembers the current items
  without alerting, `latest: N` alerts only for the newest N, `all` alerts for everything.
- GUID churn (a publisher rewrites every GUID, e.g. http → https): a "new" key whose link this
  feed already published is remembered silently, not re-sent (RELIABILITY A9).
- Parsing is :class:`bot.sources.reader.FeedReader`'s: off the event loop, bounded, never raising.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.config import Config, Feed
from bot.fetch import Fetcher
from bot.match.topics import Matcher
from bot.model import ErrorKind, FetchResult, Item, Outcome, ParsedFeed, TopicMatch
from bot.pipeline.report import PlannedAlert, PollReport
from bot.pipeline.runtime import Phrase, Runtime
from bot.pipeline.schedule import next_after_failure, next_after_success
from bot.route.chats import CONSOLE_CHAT, route_item
from bot.route.render import render_alert
from bot.sources.identity import normalize_link
from bot.sources.reader import FeedReader
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store.db import transaction

log = logging.getLogger("vigil.poll")


def statement_key(feed_id: str, item: Item) -> str:
    """The same statement seen through two feeds shares its canonical link."""
    if item.link:
        return "link:" + normalize_link(item.link)
    return f"item:{feed_id}:{item.key}"


class Poller:
    """Polls feeds against one state database; shared by `vigil once` and the service."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        fetcher: Fetcher,
        runtime: Callable[[], Runtime],
        *,
        clock: Callable[[], float] = time.time,
        parse_workers: int = 2,
        parse_processes: bool | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        """``parse_workers`` and ``parse_processes``: see :class:`bot.sources.reader.FeedReader`."""
        self.conn = conn
        self.fetcher = fetcher
        self.runtime = runtime
        self.clock = clock
        self.on_queued = on_queued
        self.reader = FeedReader(parse_workers, parse_processes)

    def close(self) -> None:
        self.reader.close()

    async def poll(self, feed: Feed, *, dry_run: bool = False) -> PollReport:
        """One conditional GET and everything after it. Never raises except on cancellation."""
        rt = self.runtime()
        row = feed_rows.get_feed(self.conn, feed.id)
        etag = row.etag if row else None
        last_modified = row.last_modified if row else None
        result = await self.fetcher.fetch(feed.url, etag=etag, last_modified=last_modified)
        interval = rt.config.feed_interval(feed)
        now = self.clock()
        if result.outcome is Outcome.NOT_MODIFIED:
            return self._unchanged(feed, result, interval, now, dry_run=dry_run)
        if result.outcome is Outcome.FAILED:
            kind = result.error_kind or ErrorKind.NETWORK
            return self._failed(
                feed, kind, result.error or str(kind), result, interval, now, dry_run=dry_run
            )
        parsed = await self.reader.read(result)
        if not parsed.ok:
            kind = parsed.error_kind or ErrorKind.PARSE
            return self._failed(
                feed, kind, parsed.error or str(kind), result, interval, now, dry_run=dry_run
            )
        return self._store(feed, result, parsed, rt, interval, now, dry_run=dry_run)

    def _unchanged(
        self, feed: Feed, result: FetchResult, interval: float, now: float, *, dry_run: bool
    ) -> PollReport:
        rt = self.runtime()
        next_at = next_after_success(now, interval, jitter=rt.config.settings.jitter)
        if not dry_run:
            row = feed_rows.get_feed(self.conn, feed.id)
            with transaction(self.conn):
                feed_rows.record_success(
                    self.conn,
                    feed.id,
                    now=now,
                    next_poll_at=next_at,
                    etag=result.etag or (row.etag if row else None),
                    last_modified=result.last_modified or (row.last_modified if row else None),
                    baselined=bool(row and row.baselined),
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
        *,
        dry_run: bool,
    ) -> PollReport:
        settings = self.runtime().config.settings
        row = feed_rows.get_feed(self.conn, feed.id)
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
                    self.conn, feed.id, now=now, next_poll_at=next_at, kind=kind, message=message
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
        result: FetchResult,
        parsed: ParsedFeed,
        rt: Runtime,
        interval: float,
        now: float,
        *,
        dry_run: bool,
    ) -> PollReport:
        conn = self.conn
        row = feed_rows.get_feed(conn, feed.id)
        first_poll = not (row and row.baselined)
        keys = [item.key for item in parsed.items]
        known = item_rows.known_keys(conn, feed.id, keys)
        fresh = [item for item in parsed.items if item.key not in known]
        fresh = _dedupe_keys(fresh)
        links = {item.key: normalize_link(item.link) for item in fresh if item.link}
        churned = item_rows.known_links(conn, feed.id, list(set(links.values())))
        eligible = _eligible(fresh, first_poll, rt.config, links, churned)
        if churned and not first_poll:
            log.warning(
                "items republished under new ids were not re-sent",
                extra={"feed_id": feed.id, "count": sum(1 for k in links if links[k] in churned)},
            )
        audience = subs.load_audience(conn, now)
        plans: dict[str, PlannedAlert] = {}
        topics_of: dict[str, tuple[str, ...]] = {}
        for item in fresh:
            if item.key not in eligible:
                continue
            matches = rt.matcher.match_item(item)
            tracked = self._tracked_by(rt, audience.tracks, item)
            topic_ids = tuple(m.topic_id for m in matches)
            if not topic_ids and not tracked:
                continue
            topics_of[item.key] = topic_ids
            plan = self._plan(feed, item, matches, tracked, rt, audience)
            if plan is not None:
                plans[item.key] = plan
        next_at = next_after_success(
            now, interval, ttl_minutes=parsed.ttl_minutes, jitter=rt.config.settings.jitter
        )
        queued = 0
        if not dry_run:
            with transaction(conn):
                for item in fresh:
                    item_id = item_rows.insert_item(
                        conn,
                        feed.id,
                        item,
                        link_key=links.get(item.key),
                        topics=topics_of.get(item.key, ()),
                        now=now,
                    )
                    plan = plans.get(item.key)
                    if item_id is None or plan is None:
                        continue
                    queued += len(
                        outbox.enqueue(
                            conn,
                            item_id=item_id,
                            chat_ids=plan.chats,
                            statement_key=plan.statement_key,
                            topics=plan.topics,
                            text_html=plan.text_html,
                            text_plain=plan.text_plain,
                            now=now,
                        )
                    )
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
            baselined=len(fresh) - len(eligible) if first_poll else 0,
        )

    def _tracked_by(
        self, rt: Runtime, tracks: dict[str, tuple[str, ...]], item: Item
    ) -> tuple[str, ...]:
        """Chats whose personal phrases match the item (compiled once per set of phrases)."""
        if rt.console or not tracks:
            return ()
        cache_key = frozenset(
            (chat, phrase) for chat, phrases in tracks.items() for phrase in phrases
        )
        compiled = rt.track_matchers.get(cache_key)
        if compiled is None:
            owners: dict[str, list[str]] = {}
            for chat, phrases in tracks.items():
                for phrase in phrases:
                    owners.setdefault(phrase, []).append(chat)
            ids = {phrase: f"p{n}" for n, phrase in enumerate(sorted(owners))}
            specs = [Phrase(ids[p], (p,)) for p in sorted(owners)]
            compiled = (
                Matcher.compile(specs),
                {ids[p]: tuple(chats) for p, chats in owners.items()},
            )
            rt.track_matchers.clear()
            rt.track_matchers[cache_key] = compiled
        matcher, chats_of = compiled
        out: dict[str, None] = {}
        for match in matcher.match_item(item):
            for chat in chats_of.get(match.topic_id, ()):
                out[chat] = None
        return tuple(out)

    def _plan(
        self,
        feed: Feed,
        item: Item,
        matches: Sequence[TopicMatch],
        tracked: tuple[str, ...],
        rt: Runtime,
        audience: subs.Audience,
    ) -> PlannedAlert | None:
        topic_ids = tuple(m.topic_id for m in matches)
        if rt.console:
            chats: tuple[str, ...] = (CONSOLE_CHAT,) if topic_ids else ()
        else:
            chats = route_item(
                feed_id=feed.id,
                topic_ids=topic_ids,
                channels=rt.config.channels,
                subscribers=audience.subscribers,
                tracked_by=tracked,
                muted=audience.muted,
            )
        if not chats:
            return None
        names = [rt.config.topic(t).name for t in topic_ids]
        if tracked and not names:
            names = ["your tracked phrases"]
        rendered = render_alert(
            item, feed_name=feed.name, topic_names=names, matches=matches, tz=rt.tz
        )
        return PlannedAlert(
            feed_id=feed.id,
            item=item,
            topics=topic_ids,
            chats=chats,
            statement_key=statement_key(feed.id, item),
            text_html=rendered.html,
            text_plain=rendered.plain,
        )


def _dedupe_keys(items: Sequence[Item]) -> list[Item]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            out.append(item)
    return out


def _eligible(
    fresh: Sequence[Item],
    first_poll: bool,
    config: Config,
    links: dict[str, str],
    churned: set[str],
) -> set[str]:
    """Keys of the new items that may alert (the rest are only remembered)."""
    candidates = [item for item in fresh if links.get(item.key) not in churned]
    if not first_poll:
        return {item.key for item in candidates}
    first_run = config.settings.first_run
    if first_run.mode == "all":
        return {item.key for item in candidates}
    if first_run.mode == "latest":
        newest = sorted(
            enumerate(candidates),
            key=lambda pair: (
                pair[1].published or datetime.min.replace(tzinfo=UTC),
                -pair[0],
            ),
            reverse=True,
        )
        return {item.key for _, item in newest[: first_run.latest]}
    return set()
