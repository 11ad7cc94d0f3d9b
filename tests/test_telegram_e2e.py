"""Telegram end to end: `vigil run` as a subprocess, a user talking to it through the Bot API
test server, statements published on the local feed server.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import subs
from bot.store.db import connect, transaction
from tests.conftest import TOKEN, make_config
from tests.servers.botapi import BotApiServerThread, SentMessage
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_e2e import OLD, Service, poll_now, write

ADMIN = 999
USER = 777


def statement(n: int) -> dict[str, str]:
    return {
        "title": f"Statement {n} on the Convention Against Torture",
        "link": f"http://x.test/s{n}",
        "guid": f"s{n}",
        "description": "Canada and the Netherlands v. Syria: hearings continue.",
    }


class World:
    """A running `vigil run` with a token, its feed server and its Bot API server."""

    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str],
        feeds: FeedServer,
        telegram: BotApiServerThread,
    ) -> None:
        self.feeds = feeds
        self.telegram = telegram
        self.items: list[dict[str, str]] = [OLD]
        feeds.set("/a.xml", rss(self.items))
        extra = f"telegram:\n  admins: [{ADMIN}]\n"
        self.config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}, extra))
        self.env = {**env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
        self.db = Path(env["VIGIL_STATE_DIR"]) / "vigil.db"
        self.tmp = tmp_path
        self.service: Service | None = None

    def start(self, *, first: bool = True) -> Service:
        self.service = Service(self.env, self.config, self.tmp)
        ready = "feed polled" if first else "vigil running"
        self.service.wait_for(lambda: ready in self.service_err())
        return self.service

    def service_err(self) -> str:
        assert self.service is not None
        return self.service.stderr()

    def publish(self, item: dict[str, str]) -> None:
        """Adds a statement and brings the next poll forward instead of waiting an interval."""
        self.items.insert(0, item)
        self.feeds.set("/a.xml", rss(self.items))
        self.poll_now()

    def poll_now(self) -> None:
        poll_now(str(self.db.parent))

    def wait(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        assert self.service is not None
        self.service.wait_for(predicate, timeout=timeout)

    def to(self, chat: int | str, needle: str = "") -> list[SentMessage]:
        return [m for m in self.telegram.replies_to(chat) if needle in m.text]

    def consecutive_errors(self) -> int:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return int(conn.execute("SELECT max(consecutive_errors) FROM feeds").fetchone()[0])
        finally:
            conn.close()

    def polls(self) -> int:
        """Completed polls of the feed, 304s included, as the feed row counts them."""
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return int(conn.execute("SELECT sum(polls) FROM feeds").fetchone()[0] or 0)
        finally:
            conn.close()


@pytest.fixture
def world(tmp_path: Path, vigil_env: dict[str, str]) -> Iterator[World]:
    """Servers in threads and a `vigil run` subprocess, stopped after the test."""
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        w = World(tmp_path, vigil_env, feeds, telegram)
        try:
            yield w
        finally:
            if w.service is not None:
                code = w.service.stop()
                assert code == 0, w.service_err()


def test_start_subscribe_alert_unsubscribe(world: World) -> None:
    """/start answers; /subscribe brings the next matching statement once; /unsubscribe stops it."""
    world.start()
    world.telegram.command("/start", user_id=USER)
    world.wait(lambda: bool(world.to(USER, "Convention Against Torture")))
    welcome = world.to(USER)[0]
    assert welcome.reply_markup is not None  # topic buttons
    world.telegram.command("/subscribe cat", user_id=USER)
    world.wait(lambda: len(world.to(USER)) >= 2)
    world.publish(statement(1))
    world.wait(lambda: bool(world.to(USER, "Statement 1")))
    polls = world.polls()
    world.poll_now()
    world.wait(lambda: world.polls() > polls)
    assert len(world.to(USER, "Statement 1")) == 1
    world.telegram.command("/unsubscribe cat", user_id=USER)
    world.wait(lambda: len(world.to(USER)) >= 4)
    polls = world.polls()
    world.publish(statement(2))
    world.wait(lambda: world.polls() > polls)
    time.sleep(1.5)
    assert world.to(USER, "Statement 2") == []


def test_non_admin_status_is_refused_admin_is_answered(world: World) -> None:
    """A non-admin's /status gets the refusal; the admin gets feed health."""
    world.start()
    world.telegram.command("/status", user_id=USER)
    world.wait(lambda: bool(world.to(USER)))
    assert "administrators" in world.to(USER)[0].text
    world.telegram.command("/status", user_id=ADMIN)
    world.wait(lambda: bool(world.to(ADMIN)))
    assert "a" in world.to(ADMIN)[0].text
    assert "administrators" not in world.to(ADMIN)[0].text


def test_blocked_user_is_unsubscribed_after_one_attempt(world: World) -> None:
    """A 403 'blocked' ends the subscription after a single send attempt."""
    world.start()
    conn = connect(world.db.parent)
    with transaction(conn):
        subs.ensure_chat(conn, "888", "private", "", time.time())
        subs.subscribe(conn, "888", ["cat"], time.time())
    world.telegram.fail(kind="403_blocked", chat_id="888")
    world.publish(statement(3))
    world.wait(lambda: "chat is gone" in world.service_err())
    attempts = [
        c
        for c in world.telegram.calls
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == "888"
    ]
    assert len(attempts) == 1
    assert subs.subscriptions_of(conn, "888") == []
    conn.close()


def _seed(db_dir: Path, chats: list[str], topic: str = "cat") -> None:
    conn = connect(db_dir)
    with transaction(conn):
        for chat in chats:
            subs.ensure_chat(conn, chat, "private", "", time.time())
            subs.subscribe(conn, chat, [topic], time.time())
    conn.close()


@pytest.mark.slow
def test_500_subscribers_each_get_it_once_without_429(world: World) -> None:
    """One statement to 500 subscribers: every one exactly once, zero 429s from the server."""
    world.start()
    chats = [str(10_000 + n) for n in range(500)]
    _seed(world.db.parent, chats)
    world.publish(statement(4))
    world.wait(lambda: len(world.telegram.messages) >= 500, timeout=120)
    time.sleep(2)
    got = [m.chat_id for m in world.telegram.messages if "Statement 4" in m.text]
    assert sorted(got) == sorted(chats)
    assert world.telegram.count_429 == 0


def test_telegram_down_then_back_delivers_once(world: World) -> None:
    """Telegram unreachable while a statement matches: it waits on disk, then arrives once."""
    world.start()
    _seed(world.db.parent, ["501", "502"])
    world.telegram.set_unreachable(True)
    world.publish(statement(5))
    world.wait(lambda: "telegram unavailable" in world.service_err(), timeout=30)
    world.telegram.set_unreachable(False)
    world.wait(lambda: len(world.to("501", "Statement 5")) == 1, timeout=60)
    world.wait(lambda: len(world.to("502", "Statement 5")) == 1, timeout=30)
    time.sleep(2)
    assert len(world.to("501", "Statement 5")) == 1
    assert len(world.to("502", "Statement 5")) == 1


@pytest.mark.slow
def test_kill_during_fan_out_then_restart_loses_nothing(world: World) -> None:
    """kill -9 in the middle of a fan-out; after restart every chat has it, ≤ 1 duplicate."""
    world.start()
    chats = [str(20_000 + n) for n in range(120)]
    _seed(world.db.parent, chats)
    world.publish(statement(6))
    world.wait(lambda: len(world.telegram.messages) >= 30, timeout=60)
    assert world.service is not None
    world.service.proc.send_signal(signal.SIGKILL)
    world.service.proc.wait(timeout=10)
    sent_before = len(world.telegram.messages)
    assert sent_before < 120
    world.start(first=False)
    world.wait(
        lambda: (
            {m.chat_id for m in world.telegram.messages if "Statement 6" in m.text} >= set(chats)
        ),
        timeout=90,
    )
    time.sleep(2)
    got = [m.chat_id for m in world.telegram.messages if "Statement 6" in m.text]
    assert set(got) == set(chats)
    assert len(got) - len(chats) <= 1


def test_admin_is_told_once_of_a_failing_feed_its_recovery_and_a_refused_reload(
    world: World,
) -> None:
    """B15/E11: notices reach the admin's private chat once per condition, not every cycle."""
    world.start()
    world.feeds.status("/a.xml", 503)
    for errors in range(1, 5):
        world.poll_now()
        world.wait(lambda n=errors: world.consecutive_errors() >= n)  # type: ignore[misc]
    world.wait(lambda: len(world.to(ADMIN, "has failed")) == 1)
    assert "has failed 3 polls in a row (http_status: HTTP 503" in world.to(ADMIN, "failed")[0].text
    world.feeds.set("/a.xml", rss(world.items))
    world.poll_now()
    world.wait(lambda: len(world.to(ADMIN, "works again")) == 1)
    assert len(world.to(ADMIN, "has failed")) == 1  # the fourth failure was not told again

    good = world.config.read_text(encoding="utf-8")
    world.config.write_text(good.replace("interval:", "intervall:", 1), encoding="utf-8")
    world.wait(lambda: len(world.to(ADMIN, "was refused")) == 1)
    assert "did you mean" in world.to(ADMIN, "was refused")[0].text
    assert world.to(USER) == []
    world.config.write_text(good, encoding="utf-8")
    world.wait(lambda: "configuration reloaded" in world.service_err())
