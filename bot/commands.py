"""What each `vigil` subcommand does, behind the argument parsing of :mod:`bot.cli`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.app import Options, api_url_from_env, fetch_policy, run_service
from bot.config import Config, ConfigError, load_config
from bot.deliver.console import ConsoleSender, console_pacer
from bot.deliver.limits import Pacer
from bot.deliver.sender import Sender
from bot.deliver.telegram import TelegramSender, make_bot
from bot.deliver.worker import DeliveryWorker
from bot.fetch import Fetcher
from bot.match.topics import Matcher
from bot.model import Field, Hit, Item, Outcome, TopicMatch
from bot.parse import parse_feed
from bot.pipeline import Poller, PollReport, Runtime
from bot.secrets import Secret
from bot.store import feeds as feed_rows
from bot.store import outbox
from bot.store import runtime as runtime_rows
from bot.store.db import StateLock, connect, transaction
from bot.text import clean_text, html_to_text

ONCE_DELIVERY_DEADLINE = 300.0
HEARTBEAT_MAX_AGE = 60.0
OUTBOX_STUCK_AFTER = 900.0


def _line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


# ---------------------------------------------------------------- check


def check(path: Path) -> int:
    try:
        config = load_config(path)
        Matcher.compile(config.topics)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{path}: invalid ({len(exc.problems)} problem(s))", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{path.name}: topics: {exc}")
        return 2
    print(f"{path}: valid")
    print(f"  feeds:    {len(config.feeds)} ({', '.join(f.id for f in config.feeds)})")
    print(f"  topics:   {len(config.topics)} ({', '.join(t.id for t in config.topics)})")
    print(f"  channels: {len(config.channels)}")
    keywords = sum(len(t.keywords) for t in config.topics)
    print(f"  keywords: {keywords}")
    return 0


# ---------------------------------------------------------------- match


def _spot(text: str, hit: Hit, width: int = 40) -> str:
    start = max(0, hit.start - width)
    end = min(len(text), hit.end + width)
    before = ("…" if start else "") + text[start : hit.start]
    after = text[hit.end : end] + ("…" if end < len(text) else "")
    return clean_text(f"{before}[{text[hit.start : hit.end]}]{after}")


def _field_text(item: Item, field: Field) -> str:
    return {Field.TITLE: item.title, Field.SUMMARY: item.summary, Field.CONTENT: item.content}[
        field
    ]


def _items_from_body(body: bytes, url: str, headers: dict[str, str] | None = None) -> list[Item]:
    parsed = parse_feed(body, headers=headers or {}, url=url)
    if parsed.ok and parsed.items:
        return list(parsed.items)
    text = body.decode("utf-8", errors="replace")
    looks_html = "<" in text and ">" in text
    plain = html_to_text(text) if looks_html else clean_text(text)
    return [Item(key="text", title="", link=url or None, summary="", content=plain)]


def match(config: Config, args: argparse.Namespace) -> int:
    topics = [t for t in config.topics if not args.topic or t.id in args.topic]
    unknown = set(args.topic) - {t.id for t in config.topics}
    if unknown:
        print(f"vigil match: unknown topic(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    matcher = Matcher.compile(topics)
    sources = [s for s in (args.text, args.file, args.url) if s]
    if len(sources) != 1:
        print("vigil match: give exactly one of TEXT, --file F or --url URL", file=sys.stderr)
        return 2
    if args.text is not None:
        items = [Item(key="text", title="", link=None, summary="", content=args.text)]
    elif args.file is not None:
        try:
            body = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"vigil match: {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        items = _items_from_body(body, "")
    else:
        fetched = asyncio.run(_fetch_once(config, args.url))
        if fetched.outcome is not Outcome.OK:
            print(f"vigil match: {args.url}: {fetched.error}", file=sys.stderr)
            return 2
        items = _items_from_body(fetched.body, fetched.final_url, fetched.headers)
    names = {t.id: t.name for t in config.topics}
    found = 0
    for item in items:
        for tm in matcher.match_item(item):
            found += 1
            _print_match(item, tm, names, as_json=args.json)
    if not found and not args.json:
        print(f"no topic matched ({len(items)} text(s) tested, {len(topics)} topic(s))")
    return 0 if found else 1


def _print_match(item: Item, tm: TopicMatch, names: dict[str, str], *, as_json: bool) -> None:
    if as_json:
        print(
            _line(
                {
                    "topic": tm.topic_id,
                    "title": item.title or None,
                    "link": item.link,
                    "hits": [
                        {
                            "keyword": h.keyword,
                            "field": str(h.field),
                            "start": h.start,
                            "end": h.end,
                            "text": _field_text(item, h.field)[h.start : h.end],
                        }
                        for h in tm.hits
                    ],
                    "context": tm.context.keyword if tm.context else None,
                }
            )
        )
        return
    label = f" — {item.title}" if item.title else ""
    print(f"✔ {tm.topic_id} ({names.get(tm.topic_id, tm.topic_id)}){label}")
    for hit in tm.hits:
        text = _field_text(item, hit.field)
        print(f"    keyword {hit.keyword!r} in {hit.field} at {hit.start}: {_spot(text, hit)}")
    if tm.context is not None:
        text = _field_text(item, tm.context.field)
        print(
            f"    context {tm.context.keyword!r} in {tm.context.field}: {_spot(text, tm.context)}"
        )


async def _fetch_once(config: Config, url: str):  # type: ignore[no-untyped-def]
    async with Fetcher(fetch_policy(config)) as fetcher:
        return await fetcher.fetch(url)


# ---------------------------------------------------------------- status


def status(config: Config, state_dir: Path, *, as_json: bool) -> int:
    conn = connect(state_dir, create=False)
    try:
        rows = {row.feed_id: row for row in feed_rows.all_feeds(conn)}
        backlog = outbox.backlog(conn)
        now = time.time()
        for feed in config.feeds:
            row = rows.get(feed.id)
            sent = outbox.sent_count(conn, feed.id) if row else 0
            record = {
                "feed": feed.id,
                "name": feed.name,
                "url": feed.url,
                "last_success": _iso(row.last_success_at) if row else None,
                "last_error": row.last_error if row and row.consecutive_errors else None,
                "error_kind": row.last_error_kind if row and row.consecutive_errors else None,
                "consecutive_errors": row.consecutive_errors if row else 0,
                "items_seen": row.items_seen if row else 0,
                "alerts_sent": sent,
                "next_poll": _iso(row.next_poll_at) if row and row.next_poll_at else None,
            }
            if as_json:
                print(_line(record))
                continue
            health = "never polled"
            if row and row.consecutive_errors:
                health = (
                    f"FAILING ×{row.consecutive_errors}: {row.last_error_kind}: {row.last_error}"
                )
            elif row and row.last_success_at:
                health = "ok"
            print(f"{feed.id}  ({feed.name})  {health}")
            if row:
                nxt = row.next_poll_at
                when = "due now" if nxt <= now else _when(nxt)
                print(
                    f"    last success {_when(row.last_success_at)} · items seen "
                    f"{row.items_seen} · alerts sent {sent} · next poll {when}"
                )
        oldest = _iso(backlog.oldest_created_at)
        fatal = runtime_rows.get(conn, "fatal")
        if as_json:
            print(
                _line(
                    {
                        "outbox_pending": backlog.pending,
                        "outbox_oldest": oldest,
                        "sent": backlog.sent,
                        "failed": backlog.failed,
                        "dropped": backlog.dropped,
                        "stopped": fatal,
                    }
                )
            )
        else:
            print(
                f"outbox: {backlog.pending} pending"
                + (f" (oldest {_when(backlog.oldest_created_at)})" if oldest else "")
                + f", {backlog.sent} sent, {backlog.failed} failed, {backlog.dropped} dropped"
            )
            if fatal:
                print(f"STOPPED: {fatal}")
    finally:
        conn.close()
    return 0


# ---------------------------------------------------------------- health


def health_problem(conn: sqlite3.Connection, now: float) -> str | None:
    """The reason the service is unhealthy, or None."""
    fatal = runtime_rows.get(conn, "fatal")
    if fatal:
        return f"the service stopped: {fatal}"
    beat = runtime_rows.get(conn, "heartbeat")
    if beat is None:
        return "the service is not running (no scheduler heartbeat)"
    age = now - float(beat)
    if age > HEARTBEAT_MAX_AGE or age < -HEARTBEAT_MAX_AGE:
        return f"the scheduler has not ticked for {age:.0f}s"
    try:
        with transaction(conn):
            runtime_rows.put(conn, "health_probe", f"{now:.0f}")
    except sqlite3.Error as exc:
        return f"the state database is not writable: {exc}"
    backlog = outbox.backlog(conn)
    if (
        backlog.oldest_created_at is not None
        and now - backlog.oldest_created_at > OUTBOX_STUCK_AFTER
    ):
        last_sent = conn.execute("SELECT max(sent_at) FROM outbox").fetchone()[0]
        if last_sent is None or now - float(last_sent) > OUTBOX_STUCK_AFTER:
            return (
                f"the outbox is stuck: {backlog.pending} pending, oldest "
                f"{now - backlog.oldest_created_at:.0f}s old, nothing sent since"
            )
    return None


def health(config: Config, state_dir: Path) -> int:
    conn = connect(state_dir, create=False)
    try:
        problem = health_problem(conn, time.time())
    finally:
        conn.close()
    if problem:
        print(f"unhealthy: {problem}")
        return 1
    print("healthy")
    return 0


# ---------------------------------------------------------------- once


def _print_alert_json(report: PollReport) -> None:
    for alert in report.alerts:
        print(
            _line(
                {
                    "feed": alert.feed_id,
                    "item_id": alert.item.key,
                    "title": alert.item.title,
                    "link": alert.item.link,
                    "published": alert.item.published.isoformat() if alert.item.published else None,
                    "topics": list(alert.topics),
                    "chats": list(alert.chats),
                }
            ),
            flush=True,
        )


async def once(
    config: Config, state_dir: Path, token: Secret | None, args: argparse.Namespace
) -> int:
    unknown = set(args.feed) - {f.id for f in config.feeds}
    if unknown:
        print(f"vigil once: unknown feed(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    feeds = [f for f in config.feeds if not args.feed or f.id in args.feed]
    # A dry run only reads state, so it may run beside `vigil run` to try a topic change.
    lock = contextlib.nullcontext() if args.dry_run else StateLock(state_dir)
    with lock:
        conn = connect(state_dir)
        try:
            return await _once(config, conn, feeds, token, args)
        finally:
            conn.close()


async def _once(
    config: Config,
    conn: sqlite3.Connection,
    feeds: Sequence[object],
    token: Secret | None,
    args: argparse.Namespace,
) -> int:
    runtime = Runtime.build(config, console=token is None)
    if not args.dry_run:
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
    async with Fetcher(fetch_policy(config)) as fetcher:
        poller = Poller(conn, fetcher, lambda: runtime)
        try:
            reports = await asyncio.gather(
                *(poller.poll(feed, dry_run=args.dry_run) for feed in feeds)  # type: ignore[arg-type]
            )
        finally:
            poller.close()
    failed = [r for r in reports if r.outcome is Outcome.FAILED]
    for report in reports:
        if args.json:
            _print_alert_json(report)
        elif args.dry_run:
            for alert in report.alerts:
                print(f"would send to {', '.join(alert.chats)}:\n{alert.text_plain}\n")
    for report in failed:
        print(
            f"vigil once: feed {report.feed_id} failed: {report.error_kind}: {report.error}",
            file=sys.stderr,
        )
    if not args.dry_run:
        await _deliver(config, conn, token, quiet=args.json)
    summary = (
        f"{len(reports)} feed(s) polled, {len(failed)} failed, "
        f"{sum(r.new_items for r in reports)} new item(s), "
        f"{sum(len(r.alerts) for r in reports)} alert(s)"
        + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    print(summary, file=sys.stderr)
    return 1 if failed else 0


async def _deliver(
    config: Config, conn: sqlite3.Connection, token: Secret | None, *, quiet: bool
) -> None:
    """Drains what is due now (with a deadline), so `once` also delivers."""
    sender: Sender
    if token is None:
        # --json is for scripts: the JSON lines are the output, the console text is not.
        sender = ConsoleSender(io.StringIO() if quiet else None)
    else:
        sender = TelegramSender(make_bot(token, api_url_from_env()))
    pacer = console_pacer() if token is None else Pacer(config.telegram.rate_per_second)
    worker = DeliveryWorker(conn, sender, pacer)
    try:
        async with asyncio.timeout(ONCE_DELIVERY_DEADLINE):
            await worker.run(until_idle=True)
    except TimeoutError:
        print("vigil once: delivery deadline reached; the rest stays queued", file=sys.stderr)
    finally:
        await sender.close()
    if worker.fatal:
        print(f"vigil once: {worker.fatal}", file=sys.stderr)


# ---------------------------------------------------------------- run


async def run(config_path: Path, state_dir: Path, token: Secret | None, config: Config) -> int:
    options = Options(
        config_path=config_path, state_dir=state_dir, token=token, api_url=api_url_from_env()
    )
    return await run_service(options, config)
