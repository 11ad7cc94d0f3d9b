"""Forum topics, link previews and silent alerts (digests too), from feeds.yaml or /commands to
the Bot API.

Everything real: a feed server, the poller, the outbox in SQLite, the delivery worker with the
Telegram sender, the front end with python-telegram-bot, and the Bot API test server, which
refuses a message to a forum topic that does not exist ("message thread not found") as Telegram
does.
"""

from __future__ import annotations

import asyncio
import html
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.config import parse_config
from bot.deliver.limits import Pacer
from bot.deliver.telegram import TelegramSender, make_bot
from bot.deliver.worker import DeliveryWorker
from bot.pipeline.digests import send_due_digests
from bot.secrets import Secret
from bot.store import prefs, subs
from bot.store.db import connect, transaction
from bot.telegram.notices import AdminNotices
from tests.conftest import TOKEN
from tests.servers.botapi import BotApiServer
from tests.servers.feeds import FeedServer, rss
from tests.test_pipeline import Rig, item
from tests.test_telegram_commands import Current, LiveHost, reply_to, running

FORUM = -1001234567890
ADMIN = 1001

CONFIG = """
settings:
  interval: 1m
  allow_private_networks: true
telegram:
  admins: [1001]
topics:
  cat:
    name:
      en: Convention Against Torture
      fr: Convention contre la torture
      ar: اتفاقية مناهضة التعذيب
    keywords: [Convention Against Torture]
  caesar:
    name: {{en: Caesar Act, fr: Loi César}}
    keywords: [Caesar Act]
    urgent: true
feeds:
  - id: a
    url: {url}
{channels}
"""


def config_text(url: str, channels: str = "", caesar_urgent: bool = True) -> str:
    """feeds.yaml with topics cat and (urgent unless told) caesar, one feed, and the channels."""
    text = textwrap.dedent(CONFIG).format(url=url, channels=textwrap.dedent(channels))
    return text if caesar_urgent else text.replace("urgent: true", "urgent: false")


@asynccontextmanager
async def pipeline(
    tmp_path: Path,
    feed_server: FeedServer,
    botapi: BotApiServer,
    channels: str = "",
    caesar_urgent: bool = True,
) -> AsyncIterator[tuple[Rig, LiveHost]]:
    """A poller and a running front end over one state database, configured alike."""
    config = parse_config(config_text(feed_server.url("/a.xml"), channels, caesar_urgent))
    rig = Rig(connect(tmp_path / "state"), feed_server, config)
    host = LiveHost(connect(tmp_path / "state"), Current(config))
    try:
        async with running(botapi, host):
            yield rig, host
    finally:
        await rig.fetcher.aclose()
        rig.poller.close()
        rig.conn.close()


async def deliver(rig: Rig, botapi: BotApiServer, notices: AdminNotices | None = None) -> None:
    """Runs the delivery worker with the real Telegram sender until nothing is due."""
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(rig.conn, sender, Pacer(25, per_chat_interval=0.0))
    if notices is not None:
        worker.on_outcome = notices.observe_send
    try:
        async with asyncio.timeout(60):
            await worker.run(until_idle=True)
    finally:
        await sender.close()
    if notices is not None:
        await notices.drain()


async def publish(rig: Rig, *items: dict[str, str]) -> None:
    """A first (baseline) poll of an empty feed, then one carrying the items."""
    rig.server.set("/a.xml", rss([]))
    await rig.poll()
    rig.server.set("/a.xml", rss(list(items)))
    await rig.poll()


async def test_subscribe_in_a_topic_delivers_there_in_the_chats_language(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """/subscribe and /lang sent in forum topic 42: replies and alerts go to topic 42, in Arabic."""
    botapi.set_forum(FORUM, [42, 43])
    botapi.set_chat_admins(FORUM, [777])
    async with pipeline(tmp_path, feed_server, botapi) as (rig, _):
        where = {"chat_id": FORUM, "chat_type": "supergroup", "thread_id": 42}
        lang = await reply_to(botapi, "/lang ar", **where)
        subscribed = await reply_to(botapi, "/subscribe cat", **where)
        general = await reply_to(botapi, "/list", chat_id=FORUM, chat_type="supergroup")
        await publish(rig, item(1))
        await deliver(rig, botapi)
        alert = botapi.replies_to(FORUM)[-1]
    assert (lang.thread_id, subscribed.thread_id, general.thread_id) == (42, 42, None)
    assert "تتابع هذه المحادثة الآن" in subscribed.text
    assert alert.thread_id == 42
    assert "المواضيع: \u2068اتفاقية مناهضة التعذيب\u2069" in alert.text
    assert '<a href="http://x.test/1">اقرأ البيان</a>' in alert.text
    assert alert.link_preview == {"is_disabled": True}
    assert not alert.silent


async def test_channel_threads_preview_and_silence(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """A forum channel in feeds.yaml: topic → thread map, French, previews, silent unless urgent."""
    botapi.set_forum(FORUM, [5, 7])
    channels = f"""
    channels:
      - chat: {FORUM}
        language: fr
        thread: 5
        threads: {{caesar: 7}}
        preview: true
        silent: true
    """
    async with pipeline(tmp_path, feed_server, botapi, channels) as (rig, _):
        await publish(rig, item(1), item(2, title="The Caesar Act is renewed", guid="g2"))
        await deliver(rig, botapi)
    by_thread = {m.thread_id: m for m in botapi.replies_to(FORUM)}
    assert set(by_thread) == {5, 7}
    cat, caesar = by_thread[5], by_thread[7]
    assert "Thèmes : Convention contre la torture" in cat.text
    assert "Thèmes : Loi César" in caesar.text
    assert '<a href="http://x.test/1">Lire la déclaration</a>' in cat.text
    assert cat.silent and not caesar.silent  # caesar is urgent: never silent
    assert cat.link_preview == {"url": "http://x.test/1", "prefer_small_media": True}


async def test_preview_and_silent_commands(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """/preview on and /silent on (in Dutch words) change how this chat's alerts are sent."""
    async with pipeline(tmp_path, feed_server, botapi) as (rig, _):
        await reply_to(botapi, "/subscribe all", language_code="nl")
        preview = await reply_to(botapi, "/preview aan")
        silent = await reply_to(botapi, "/silent on")
        state = await reply_to(botapi, "/silent")
        await publish(rig, item(1), item(2, title="The Caesar Act is renewed", guid="g2"))
        await deliver(rig, botapi)
        alerts = botapi.replies_to(777)[-2:]
    assert preview.text == "Meldingen in deze chat tonen nu een voorbeeld van de gelinkte pagina."
    assert silent.text.startswith("Meldingen in deze chat komen nu binnen zonder meldingsgeluid")
    assert state.text == "Gebruik: /silent on|off. Nu: aan."
    by_link = {("x.test/1" in m.text): m for m in alerts}
    assert by_link[True].silent and not by_link[False].silent
    assert by_link[True].link_preview == {"url": "http://x.test/1", "prefer_small_media": True}
    assert "Onderwerpen: Convention Against Torture" in by_link[True].text


async def test_deleted_topic_is_dropped_and_told_once(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """A deleted forum topic: its rows are not retried, its subscriptions go, admins hear once."""
    botapi.set_forum(FORUM, [5, 42])
    channels = f"""
    channels:
      - chat: {FORUM}
        thread: 5
    """
    async with pipeline(tmp_path, feed_server, botapi, channels) as (rig, host):
        with transaction(host.conn):
            subs.ensure_chat(host.conn, "-1009", "supergroup", "", 1)
            subs.subscribe(host.conn, "-1009", ["cat"], 1, thread_id=42)
        botapi.set_forum(-1009, [42])
        botapi.delete_topic(FORUM, 5)
        botapi.delete_topic(-1009, 42)
        frontend_sends: list[tuple[int, str]] = []

        async def send(chat: int, text: str, markup: object) -> bool:
            frontend_sends.append((chat, text))
            return True

        notices = AdminNotices(host.conn, send, lambda: (ADMIN,))
        await publish(rig, item(1), item(2))
        await deliver(rig, botapi, notices)
        rig.server.set("/a.xml", rss([item(3), item(1), item(2)]))
        await rig.poll()
        await deliver(rig, botapi, notices)
        rows = host.conn.execute(
            "SELECT chat_id, state, attempts FROM outbox ORDER BY id"
        ).fetchall()
        left = subs.subscriptions_of(host.conn, "-1009")
    sent = [c for c in botapi.calls if c.method == "sendMessage" and c.status == 400]
    # One try for the first row of each topic; the rest queued there are dropped with it; a
    # later statement for the configured thread is tried once and fails alone (no retries).
    assert len(sent) == 3
    assert [tuple(r) for r in rows] == [
        (str(FORUM), "failed", 1),
        ("-1009", "failed", 1),
        (str(FORUM), "dropped", 0),
        ("-1009", "dropped", 0),
        (str(FORUM), "failed", 1),
    ]
    assert left == []  # subscribed in the deleted topic: removed
    told = [html.unescape(text) for _, text in frontend_sends]
    assert len(told) == 2  # once per deleted topic, not once per failed alert
    assert any(f"forum topic 5 of chat {FORUM} is gone" in t for t in told)
    assert any("forum topic 42 of chat -1009 is gone" in t for t in told)


def send_digests(rig: Rig) -> int:
    """Schedules each digest, makes it due now, and builds it; the digest messages queued."""
    config, now = rig.runtime.config, time.time()
    assert send_due_digests(rig.conn, config, now, None) == 0  # schedules them
    with transaction(rig.conn):
        for chat in prefs.scheduled(rig.conn):
            prefs.schedule(rig.conn, chat, now - 1)
    return send_due_digests(rig.conn, config, now, None)


async def test_channel_digests_go_to_each_topics_thread_silently(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """A forum channel with a digest: each statement is listed in the digest posted into the
    forum topic its alert would have gone to (thread, threads), without a sound (silent)."""
    botapi.set_forum(FORUM, [5, 7])
    channels = f"""
    channels:
      - chat: {FORUM}
        language: fr
        thread: 5
        threads: {{caesar: 7}}
        silent: true
        digest: daily 08:00
    """
    async with pipeline(tmp_path, feed_server, botapi, channels, caesar_urgent=False) as (rig, _):
        caesar = item(2, title="The Caesar Act is renewed", guid="g2")
        await publish(rig, item(1), caesar, item(3))
        assert botapi.replies_to(FORUM) == []  # held for the digest
        assert send_digests(rig) == 2
        await deliver(rig, botapi)
    by_thread = {m.thread_id: m for m in botapi.replies_to(FORUM)}
    assert set(by_thread) == {5, 7}
    cat, act = by_thread[5], by_thread[7]
    assert "2 déclarations" in cat.text and "1 déclaration " in act.text
    assert "x.test/1" in cat.text and "x.test/3" in cat.text and "x.test/2" not in cat.text
    assert "x.test/2" in act.text and "<b>Loi César</b> (1)" in act.text
    assert cat.silent and act.silent


async def test_a_chats_digest_goes_to_its_topic_and_follows_silent(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiServer
) -> None:
    """/subscribe and /digest sent in forum topic 42, then /silent on: the digest is posted in
    topic 42 without a sound; a private chat that did not ask for silence gets its digest with
    one, in the chat itself."""
    botapi.set_forum(FORUM, [42, 43])
    botapi.set_chat_admins(FORUM, [777])
    async with pipeline(tmp_path, feed_server, botapi) as (rig, _):
        where = {"chat_id": FORUM, "chat_type": "supergroup", "thread_id": 42}
        for command in ("/subscribe cat", "/digest daily 08:00", "/silent on"):
            await reply_to(botapi, command, **where)
        for command in ("/subscribe cat", "/digest daily 08:00"):
            await reply_to(botapi, command)
        await publish(rig, item(1))
        replies = {chat: len(botapi.replies_to(chat)) for chat in (FORUM, 777)}
        assert send_digests(rig) == 2
        await deliver(rig, botapi)
        forum, private = botapi.replies_to(FORUM)[-1], botapi.replies_to(777)[-1]
    assert {chat: len(botapi.replies_to(chat)) for chat in (FORUM, 777)} == {
        chat: count + 1 for chat, count in replies.items()
    }
    for digest in (forum, private):
        assert "<b>Vigil digest</b> · 1 statement since" in digest.text
        assert 'href="http://x.test/1"' in digest.text
    assert (forum.thread_id, forum.silent) == (42, True)
    assert (private.thread_id, private.silent) == (None, False)
