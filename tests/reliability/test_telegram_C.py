"""RELIABILITY C — Telegram API faults, each one proven against the Bot API test server.

Every case runs the real python-telegram-bot client (``make_bot``/``TelegramSender``, or a
``telegram.Bot`` built the same way when a case needs a shorter read timeout or a transport that
fails before the request leaves), the real :class:`DeliveryWorker` and a real SQLite state file,
then checks what the server received and what the ledger recorded. C12 and C14 also run
``vigil run`` as a subprocess, because "the process stops" is the behaviour.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import re
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import parse_config
from bot.deliver.limits import Pacer
from bot.deliver.sender import DEFAULT_OPTIONS, SendOptions, SendResult, Status
from bot.deliver.telegram import TelegramSender, api_urls, make_bot
from bot.deliver.worker import MAX_RETRY_DELAY, DeliveryWorker
from bot.fetch import Fetcher
from bot.model import Item
from bot.pipeline import Poller, Runtime
from bot.route.render import render_alert
from bot.secrets import Secret
from bot.service.app import fetch_policy
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store.db import connect, transaction
from tests.conftest import TOKEN, make_config
from tests.servers.botapi import BotApiServer, BotApiServerThread, Call, visible_text
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_deliver import seed, states
from tests.test_e2e import OLD, Service, poll_now, run_vigil, write
from tests.test_telegram_commands import make_host, reply_to, running
from tests.test_telegram_e2e import statement


def sends(server: BotApiServer, chat: str | None = None) -> list[Call]:
    """sendMessage calls as the server saw them, optionally for one chat."""
    return [
        c
        for c in server.calls
        if c.method == "sendMessage" and (chat is None or str(c.params.get("chat_id")) == chat)
    ]


def custom_bot(server: BotApiServer, **request: object) -> Bot:
    """A PTB Bot like make_bot's, with HTTPXRequest options a case needs changed."""
    base_url, base_file_url = api_urls(server.root)
    kwargs: dict[str, object] = {"httpx_kwargs": {"trust_env": False}}
    kwargs.update(request)
    return Bot(
        TOKEN,
        base_url=base_url,
        base_file_url=base_file_url,
        request=HTTPXRequest(**kwargs),  # type: ignore[arg-type]
    )


async def drain(
    conn: sqlite3.Connection,
    server: BotApiServer,
    *,
    bot: Bot | None = None,
    wall: object = time.time,
    timeout: float = 90,
) -> DeliveryWorker:
    """Runs a worker with the real Telegram sender until nothing is due soon."""
    sender = TelegramSender(bot or make_bot(Secret(TOKEN), server.root))
    worker = DeliveryWorker(conn, sender, Pacer(25), wall=wall)  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(timeout):
            await worker.run(until_idle=True)
    finally:
        await sender.close()
    return worker


def row_of(conn: sqlite3.Connection, chat: str, key: str = "s0") -> sqlite3.Row:
    """The outbox row of one chat and statement."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM outbox WHERE chat_id = ? AND statement_key = ?", (chat, key)
    ).fetchone()
    assert row is not None
    return row


# ---------------------------------------------------------------- 429


async def test_C1_429_pauses_only_that_chat(tmp_path: Path, botapi: BotApiServer) -> None:
    """C1: 429 retry_after=3 holds that chat ≥ 3 s while the others go on; each sent once."""
    conn = connect(tmp_path)
    botapi.fail(kind="429", chat_id="7", times=1, retry_after=3)
    seed(conn, ["7", "8", "9"])
    await drain(conn, botapi)
    first, second = sends(botapi, "7")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 3.0
    others = [m for m in botapi.messages if m.chat_id in ("8", "9")]
    assert len(others) == 2
    assert all(m.at < second.at for m in others)
    assert sorted(m.chat_id for m in botapi.messages) == ["7", "8", "9"]
    assert states(conn) == {"sent": 3}


async def test_C2_long_retry_after_waits_on_disk(
    tmp_path: Path, botapi: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """C2: retry_after=10072 is stored on the row; commands are answered; sent once after."""
    caplog.set_level(logging.INFO)
    host = make_host(tmp_path)
    conn = connect(tmp_path / "state")
    botapi.fail(kind="429", chat_id="7", times=1, retry_after=10072)
    seed(conn, ["7"])
    before = time.time()
    async with running(botapi, host):
        worker = await drain(conn, botapi)
        assert "/subscribe TOPIC|all" in (await reply_to(botapi, "/help")).text
    row = row_of(conn, "7")
    assert row["state"] == "pending"
    assert row["next_attempt_at"] >= before + 10072
    assert worker.rate_limited == 1
    warnings = [r for r in caplog.records if r.getMessage() == "rate limited by telegram"]
    assert len(warnings) == 1  # told once; /status shows the backlog meanwhile
    assert sends(botapi, "7")[-1].status == 429
    await drain(conn, botapi, wall=lambda: time.time() + 10080)
    assert [m.chat_id for m in botapi.messages if m.chat_id == "7"] == ["7"]
    assert row_of(conn, "7")["state"] == "sent"


async def test_C3_every_call_429_no_retry_storm(tmp_path: Path, botapi: BotApiServer) -> None:
    """C3: while every send is answered 429, each chat retries no faster than retry_after."""
    conn = connect(tmp_path)
    chats = [str(300 + n) for n in range(5)]
    seed(conn, chats, statements=2)
    botapi.fail(kind="429", retry_after=1)
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(conn, sender, Pacer(25))
    task = asyncio.create_task(worker.run())
    cpu = time.process_time()
    started = time.monotonic()
    try:
        await asyncio.sleep(4.0)
        elapsed = time.monotonic() - started
        busy = time.process_time() - cpu
        limited = list(sends(botapi))
        botapi.clear_faults()
        await botapi.wait_for_messages(10, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
    assert all(c.status == 429 for c in limited)
    assert worker.rate_limited == len(limited)  # one request per attempt: no hidden retries
    for chat in chats:
        times = [c.at for c in limited if str(c.params["chat_id"]) == chat]
        assert times
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert busy < 0.5 * elapsed  # waiting, not spinning
    got = sorted((m.chat_id, m.text.split()[1]) for m in botapi.messages)
    assert got == sorted((c, f"{n}</b>") for c in chats for n in range(2))
    assert states(conn) == {"sent": 10}


# ---------------------------------------------------------------- transient faults


@pytest.mark.parametrize("kind", ["500", "502_html", "invalid_json"], ids=lambda k: f"C4-{k}")
async def test_server_errors_back_off_then_deliver_once(
    tmp_path: Path, botapi: BotApiServer, kind: str
) -> None:
    """C4: 5xx, an HTML error page and broken JSON are retried with growing pauses; sent once."""
    conn = connect(tmp_path)
    botapi.fail(kind=kind, times=2)
    seed(conn, ["12"])
    await drain(conn, botapi)
    calls = sends(botapi)
    assert [c.status for c in calls][-1] == 200
    assert len(calls) == 3
    first_pause, second_pause = calls[1].at - calls[0].at, calls[2].at - calls[1].at
    assert first_pause >= 2.0 * 0.8  # 2 s × jitter 0.8..1.2, then doubling, capped at 300 s
    assert second_pause >= 4.0 * 0.8
    assert MAX_RETRY_DELAY == 300.0
    assert [m.chat_id for m in botapi.messages] == ["12"]
    assert states(conn) == {"sent": 1}


class FailingTransport(httpx.AsyncBaseTransport):
    """Raises a transport error before sendMessage leaves the client, then passes through."""

    def __init__(self, error: type[httpx.TransportError], times: int) -> None:
        self.error = error
        self.times = times
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Fails the first `times` sendMessage requests, like a dead network would."""
        if self.times and request.url.path.endswith("/sendMessage"):
            self.times -= 1
            raise self.error("injected before sending", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Closes the real transport underneath."""
        await self.inner.aclose()


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout],
    ids=["C5-ConnectError", "C5-ConnectTimeout", "C5-PoolTimeout"],
)
async def test_not_sent_errors_are_retried_exactly_once(
    tmp_path: Path,
    botapi: BotApiServer,
    caplog: pytest.LogCaptureFixture,
    error: type[httpx.TransportError],
) -> None:
    """C5: errors raised before the request left are plain retries: delivered exactly once."""
    conn = connect(tmp_path)
    seed(conn, ["13"])
    transport = FailingTransport(error, times=1)
    bot = custom_bot(botapi, httpx_kwargs={"trust_env": False, "transport": transport})
    await drain(conn, botapi, bot=bot)
    assert [m.chat_id for m in botapi.messages] == ["13"]
    assert len(sends(botapi)) == 1
    row = row_of(conn, "13")
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert any("telegram unavailable" in r.getMessage() for r in caplog.records)
    assert not any("ambiguous" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("timeouts", "note"),
    [(1, "uncertain: sent again"), (2, "sent-uncertain: two ambiguous timeouts")],
    ids=["C6-retry-once", "C6-second-timeout-stops"],
)
async def test_ambiguous_read_timeout(
    tmp_path: Path, botapi: BotApiServer, timeouts: int, note: str
) -> None:
    """C6: the server kept the message but never answered: one retry, ≤ 2 copies, ledger says so."""
    conn = connect(tmp_path)
    botapi.fail(kind="timeout", times=timeouts, hold=4.0)
    seed(conn, ["14"])
    await drain(conn, botapi, bot=custom_bot(botapi, read_timeout=1.0))
    assert [m.chat_id for m in botapi.messages] == ["14", "14"]
    assert len(sends(botapi)) <= 2
    row = row_of(conn, "14")
    assert row["state"] == "sent"
    assert row["last_error"].startswith(note)


# ---------------------------------------------------------------- permanent answers


@pytest.mark.parametrize(
    ("kind", "chat"),
    [
        ("403_blocked", "21"),
        ("403_kicked", "-77"),
        ("403_deactivated", "22"),
        ("400_chat_not_found", "23"),
    ],
    ids=["C7-blocked", "C7-kicked", "C7-deactivated", "C8-chat-not-found"],
)
async def test_gone_chat_dropped_after_one_attempt(
    tmp_path: Path, botapi: BotApiServer, caplog: pytest.LogCaptureFixture, kind: str, chat: str
) -> None:
    """C7, C8: no retry; chat inactive, unsubscribed, its queue dropped; the others unaffected."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, chat, "private", "", 1)
        subs.subscribe(conn, chat, ["cat"], 1)
    botapi.fail(kind=kind, chat_id=chat)
    seed(conn, [chat, "10"], statements=2)
    await drain(conn, botapi)
    assert len(sends(botapi, chat)) == 1
    assert subs.subscriptions_of(conn, chat) == []
    active = conn.execute("SELECT active FROM chats WHERE chat_id = ?", (chat,)).fetchone()[0]
    assert active == 0
    assert [m.chat_id for m in botapi.messages] == ["10", "10"]
    assert states(conn) == {"sent": 2, "dropped": 2}
    assert any("chat is gone" in r.getMessage() for r in caplog.records)


async def test_C9_migrated_group_follows_new_id(tmp_path: Path, botapi: BotApiServer) -> None:
    """C9: ChatMigrated moves rows and subscriptions to the new id; later sends go there."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, "-55", "group", "g", 1)
        subs.subscribe(conn, "-55", ["cat"], 1)
    botapi.fail(kind="400_migrate", chat_id="-55", migrate_to=-1005555, times=1)
    seed(conn, ["-55"], statements=2)
    await drain(conn, botapi)
    assert [m.chat_id for m in botapi.messages] == ["-1005555", "-1005555"]
    assert len(sends(botapi, "-55")) == 1
    assert subs.subscriptions_of(conn, "-1005555") == ["cat"]
    assert subs.subscriptions_of(conn, "-55") == []
    assert states(conn) == {"sent": 2}


@pytest.mark.parametrize(
    ("times", "statuses", "state"),
    [(1, [400, 200], "sent"), (None, [400, 400], "failed")],
    ids=["C10-plain-accepted", "C10-plain-refused-too"],
)
async def test_entity_error_resent_once_as_plain_text(
    tmp_path: Path,
    botapi: BotApiServer,
    caplog: pytest.LogCaptureFixture,
    times: int | None,
    statuses: list[int],
    state: str,
) -> None:
    """C10: "can't parse entities" → one plain resend, logged with the item; never retried."""
    conn = connect(tmp_path)
    botapi.fail(kind="400_parse", times=times)
    seed(conn, ["15"])
    await drain(conn, botapi)
    assert [c.status for c in sends(botapi)] == statuses
    assert states(conn) == {state: 1}
    noted = [r for r in caplog.records if getattr(r, "item_key", None) == "s0"]
    if state == "sent":
        assert [(m.text, m.parse_mode) for m in botapi.messages] == [("Statement 0 a < b", None)]
        assert any("plain text" in r.getMessage() for r in noted)
    else:
        assert any("refused the message" in r.getMessage() for r in noted)


async def test_C11_too_long_is_never_rendered_and_truncated_if_refused(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """C11: a 100 KB title renders under 4096; a "too long" answer gets one truncated plain send."""
    item = Item("k", "T" * 100_000, "https://example.org/x", "S" * 100_000, "")
    rendered = render_alert(item, feed_name="ICJ", topic_names=["Caesar Act"], matches=())
    assert len(visible_text(rendered.html, "HTML")) <= 4096
    conn = connect(tmp_path)
    with transaction(conn):
        item_id = item_rows.insert_item(conn, "f", item, link_key=None, topics=["caesar"], now=1)
        assert item_id is not None
        outbox.enqueue(
            conn,
            item_id=item_id,
            # a plain copy longer than Telegram allows
            deliveries=[
                outbox.Delivery(c, rendered.html, rendered.plain + "P" * 10_000)
                for c in ["16", "17"]
            ],
            statement_key="s0",
            topics=["caesar"],
            now=1,
        )
    botapi.fail(kind="400_too_long", chat_id="17", times=1)
    await drain(conn, botapi)
    by_chat = {m.chat_id: m for m in botapi.messages}
    assert by_chat["16"].parse_mode == "HTML"
    assert by_chat["17"].parse_mode is None
    assert len(by_chat["17"].text) <= 4096
    assert [c.status for c in sends(botapi, "17")] == [400, 200]
    assert states(conn) == {"sent": 2}


async def test_C12_invalid_token_stops_without_retry_storm(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """C12: 401 stops the worker loudly after the sends already started; rows stay pending."""
    conn = connect(tmp_path)
    botapi.fail(kind="401")
    seed(conn, ["18", "19"], statements=3)
    worker = await drain(conn, botapi)
    assert worker.fatal == "the bot token was rejected by Telegram"
    tried = len(sends(botapi))
    assert 1 <= tried <= 2  # at most the sends in flight when the first 401 came back
    await asyncio.sleep(1.5)
    assert len(sends(botapi)) == tried
    assert states(conn) == {"pending": 6}


# ---------------------------------------------------------------- outage


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
async def test_C13_unreachable_while_polling_memory_flat_then_all_once(
    tmp_path: Path,
    botapi: BotApiServer,
    feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """C13: polling goes on during an outage, the backlog stays on disk, memory stays flat,
    backoff is capped, and on recovery every row arrives once, oldest first per chat."""
    chats = ["101", "102", "103"]
    config = parse_config(make_config({"a": feed_server.url("/a.xml")}))
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
        for chat in chats:
            subs.ensure_chat(conn, chat, "private", "", 1)
            subs.subscribe(conn, chat, ["cat"], 1)
    runtime = Runtime.build(config, console=False)
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(conn, sender, Pacer(25))
    fetcher = Fetcher(fetch_policy(config))
    poller = Poller(conn, fetcher, lambda: runtime, on_queued=worker.wake)
    feed = config.feeds[0]
    published: list[dict[str, str]] = [OLD]
    feed_server.set("/a.xml", rss(published))
    await poller.poll(feed)  # baseline
    botapi.set_unreachable(True)
    task = asyncio.create_task(worker.run())
    rounds, warm = 14, 4
    tracemalloc.start()
    try:
        base = 0
        for n in range(rounds):
            published.insert(0, statement(n))
            feed_server.set("/a.xml", rss(published[:5]))
            report = await poller.poll(feed)
            assert report.new_items == 1
            if n == warm:
                gc.collect()
                base = tracemalloc.get_traced_memory()[0]
            await asyncio.sleep(0.25)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        assert grown < 1_000_000, f"memory grew by {grown} bytes during the outage"
        assert states(conn) == {"pending": rounds * len(chats)}
        assert botapi.messages == []
        botapi.set_unreachable(False)
        await botapi.wait_for_messages(rounds * len(chats), timeout=120)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
        await fetcher.aclose()
        poller.close()
    pauses = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.search(r"pausing delivery (\d+)s", r.getMessage()))
    ]
    assert pauses, [r.getMessage() for r in caplog.records][:20]
    assert max(pauses) <= MAX_RETRY_DELAY * 1.2
    for chat in chats:
        order = [int(m.text.split("Statement ")[1].split()[0]) for m in botapi.replies_to(chat)]
        assert order == list(range(rounds))
    assert botapi.count_429 == 0
    assert states(conn) == {"sent": rounds * len(chats)}


# ---------------------------------------------------------------- the service


@pytest.fixture
def servers() -> Iterator[tuple[FeedServer, BotApiServerThread]]:
    """A feed server and a Bot API server in background threads, for `vigil run`."""
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        yield feeds, telegram


def test_C12_service_exits_3_and_health_fails(
    tmp_path: Path, vigil_env: dict[str, str], servers: tuple[FeedServer, BotApiServerThread]
) -> None:
    """C12: `vigil run` whose sends get 401 exits 3 with a clear line; `vigil health` fails."""
    feeds, telegram = servers
    feeds.set("/a.xml", rss([OLD]))
    config = write(
        tmp_path / "feeds.yaml",
        make_config({"a": feeds.url("/a.xml")}, 'channels:\n  - chat: "-1001"\n'),
    )
    env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
    service = Service(env, config, tmp_path)
    try:
        service.wait_for(lambda: "feed polled" in service.stderr())
        telegram.fail(kind="401")
        feeds.set("/a.xml", rss([statement(1), OLD]))
        poll_now(env["VIGIL_STATE_DIR"])
        code = service.proc.wait(timeout=60)
        err = service.stderr()
    finally:
        service.stop()
    assert code == 3
    assert "Telegram refused the bot token" in err
    assert TOKEN not in err
    health = run_vigil(env, config, "health", timeout=60)
    assert health.returncode == 1
    assert "the service stopped: Telegram refused the bot token" in health.stdout
    status = run_vigil(env, config, "status", timeout=60)
    assert "STOPPED: Telegram refused the bot token" in status.stdout


def test_C14_conflict_exits_3_another_instance(
    tmp_path: Path, vigil_env: dict[str, str], servers: tuple[FeedServer, BotApiServerThread]
) -> None:
    """C14: getUpdates answering 409 Conflict stops `vigil run` with exit 3 and says why."""
    feeds, telegram = servers
    feeds.set("/a.xml", rss([OLD]))
    config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
    env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
    telegram.conflict(True)
    done = run_vigil(env, config, "run", timeout=60)
    assert done.returncode == 3
    assert "another instance is polling with this bot token" in done.stderr
    health = run_vigil(env, config, "health", timeout=60)
    assert health.returncode == 1
    assert "another instance is polling with this bot token" in health.stdout

    telegram.conflict(False)  # the other instance went away: a new start forgets the old reason
    service = Service(env, config, tmp_path)
    try:
        service.wait_for(lambda: run_vigil(env, config, "health").returncode == 0)
    finally:
        service.stop()


# ---------------------------------------------------------------- sent but not recorded


class StoreFailsAfterSend:
    """The real Telegram sender; after its first delivery the store refuses every write.

    ``PRAGMA query_only`` makes SQLite refuse writes with an OperationalError, the same class
    of error a full disk raises, at the exact moment between "Telegram accepted" and "recorded".
    """

    def __init__(self, inner: TelegramSender, conn: sqlite3.Connection) -> None:
        self.inner = inner
        self.conn = conn
        self.armed = True
        self.broken = asyncio.Event()

    async def send(
        self, chat_id: str, html: str, plain: str, options: SendOptions = DEFAULT_OPTIONS
    ) -> SendResult:
        """Sends for real, then breaks the store once."""
        result = await self.inner.send(chat_id, html, plain, options)
        if self.armed and result.status is Status.SENT:
            self.armed = False
            self.conn.execute("PRAGMA query_only = ON")
            self.broken.set()
        return result

    async def close(self) -> None:
        """Closes the real sender."""
        await self.inner.close()


@pytest.mark.parametrize("restart", [False, True], ids=["C15-space-freed", "C15-restart"])
async def test_sent_but_not_recorded(tmp_path: Path, botapi: BotApiServer, restart: bool) -> None:
    """C15: an unrecordable success is not resent while running; a restart resends only it."""
    conn = connect(tmp_path)
    seed(conn, ["31"], statements=3)
    sender = StoreFailsAfterSend(TelegramSender(make_bot(Secret(TOKEN), botapi.root)), conn)
    worker = DeliveryWorker(conn, sender, Pacer(25))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(sender.broken.wait(), 30)
        await asyncio.sleep(4.0)  # the store stays broken: nothing is sent twice meanwhile
        assert [m.text.split()[1] for m in botapi.messages] == ["0</b>"]
        assert not task.done()  # no crash, no crash loop
        if restart:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        conn.execute("PRAGMA query_only = OFF")
        if restart:
            await drain(conn, botapi)
        else:
            worker.wake()
            await botapi.wait_for_messages(3, timeout=60)
            await asyncio.sleep(1.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
    got = [m.text.split()[1] for m in botapi.messages]
    expected = ["0</b>", "0</b>", "1</b>", "2</b>"] if restart else ["0</b>", "1</b>", "2</b>"]
    assert got == expected
    assert states(conn) == {"sent": 3}
