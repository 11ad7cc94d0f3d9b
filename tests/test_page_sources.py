"""Page sources polled end to end: a real fetcher, the local server, a real SQLite file.

Listing pages, feed discovery, JSON Feed and Telegram channel previews served from 127.0.0.1;
every poll state (ok, empty, no_entries, layout_changed, blocked) and what it does to state.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
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
from bot.store import items as item_rows
from bot.store.db import connect, transaction
from bot.telegram.notices import notice_for_poll
from tests.conftest import make_config, vigil_cmd
from tests.pages.listings import (
    drupal_views,
    telegram_no_preview,
    telegram_preview,
)
from tests.servers.feeds import FeedServer, rss

HTML = "text/html; charset=utf-8"
CAT = ["Statement on Syria and the Convention Against Torture"]


def page_config(server: FeedServer, page: str = "", url: str = "/list") -> str:
    """Source `a` at `url` (with a `page:` block when given) and a channel for every topic."""
    text = make_config({"a": server.url(url)}, 'channels:\n  - chat: "-100"\n')
    if page:
        text = text.replace(f"url: {server.url(url)}", f"url: {server.url(url)}\n    {page}")
    return text


class PageRig:
    def __init__(self, conn: sqlite3.Connection, config: Config, **fetch: object) -> None:
        self.conn = conn
        self.runtime = Runtime.build(config, console=False)
        self.fetcher = Fetcher(fetch_policy(config), **fetch)  # type: ignore[arg-type]
        self.poller = Poller(conn, self.fetcher, lambda: self.runtime, parse_processes=False)
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})

    async def poll(self) -> PollReport:
        return await self.poller.poll(self.runtime.config.feed("a"))

    def row(self) -> feed_rows.FeedRow:
        row = feed_rows.get_feed(self.conn, "a")
        assert row is not None
        return row

    async def close(self) -> None:
        await self.fetcher.aclose()
        self.poller.close()


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[object]:
    rigs: list[PageRig] = []

    def build(text: str, **fetch: object) -> PageRig:
        rig = PageRig(connect(tmp_path), parse_config(text), **fetch)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        await rig.close()


def listing(n: int, first_title: str | None = None, prefix: str = "/en/press-releases") -> bytes:
    page, _ = drupal_views(n, titles=[first_title] if first_title else None)
    return page.replace("/en/press-releases/", prefix + "/").encode()


async def test_listing_baselines_then_alerts_only_new_entries(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """First poll baselines; a new matching row alerts once; reorder and edits alert nothing."""
    rig = make_rig(
        page_config(feed_server, 'page: {items: "div.views-row", date: "time@datetime"}')
    )
    feed_server.set("/list", listing(4, "Weather report for the week ahead"), content_type=HTML)
    first = await rig.poll()
    assert first.outcome is Outcome.OK and first.baselined == 4 and first.alerts == ()
    page, _ = drupal_views(5, titles=["Weather report for the week ahead"])
    page = page.replace("Weather report for the week ahead (4)", CAT[0])
    feed_server.set("/list", page.encode(), content_type=HTML)
    second = await rig.poll()
    assert [a.item.title for a in second.alerts] == [CAT[0]]
    shuffled = page.replace("views-row-1", "views-row-9").replace(
        "Weather report for the week ahead (0)", "Weather report, corrected"
    )
    feed_server.set("/list", shuffled.encode(), content_type=HTML)
    third = await rig.poll()
    assert third.outcome is Outcome.OK and third.new_items == 0 and third.alerts == ()


async def test_layout_change_is_held_told_and_rebaselined(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """All entries new with links of a new shape: held, nothing stored; rebaseline accepts it."""
    rig = make_rig(page_config(feed_server, "page: auto"))
    feed_server.set("/list", listing(6), content_type=HTML)
    await rig.poll()
    seen = item_rows.count_items(rig.conn, "a")
    moved, _ = drupal_views(6, titles=CAT)
    moved = moved.replace("/en/press-releases/2024/", "/node/")
    feed_server.set("/list", moved.encode(), content_type=HTML)
    held = await rig.poll()
    assert held.outcome is Outcome.FAILED and held.error_kind is ErrorKind.LAYOUT_CHANGED
    assert held.alerts == () and item_rows.count_items(rig.conn, "a") == seen
    notice = notice_for_poll(held, 1)
    assert notice is not None and "vigil rebaseline a" in notice.text
    again = await rig.poll()  # still held, never silently accepted
    assert again.error_kind is ErrorKind.LAYOUT_CHANGED
    with transaction(rig.conn):
        assert feed_rows.ask_rebaseline(rig.conn, "a")
    accepted = await rig.poll()
    assert accepted.outcome is Outcome.OK and accepted.alerts == () and accepted.new_items == 6
    assert not rig.row().rebaseline
    newer, _ = drupal_views(7, titles=CAT)
    newer = newer.replace("/en/press-releases/2024/", "/node/")
    feed_server.set("/list", newer.encode(), content_type=HTML)
    after = await rig.poll()
    assert after.outcome is Outcome.OK and len(after.alerts) == 1


@pytest.mark.parametrize("status", [401, 403, 429, 503])
async def test_blocking_statuses_are_blocked(feed_server, make_rig, status: int) -> None:  # type: ignore[no-untyped-def]
    """401/403/429/503 to a page source: blocked, and nothing seen changes."""
    rig = make_rig(page_config(feed_server, "page: auto"))
    feed_server.set("/list", listing(3), content_type=HTML)
    await rig.poll()
    before = item_rows.count_items(rig.conn, "a")
    feed_server.status("/list", status, retry_after="60" if status in (429, 503) else None)
    report = await rig.poll()
    assert report.error_kind is ErrorKind.BLOCKED
    assert rig.row().last_error_kind == "blocked" and item_rows.count_items(rig.conn, "a") == before


async def test_challenge_page_with_200_is_blocked(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """A 200 Cloudflare challenge is blocked; a 403 challenge too (cf-mitigated)."""
    rig = make_rig(page_config(feed_server, "page: auto"))
    challenge = b"<html><head><title>Just a moment...</title></head><body></body></html>"
    feed_server.set("/list", challenge, content_type=HTML)
    assert (await rig.poll()).error_kind is ErrorKind.BLOCKED
    feed_server.cloudflare("/list")
    assert (await rig.poll()).error_kind is ErrorKind.BLOCKED


async def test_no_entries_fails_and_keeps_state(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """A normal page where the selector finds nothing: no_entries, counted, nothing pruned."""
    rig = make_rig(page_config(feed_server, 'page: {items: "div.views-row"}'))
    feed_server.set("/list", listing(3), content_type=HTML)
    await rig.poll()
    feed_server.set("/list", listing(3).replace(b"views-row", b"teaser-row"), content_type=HTML)
    report = await rig.poll()
    assert report.error_kind is ErrorKind.NO_ENTRIES and "div.views-row" in (report.error or "")
    assert rig.row().consecutive_errors == 1 and item_rows.count_items(rig.conn, "a") == 3


async def test_unchanged_body_without_validators_is_not_parsed(
    feed_server, make_rig, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """No ETag, no Last-Modified, the same bytes: the second poll parses nothing (like a 304)."""
    rig = make_rig(page_config(feed_server, "page: auto"))
    feed_server.set("/list", listing(3), content_type=HTML, conditional=False)
    reads = []
    real = bot.sources.reader.read_source

    def counted(body: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
        reads.append(len(body))
        return real(body, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.sources.reader, "read_source", counted)
    assert (await rig.poll()).outcome is Outcome.OK
    second = await rig.poll()
    assert second.outcome is Outcome.NOT_MODIFIED and len(reads) == 1
    feed_server.set("/list", listing(4), content_type=HTML, conditional=False)
    third = await rig.poll()
    assert third.outcome is Outcome.OK and third.new_items == 1 and len(reads) == 2


async def test_feed_body_without_validators_is_not_parsed_twice(
    feed_server, make_rig, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The unchanged-body skip holds for plain feeds too."""
    rig = make_rig(make_config({"a": feed_server.url("/a.xml")}))
    feed_server.set("/a.xml", rss([{"title": "x", "guid": "g1"}]), conditional=False)
    reads = []
    real = bot.sources.reader.read_source
    monkeypatch.setattr(
        bot.sources.reader,
        "read_source",
        lambda body, **kw: reads.append(1) or real(body, **kw),  # type: ignore[func-returns-value]
    )
    await rig.poll()
    assert (await rig.poll()).outcome is Outcome.NOT_MODIFIED and len(reads) == 1


def advertising_page(href: str) -> bytes:
    return (
        '<html><head><title>Home</title><link rel="alternate" type="application/rss+xml" '
        f'title="Comments" href="{href}comments/"><link rel="alternate" '
        f'type="application/rss+xml" title="News" href="{href}"></head><body>Hi</body></html>'
    ).encode()


async def test_page_without_page_block_polls_the_feed_it_advertises(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """A relative advertised feed is resolved, polled, remembered; gone, it is looked up again."""
    rig = make_rig(page_config(feed_server, url="/home/"))
    feed_server.set("/home/", advertising_page("feed/"), content_type=HTML)
    feed_server.set("/home/feed/", rss([{"title": "t1", "guid": "g1", "link": "http://x/1"}]))
    first = await rig.poll()
    assert first.outcome is Outcome.OK and first.new_items == 1
    assert rig.row().source_url == feed_server.url("/home/feed/")
    feed_server.reset_stats()
    feed_server.set(
        "/home/feed/",
        rss([{"title": "t2", "guid": "g2"}, {"title": "t1", "guid": "g1", "link": "http://x/1"}]),
    )
    second = await rig.poll()
    assert second.new_items == 1
    assert [r.path for r in feed_server.requests] == ["/home/feed/"]  # the page is not refetched
    feed_server.status("/home/feed/", 404)
    gone = await rig.poll()
    assert gone.outcome is Outcome.FAILED and rig.row().source_url is None
    feed_server.set("/home/feed/", rss([{"title": "t2", "guid": "g2"}]))
    assert (await rig.poll()).outcome is Outcome.OK


async def test_page_advertising_no_feed_says_to_add_page(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """An HTML page with no advertised feed is an error naming `page:`, never a quiet success."""
    rig = make_rig(page_config(feed_server, url="/home"))
    feed_server.set("/home", listing(3), content_type=HTML)
    report = await rig.poll()
    assert report.error_kind is ErrorKind.NOT_A_FEED and "add `page:`" in (report.error or "")


async def test_advertised_feed_on_a_private_address_is_refused(tmp_path: Path) -> None:
    """A public page advertising a feed on a private address: the fetch guard refuses it."""
    async with FeedServer() as public, FeedServer() as private:
        private.set("/feed.xml", rss([{"title": "x", "guid": "g"}]))
        public.set("/home", advertising_page(private.url("/feed.xml")), content_type=HTML)
        text = make_config({"a": f"http://public.test:{public.port}/home"}).replace(
            "allow_private_networks: true", "allow_private_networks: false"
        )
        config = parse_config(text)

        async def resolver(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        rig = PageRig(
            connect(tmp_path),
            config,
            resolver=resolver,
            trusted_endpoints=[("public.test", public.port)],
        )
        try:
            report = await rig.poll()
        finally:
            await rig.close()
    assert report.error_kind is ErrorKind.REFUSED and private.requests == []


async def test_json_feed_is_read_as_a_feed(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """JSON Feed 1.1: items with ids, links, text and dates."""
    rig = make_rig(
        make_config({"a": feed_server.url("/feed.json")}, 'channels:\n  - chat: "-100"\n').replace(
            "allow_private_networks: true", "allow_private_networks: true\n  first_run: all"
        )
    )
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Statements",
        "items": [
            {"id": "1", "url": "/s/1", "title": CAT[0], "content_text": "On Syria.",
             "date_published": "2024-05-01T10:00:00+02:00"},
            {"id": 2, "url": "https://x.test/s/2", "content_html": "<p>Caesar Act sanctions</p>"},
        ],
    }  # fmt: skip
    feed_server.set("/feed.json", json.dumps(body).encode(), content_type="application/feed+json")
    report = await rig.poll()
    assert report.outcome is Outcome.OK and report.new_items == 2
    first = next(a.item for a in report.alerts if a.item.key == "1")
    assert first.link == feed_server.url("/s/1") and first.published is not None
    assert {t for a in report.alerts for t in a.topics} == {"cat", "caesar"}


async def test_telegram_channel_preview_served_locally(feed_server, make_rig) -> None:  # type: ignore[no-untyped-def]
    """Posts become items linked https://t.me/NAME/ID with their text and date."""
    rig = make_rig(page_config(feed_server, url="/s/syriadesk"))
    posts = [
        (101, "بيان حول اتفاقية مناهضة التعذيب\nفي سوريا", "2024-06-01T08:00:00+00:00"),
        (102, "Weather", "2024-06-02T08:00:00+00:00"),
    ]
    feed_server.set(
        "/s/syriadesk", telegram_preview("syriadesk", posts).encode(), content_type=HTML
    )
    report = await rig.poll()
    assert report.outcome is Outcome.OK and report.new_items == 2
    rows = rig.conn.execute("SELECT item_key, title FROM items ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["https://t.me/syriadesk/101", "https://t.me/syriadesk/102"]
    assert rows[0][1] == "بيان حول اتفاقية مناهضة التعذيب"
    feed_server.set("/s/syriadesk", telegram_no_preview("syriadesk").encode(), content_type=HTML)
    gone = await rig.poll()
    assert gone.error_kind is ErrorKind.NO_ENTRIES and "no public web preview" in (gone.error or "")


def run(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        vigil_cmd("--config", str(config), *args),
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


async def test_probe_once_status_and_rebaseline_commands(
    tmp_path: Path, vigil_env: dict[str, str], feed_server: FeedServer
) -> None:
    """`vigil probe` shows entries and the inferred selector, writing nothing; `once` exits 1
    on a layout change; `status --json` shows it as error_kind; `rebaseline` accepts it (a second
    one says it was already asked)."""

    config = tmp_path / "feeds.yaml"
    config.write_text(page_config(feed_server, "page: auto"), encoding="utf-8")
    feed_server.set("/list", listing(5), content_type=HTML)

    def vigil(*args: str) -> subprocess.CompletedProcess[str]:
        return run(vigil_env, config, *args)

    probe = await asyncio.to_thread(vigil, "probe", "a", "--json")
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["kind"] == "page" and report["state"] == "ok"
    assert report["selector"] == "div.views-row" and len(report["entries"]) == 5
    assert {"link", "title", "date", "identity"} <= set(report["entries"][0])
    assert any(d["why"] == "in the page header" for d in report["dropped"])
    assert not (tmp_path / "state").exists()  # probe wrote nothing
    assert (await asyncio.to_thread(vigil, "once")).returncode == 0
    moved = listing(5).replace(b"/en/press-releases/2024/", b"/node/")
    feed_server.set("/list", moved, content_type=HTML)
    held = await asyncio.to_thread(vigil, "once")
    assert held.returncode == 1 and "layout_changed" in held.stderr
    status = await asyncio.to_thread(vigil, "status", "--json")
    record = json.loads(status.stdout.splitlines()[0])
    assert record["error_kind"] == "layout_changed" and record["kind"] == "page"
    probe_held = await asyncio.to_thread(vigil, "probe", "a")
    assert probe_held.returncode == 1 and "state:    layout_changed" in probe_held.stdout
    assert (await asyncio.to_thread(vigil, "rebaseline", "a")).returncode == 0
    twice = await asyncio.to_thread(vigil, "rebaseline", "a")
    assert twice.returncode == 0 and "(already asked)" in twice.stdout
    accepted = await asyncio.to_thread(vigil, "once")
    assert accepted.returncode == 0 and "5 new item(s), 0 alert(s)" in accepted.stderr


async def test_probe_of_a_url_reports_discovered_feed_and_page_guess(
    tmp_path: Path, vigil_env: dict[str, str], feed_server: FeedServer
) -> None:
    """probe URL: an advertising page names the feed chosen; a page with none shows `page:`."""

    config = tmp_path / "feeds.yaml"
    config.write_text(make_config({"z": feed_server.url("/z.xml")}), encoding="utf-8")
    feed_server.set("/home/", advertising_page("feed/"), content_type=HTML)
    feed_server.set("/home/feed/", rss([{"title": "t1", "guid": "g1"}]))
    feed_server.set("/list", listing(4), content_type=HTML)
    found = await asyncio.to_thread(run, vigil_env, config, "probe", feed_server.url("/home/"))
    assert found.returncode == 0
    assert f"kind:     discovered feed: {feed_server.url('/home/feed/')}" in found.stdout
    none = await asyncio.to_thread(run, vigil_env, config, "probe", feed_server.url("/list"))
    assert none.returncode == 1 and "add `page:`" in none.stdout
    assert "automatic mode, selector div.views-row" in none.stdout
