"""Full text through the real poller: a local server serves feeds, article pages and PDFs."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.fetch import Fetcher
from bot.fetch.client import FetchPolicy
from bot.pipeline import Poller, PollReport, Runtime
from bot.search.engine import run_search
from bot.search.excerpt import to_marked_text
from bot.search.query import parse_query
from bot.service.app import fetch_policy, fulltext_stage
from bot.store import articles
from bot.store import feeds as feed_rows
from bot.store.db import connect, transaction
from tests.conftest import make_config
from tests.servers.feeds import FeedServer, rss
from tests.servers.pdfgen import encrypt, make_pdf

HTML = "text/html; charset=utf-8"
BODY = "The Court heard both parties in the morning session. " * 8


def page(body: str, *, extra: str = "") -> bytes:
    """An article page with navigation and a sidebar around ``body``."""
    return (
        "<!doctype html><html><head><title>News</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/t'>Convention Against Torture dossier</a></nav>"
        f"<main><article><h1>Next step</h1><p>{BODY}</p><p>{body}</p>{extra}</article></main>"
        "<aside class='related'>Related: Syria news</aside><footer>(c)</footer></body></html>"
    ).encode()


class Rig:
    """A poller with full text on for feed `a` (inline, as in `vigil once`)."""

    def __init__(self, conn: sqlite3.Connection, server: FeedServer, text: str) -> None:
        self.conn = conn
        self.server = server
        self.config = parse_config(text)
        self.runtime = Runtime.build(self.config, console=False)
        self.outcomes: list[str] = []
        self.stage, self.article_fetcher = fulltext_stage(
            conn, self.config, lambda: self.runtime, on_outcome=self.outcomes.append
        )
        self.fetcher = Fetcher(fetch_policy(self.config))
        self.poller = Poller(
            conn, self.fetcher, lambda: self.runtime, fulltext=self.stage, fulltext_inline=True
        )
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in self.config.feeds})

    async def poll(self) -> PollReport:
        return await self.poller.poll(self.config.feed("a"))

    async def close(self) -> None:
        await self.fetcher.aclose()
        await self.article_fetcher.aclose()
        self.poller.close()

    def feed(self, *numbers: int, titles: dict[int, str] | None = None) -> None:
        entries = [
            {
                "title": (titles or {}).get(n, f"Next step in case {n}"),
                "link": self.server.url(f"/news/{n}"),
                "guid": f"g{n}",
                "description": "A short summary.",
            }
            for n in numbers
        ]
        self.server.set("/a.xml", rss(entries))

    def outbox(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT statement_key FROM outbox ORDER BY id")]

    def waiting(self) -> int:
        return articles.awaiting(self.conn).get("a", 0)


def config_text(server: FeedServer, settings: str = "", gap: float = 0) -> str:
    text = make_config({"a": server.url("/a.xml")}, 'channels:\n  - chat: "-100"\n')
    text = text.replace(
        "allow_private_networks: true",
        f"allow_private_networks: true\n  full_text_host_gap: {gap}\n" + settings,
    )
    return text.replace(
        f"url: {server.url('/a.xml')}", f"url: {server.url('/a.xml')}\n    full_text: true"
    )


async def make_rig(tmp_path: Path, server: FeedServer, settings: str = "", gap: float = 0) -> Rig:
    return Rig(connect(tmp_path), server, config_text(server, settings, gap))


@pytest.fixture
async def rig(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Rig]:
    """A rig whose feed was baselined with one old item."""
    r = await make_rig(tmp_path, feed_server)
    r.feed(0)
    await r.poll()
    try:
        yield r
    finally:
        await r.close()


MATCHING = "Both states recall that the Convention Against Torture binds Syria."


async def test_match_only_in_the_body_alerts_once_with_excerpt_from_there(rig: Rig) -> None:
    """The third paragraph names the convention: one alert, excerpt from the full text."""
    rig.server.set("/news/1", page(MATCHING), content_type=HTML)
    rig.feed(1, 0)
    report = await rig.poll()
    assert [a.item.key for a in report.alerts] == ["g1"]
    alert = report.alerts[0]
    assert alert.matched_in == ("full_text",)
    assert "Convention Against Torture" in alert.text_plain
    assert rig.outbox() == ["link:" + rig.server.url("/news/1")]
    stored = rig.conn.execute("SELECT full_text FROM items WHERE item_key='g1'").fetchone()[0]
    assert "binds Syria" in stored and "dossier" not in stored
    again = await rig.poll()
    assert again.alerts == () and len(rig.outbox()) == 1
    assert len(rig.server.requests_for("/news/1")) == 1


async def test_navigation_and_sidebar_are_not_the_statement(rig: Rig) -> None:
    """Keyword in the nav and context word in the sidebar: no alert."""
    rig.server.set("/news/1", page("Nothing about that here."), content_type=HTML)
    rig.feed(1, 0)
    report = await rig.poll()
    assert report.alerts == () and rig.outbox() == [] and rig.waiting() == 0


async def test_headline_match_alerts_at_once_without_fetching_the_page(rig: Rig) -> None:
    """A headline that matches alerts from the feed; its page is never requested."""
    rig.server.hang("/news/1")
    rig.feed(1, 0, titles={1: "Convention Against Torture: Syria case"})
    report = await rig.poll()
    assert report.alerts[0].matched_in == ("title",)
    assert rig.server.requests_for("/news/1") == [] and rig.waiting() == 0


async def test_transient_failure_waits_then_alerts_at_a_later_poll(rig: Rig) -> None:
    """A 503 keeps the item waiting; the next poll reads the page and alerts once."""
    rig.server.status("/news/1", 503)
    rig.feed(1, 0)
    first = await rig.poll()
    assert first.alerts == () and rig.waiting() == 1
    row = rig.conn.execute("SELECT last_article_error FROM feeds WHERE feed_id='a'").fetchone()
    assert "503" in row[0]
    rig.server.set("/news/1", page(MATCHING), content_type=HTML)
    second = await rig.poll()  # the feed answers 304; the waiting item is read all the same
    assert [a.item.key for a in second.alerts] == ["g1"] and rig.waiting() == 0


async def test_permanent_failure_is_decided_at_once(rig: Rig) -> None:
    """A 404 decides the item on its headline now: no alert, nothing left waiting."""
    rig.server.status("/news/1", 404)
    rig.feed(1, 0)
    await rig.poll()
    assert rig.waiting() == 0 and rig.outcomes == ["permanent"]
    outcome = rig.conn.execute("SELECT outcome FROM article_queue").fetchone()[0]
    assert outcome == "permanent"


async def test_per_poll_limit_and_restart_lose_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """12 new items, 5 per poll: 5 read, 7 wait; a restart (new connection) reads the rest."""
    settings = "  full_text_per_poll: 5\n"
    rig = await make_rig(tmp_path, feed_server, settings)
    rig.feed(0)
    await rig.poll()
    for n in range(1, 13):
        feed_server.set(f"/news/{n}", page(MATCHING if n % 2 else "Nothing."), content_type=HTML)
    rig.feed(*range(1, 13), 0)
    first = await rig.poll()
    assert rig.waiting() == 7
    rig.conn.close()
    await rig.close()
    rig = await make_rig(tmp_path, feed_server, settings)  # as after kill -9: only the DB
    second = await rig.poll()
    third = await rig.poll()
    await rig.close()
    assert rig.waiting() == 0
    keys = [a.item.key for r in (first, second, third) for a in r.alerts]
    assert sorted(keys) == sorted(f"g{n}" for n in range(1, 13, 2))
    for n in range(1, 13):
        assert len(feed_server.requests_for(f"/news/{n}")) == 1


async def test_gives_up_after_the_deadline_and_decides_on_the_headline(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Past full_text_give_up, a still-failing page is decided: never dropped, no alert."""
    now = [1_000_000.0]
    rig = await make_rig(tmp_path, feed_server)
    rig.stage.clock = lambda: now[0]
    rig.poller.clock = lambda: now[0]
    rig.feed(0)
    await rig.poll()
    feed_server.status("/news/1", 500)
    rig.feed(1, 0)
    for _ in range(4):
        await rig.poll()
        now[0] += 600
    attempts, next_at = rig.conn.execute(
        "SELECT attempts, next_attempt_at FROM article_queue"
    ).fetchone()
    # Three failures in a row retry at the next polls; the fourth backs off (2 × the interval).
    assert attempts == 4 and next_at == now[0] - 600 + 120
    now[0] += 25 * 3600
    await rig.poll()
    state, outcome = rig.conn.execute("SELECT state, outcome FROM article_queue").fetchone()
    await rig.close()
    assert (state, outcome) == ("done", "gave_up")


async def test_pdf_link_is_read_with_page_in_matched_in(rig: Rig) -> None:
    """A link that is a PDF (by its path with a query) is read; `matched_in` says pdf."""
    pdf = make_pdf(
        [["Press release", "The Conven-"], ["Press release", "tion Against Torture", "Syria"]]
    )
    rig.server.set("/news/1", pdf, content_type="application/octet-stream")
    entry = {
        "title": "Press release 2026/12",
        "link": rig.server.url("/news/1?lang=en"),
        "guid": "g1",
    }
    rig.server.set("/a.xml", rss([entry]))
    report = await rig.poll()
    assert [a.matched_in for a in report.alerts] == [("pdf",)]


async def test_pdf_attachment_linked_from_the_page_is_read(rig: Rig) -> None:
    """The signed statement attached as a PDF carries the keyword: it alerts."""
    rig.server.set(
        "/files/statement.pdf",
        make_pdf([["Convention Against Torture", "Syria"]]),
        content_type="application/pdf",
    )
    link = "<p><a href='/files/statement.pdf?__blob=publicationFile'>Signed statement</a></p>"
    rig.server.set("/news/1", page("See the attachment.", extra=link), content_type=HTML)
    rig.feed(1, 0)
    report = await rig.poll()
    assert [a.matched_in for a in report.alerts] == [("pdf",)]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: s.set("/news/1", b"x" * (30 * 1024 * 1024), content_type=HTML), "exceeds"),
        (lambda s: s.set("/news/1", b"\x89PNG....", content_type="image/png"), "neither HTML"),
        (
            lambda s: s.set(
                "/news/1",
                b"<html><body><form><input type=password name=p></form></body></html>",
                content_type=HTML,
            ),
            "login form",
        ),
        (lambda s: s.redirect("/news/1", "file:///etc/passwd"), "scheme"),
        (
            lambda s: s.set(
                "/news/1",
                encrypt(make_pdf([["Convention Against Torture", "Syria"]]), "pw"),
                content_type="application/pdf",
            ),
            "PDF encrypted",
        ),
    ],
    ids=["30mb-article", "not-html-or-pdf", "login-wall", "redirect-to-file", "encrypted-pdf"],
)
async def test_bad_articles_end_in_a_recorded_reason(rig: Rig, setup, reason: str) -> None:  # type: ignore[no-untyped-def]
    """Each bad article is decided at once on its headline, with its reason kept."""
    setup(rig.server)
    rig.feed(1, 0)
    report = await rig.poll()
    assert report.alerts == () and rig.waiting() == 0
    error = rig.conn.execute("SELECT last_error FROM article_queue").fetchone()[0]
    assert reason in error


async def test_429_retry_after_defers_the_whole_host(rig: Rig) -> None:
    """A 429 with Retry-After: 120 leaves every item of that host waiting, unrequested."""
    rig.server.status("/news/1", 429, retry_after="120")
    rig.server.set("/news/2", page(MATCHING), content_type=HTML)
    rig.feed(1, 0)
    await rig.poll()
    rig.feed(2, 1, 0)
    await rig.poll()
    assert rig.waiting() == 2
    assert rig.server.requests_for("/news/2") == []
    assert rig.outcomes.count("deferred") >= 1


async def test_drip_feed_article_times_out_and_waits(rig: Rig) -> None:
    """A page dripping a byte at a time hits the total deadline: transient, still waiting."""
    rig.server.drip("/news/1", page(MATCHING), interval=0.5)
    rig.feed(1, 0)
    await rig.poll()
    assert rig.waiting() == 1 and rig.outcomes == ["transient"]
    error = rig.conn.execute("SELECT last_error FROM article_queue").fetchone()[0]
    assert "within 5 s" in error


async def test_redirect_to_a_private_address_is_refused(rig: Rig) -> None:
    """An article on an allowed host that redirects to a private address is refused there."""
    port = rig.server.port
    rig.stage.reader.fetcher = Fetcher(
        FetchPolicy(allow_private_networks=False, timeout=5.0),
        trusted_endpoints=[("127.0.0.1", port)],
    )
    rig.server.redirect("/news/1", f"http://127.0.0.2:{port}/news/2")
    rig.server.set("/news/2", page(MATCHING), content_type=HTML)
    rig.feed(1, 0)
    report = await rig.poll()
    await rig.stage.reader.fetcher.aclose()
    assert report.alerts == () and rig.waiting() == 0
    assert rig.server.requests_for("/news/2") == []
    error = rig.conn.execute("SELECT last_error FROM article_queue").fetchone()[0]
    assert "refused" in error and "127.0.0.2" in error


async def test_one_request_per_host_with_the_gap_between(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Three pages on one host are asked one at a time, at least the gap apart."""
    rig = await make_rig(tmp_path, feed_server, gap=0.3)
    rig.feed(0)
    await rig.poll()
    for n in (1, 2, 3):
        feed_server.set(f"/news/{n}", page("Nothing."), content_type=HTML, delay=0.05)
    rig.feed(1, 2, 3, 0)
    feed_server.reset_stats()
    await rig.poll()
    await rig.close()
    times = sorted(r.time for r in feed_server.requests if r.path.startswith("/news/"))
    assert len(times) == 3 and feed_server.max_in_flight == 1
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(times))


async def test_in_the_service_the_page_is_read_in_the_background(rig: Rig) -> None:
    """Not inline (as in `vigil run`): the poll returns at once; the page alerts afterwards."""
    rig.poller.fulltext_inline = False
    rig.server.set("/news/1", page(MATCHING), content_type=HTML, delay=0.3)
    rig.feed(1, 0)
    report = await rig.poll()
    assert report.alerts == () and rig.outbox() == []
    tasks = list(rig.stage._tasks.values())
    assert tasks
    alerts = await tasks[0]
    assert [a.item.key for a in alerts] == ["g1"] and len(rig.outbox()) == 1


async def test_the_page_text_becomes_searchable(rig: Rig) -> None:
    """Issue 13: what is read from the page is indexed with the item, excerpts from it."""
    rig.server.set("/news/1", page(MATCHING), content_type=HTML)
    rig.feed(1, 0)
    await rig.poll()
    query = parse_query('"binds Syria"', now=0)
    [result] = run_search(rig.conn, query, rig.poller.runtime().config, limit=5)
    assert result.found.link == rig.server.url("/news/1")
    assert "Torture **binds Syria**." in to_marked_text(result.excerpt)
