"""Poll cycles: cold and warm, Vigil against a naive loop and against the physical floor.

How each figure is taken (rows 1, 2, 8 and 9 of the table):

- **Cold**: ``vigil once`` (a process of its own, start-up included) on a fresh state directory
  with ``first_run: all``, so every one of the N × 20 statements is parsed, run through the
  matcher (none matches) and stored. The baseline is the loop simple bots run: ``for url in urls:
  feedparser.parse(url)``, in this process, sequentially, nothing stored.
- **Warm**: the same feeds, unchanged, polled again with the validators Vigil stored; the server
  answers 304 to a matching If-None-Match. Vigil is measured in this process (a :class:`Poller`
  over the same :class:`Fetcher` ``vigil once`` builds) because a second of interpreter start-up
  would otherwise dominate a loopback cycle; ``vigil once`` is reported beside it. The floor is
  bare concurrent ``httpx`` GETs of the same URLs carrying the same If-None-Match, with the same
  per-host and overall limits (Vigil's defaults, 2 and 16, with the feeds on 8 loopback hosts);
  Vigil and the floor alternate three times and the medians are compared.
- **Costs for the paper estimate**: CPU time of the in-process cycles — this process plus the
  parse worker processes a burst starts (reaped when the poller closes, so counted in
  ``RUSAGE_CHILDREN``); the servers run in another process and are not counted — for a cold
  poll (20 new items), a warm poll (304) and an unchanged feed served without validators (200,
  all items already known), and the bytes the server counted per request of each kind.
- **Unchanged without validators** (row 9): the server stops sending ETag and Last-Modified
  and answers 200 with the same bytes; Vigil hashes the body, finds the hash of its last read
  and parses nothing. Then the stored hashes are cleared and the same cycle is read in full,
  which is the cost before the skip (and the "full parse" figure of row 8).
- **feedparser's share**: the cold cycle's bodies, fetched once, parsed again in this process by
  ``bot.sources.feed.parse_feed`` and by bare ``feedparser.parse`` with the options and response
  headers Vigil passes (``content-location`` makes feedparser resolve element links: its own work).
"""

from __future__ import annotations

import asyncio
import io
import resource
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx

from bench.common import config_text, fmt_bytes, fmt_s, run_once, vigil_env, write_config
from bench.server import BenchServers
from bench.table import Row
from bot.config import Config, load_config
from bot.fetch import Fetcher
from bot.model import Outcome
from bot.pipeline import Poller, PollReport, Runtime
from bot.service.app import fetch_policy
from bot.sources.feed import parse_feed
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction

ITEMS_PER_FEED = 20
REPEATS = 3
_RSS_TYPE = "application/rss+xml; charset=utf-8"
NETWORK_DELAY = 0.1  # seconds each feed answer waits in the "with latency" cold run


@dataclass
class Cycle:
    wall: float
    cpu: float
    outcomes: Counter[str]
    statuses: dict[str, int]
    bytes_in: int
    bytes_out: int
    bytes_by_status: dict[str, int]


@dataclass
class PollingResult:
    feeds: int
    naive: float
    cli_cold: float
    naive_delayed: float
    cli_cold_delayed: float
    cli_warm: float
    cli_warm_304: float
    cold: Cycle
    warm: list[Cycle]
    floor: list[float]
    known: Cycle  # unchanged bodies without validators, read again (body hashes cleared)
    skipped: Cycle  # the same, with the body hashes of the last read: nothing parsed
    parse_feed_s: float
    feedparser_s: float
    body_bytes: float


async def _vigil_cycle(config: Config, state: Path) -> tuple[float, float, list[PollReport]]:
    conn = connect(state)
    try:
        runtime = Runtime.build(config, console=True)
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
        wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        async with Fetcher(fetch_policy(config)) as fetcher:
            poller = Poller(conn, fetcher, lambda: runtime)
            try:
                reports = await asyncio.gather(*(poller.poll(feed) for feed in config.feeds))
                wall = time.perf_counter() - wall
            finally:
                poller.close()  # stops and reaps the parse workers: their CPU is counted now
        cpu = time.process_time() - cpu + _children_cpu() - children
        return wall, cpu, list(reports)
    finally:
        conn.close()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def vigil_cycle(servers: BenchServers, config: Config, state: Path) -> Cycle:
    """One in-process poll of every feed, with what the server saw meanwhile."""
    servers.reset()
    wall, cpu, reports = asyncio.run(_vigil_cycle(config, state))
    failed = [r for r in reports if r.outcome is Outcome.FAILED]
    if failed:
        raise RuntimeError(f"{len(failed)} feed(s) failed, e.g. {failed[0].error}")
    stats = servers.stats()
    return Cycle(
        wall=wall,
        cpu=cpu,
        outcomes=Counter(str(r.outcome) for r in reports),
        statuses=stats["statuses"],
        bytes_in=stats["bytes_in"],
        bytes_out=stats["bytes_out"],
        bytes_by_status=stats["bytes_by_status"],
    )


async def _floor(urls: list[str], etags: dict[str, str | None], config: Config) -> float:
    settings = config.settings
    started = time.perf_counter()
    limits = httpx.Limits(
        max_connections=settings.max_concurrency,
        max_keepalive_connections=settings.max_concurrency,
    )
    overall = asyncio.Semaphore(settings.max_concurrency)
    per_host: dict[str, asyncio.Semaphore] = {}
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30.0) as client:

        async def get(url: str) -> None:
            host = httpx.URL(url).host
            slot = per_host.setdefault(host, asyncio.Semaphore(settings.per_host_concurrency))
            etag = etags.get(url)
            async with slot, overall:
                response = await client.get(url, headers={"If-None-Match": etag} if etag else {})
                if response.status_code not in (200, 304):
                    raise RuntimeError(f"floor GET {url}: HTTP {response.status_code}")

        await asyncio.gather(*(get(url) for url in urls))
    return time.perf_counter() - started


def naive_loop(urls: list[str]) -> float:
    """What simple bots do: fetch and parse every feed in turn, every cycle."""
    started = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        if len(parsed.entries) != ITEMS_PER_FEED:
            raise RuntimeError(f"naive loop read {len(parsed.entries)} entries from {url}")
    return time.perf_counter() - started


def _parse_share(urls: list[str]) -> tuple[float, float, float]:
    """(parse_feed seconds, bare feedparser seconds, mean body bytes) over the feeds' bodies."""
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        fetched = [client.get(url) for url in urls]
    bodies = [(r.content, dict(r.headers), url) for r, url in zip(fetched, urls, strict=True)]
    started = time.perf_counter()
    for body, headers, url in bodies:
        parse_feed(body, headers={k.lower(): v for k, v in headers.items()}, url=url)
    vigil = time.perf_counter() - started
    started = time.perf_counter()
    for body, _headers, url in bodies:
        feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-type": _RSS_TYPE, "content-location": url},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    bare = time.perf_counter() - started
    return vigil, bare, statistics.fmean(len(b) for b, _, _ in bodies)


def measure(servers: BenchServers, count: int, workdir: Path) -> PollingResult:
    urls = servers.feeds(count, items=ITEMS_PER_FEED)
    path = write_config(workdir / "polling", config_text(urls, settings={"first_run": "all"}))
    config = load_config(path)
    env = vigil_env()

    naive = naive_loop(urls)

    cli_state = workdir / "polling" / "state-cli"
    shutil.rmtree(cli_state, ignore_errors=True)
    cli_cold, _ = run_once(path, cli_state, env)
    servers.reset()
    cli_warm, _ = run_once(path, cli_state, env)
    statuses = servers.stats()["statuses"]
    cli_warm_304 = statuses.get("304", 0) / max(1, sum(statuses.values()))

    state = workdir / "polling" / "state"
    shutil.rmtree(state, ignore_errors=True)
    cold = vigil_cycle(servers, config, state)
    conn = connect(state)
    try:
        etags = {row.url: row.etag for row in feed_rows.all_feeds(conn)}
    finally:
        conn.close()
    warm: list[Cycle] = []
    floor: list[float] = []
    for _ in range(REPEATS):
        warm.append(vigil_cycle(servers, config, state))
        floor.append(asyncio.run(_floor(urls, etags, config)))
    servers.call("delay", seconds=NETWORK_DELAY)
    try:
        naive_delayed = naive_loop(urls)
        delayed_state = workdir / "polling" / "state-delayed"
        shutil.rmtree(delayed_state, ignore_errors=True)
        cli_cold_delayed, _ = run_once(path, delayed_state, env)
    finally:
        servers.call("delay", seconds=0.0)
    servers.call("conditional", on=False)
    try:
        skipped = vigil_cycle(servers, config, state)  # same bytes as the last read: no parse
        conn = connect(state)
        try:
            conn.execute("UPDATE feeds SET body_hash = NULL")
        finally:
            conn.close()
        known = vigil_cycle(servers, config, state)  # the same, read in full
        parse_s, bare_s, body = _parse_share(urls)
    finally:
        servers.call("conditional", on=True)
    return PollingResult(
        feeds=count,
        naive=naive,
        cli_cold=cli_cold,
        naive_delayed=naive_delayed,
        cli_cold_delayed=cli_cold_delayed,
        cli_warm=cli_warm,
        cli_warm_304=cli_warm_304,
        cold=cold,
        warm=warm,
        floor=floor,
        known=known,
        skipped=skipped,
        parse_feed_s=parse_s,
        feedparser_s=bare_s,
        body_bytes=body,
    )


def cold_row(r: PollingResult) -> Row:
    speedup = r.naive_delayed / r.cli_cold_delayed
    loopback = r.naive / r.cli_cold
    inproc = r.naive / r.cold.wall
    delay = f"{NETWORK_DELAY * 1000:.0f} ms"
    return Row(
        what=f"cold poll cycle, {r.feeds} feeds × {ITEMS_PER_FEED} items, all new",
        measured=(
            f"with {delay} per answer: `vigil once` {fmt_s(r.cli_cold_delayed)} vs naive "
            f"feedparser loop {fmt_s(r.naive_delayed)}: {speedup:.1f}×; bare loopback: "
            f"{fmt_s(r.cli_cold)} vs {fmt_s(r.naive)}: {loopback:.1f}× (in-process "
            f"{fmt_s(r.cold.wall)}: {inproc:.1f}×)"
        ),
        target="≥ 10× faster",
        met=speedup >= 10,
        notes=[
            f"cold: judged with every feed answer delayed {delay} at the server, standing in "
            "for a real publisher's round trip and server time (loopback has none; 100 ms is "
            "low for ministry and UN sites). On bare loopback both sides are pure CPU and "
            "Vigil parses the same bytes as the naive loop, so only the second core (parse "
            "workers) can win there: that figure shows the parse floor, not the target.",
            f"cold: first_run: all, so all {r.feeds * ITEMS_PER_FEED} statements are parsed, "
            f"matched ({_keywords()} keywords, none hits) and stored; `vigil once` wall time "
            "includes interpreter start-up. With that many bodies waiting, Vigil parses in 2 "
            "child processes (bot/sources/workers.py ParserProcesses; threads share one core "
            "under the GIL). Parse cost, same bodies, one thread: feedparser alone "
            "(Vigil's options) "
            f"{fmt_s(r.feedparser_s)}, Vigil's whole parse stage (decode, DTD strip, "
            f"feedparser, HTML→text) {fmt_s(r.parse_feed_s)} = "
            f"{100 * r.parse_feed_s / r.cold.cpu:.0f}% of the in-process cycle's CPU "
            f"({fmt_s(r.cold.cpu)}, parse workers included; wall {fmt_s(r.cold.wall)}).",
        ],
    )


def warm_row(r: PollingResult) -> Row:
    vigil = statistics.median(c.wall for c in r.warm)
    floor = statistics.median(r.floor)
    ratio = vigil / floor
    answered = [c.statuses.get("304", 0) / max(1, sum(c.statuses.values())) for c in r.warm]
    share = min(answered)
    return Row(
        what=f"warm poll cycle, {r.feeds} feeds unchanged",
        measured=(
            f"in-process {fmt_s(vigil)} vs floor {fmt_s(floor)}: {ratio:.2f}×; "
            f"{100 * share:.1f}% answered 304 (`vigil once` {fmt_s(r.cli_warm)}, "
            f"{100 * r.cli_warm_304:.1f}% 304)"
        ),
        target="≤ 1.3× the floor; ≥ 99% 304",
        met=ratio <= 1.3 and share >= 0.99 and r.cli_warm_304 >= 0.99,
        notes=[
            "warm: medians of 3 alternating runs; feeds spread over 8 loopback addresses so the "
            "default limits (2 per host, 16 overall) apply as on the internet; the floor is bare "
            "httpx GETs with the same If-None-Match and the same limits. `vigil once` adds "
            f"about {fmt_s(max(0.0, r.cli_warm - vigil))} of interpreter start-up and config "
            "loading, which is why the target is judged in-process."
        ],
    )


def skip_row(r: PollingResult) -> Row:
    """An unchanged body served without validators costs about what a 304 costs."""
    cpu_304 = statistics.median(c.cpu for c in r.warm) / r.feeds
    cpu_skip = r.skipped.cpu / r.feeds
    cpu_parse = r.known.cpu / r.feeds
    ratio = cpu_skip / max(cpu_304, 1e-9)
    return Row(
        what=f"unchanged body without validators, {r.feeds} feeds",
        measured=(
            f"{cpu_skip * 1000:.2f} ms CPU per poll (body hash equal: not parsed) vs "
            f"{cpu_304 * 1000:.2f} ms for a 304: {ratio:.2f}×; read in full it costs "
            f"{cpu_parse * 1000:.2f} ms"
        ),
        target="≤ 2× a 304",
        met=ratio <= 2.0,
    )


def _keywords() -> int:
    from bench.common import _TOPICS

    return sum(len(k) for k in _TOPICS.values())


def scale_row(r: PollingResult, feeds: int = 100_000, interval: float = 900.0) -> Row:
    """100,000 feeds every 15 minutes, from the measured per-poll costs."""
    per_s = feeds / interval
    cpu_304 = statistics.median(c.cpu for c in r.warm) / r.feeds
    cpu_200 = r.known.cpu / r.feeds
    cpu_cold = r.cold.cpu / r.feeds
    bytes_304 = statistics.median(
        (c.bytes_in + c.bytes_out) / max(1, sum(c.statuses.values())) for c in r.warm
    )
    bytes_200 = (r.known.bytes_in + r.known.bytes_out) / r.feeds

    def load(changed: float) -> tuple[float, float]:
        cpu = per_s * (changed * cpu_200 + (1 - changed) * cpu_304)
        return cpu, per_s * (changed * bytes_200 + (1 - changed) * bytes_304)

    cpu_10, bytes_10 = load(0.10)
    cpu_all, bytes_all = load(1.0)
    hold_10 = int(0.7 * interval / (0.1 * cpu_200 + 0.9 * cpu_304))
    hold_all = int(0.7 * interval / cpu_200)
    measured = (
        f"{per_s:.0f} req/s; CPU {cpu_10:.2f} core (10% of feeds changed per poll) to "
        f"{cpu_all:.2f} core (no feed answers 304); {fmt_bytes(bytes_10)}/s to "
        f"{fmt_bytes(bytes_all)}/s"
    )
    paragraph = (
        f"scale: measured per poll: {cpu_304 * 1000:.2f} ms CPU for a 304, "
        f"{cpu_200 * 1000:.2f} ms for an unchanged {fmt_bytes(r.body_bytes)} feed served "
        f"without validators (full parse, nothing new), {cpu_cold * 1000:.2f} ms for a cold "
        f"poll of {ITEMS_PER_FEED} new items; {fmt_bytes(bytes_304)} on the wire for a 304, "
        f"{fmt_bytes(bytes_200)} for a 200 (CPU includes the parse workers). Vigil's main "
        "process is held to one core by the GIL; only parsing spills into child processes, "
        "and only in bursts, so the estimate counts one core of the two, kept at 70% "
        f"(conservative when most polls parse): one 2-core machine holds about "
        f"{hold_10:,} feeds at 15 minutes when 10% change per poll, and {hold_all:,} when "
        f"none answers 304. At 100,000 feeds CPU breaks first when many publishers ignore "
        f"conditional GET (parsing unchanged bodies is {cpu_200 / max(cpu_304, 1e-9):.0f}× "
        "the cost of a 304); before that, fetch concurrency does: real servers answer in "
        f"0.2–1 s, so {per_s:.0f} req/s needs max_concurrency ≥ {per_s * 0.5:.0f} at 0.5 s "
        "(the default 16 carries about 30 feeds/s, ~28,000 feeds at 15 min). Bandwidth "
        f"({fmt_bytes(bytes_all * 8)}it/s at worst, with {fmt_bytes(r.body_bytes)} bodies) "
        "and SQLite (one small transaction per poll) are far from their limits; real feeds "
        "of 50–200 KB multiply the parse cost and bytes by 5–15 and move the CPU limit down "
        "accordingly."
    )
    return Row(
        what="scale on paper: 100,000 feeds at 15 min",
        measured=measured,
        target="paragraph: what one 2-core machine holds, what breaks first",
        met=None,
        notes=[paragraph],
    )
