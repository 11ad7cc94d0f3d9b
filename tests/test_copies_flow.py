"""One statement, one alert, across sources: the poller, the store, the worker and `vigil run`."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.deliver.limits import Pacer
from bot.deliver.telegram import TelegramSender, make_bot
from bot.deliver.worker import DeliveryWorker
from bot.search.engine import run_search
from bot.search.query import parse_query
from bot.secrets import Secret
from bot.store import copies as copy_rows
from bot.store import items as item_rows
from bot.store import outbox
from bot.store.db import connect, transaction
from tests.conftest import TOKEN, make_config
from tests.data_copies import ICJ, UN_NEWS_CREDIT, UN_NEWS_INTRO
from tests.servers.botapi import BotApiServer, BotApiServerThread
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_digests import db_value
from tests.test_e2e import Service, poll_now, write
from tests.test_pipeline import PLAIN, Rig, rig_for

ORIGINAL = {
    "title": "ICJ Order on the Convention against Torture in Syria",
    "link": "http://icj.test/order",
    "guid": "icj-1",
    "description": ICJ,
}
COPY = {
    "title": "UN News: ICJ Order on the Convention against Torture in Syria",
    "link": "http://news.test/icj",
    "guid": "news-1",
    "description": UN_NEWS_INTRO + ICJ + UN_NEWS_CREDIT,
}
SAME_TEMPLATE_OTHER_NEWS = {
    "title": "Syria: reactions to the ICJ Order on the Convention against Torture",
    "link": "http://news.test/reactions",
    "guid": "news-2",
    "description": "Reactions to the Convention against Torture ruling came quickly from "
    "Ottawa and The Hague, where ministers welcomed the decision and said they would "
    "follow the implementation of the measures closely in the coming months.",
}
CHANNELS = '    feeds: [a, b]\n  - chat: "-200"\n    feeds: [b]\n'


def rows(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(chat, statement key, also) of every outbox row."""
    found = conn.execute("SELECT chat_id, statement_key, also FROM outbox ORDER BY id")
    return [(r[0], r[1], r[2]) for r in found]


@pytest.fixture
async def rig(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Rig]:
    """Feeds a and b baselined; channel -100 follows both, channel -200 only b."""
    async for r in rig_for(tmp_path, feed_server, extra=CHANNELS):
        feed_server.set("/a.xml", rss([PLAIN]))
        feed_server.set("/b.xml", rss([]))
        await r.poll("a")
        await r.poll("b")
        yield r


async def test_a_copy_is_one_alert_with_its_sources(rig: Rig, feed_server: FeedServer) -> None:
    """-100 got the original: no second row, the copy's source is added; -200, which follows
    only the copy's feed, gets the copy; /recent and search show one row with both sources."""
    feed_server.set("/a.xml", rss([ORIGINAL, PLAIN]))
    await rig.poll("a")
    feed_server.set("/b.xml", rss([COPY, SAME_TEMPLATE_OTHER_NEWS]))
    await rig.poll("b")
    key = "link:http://icj.test/order"
    assert rows(rig.conn) == [
        ("-100", key, '[["b", "http://news.test/icj"]]'),
        ("-200", key, ""),
        ("-100", "link:http://news.test/reactions", ""),
        ("-200", "link:http://news.test/reactions", ""),
    ]
    [text] = [
        r[0] for r in rig.conn.execute("SELECT text_html FROM outbox WHERE chat_id = '-200'")
    ][:1]
    assert "UN News: ICJ Order" in text
    recent = item_rows.recent_matches(rig.conn)
    assert [(m.title, m.also) for m in recent] == [
        (SAME_TEMPLATE_OTHER_NEWS["title"], ()),
        (ORIGINAL["title"], (("b", "http://news.test/icj"),)),
    ]
    query = parse_query('"provisional measures"', now=time.time())
    [result] = run_search(rig.conn, query, rig.runtime.config, limit=10)
    assert result.found.link == "http://icj.test/order"
    assert result.also == (("b", "http://news.test/icj"),)


async def test_the_sent_message_is_edited_to_add_the_source(
    rig: Rig, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """The original goes out, its message id is kept; the copy edits it within the API's rules."""
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(rig.conn, sender, Pacer(25))
    try:
        feed_server.set("/a.xml", rss([ORIGINAL, PLAIN]))
        await rig.poll("a")
        await worker.run(until_idle=True)
        [first] = botapi.messages
        assert db_value_of(rig.conn, "SELECT message_id FROM outbox") == first.message_id
        feed_server.set("/b.xml", rss([COPY]))
        await rig.poll("b")
        await worker.run(until_idle=True)
    finally:
        await sender.close()
    assert [m.chat_id for m in botapi.messages] == ["-100", "-200"]
    [edit] = botapi.edits
    assert edit.message_id == first.message_id
    assert 'Also published by: <a href="http://news.test/icj">b</a>' in edit.text
    assert edit.text.startswith(first.text)
    assert db_value_of(rig.conn, "SELECT max(edit_pending) FROM outbox") == 0


async def test_a_source_added_before_sending_goes_out_in_the_message(
    rig: Rig, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """No edit when the copy arrives before the original was sent: it is sent with the line."""
    feed_server.set("/a.xml", rss([ORIGINAL, PLAIN]))
    await rig.poll("a")
    feed_server.set("/b.xml", rss([COPY]))
    await rig.poll("b")
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    try:
        await DeliveryWorker(rig.conn, sender, Pacer(25)).run(until_idle=True)
    finally:
        await sender.close()
    first = next(m for m in botapi.messages if m.chat_id == "-100")
    assert "Also published by:" in first.text
    assert botapi.edits == []


def test_a_message_that_cannot_be_edited_is_noted_not_retried(tmp_path: Path) -> None:
    """Telegram refusing the edit (the message was deleted): the row notes it and is done."""
    conn = connect(tmp_path)
    with transaction(conn):
        conn.execute("INSERT INTO items (feed_id, item_key, first_seen_at) VALUES ('a', 'k', 1)")
        outbox.enqueue(
            conn,
            item_id=1,
            deliveries=[outbox.Delivery("7", "x", "x")],
            statement_key="s",
            topics=(),
            now=1.0,
        )
        outbox.mark_sent(conn, 1, 2.0, message_id=99)
        assert copy_rows.add_source(conn, "7", "s", "UN News", None, 3.0)
        outbox.edit_done(conn, 1, '[["UN News", null]]', "edit refused: message to edit not found")
    assert db_value_of(conn, "SELECT edit_pending FROM outbox") == 0
    assert "message to edit not found" in str(db_value_of(conn, "SELECT last_error FROM outbox"))


def db_value_of(conn: sqlite3.Connection, sql: str) -> object:
    """One value from an open connection."""
    return conn.execute(sql).fetchone()[0]


def test_vigil_run_one_alert_per_statement_across_kill_9(
    tmp_path: Path, vigil_env: dict[str, str]
) -> None:
    """End to end: the original alerts -1001; its copy edits that message and alerts -1002
    (which follows only the copy's feed); after kill -9 and a restart nothing more is sent."""
    channels = (
        'channels:\n  - chat: "-1001"\n    feeds: [a, b]\n  - chat: "-1002"\n    feeds: [b]\n'
    )
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        feeds.set("/a.xml", rss([PLAIN]))
        feeds.set("/b.xml", rss([]))
        text = make_config({"a": feeds.url("/a.xml"), "b": feeds.url("/b.xml")}, channels)
        config = write(
            tmp_path / "feeds.yaml", text.replace("interval: 1m", "interval: 1m\n  jitter: 0")
        )
        env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
        state = Path(env["VIGIL_STATE_DIR"])
        first = Service(env, config, tmp_path)
        try:
            first.wait_for(lambda: first.stderr().count("feed polled") >= 2)
            feeds.set("/a.xml", rss([ORIGINAL, PLAIN]))
            poll_now(str(state))
            first.wait_for(lambda: len(telegram.messages) == 1)
            feeds.set("/b.xml", rss([COPY]))
            poll_now(str(state))
            first.wait_for(lambda: len(telegram.messages) == 2 and len(telegram.edits) == 1)
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
        second = Service(env, config, tmp_path)
        try:
            second.wait_for(lambda: "answering Telegram commands" in second.stderr())
            poll_now(str(state))
            polled = "SELECT min(next_poll_at) FROM feeds"
            second.wait_for(lambda: float(str(db_value(state, polled))) > time.time())
            time.sleep(1)
        finally:
            assert second.stop() == 0
        messages, edits = list(telegram.messages), list(telegram.edits)
    assert sorted(m.chat_id for m in messages) == ["-1001", "-1002"]
    assert [e.chat_id for e in edits] == ["-1001"]
    assert "Also published by:" in edits[0].text
    assert db_value(state, "SELECT count(*) FROM copies") == 1
