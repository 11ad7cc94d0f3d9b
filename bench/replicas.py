"""PostgreSQL against SQLite, and two replicas against one (issue 15).

- **Backends**: the in-process cold and warm cycles of :mod:`bench.polling` (a ``Poller`` over
  the ``Fetcher`` ``vigil once`` builds, every feed at once, claimed first as ``vigil once``
  claims them: :func:`bot.pipeline.cycle.poll_feeds`), once with the state in SQLite and
  once in PostgreSQL, on the same feeds. PostgreSQL runs with its defaults (fsync, synchronous
  commit) in a cluster this bench starts from Debian's binaries (tests/servers/postgres.py);
  the figure is PostgreSQL's wall time over SQLite's: cold once each, warm the median of three
  alternating runs.
- **Replicas**: twice as many feeds, baselined by ``vigil once`` into PostgreSQL, each answer
  delayed 100 ms at the server (a publisher's round trip). Then one, and then two, ``vigil run``
  replicas on that database; every feed is made due at once and the cycle ends when every feed
  row records a poll after that moment. The server counts the requests: each feed must be asked
  exactly once per cycle, whatever the number of replicas. The figure is the wall time of the
  cycle with one replica over the time with two.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import config_text, run_once, vigil_cmd, vigil_env, write_config
from bench.server import BenchServers
from bench.table import Row
from bot.config import Config, load_config
from bot.fetch import Fetcher
from bot.model import Outcome
from bot.pipeline import Poller, Runtime
from bot.pipeline.cycle import poll_feeds
from bot.pipeline.scheduler import lease_seconds
from bot.service.app import fetch_policy
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction
from tests.servers import postgres

REPEATS = 3
DELAY = 0.1


async def _cycle(config: Config, state: Path, url: str | None) -> float:
    conn = connect(state, url=url)
    try:
        runtime = Runtime.build(config, console=True)
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
        started = time.perf_counter()
        async with Fetcher(fetch_policy(config)) as fetcher:
            poller = Poller(conn, fetcher, lambda: runtime, owner="bench")
            try:
                cycle = await poll_feeds(poller, config.feeds, lease=lease_seconds(config))
                wall = time.perf_counter() - started
            finally:
                poller.close()
        reports = cycle.reports
        if len(reports) != len(config.feeds):
            raise RuntimeError(f"{len(reports)} of {len(config.feeds)} feeds polled")
        failed = [r for r in reports if r.outcome is Outcome.FAILED]
        if failed:
            raise RuntimeError(f"{len(failed)} feed(s) failed, e.g. {failed[0].error}")
        return wall
    finally:
        conn.close()


def _schema(base: str, name: str) -> str:
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.execute(f"CREATE SCHEMA {name}")
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"


def backends_row(servers: BenchServers, count: int, workdir: Path, base: str) -> Row:
    urls = servers.feeds(count, items=20)
    config = load_config(
        write_config(workdir / "backends", config_text(urls, settings={"first_run": "all"}))
    )
    sqlite_state = workdir / "backends" / "state"
    shutil.rmtree(sqlite_state, ignore_errors=True)
    pg = _schema(base, "bench_backends")
    cold_sqlite = asyncio.run(_cycle(config, sqlite_state, None))
    cold_pg = asyncio.run(_cycle(config, sqlite_state, pg))
    warm_sqlite: list[float] = []
    warm_pg: list[float] = []
    for _ in range(REPEATS):
        warm_sqlite.append(asyncio.run(_cycle(config, sqlite_state, None)))
        warm_pg.append(asyncio.run(_cycle(config, sqlite_state, pg)))
    ws, wp = statistics.median(warm_sqlite), statistics.median(warm_pg)
    cold_ratio, warm_ratio = cold_pg / cold_sqlite, wp / ws
    return Row(
        f"PostgreSQL vs SQLite, {count} feeds (cold, warm)",
        f"cold {cold_pg:.2f} s vs {cold_sqlite:.2f} s: {cold_ratio:.2f}×; warm (median of "
        f"{REPEATS}) {wp * 1000:.0f} ms vs {ws * 1000:.0f} ms: {warm_ratio:.2f}×",
        "≤ 1.5× SQLite",
        cold_ratio <= 1.5 and warm_ratio <= 1.5,
    )


def _replicas_cycle(
    count: int, config: Path, url: str, workdir: Path, servers: BenchServers, n: int
) -> tuple[float, int]:
    env = {**vigil_env(), "VIGIL_DATABASE_URL": url}
    procs = []
    try:
        for i in range(n):
            state = workdir / f"replica-{n}-{i}"
            procs.append(
                subprocess.Popen(
                    vigil_cmd("run", config, state),
                    env={**env, "VIGIL_REPLICA_ID": f"bench-{n}-{i}"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with psycopg.connect(url, autocommit=True) as db:
            _wait(lambda: _alive(db) >= n, 60, "the replicas' heartbeats")
            time.sleep(3)  # past the leader's grace: the cycle measures polling only
            servers.reset()
            started_wall, started = time.time(), time.perf_counter()
            db.execute("UPDATE feeds SET next_poll_at = 0")
            _wait(lambda: _polled_since(db, started_wall) >= count, 600, "a full cycle")
            wall = time.perf_counter() - started
        time.sleep(1)
        requests = sum(servers.stats()["statuses"].values())
        return wall, requests
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _alive(db: psycopg.Connection[tuple[object, ...]]) -> int:
    row = db.execute("SELECT count(*) FROM replicas WHERE heartbeat > %s", (time.time() - 5,))
    return int(row.fetchone()[0])  # type: ignore[index]


def _polled_since(db: psycopg.Connection[tuple[object, ...]], since: float) -> int:
    row = db.execute("SELECT count(*) FROM feeds WHERE last_poll_at >= %s", (since,))
    return int(row.fetchone()[0])  # type: ignore[index]


def _wait(ready: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached in {timeout:.0f} s")
        time.sleep(0.2)


def replicas_row(servers: BenchServers, count: int, workdir: Path, base: str) -> Row:
    urls = servers.feeds(count, items=20)
    path = write_config(workdir / "replicas", config_text(urls, settings={"jitter": "0"}))
    url = _schema(base, "bench_replicas")
    run_once(path, workdir / "replicas" / "state", {**vigil_env(), "VIGIL_DATABASE_URL": url})
    servers.call("delay", seconds=DELAY)
    try:
        one, one_requests = _replicas_cycle(count, path, url, workdir, servers, 1)
        two, two_requests = _replicas_cycle(count, path, url, workdir, servers, 2)
    finally:
        servers.call("delay", seconds=0.0)
    once_each = one_requests == count and two_requests == count
    return Row(
        f"two replicas on one PostgreSQL, {count} feeds, {DELAY * 1000:.0f} ms per answer",
        f"cycle {two:.1f} s with two vs {one:.1f} s with one: {one / two:.2f}× faster; "
        f"requests per cycle {two_requests} and {one_requests} for {count} feeds",
        "each feed polled once per cycle",
        once_each,
    )


def rows(servers: BenchServers, feeds: int, workdir: Path) -> list[Row]:
    if postgres.bindir() is None:
        return [Row("PostgreSQL rows", "skipped: no PostgreSQL server binary (initdb)", "—", None)]
    directory = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-"))
    try:
        base = postgres.start(directory, durable=True)
        return [
            backends_row(servers, feeds, workdir, base),
            replicas_row(servers, feeds * 2, workdir, base),
        ]
    finally:
        postgres.stop(directory, "immediate")
        shutil.rmtree(directory, ignore_errors=True)
