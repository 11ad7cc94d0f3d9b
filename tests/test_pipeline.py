"""The poll orchestrator over a real feed server, a real fetcher and a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.sources.reader
from bot.config import Config, parse_config
from bot.fetch import Fetcher
from bot.model import ErrorKind, Outcome
from bot.pipeline import Poller, PollReport, Runtime
from bot.service.app import fetch_policy
from bot.store import feeds as feed_rows
from bot.store import outbox, subs
from bot.store.db import Connection, connect, transaction
from tests.conftest import make_config
from tests.servers.feeds import FeedServer, rss

pytestmark = pytest.mark.usefixtures("database")  # each test on SQLite and PostgreSQL


def item(n: int, **extra: str) -> dict[str, str]:
    base = {
        "title": f"Statement {n} on the Convention Against Torture in Syria",
        "link": f"http://x.test/{n}",
        "guid": f"g{n}",
        "description": f"Text {n}",
    }
    return {**base, **extra}


PLAIN = {"title": "Weather report", "link": "http://x.test/w", "guid": "w"}


class Rig:
    """A poller for one feed id `a` at the feed server's /a.xml."""

    def __init__(self, conn: Connection, server: FeedServer, config: Config) -> None:
        self.conn = conn
        self.server = server
        self.runtime = Runtime.build(config, console=False)
        self.fetcher = Fetcher(fetch_policy(config))
        self.poller = Poller(conn, self.fetcher, lambda: self.runtime)
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})

    async def poll(self, feed_id: str = "a", *, dry_run: bool = False) -> PollReport:
        return await self.poller.poll(self.runtime.config.feed(feed_id), dry_run=dry_run)

    def queued(self) -> list[tuple[str, str]]:
        rows = self.conn.execute("SELECT chat_id, statement_key FROM outbox ORDER BY id")
        return [(r[0], r[1]) for r in rows]


async def rig_for(
    tmp_path: Path, server: FeedServer, extra: str = "", first_run: str = "baseline"
) -> AsyncIterator[Rig]:
    text = make_config(
        {"a": server.url("/a.xml"), "b": server.url("/b.xml")},
        'channels:\n  - chat: "-100"\n' + extra,
    ).replace(
        "allow_private_networks: true", f"allow_private_networks: true\n  first_run: {first_run}"
    )
    rig = Rig(connect(tmp_path), server, parse_config(text))
    try:
        yield rig
    finally:
        await rig.fetcher.aclose()
        rig.poller.close()


@pytest.fixture
async def rig(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Rig]:
    """A baseline-mode rig with one channel "-100" for every topic."""
    async for r in rig_for(tmp_path, feed_server):
        yield r


async def test_baseline_then_new_match_is_queued_once(rig: Rig) -> None:
    """First poll remembers without alerting; a new matching item is queued once per chat."""
    rig.server.set("/a.xml", rss([item(1), PLAIN]))
    first = await rig.poll()
    assert (first.outcome, first.new_items, first.alerts) == (Outcome.OK, 2, ())
    rig.server.set("/a.xml", rss([item(2), item(1), PLAIN]))
    second = await rig.poll()
    assert [a.item.key for a in second.alerts] == ["g2"]
    assert rig.queued() == [("-100", "link:http://x.test/2")]
    third = await rig.poll()
    assert third.outcome is Outcome.NOT_MODIFIED
    assert len(rig.queued()) == 1


@pytest.mark.parametrize(
    ("first_run", "expected"),
    [("all", ["g3", "g2", "g1"]), ("{latest: 2}", ["g3", "g2"]), ("baseline", [])],
    ids=["all", "latest-2", "baseline"],
)
async def test_first_run_modes(
    tmp_path: Path, feed_server: FeedServer, first_run: str, expected: list[str]
) -> None:
    """first_run decides which of a new feed's items may alert."""
    feed_server.set("/a.xml", rss([item(3), item(2), item(1)]))
    async for rig in rig_for(tmp_path, feed_server, first_run=first_run):
        report = await rig.poll()
        assert sorted(a.item.key for a in report.alerts) == sorted(expected)


async def test_guid_churn_is_not_resent(rig: Rig) -> None:
    """Every GUID rewritten but links unchanged: remembered, nothing queued (A9)."""
    rig.server.set("/a.xml", rss([item(1), item(2)]))
    await rig.poll()
    rig.server.set("/a.xml", rss([item(1, guid="https-g1"), item(2, guid="https-g2")]))
    report = await rig.poll()
    assert report.new_items == 2
    assert report.alerts == ()
    assert rig.queued() == []


async def test_bad_fetch_changes_nothing_but_the_error_count(rig: Rig) -> None:
    """An HTML page after a good poll keeps items and validators; errors go up."""
    rig.server.set("/a.xml", rss([item(1)]))
    await rig.poll()
    before = feed_rows.get_feed(rig.conn, "a")
    count = rig.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    rig.server.html("/a.xml")
    report = await rig.poll()
    assert report.error_kind is ErrorKind.NOT_A_FEED
    after = feed_rows.get_feed(rig.conn, "a")
    assert before is not None and after is not None
    assert (after.etag, after.last_modified) == (before.etag, before.last_modified)
    assert after.consecutive_errors == 1
    assert after.next_poll_at > before.last_poll_at  # type: ignore[operator]
    assert rig.conn.execute("SELECT count(*) FROM items").fetchone()[0] == count


async def test_retry_after_and_backoff_move_the_next_poll(rig: Rig) -> None:
    """A 429 with Retry-After 7200 schedules the next poll two hours out (clamped, B14)."""
    rig.server.status("/a.xml", 429, retry_after="7200")
    report = await rig.poll()
    assert report.error_kind is ErrorKind.RATE_LIMITED
    row = feed_rows.get_feed(rig.conn, "a")
    assert row is not None and row.last_poll_at is not None
    assert row.next_poll_at - row.last_poll_at >= 7200


async def test_feed_ttl_stretches_the_interval(rig: Rig) -> None:
    """An RSS <ttl> of 120 minutes is honoured over the 1-minute interval."""
    body = rss([item(1)]).replace(b"<description>test</description>", b"<ttl>120</ttl>")
    rig.server.set("/a.xml", body)
    report = await rig.poll()
    row = feed_rows.get_feed(rig.conn, "a")
    assert row is not None and row.last_poll_at is not None
    assert report.next_poll_at - row.last_poll_at >= 120 * 60


async def test_same_statement_through_two_feeds_reaches_a_chat_once(rig: Rig) -> None:
    """Two feeds carrying the same link queue one row per chat."""
    rig.server.set("/a.xml", rss([]))
    rig.server.set("/b.xml", rss([]))
    await rig.poll("a")
    await rig.poll("b")
    rig.server.set("/a.xml", rss([item(5)]))
    rig.server.set("/b.xml", rss([item(5, guid="other-id")]))
    await rig.poll("a")
    await rig.poll("b")
    assert rig.queued() == [("-100", "link:http://x.test/5")]


async def test_subscribers_and_phrases_are_routed(rig: Rig) -> None:
    """A topic subscriber and the owner of a matching phrase both get the statement."""
    with transaction(rig.conn):
        subs.ensure_chat(rig.conn, "7", "private", "", 1)
        subs.subscribe(rig.conn, "7", ["cat"], 1)
        subs.ensure_chat(rig.conn, "8", "private", "", 1)
        subs.track(rig.conn, "8", "hearings", 1)
        subs.ensure_chat(rig.conn, "9", "private", "", 1)
        subs.subscribe(rig.conn, "9", ["cat"], 1)
        subs.set_mute(rig.conn, "9", 10**12)
    rig.server.set("/a.xml", rss([]))
    await rig.poll()
    rig.server.set("/a.xml", rss([item(6, description="The hearings open")]))
    await rig.poll()
    assert sorted(chat for chat, _ in rig.queued()) == ["-100", "7", "8"]


async def test_dry_run_writes_nothing(rig: Rig) -> None:
    """A dry run reports alerts but leaves items, outbox and feed rows untouched."""
    rig.server.set("/a.xml", rss([PLAIN]))
    await rig.poll()
    rig.server.set("/a.xml", rss([item(7), PLAIN]))
    before = feed_rows.get_feed(rig.conn, "a")
    report = await rig.poll(dry_run=True)
    assert [a.item.key for a in report.alerts] == ["g7"]
    assert feed_rows.get_feed(rig.conn, "a") == before
    assert rig.queued() == []
    assert outbox.backlog(rig.conn).pending == 0


def process_poller(rig: Rig, parse_processes: bool | None) -> Poller:
    return Poller(rig.conn, rig.fetcher, lambda: rig.runtime, parse_processes=parse_processes)


async def test_burst_parses_in_child_processes_then_stops_them(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More bodies waiting than PROCESS_BURST go to child processes, which stop after the
    linger time; the results are those of the thread path."""
    monkeypatch.setattr(bot.sources.reader, "processes_available", lambda: True)
    monkeypatch.setattr(bot.sources.reader, "PROCESS_BURST", 1)
    monkeypatch.setattr(bot.sources.reader, "PROCESS_LINGER", 0.0)
    poller = process_poller(rig, None)
    assert poller.reader.processes is not None
    try:
        rig.server.set("/a.xml", rss([item(1), PLAIN]))
        rig.server.set("/b.xml", rss([item(2)]))
        feeds = [rig.runtime.config.feed("a"), rig.runtime.config.feed("b")]
        reports = await asyncio.gather(*(poller.poll(f) for f in feeds))
        assert [(r.outcome, r.new_items) for r in reports] == [(Outcome.OK, 2), (Outcome.OK, 1)]
        assert poller.reader.processes.started >= 1
        await asyncio.sleep(1.5)  # PROCESS_LINGER + 1 s: the idle children are stopped
        assert poller.reader.processes.started == 0
    finally:
        poller.close()


async def test_child_parse_past_deadline_fails_the_feed_then_recovers(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a child process the deadline kills the parse; state is kept; the next poll works."""
    poller = process_poller(rig, True)
    try:
        rig.server.set("/a.xml", rss([item(1)]))
        monkeypatch.setattr(bot.sources.reader, "PARSE_DEADLINE", 0.01)  # shorter than a start-up
        late = await poller.poll(rig.runtime.config.feed("a"))
        assert late.error_kind is ErrorKind.PARSE
        assert late.error == "parsing took over 0s"
        monkeypatch.setattr(bot.sources.reader, "PARSE_DEADLINE", 60.0)
        again = await poller.poll(rig.runtime.config.feed("a"))
        assert (again.outcome, again.new_items) == (Outcome.OK, 1)
    finally:
        poller.close()
