"""RELIABILITY F — hostile Telegram users, each through the real front end and PTB client.

Every case runs :class:`TelegramFrontend` with a real ``telegram.Bot`` against the Bot API test
server and a real state database (the fixtures of ``tests/test_telegram_commands.py``), injects
the hostile updates into the server and checks the replies it recorded and the stored state.
F7 is a delivery fault, so it runs the real worker instead.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import bot.telegram.request
from bot.config import parse_config
from bot.store import subs
from bot.store.db import connect, transaction
from bot.telegram import replies
from bot.telegram.keyboards import MAX_TOPIC_BUTTONS
from tests.reliability.test_telegram_C import drain, sends
from tests.servers.botapi import BotApiServer, visible_text
from tests.test_deliver import seed, states
from tests.test_telegram_commands import (
    ADMIN,
    GROUP,
    USER,
    Current,
    LiveHost,
    anonymous_admin_command,
    blocked_by,
    make_host,
    reply_to,
    running,
    subscriptions,
    wait_for_calls,
)

CHANNEL_BOT = 136817688


def table_names(conn: sqlite3.Connection) -> list[str]:
    """The schema's tables, to show nothing was dropped."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows]


def count(conn: sqlite3.Connection, table: str) -> int:
    """Rows in a table."""
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_F1_command_flood_one_slow_down(tmp_path: Path, botapi: BotApiServer) -> None:
    """F1: 100 /subscribe at once from one user: ≤ 5 run, one "slow down", no 429, one row."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        for _ in range(100):
            botapi.command("/subscribe cat")
        await botapi.wait_for_messages(6, chat_id=USER, timeout=30)
        await asyncio.sleep(2.0)
        texts = [m.text for m in botapi.replies_to(USER)]
        assert texts.count(replies.SLOW_DOWN) == 1
        assert len(texts) == 6
        assert count(host.conn, "subscriptions") == 1
        assert count(host.conn, "chats") == 1
    assert botapi.count_429 == 0


async def test_F2_many_accounts_hit_the_global_cap(
    tmp_path: Path, botapi: BotApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F2: past the cap of subscribed chats new accounts are refused; /start stores nothing."""
    monkeypatch.setattr(bot.telegram.request, "MAX_CHATS", 3)
    host = make_host(tmp_path)
    async with running(botapi, host):
        for user in range(5001, 5011):
            await reply_to(botapi, "/start", user_id=user)
        assert count(host.conn, "chats") == 0
        answers = [
            (await reply_to(botapi, "/subscribe cat", user_id=user)).text
            for user in range(5001, 5006)
        ]
        again = (await reply_to(botapi, "/subscribe caesar", user_id=5001)).text
    assert [a.startswith("Subscribed") for a in answers] == [True] * 3 + [False] * 2
    assert answers[3:] == [replies.FULL] * 2
    assert again.startswith("Subscribed")  # existing chats keep working
    assert subs.count_chats(connect(tmp_path / "state"))[0] == 3


@pytest.mark.parametrize(
    ("text", "expected", "tracked"),
    [
        ("/subscribe " + "x" * 4096, "Unknown topic", []),
        ("/track " + "y" * 4096, "at most 100 characters", []),
        ("/track ab\x00cd", "control or invisible characters", []),
        ("/track evil\u202ename", "invisible characters", []),
        ("/track zero\u200bwidth", "invisible characters", []),
        ("/subscribe <b>x</b>&amp;", "<code>&lt;b&gt;x&lt;/b&gt;&amp;amp;</code>", []),
        ("/track <i>Assad</i>", "<code>&lt;i&gt;Assad&lt;/i&gt;</code>", ["<i>Assad</i>"]),
    ],
    ids=[
        "F3-4096-topic",
        "F3-4096-phrase",
        "F3-nul",
        "F3-rtl-override",
        "F3-zero-width",
        "F3-html-topic",
        "F3-html-phrase",
    ],
)
async def test_hostile_arguments(
    tmp_path: Path, botapi: BotApiServer, text: str, expected: str, tracked: list[str]
) -> None:
    """F3: long, invisible or markup-laden arguments get a short reply with the input escaped."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        assert expected in reply.text
        assert len(reply.text) < 400
        assert subs.tracks_of(host.conn, str(USER)) == tracked
        assert subs.subscriptions_of(host.conn, str(USER)) == []


async def test_F3_many_messages_stay_capped(tmp_path: Path, botapi: BotApiServer) -> None:
    """F3: phrases sent over several messages stop at 20 per chat of ≤ 100 characters."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(USER), "private", "", 0.0)
        for n in range(19):
            subs.track(host.conn, str(USER), f"{n:02d}" + "p" * 98, float(n))
    async with running(botapi, host):
        texts = [(await reply_to(botapi, f"/track {n}" + "q" * 97)).text for n in range(3)]
        stored = subs.tracks_of(host.conn, str(USER))
    assert texts[0].startswith("Tracking")
    assert all("at most 20 phrases" in t for t in texts[1:])
    assert len(stored) == 20
    assert sum(len(p) for p in stored) <= 20 * 100


def edited(text: str) -> dict[str, Any]:
    """An edited_message update carrying a command."""
    user = {"id": USER, "is_bot": False, "first_name": "Ann"}
    return {
        "edited_message": {
            "message_id": 5,
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": {"id": USER, "type": "private", "first_name": "Ann"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        }
    }


def captioned(text: str) -> dict[str, Any]:
    """A photo whose caption is a command."""
    return {
        "message": {
            "message_id": 6,
            "date": int(time.time()),
            "chat": {"id": USER, "type": "private", "first_name": "Ann"},
            "from": {"id": USER, "is_bot": False, "first_name": "Ann"},
            "photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}],
            "caption": text,
            "caption_entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        }
    }


@pytest.mark.parametrize(
    ("way", "answered"),
    [
        ("private", True),
        ("group", True),
        ("addressed", True),
        ("username-like-admin-id", True),
        ("edited", False),
        ("caption", False),
        ("button", False),
    ],
    ids=[
        "F4-private",
        "F4-group",
        "F4-addressed",
        "F4-username",
        "F4-edited",
        "F4-caption",
        "F4-button",
    ],
)
async def test_non_admin_cannot_run_admin_commands(
    tmp_path: Path,
    botapi: BotApiServer,
    caplog: pytest.LogCaptureFixture,
    way: str,
    answered: bool,
) -> None:
    """F4: every way a non-admin can send /reload is refused or ignored; nothing runs."""
    caplog.set_level(logging.INFO)
    host = make_host(tmp_path)
    chat: int = GROUP if way == "group" else USER
    async with running(botapi, host):
        if way == "private":
            botapi.command("/reload")
        elif way == "group":
            botapi.command("/reload", chat_type="group")
        elif way == "addressed":
            botapi.command("/reload@vigil_test_bot")
        elif way == "username-like-admin-id":
            botapi.command("/reload", username=str(ADMIN), first_name=str(ADMIN))
        elif way == "edited":
            botapi.inject_update(edited("/reload"))
        elif way == "caption":
            botapi.inject_update(captioned("/reload"))
        else:
            botapi.callback("reload")
            await wait_for_calls(botapi, "answerCallbackQuery")
        if answered:
            reply = (await botapi.wait_for_messages(1, chat_id=chat, timeout=15))[0]
            assert reply.text == replies.ADMIN_ONLY
            assert any("refused /reload" in r.getMessage() for r in caplog.records)
        else:
            marker = await reply_to(botapi, "/help")  # handled after the hostile update
            assert replies.ADMIN_ONLY not in marker.text
            assert [m.text for m in botapi.replies_to(USER)] == [marker.text]
    assert host.reloads == 0


def on_behalf_of_channel(text: str) -> dict[str, Any]:
    """A group message sent on behalf of a channel: from Channel_Bot, sender_chat a channel."""
    return {
        "message": {
            "message_id": 7,
            "date": int(time.time()),
            "chat": {"id": GROUP, "type": "group", "title": "Group"},
            "sender_chat": {"id": -1007, "type": "channel", "title": "Some channel"},
            "from": {"id": CHANNEL_BOT, "is_bot": True, "first_name": "Channel"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        }
    }


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (anonymous_admin_command("/reload"), replies.ADMIN_ONLY),
        (on_behalf_of_channel("/reload"), replies.ADMIN_ONLY),
        (on_behalf_of_channel("/subscribe cat"), replies.GROUP_ADMIN_ONLY),
    ],
    ids=["F5-anonymous-admin", "F5-channel-sender-admin-cmd", "F5-channel-sender-subscribe"],
)
async def test_helper_accounts_are_not_people(
    tmp_path: Path,
    botapi: BotApiServer,
    caplog: pytest.LogCaptureFixture,
    update: dict[str, Any],
    expected: str,
) -> None:
    """F5: GroupAnonymousBot and Channel_Bot are never Vigil admins; nothing crashes."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        botapi.inject_update(update)
        reply = (await botapi.wait_for_messages(1, chat_id=GROUP, timeout=15))[0]
        assert subscriptions(host, GROUP) == []
    assert reply.text == expected
    assert host.reloads == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("chat", "adder", "stays"),
    [(-6666, USER, False), ("@stranger_channel", USER, False), (-6666, ADMIN, True)],
    ids=["F6-unknown-group", "F6-unknown-channel", "F6-added-by-admin"],
)
async def test_added_to_unknown_chat_leaves(
    tmp_path: Path, botapi: BotApiServer, chat: int | str, adder: int, stays: bool
) -> None:
    """F6: added to a group or channel nobody allowed, the bot leaves and subscribes nothing."""
    host = make_host(tmp_path, "closed")
    async with running(botapi, host):
        botapi.my_chat_member(chat, by_user_id=adder)
        if stays:
            await reply_to(botapi, "/help")
            await asyncio.sleep(0.2)
        else:
            await wait_for_calls(botapi, "leaveChat")
        assert count(host.conn, "subscriptions") == 0
    assert bool(botapi.left_chats) is not stays


@pytest.mark.parametrize(
    ("kind", "chat", "description"),
    [
        ("400_chat_not_found", "-3001", "Bad Request: not enough rights to send text messages"),
        ("400_chat_not_found", "-3002", "Bad Request: have no rights to send a message"),
        ("400_chat_not_found", "@mute_ch", "Bad Request: need administrator rights in the channel"),
        ("403_kicked", "-1003003", None),
    ],
    ids=["F7-not-enough-rights", "F7-no-rights", "F7-channel-not-admin", "F7-not-a-member"],
)
async def test_no_post_permission_deactivates_without_retry(
    tmp_path: Path, botapi: BotApiServer, kind: str, chat: str, description: str | None
) -> None:
    """F7: a chat the bot may not post in is tried once, deactivated, and its queue dropped."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, chat, "group", "g", 1)
        subs.subscribe(conn, chat, ["cat"], 1)
    botapi.fail(kind=kind, chat_id=chat, description=description)
    seed(conn, [chat], statements=3)
    await drain(conn, botapi)
    assert len(sends(botapi, chat)) == 1
    assert subs.subscriptions_of(conn, chat) == []
    assert conn.execute("SELECT active FROM chats WHERE chat_id = ?", (chat,)).fetchone()[0] == 0
    assert states(conn) == {"dropped": 3}


@pytest.mark.parametrize(
    "text",
    [
        "/subscribe '; DROP TABLE subscriptions;--",
        "/unsubscribe x'); DELETE FROM chats;--",
        "/recent ' OR 1=1 --",
        "/track '; DROP TABLE tracks;--",
    ],
    ids=["F8-subscribe", "F8-unsubscribe", "F8-recent", "F8-track"],
)
async def test_sql_like_arguments_are_plain_text(
    tmp_path: Path, botapi: BotApiServer, text: str
) -> None:
    """F8: SQL-ish arguments are data: unknown topics are refused, phrases stored verbatim."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        subs.subscribe(host.conn, "42", ["cat"], 0.0)
    before = table_names(host.conn)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        assert table_names(host.conn) == before
        assert subs.subscriptions_of(host.conn, "42") == ["cat"]
        tracked = subs.tracks_of(host.conn, str(USER))
    if text.startswith("/track"):
        assert tracked == [text.removeprefix("/track ")]
    else:
        assert "Unknown topic" in reply.text or reply.text.startswith("Usage")
        assert tracked == []


@pytest.mark.parametrize(
    "data",
    [
        "sub:nope",
        "sub:cat:x",
        "unsub:*",
        "sub:'; DROP TABLE chats;--",
        "x" * 64,
        "admin:reload",
        "unsub:",
        "sub",
        "drop:cat",
        "tog:nope",
        "tog:",
        "tog:cat:x",
        "unsub:*:t",
        "lang:de",
        "lang:AR",
        "lang:",
        "lang:fr;DROP",
    ],
    ids=[
        "F9-unknown",
        "F9-extra-field",
        "F9-wildcard",
        "F9-sql",
        "F9-long",
        "F9-admin-action",
        "F9-empty-topic",
        "F9-no-topic",
        "F9-unknown-action",
        "F9-toggle-unknown-topic",
        "F9-toggle-empty",
        "F9-toggle-extra-field",
        "F9-unsub-all-extra",
        "F9-lang-unknown",
        "F9-lang-upper",
        "F9-lang-empty",
        "F9-lang-injection",
    ],
)
async def test_forged_callback_data_ignored(
    tmp_path: Path, botapi: BotApiServer, data: str
) -> None:
    """F9: forged button data is answered "out of date" and changes nothing."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        botapi.callback(data)
        answers = await wait_for_calls(botapi, "answerCallbackQuery")
        assert subscriptions(host, USER) == []
        assert subs.prefs_of(host.conn, str(USER)) is None  # no language stored either
    assert answers[0].params["text"] == replies.OUT_OF_DATE
    assert host.reloads == 0
    edits = ("editMessageReplyMarkup", "editMessageText")
    assert not [c for c in botapi.calls if c.method in edits]
    assert len([c for c in botapi.calls if c.method == "setMyCommands"]) == 6  # the start ones


async def test_F10_block_then_come_back(tmp_path: Path, botapi: BotApiServer) -> None:
    """F10: a user who blocked the bot and comes back can subscribe again; the chat is active."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        await reply_to(botapi, "/subscribe cat")
        botapi.inject_update(blocked_by(USER))
        deadline = time.monotonic() + 15
        while subscriptions(host, USER):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        row = host.conn.execute("SELECT active FROM chats WHERE chat_id = ?", (str(USER),))
        assert row.fetchone()[0] == 0
        assert "Subscribed" in (await reply_to(botapi, "/subscribe caesar")).text
        assert subscriptions(host, USER) == ["caesar"]
        row = host.conn.execute("SELECT active FROM chats WHERE chat_id = ?", (str(USER),))
        assert row.fetchone()[0] == 1


def many_topics_config(n: int) -> str:
    """feeds.yaml with n topics whose names are long, so listings run past 4096 characters."""
    topics = "\n".join(
        f"  t{i}:\n    name: Topic number {i} about a long and carefully worded subject\n"
        f"    keywords: [keyword {i}, another keyword {i}]"
        for i in range(n)
    )
    return (
        "settings:\n  interval: 1m\n  allow_private_networks: true\n"
        f"topics:\n{topics}\n"
        "feeds:\n  - id: a\n    url: http://127.0.0.1:9/a.xml\n"
        "telegram:\n  admins: [1001]\n"
    )


@pytest.mark.parametrize("command", ["/topics", "/list", "/start"], ids=lambda c: f"F11-{c[1:]}")
async def test_long_replies_are_split(tmp_path: Path, botapi: BotApiServer, command: str) -> None:
    """F11: replies about 300 topics are split under 4096 characters and all accepted."""
    config = parse_config(many_topics_config(300))
    host = LiveHost(connect(tmp_path / "state"), Current(config))
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(USER), "private", "", 0.0)
        subs.subscribe(host.conn, str(USER), [t.id for t in config.topics], 0.0)
    async with running(botapi, host):
        botapi.command(command)
        await botapi.wait_for_messages(1, chat_id=USER, timeout=15)
        deadline = time.monotonic() + 30  # later parts are paced one a second
        end = {"/topics": "t299<", "/list": "Alerts are on."}.get(command, "")
        while end not in botapi.replies_to(USER)[-1].text:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    parts = botapi.replies_to(USER)
    assert all(c.status == 200 for c in sends(botapi))
    assert all(len(visible_text(m.text, m.parse_mode)) <= 4096 for m in parts)
    if command == "/start":
        markup = parts[0].reply_markup or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        assert len(buttons) <= MAX_TOPIC_BUTTONS + 1
    else:
        assert len(parts) > 1
        assert "Topic number 299" in "".join(m.text for m in parts)
