"""The real-world corpus (issue 4, item 7): feedparser's own 2,107 test feeds through Vigil.

Enabled when ``VIGIL_FEED_CORPUS`` names a folder (``.ci/run`` points it at
``../shared/feedparser-corpus`` when that exists; the corpus is not part of this repo). Every
file below it is served by the local feed server and polled by the real ``Poller`` — fetch,
parse in a worker, match, render, store — with bounded concurrency, ``first_run: all`` so that
every matching item is rendered and queued. Rules checked:

- no poll raises and none outlives its per-file deadline (a hang is a failure, not a skip);
- resident memory grows by a bounded amount over the whole run;
- every queued alert is a message the Bot API test server's parser accepts;
- a sane majority of the files parse; the rest are rejected with a classified reason, and a
  summary (parsed / rejected by reason / time) is printed.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.fetch import Fetcher
from bot.model import Outcome
from bot.pipeline import Poller, PollReport, Runtime
from bot.service.app import fetch_policy
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction
from tests.servers.botapi import visible_text
from tests.servers.feeds import FeedServer

pytestmark = pytest.mark.slow

CONCURRENCY = 16
PER_FILE_DEADLINE = 60.0  # the fetch deadline is 5 s and the parse deadline 60 s
MAX_RSS_GROWTH_MB = 512
MIN_PARSED_SHARE = 0.6

TOPICS = """
topics:
  words:
    name: Common words
    keywords: [example, feed, entry, title, test, "tortur*"]
  caesar:
    name: Caesar Act
    keywords: [Caesar Act]
"""


def corpus_dir() -> Path:
    folder = os.environ.get("VIGIL_FEED_CORPUS", "").strip()
    if not folder or not Path(folder).is_dir():
        pytest.skip("VIGIL_FEED_CORPUS does not name a folder")
    return Path(folder)


def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_corpus_through_the_real_pipeline(tmp_path: Path, feed_server: FeedServer) -> None:
    """Every corpus file is fetched, parsed, matched and rendered without crash or hang."""
    root = corpus_dir()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert files, f"{root} holds no files"
    paths = {f"f{n}": file for n, file in enumerate(files)}
    for feed_id, file in paths.items():
        feed_server.set(f"/{feed_id}", file.read_bytes(), content_type="application/xml")
    feeds = "\n".join(f"  - id: {fid}\n    url: {feed_server.url('/' + fid)}" for fid in paths)
    config = parse_config(
        "settings:\n  timeout: 5s\n  first_run: all\n  allow_private_networks: true\n"
        f"  max_concurrency: {CONCURRENCY}\n  per_host_concurrency: {CONCURRENCY}\n"
        f"{TOPICS}feeds:\n{feeds}\n"
    )
    conn = connect(tmp_path / "state")
    runtime = Runtime.build(config, console=True)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
    slots = asyncio.Semaphore(CONCURRENCY)
    hung: list[str] = []

    async def poll(poller: Poller, feed_id: str) -> PollReport | None:
        async with slots:
            try:
                return await asyncio.wait_for(poller.poll(config.feed(feed_id)), PER_FILE_DEADLINE)
            except TimeoutError:
                hung.append(str(paths[feed_id].relative_to(root)))
                return None

    rss_before = rss_mb()
    started = time.monotonic()
    async with Fetcher(fetch_policy(config)) as fetcher:
        poller = Poller(conn, fetcher, lambda: runtime)
        try:
            reports = await asyncio.gather(*(poll(poller, fid) for fid in paths))
        finally:
            poller.close()
    elapsed = time.monotonic() - started
    growth = rss_mb() - rss_before

    outcomes: Counter[str] = Counter()
    for report in reports:
        if report is None:
            continue
        if report.outcome is Outcome.OK:
            outcomes["parsed"] += 1
        else:
            outcomes[f"rejected: {report.error_kind}"] += 1
    alerts = conn.execute("SELECT text_html FROM outbox").fetchall()
    for (html_text,) in alerts:
        assert 0 < len(visible_text(html_text, "HTML")) <= 4096
    items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    conn.close()

    summary = ", ".join(f"{reason} {count}" for reason, count in outcomes.most_common())
    print(
        f"\ncorpus: {len(files)} files in {elapsed:.1f} s; {summary}; hung {len(hung)}; "
        f"{items} items stored, {len(alerts)} alerts rendered; peak RSS +{growth:.0f} MB"
    )
    assert hung == []
    assert sum(outcomes.values()) == len(files)
    assert outcomes["parsed"] >= MIN_PARSED_SHARE * len(files), outcomes
    assert growth < MAX_RSS_GROWTH_MB
