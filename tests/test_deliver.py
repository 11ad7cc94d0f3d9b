"""Delivery against the Bot API test server with the real python-telegram-bot client.

Each case seeds real outbox rows in a real SQLite file, runs the worker with the real Telegram
sender, and checks what the server received and what the ledger recorded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.deliver.limits import Pacer
from bot.deliver.telegram import TelegramSender, make_bot
from bot.deliver.worker import DeliveryWorker
from bot.model import Item
from bot.secrets import Secret
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store.db import Connection, connect, transaction
from tests.conftest import TOKEN
from tests.servers.botapi import BotApiServer

pytestmark = pytest.mark.usefixtures("database")  # each test on SQLite and PostgreSQL


def seed(
    conn: Connection, chats: list[str], *, statements: int = 1, html: str | None = None
) -> None:
    with transaction(conn):
        for n in range(statements):
            item = Item(key=f"k{n}", title=f"Statement {n}", link=None, summary="", content="")
            item_id = item_rows.insert_item(conn, "f", item, link_key=None, topics=("cat",), now=1)
            assert item_id is not None
            for chat in chats:
                subs.ensure_chat(conn, chat, "private", "", 1)
            outbox.enqueue(
                conn,
                item_id=item_id,
                deliveries=[
                    outbox.Delivery(
                        c, html or f"<b>Statement {n}</b> a &lt; b", f"Statement {n} a < b"
                    )
                    for c in chats
                ],
                statement_key=f"s{n}",
                topics=["cat"],
                now=1,
            )


async def drain(
    conn: Connection, server: BotApiServer, *, rate: float = 25, timeout: float = 60
) -> DeliveryWorker:
    sender = TelegramSender(make_bot(Secret(TOKEN), server.root))
    worker = DeliveryWorker(conn, sender, Pacer(rate))
    try:
        async with asyncio.timeout(timeout):
            await worker.run(until_idle=True)
    finally:
        await sender.close()
    return worker


def states(conn: Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


async def test_each_row_is_sent_once(tmp_path: Path, botapi: BotApiServer) -> None:
    """Three chats, two statements: six messages, all marked sent, HTML intact."""
    conn = connect(tmp_path)
    seed(conn, ["1", "2", "3"], statements=2)
    await drain(conn, botapi)
    assert sorted((m.chat_id, m.text) for m in botapi.messages) == sorted(
        (c, f"<b>Statement {n}</b> a &lt; b") for c in "123" for n in range(2)
    )
    assert all(m.parse_mode == "HTML" for m in botapi.messages)
    assert states(conn) == {"sent": 6}


async def test_fan_out_stays_under_limits(tmp_path: Path, botapi: BotApiServer) -> None:
    """150 subscribers of one alert: every one gets it once and the server never says 429."""
    conn = connect(tmp_path)
    chats = [str(1000 + n) for n in range(150)]
    seed(conn, chats)
    await drain(conn, botapi, rate=25)
    assert sorted(m.chat_id for m in botapi.messages) == sorted(chats)
    assert botapi.count_429 == 0


async def test_per_chat_backlog_is_paced(tmp_path: Path, botapi: BotApiServer) -> None:
    """Four statements to one chat arrive oldest first, a second apart, without a 429."""
    conn = connect(tmp_path)
    seed(conn, ["5"], statements=4)
    await drain(conn, botapi)
    assert [m.text.split()[1] for m in botapi.messages] == ["0</b>", "1</b>", "2</b>", "3</b>"]
    assert botapi.count_429 == 0


async def test_429_is_waited_out_then_sent_once(tmp_path: Path, botapi: BotApiServer) -> None:
    """A 429 retry_after=1 on one chat delays it; it still arrives exactly once (C1)."""
    conn = connect(tmp_path)
    botapi.fail(kind="429", chat_id="7", times=1, retry_after=1)
    seed(conn, ["7", "8"])
    worker = await drain(conn, botapi)
    assert sorted(m.chat_id for m in botapi.messages) == ["7", "8"]
    assert worker.rate_limited == 1
    assert states(conn) == {"sent": 2}


@pytest.mark.parametrize(
    "kind", ["403_blocked", "403_kicked", "403_deactivated", "400_chat_not_found"]
)
async def test_gone_chat_is_unsubscribed_after_one_attempt(
    tmp_path: Path, botapi: BotApiServer, kind: str
) -> None:
    """Blocked, kicked, deleted or unknown chats are dropped, not retried (C7, C8)."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, "9", "private", "", 1)
        subs.subscribe(conn, "9", ["cat"], 1)
    botapi.fail(kind=kind, chat_id="9")
    seed(conn, ["9", "10"], statements=2)
    await drain(conn, botapi)
    attempts = [
        c for c in botapi.calls if c.method == "sendMessage" and str(c.params["chat_id"]) == "9"
    ]
    assert len(attempts) == 1
    assert subs.subscriptions_of(conn, "9") == []
    assert [m.chat_id for m in botapi.messages] == ["10", "10"]
    assert states(conn) == {"sent": 2, "dropped": 2}


async def test_html_rejected_is_resent_as_plain_text(tmp_path: Path, botapi: BotApiServer) -> None:
    """A 'can't parse entities' answer leads to one plain-text resend (C10)."""
    conn = connect(tmp_path)
    botapi.fail(kind="400_parse", times=1)
    seed(conn, ["11"])
    await drain(conn, botapi)
    assert [(m.text, m.parse_mode) for m in botapi.messages] == [("Statement 0 a < b", None)]
    assert states(conn) == {"sent": 1}


async def test_migrated_group_gets_message_at_new_id(tmp_path: Path, botapi: BotApiServer) -> None:
    """A group upgraded to a supergroup: the alert follows to the new id once (C9)."""
    conn = connect(tmp_path)
    botapi.fail(kind="400_migrate", chat_id="-55", migrate_to=-1005555, times=1)
    seed(conn, ["-55"])
    await drain(conn, botapi)
    assert [m.chat_id for m in botapi.messages] == ["-1005555"]


async def test_server_errors_are_retried_until_delivered(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """Two 500s then success: one delivery, nothing lost (C4)."""
    conn = connect(tmp_path)
    botapi.fail(kind="500", times=2)
    seed(conn, ["12"])
    await drain(conn, botapi)
    assert [m.chat_id for m in botapi.messages] == ["12"]
    assert states(conn) == {"sent": 1}


async def test_ambiguous_timeout_gives_at_most_two_copies(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """The server records the message but never answers: one retry, at most 2 copies (C6)."""
    conn = connect(tmp_path)
    botapi.fail(kind="timeout", times=1, hold=15.0)
    seed(conn, ["13"])
    await drain(conn, botapi, timeout=90)
    assert 1 <= len(botapi.messages) <= 2
    row = conn.execute("SELECT state, last_error FROM outbox").fetchone()
    assert row[0] == "sent"


async def test_invalid_token_stops_delivery_loudly(tmp_path: Path, botapi: BotApiServer) -> None:
    """401 stops the worker with a reason; the rows stay pending for a fixed token (C12)."""
    conn = connect(tmp_path)
    botapi.fail(kind="401")
    seed(conn, ["14", "15"])
    worker = await drain(conn, botapi)
    assert worker.fatal is not None
    assert states(conn) == {"pending": 2}


async def test_unreachable_then_back_delivers_everything_once(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """Telegram down: rows wait on disk; back up: each delivered once, oldest first (C13)."""
    conn = connect(tmp_path)
    seed(conn, ["16"], statements=3)
    botapi.set_unreachable(True)
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(conn, sender, Pacer(25))
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(2.0)
    assert states(conn) == {"pending": 3}
    botapi.set_unreachable(False)
    worker.wake()
    try:
        await botapi.wait_for_messages(3, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
    assert [m.text.split()[1] for m in botapi.messages] == ["0</b>", "1</b>", "2</b>"]
    assert states(conn) == {"sent": 3}
