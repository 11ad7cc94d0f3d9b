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
- Parsing runs in a worker thread with a deadline, so a 10 MB feed never stalls the event loop,
  the Telegram handlers or the scheduler (RELIABILITY A19, D12, D13). At most `parse_workers`
  bodies are parsed at once (D14); the deadline counts from the start of the parse, not from the
  wait for a free worker.
- When more than PROCESS_BURST bodies wait for parsing at once (a cold cycle, a restart after a
  long outage), the workers hand them to child processes (:class:`bot.parse.ParserProcesses`):
  feedparser is pure Python, so threads parse one feed at a time under the GIL, and on a 2-core
  machine this cut a cold `vigil once` over 1,000 feeds from 12.5 s to about 7.5 s (bench/). The
  children stop PROCESS_LINGER seconds after the last burst, so a steady service keeps no extra
  processes. A child past the deadline is killed (a thread could only be abandoned); a child that
  dies costs that one feed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from bot.config import Config, Feed
from bot.fetch import Fetcher
from bot.match.topics import Matcher
from bot.model import ErrorKind, FetchResult, Item, Outcome, ParsedFeed, TopicMatch
from bot.parse import ParserProcesses, normalize_link, parse_feed, processes_available
from bot.render import render_alert
from bot.route import CONSOLE_CHAT, route_item
from bot.schedule import next_after_failure, next_after_success
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store.db import transaction

log = logging.getLogger("vigil.poll")

PARSE_DEADLINE = 60.0
PROCESS_BURST = 8  # bodies waiting or being parsed in one poller before child processes help
PROCESS_LINGER = 60.0  # seconds after the last burst before the child processes stop


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    """One statement to deliver, with every chat it goes to (for `once --json` and dry runs)."""

    feed_id: str
    item: Item
    topics: tuple[str, ...]
    chats: tuple[str, ...]
    statement_key: str
    text_html: str
    text_plain: str


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: str
    outcome: Outcome
    error_kind: ErrorKind | None = None
    error: str | None = None
    new_items: int = 0
    alerts: tuple[PlannedAlert, ...] = ()
    next_poll_at: float = 0.0
    status: int | None = None
    elapsed: float = 0.0
    baselined: int = 0


@dataclass
class Runtime:
    """The config in force and what is compiled from it; swapped whole on reload."""

    config: Config
    matcher: Matcher
    console: bool  # no token: every matched statement goes to the terminal
    tz: tzinfo = UTC
    track_matchers: dict[frozenset[tuple[str, str]], tuple[Matcher, dict[str, tuple[str, ...]]]] = (
        field(default_factory=dict)
    )

    @classmethod
    def build(cls, config: Config, *, console: bool) -> Runtime:
        return cls(
            config=config,
            matcher=Matcher.compile(config.topics),
            console=console,
            tz=ZoneInfo(config.settings.timezone),
        )


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A personal phrase shaped as a topic so the same matcher compiles it."""

    id: str
    keywords: tuple[str, ...]
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


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
        """``parse_processes``: None parses in child processes during bursts only (when
        :func:`bot.parse.processes_available`), True always, False never."""
        self.conn = conn
        self.fetcher = fetcher
        self.runtime = runtime
        self.clock = clock
        self.on_queued = on_queued
        # Few workers bound the memory of parsing several large feeds at once (RELIABILITY D14).
        self._executor = ThreadPoolExecutor(max_workers=parse_workers, thread_name_prefix="parse")
        self._parse_slots = asyncio.Semaphore(parse_workers)
        self._parse_waiting = 0  # parses requested and not finished
        self._always_processes = parse_processes is True
        use = parse_processes is True or (parse_processes is None and processes_available())
        self._processes = ParserProcesses() if use else None
        self._burst_at = -math.inf
        self._shrink_handle: asyncio.TimerHandle | None = None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._shrink_handle is not None:
            self._shrink_handle.cancel()
        if self._processes is not None:
            self._processes.close()

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
        parsed = await self._parse(result)
        if not parsed.ok:
            kind = parsed.error_kind or ErrorKind.PARSE
            return self._failed(
                feed, kind, parsed.error or str(kind), result, interval, now, dry_run=dry_run
            )
        return self._store(feed, result, parsed, rt, interval, now, dry_run=dry_run)

    async def _parse(self, result: FetchResult) -> ParsedFeed:
        self._parse_waiting += 1
        try:
            async with self._parse_slots:
                return await self._parse_now(result)
        finally:
            self._parse_waiting -= 1

    async def _parse_now(self, result: FetchResult) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        processes = self._processes if self._burst() else None
        if processes is not None:
            job = functools.partial(
                processes.parse,
                result.body,
                headers=result.headers,
                url=result.final_url,
                timeout=PARSE_DEADLINE,
            )
            fence = PARSE_DEADLINE + 10.0  # the worker is killed at PARSE_DEADLINE already
        else:
            job = functools.partial(
                parse_feed, result.body, headers=result.headers, url=result.final_url
            )
            fence = PARSE_DEADLINE
        future = loop.run_in_executor(self._executor, job)
        try:
            async with asyncio.timeout(fence):
                return await future
        except TimeoutError:
            return ParsedFeed(
                error_kind=ErrorKind.PARSE, error=f"parsing took over {PARSE_DEADLINE:.0f}s"
            )
        except Exception as exc:  # parse_feed promises not to raise; this is the last fence
            log.exception("parser crashed", extra={"url": result.url})
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parser crashed: {exc!r}"[:300])
        finally:
            if processes is not None:
                self._schedule_shrink(loop)

    def _burst(self) -> bool:
        """Whether this parse goes to a child process (see the module rules)."""
        if self._processes is None:
            return False
        if self._always_processes:
            return True
        now = time.monotonic()
        if self._parse_waiting > PROCESS_BURST:
            self._burst_at = now
        return now - self._burst_at <= PROCESS_LINGER

    def _schedule_shrink(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._shrink_handle is not None:
            self._shrink_handle.cancel()
        self._shrink_handle = loop.call_later(PROCESS_LINGER + 1.0, self._shrink)

    def _shrink(self) -> None:
        self._shrink_handle = None
        if self._processes is not None and not self._burst():
            self._processes.shrink()

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
            specs = [_Phrase(ids[p], (p,)) for p in sorted(owners)]
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
