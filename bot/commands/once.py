"""`vigil once`: one poll of every (or the named) feed, then delivery of what is due, and exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.commands.output import json_line
from bot.config import Config, Feed
from bot.deliver.console import ConsoleSender, console_pacer
from bot.deliver.limits import Pacer
from bot.deliver.sender import Sender
from bot.deliver.worker import DeliveryWorker
from bot.fetch import Fetcher
from bot.model import Outcome
from bot.pipeline import Poller, PollReport, Runtime
from bot.pipeline.cycle import poll_feeds
from bot.pipeline.scheduler import lease_seconds
from bot.secrets import Secret
from bot.service.app import api_url_from_env, fetch_policy, fulltext_stage
from bot.store import feeds as feed_rows
from bot.store import replicas
from bot.store.db import Connection, DatabaseError, connect, state_lock, transaction

ONCE_DELIVERY_DEADLINE = 300.0


def _print_alert_json(report: PollReport) -> None:
    for alert in report.alerts:
        print(
            json_line(
                {
                    "feed": alert.feed_id,
                    "item_id": alert.item.key,
                    "title": alert.item.title,
                    "link": alert.item.link,
                    "published": alert.item.published.isoformat() if alert.item.published else None,
                    "topics": list(alert.topics),
                    "chats": list(alert.chats),
                    "matched_in": list(alert.matched_in),
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
    url = config.settings.database_url
    lock = contextlib.nullcontext() if args.dry_run else state_lock(state_dir, url)
    with lock:
        conn = connect(state_dir, url=url)
        try:
            return await _once(config, conn, feeds, token, args)
        finally:
            conn.close()


async def _once(
    config: Config,
    conn: Connection,
    feeds: Sequence[Feed],
    token: Secret | None,
    args: argparse.Namespace,
) -> int:
    runtime = Runtime.build(config, console=token is None)
    if not args.dry_run:
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
    stage, article_fetcher = fulltext_stage(conn, config, lambda: runtime)
    async with Fetcher(fetch_policy(config)) as fetcher, article_fetcher:
        # Claims like a replica's (`vigil run` may be polling the same database right now).
        owner = f"{replicas.replica_id()}/once-{os.getpid()}"
        poller = Poller(
            conn, fetcher, lambda: runtime, fulltext=stage, fulltext_inline=True, owner=owner
        )
        try:
            cycle = await poll_feeds(
                poller, feeds, lease=lease_seconds(config), dry_run=args.dry_run
            )
        finally:
            poller.close()
    reports = cycle.reports
    for feed_id in cycle.busy:
        print(
            f"vigil once: feed {feed_id} is being polled by a running replica right now; "
            "that poll counts, it was not polled twice",
            file=sys.stderr,
        )
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
    leader = _live_leader(conn)
    if leader is not None and not args.dry_run:
        print(
            f"vigil once: replica {leader} leads and sends the queued alerts; not sending here",
            file=sys.stderr,
        )
    elif not args.dry_run:
        await _deliver(config, conn, token, quiet=args.json)
    summary = (
        f"{len(reports)} feed(s) polled, {len(failed)} failed, "
        + (f"{len(cycle.busy)} left to the replica polling them, " if cycle.busy else "")
        + f"{sum(r.new_items for r in reports)} new item(s), "
        f"{sum(len(r.alerts) for r in reports)} alert(s)"
        + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    print(summary, file=sys.stderr)
    return 1 if failed else 0


def _live_leader(conn: Connection) -> str | None:
    """The replica that leads on this database now, if any: two senders could send a row twice
    (SQLite: none, the state lock keeps `vigil run` away while this runs)."""
    if conn.dialect != "postgresql":
        return None
    now = time.time()
    try:
        rows = replicas.all_replicas(conn)
    except DatabaseError:
        return None
    return next(
        (r.replica_id for r in rows if r.leader and now - r.heartbeat <= replicas.ALIVE), None
    )


async def _deliver(config: Config, conn: Connection, token: Secret | None, *, quiet: bool) -> None:
    """Drains what is due now (with a deadline), so `once` also delivers."""
    sender: Sender
    if token is None:
        # --json is for scripts: the JSON lines are the output, the console text is not.
        sender = ConsoleSender(io.StringIO() if quiet else None)
    else:
        from bot.deliver.telegram import TelegramSender, make_bot  # PTB only with a token

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
