"""Warm cycle over page sources that did not change (row 3): no parse, near the bare-GET floor.

N listing pages (Drupal Views, 20 entries, automatic mode) are served by the bench server
without validators, as many government sites send them, so every poll is a full 200 of the
same bytes. After one cold cycle (baseline), Vigil polls them again in this process (a
:class:`Poller` over the :class:`Fetcher` `vigil once` builds, as the warm feed row): the body
hashes as the last good read, so nothing may be parsed — the bench wraps the poller's reader
and fails if it was called at all. The floor is bare concurrent ``httpx`` GETs of the same pages
with the same per-host and overall limits; three alternating runs each, medians compared.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import config_text, fmt_s, write_config
from bench.polling import _children_cpu, _floor
from bench.server import BenchServers
from bench.table import Row
from bot.config import Config, load_config
from bot.fetch import Fetcher
from bot.model import Outcome
from bot.pipeline import Poller, Runtime
from bot.service.app import fetch_policy
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction

REPEATS = 3


async def _cycle(config: Config, state: Path) -> tuple[float, float, int, int]:
    """(wall, CPU, bodies read, failed polls) of one in-process poll of every source."""
    conn = connect(state)
    try:
        runtime = Runtime.build(config, console=True)
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
        reads = 0
        wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        async with Fetcher(fetch_policy(config)) as fetcher:
            poller = Poller(conn, fetcher, lambda: runtime)
            read = poller.reader.read

            async def counted(*args: Any, **kwargs: Any) -> Any:
                nonlocal reads
                reads += 1
                return await read(*args, **kwargs)

            poller.reader.read = counted  # type: ignore[method-assign]
            try:
                reports = await asyncio.gather(*(poller.poll(feed) for feed in config.feeds))
                wall = time.perf_counter() - wall
            finally:
                poller.close()
        cpu = time.process_time() - cpu + _children_cpu() - children
        failed = sum(1 for r in reports if r.outcome is Outcome.FAILED)
        return wall, cpu, reads, failed
    finally:
        conn.close()


def warm_pages_row(servers: BenchServers, count: int, workdir: Path) -> Row:
    urls = servers.pages(count)
    directory = workdir / "pages"
    shutil.rmtree(directory, ignore_errors=True)
    config = load_config(write_config(directory, config_text([], pages=urls)))
    state = directory / "state"
    _, _, cold_reads, failed = asyncio.run(_cycle(config, state))
    if failed or cold_reads != count:
        raise RuntimeError(f"cold page cycle: {failed} failed, {cold_reads} of {count} read")
    walls: list[float] = []
    cpus: list[float] = []
    floors: list[float] = []
    reads = 0
    for _ in range(REPEATS):
        servers.reset()
        wall, cpu, parsed, failed = asyncio.run(_cycle(config, state))
        statuses = servers.stats()["statuses"]
        if failed or statuses.get("200", 0) != count:
            raise RuntimeError(f"warm page cycle: {failed} failed, statuses {statuses}")
        walls.append(wall)
        cpus.append(cpu)
        reads += parsed
        floors.append(asyncio.run(_floor(urls, {}, config)))
    vigil, floor = statistics.median(walls), statistics.median(floors)
    ratio = vigil / floor
    return Row(
        what=f"warm cycle, {count} page sources unchanged (no validators)",
        measured=(
            f"in-process {fmt_s(vigil)} vs bare-GET floor {fmt_s(floor)}: {ratio:.2f}×; "
            f"{reads} of {count * REPEATS} bodies parsed; "
            f"{statistics.median(cpus) / count * 1000:.2f} ms CPU per poll"
        ),
        target="≤ 1.3× the floor, no parse",
        met=ratio <= 1.3 and reads == 0,
        notes=[
            "warm pages: Drupal Views listings of 20 entries (automatic mode) served as 200 "
            "without ETag or Last-Modified; Vigil hashes each body, finds the hash of its last "
            "good read and parses nothing (the bench counts calls to the poller's reader). "
            "Floor: bare httpx GETs of the same pages with the same limits (2 per host, 16 "
            "overall, 8 loopback hosts); medians of 3 alternating runs."
        ],
    )
