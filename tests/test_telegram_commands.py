"""Telegram commands, buttons and access, end to end through the real PTB client.

Every test runs :class:`TelegramFrontend` with a real ``telegram.Bot`` against the Bot API test
server on 127.0.0.1, a real SQLite state database in tmp_path and a real parsed config; updates
are injected into the server and the replies it recorded are checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.deliver.telegram import make_bot
from bot.i18n import translator
from bot.model import ErrorKind, Item
from bot.secrets import Secret
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store.db import Connection, connect, transaction
from bot.telegram import access, replies
from bot.telegram.access import RateLimiter
from bot.telegram.frontend import TelegramFrontend
from bot.telegram.keyboards import parse_press, topic_keyboard
from bot.telegram.replies import split_message
from tests.conftest import TOKEN, make_config
from tests.servers.botapi import BotApiServer, SentMessage

ADMIN = 1001
USER = 777
GROUP = -424242
ANONYMOUS_ADMIN = 1087968824
FEEDS = {"icj": "http://127.0.0.1:9/icj.rss", "ohchr": "http://127.0.0.1:9/ohchr.rss"}
TELEGRAM = """
telegram:
  admins: [1001]
  subscriptions: {mode}
  allowlist: [888]
channels:
  - chat: "@vigil_alerts"
"""


pytestmark = pytest.mark.usefixtures("database")  # each test on SQLite and PostgreSQL


def config_text(mode: str = "open") -> str:
    """feeds.yaml with two feeds, topics cat and caesar, one admin and one channel."""
    return make_config(FEEDS, TELEGRAM.format(mode=mode))


@dataclass
class Current:
    """What Service.runtime offers the front end: the config in force."""

    config: Config


@dataclass
class LiveHost:
    """A small real host: a real state database, a real config, and records of stop/reload."""

    conn: Connection
    runtime: Current
    stops: list[tuple[int, str]] = field(default_factory=list)
    reloads: int = 0
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def reload(self) -> tuple[bool, str]:
        self.reloads += 1
        config = self.runtime.config
        return True, f"{len(config.feeds)} feeds, {len(config.topics)} topics"

    def stop(self, code: int, reason: str) -> None:
        self.stops.append((code, reason))
        self.stopped.set()


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """RetryAfter warns on construction unless PTB_TIMEDELTA is set (API-NOTES §1.1)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def make_host(tmp_path: Path, mode: str = "open") -> LiveHost:
    """A host over a fresh state database in tmp_path."""
    return LiveHost(connect(tmp_path / "state"), Current(parse_config(config_text(mode))))


@asynccontextmanager
async def running(
    server: BotApiServer, host: LiveHost, **options: Any
) -> AsyncIterator[TelegramFrontend]:
    """A started front end with a real Bot pointed at the test server; stopped on exit."""
    bot = make_bot(Secret(TOKEN), server.root)
    frontend = TelegramFrontend(host, bot, **options)
    await frontend.start()
    try:
        yield frontend
    finally:
        await frontend.stop()
        host.conn.close()


async def reply_to(server: BotApiServer, text: str, **options: Any) -> SentMessage:
    """Inject a command and return the first new message to its chat."""
    chat = options.get("chat_id") or options.get("user_id", USER)
    before = len(server.replies_to(chat))
    server.command(text, **options)
    found = await server.wait_for_messages(before + 1, chat_id=chat, timeout=15)
    return found[before]


async def wait_for_calls(server: BotApiServer, method: str, n: int = 1) -> list[Any]:
    """The recorded calls of ``method`` once there are at least n (generous deadline)."""
    deadline = time.monotonic() + 15
    while True:
        calls = [c for c in server.calls if c.method == method]
        if len(calls) >= n:
            return calls
        assert time.monotonic() < deadline, f"no {method} call within the deadline"
        await asyncio.sleep(0.05)


def subscriptions(host: LiveHost, chat: int) -> list[str]:
    """The chat's subscriptions as stored."""
    return subs.subscriptions_of(host.conn, str(chat))


def button_texts(message: SentMessage) -> list[str]:
    """Texts of an inline keyboard's buttons, row by row."""
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


# ---------------------------------------------------------------- commands


async def test_start_lists_sources_topics_and_buttons(tmp_path: Path, botapi: BotApiServer) -> None:
    """/start names the feeds and topics and offers a subscribe button per topic plus all."""
    async with running(botapi, make_host(tmp_path)):
        reply = await reply_to(botapi, "/start")
    assert reply.parse_mode == "HTML"
    assert "2 sources" in reply.text
    assert "Convention Against Torture" in reply.text
    assert "<code>caesar</code>" in reply.text
    assert button_texts(reply) == ["Convention Against Torture", "Caesar Act", "All topics"]
    commands = [c for c in botapi.calls if c.method == "setMyCommands"]
    assert {c["command"] for c in commands[0].params["commands"]} >= {"start", "subscribe"}
    assert "status" not in {c["command"] for c in commands[0].params["commands"]}
    assert any(c.params.get("scope", {}).get("chat_id") == ADMIN for c in commands)


@pytest.mark.parametrize(
    ("text", "expected", "stored"),
    [
        ("/subscribe cat", "Subscribed to <b>Convention Against Torture</b>", ["cat"]),
        ("/subscribe CAESAR", "Subscribed to <b>Caesar Act</b>", ["caesar"]),
        ("/subscribe all", "Subscribed to", ["caesar", "cat"]),
        ("/subscribe cta", "Unknown topic <code>cta</code>. Did you mean <code>cat</code>?", []),
        ("/subscribe '; DROP TABLE subscriptions;--", "Unknown topic", []),
        ("/subscribe", "Usage: /subscribe TOPIC", []),
        ("/subscribe@vigil_test_bot cat", "Subscribed to", ["cat"]),
    ],
    ids=["id", "any-case", "all", "typo", "sql-ish", "missing", "addressed"],
)
async def test_subscribe(
    tmp_path: Path, botapi: BotApiServer, text: str, expected: str, stored: list[str]
) -> None:
    """/subscribe stores known topics, and answers unknown or missing ones with help."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        assert expected in reply.text
        assert subscriptions(host, USER) == stored


async def test_unsubscribe(tmp_path: Path, botapi: BotApiServer) -> None:
    """/unsubscribe removes one topic, refuses an unknown one, and 'all' removes the rest."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        await reply_to(botapi, "/subscribe all")
        assert (
            "Unsubscribed from <b>Caesar Act</b>"
            in (await reply_to(botapi, "/unsubscribe caesar")).text
        )
        assert subscriptions(host, USER) == ["cat"]
        assert "Unknown topic" in (await reply_to(botapi, "/unsubscribe nope")).text
        assert subscriptions(host, USER) == ["cat"]
        await reply_to(botapi, "/unsubscribe all")
        assert subscriptions(host, USER) == []


@pytest.mark.parametrize(
    ("phrase", "expected", "stored"),
    [
        ("Caesar Act", "Tracking <code>Caesar Act</code>", ["Caesar Act"]),
        ("tortur*", "Tracking <code>tortur*</code>", ["tortur*"]),
        ("re:(", "Cannot track that", []),
        ("<b>x</b> & y", "Tracking <code>&lt;b&gt;x&lt;/b&gt; &amp; y</code>", ["<b>x</b> & y"]),
        ("x" * 101, "at most 100 characters", []),
        ("evil\u202ename", "invisible characters", []),
        ("", "Usage: /track PHRASE", []),
    ],
    ids=["phrase", "prefix", "bad-regex", "markup-escaped", "too-long", "bidi", "missing"],
)
async def test_track(
    tmp_path: Path, botapi: BotApiServer, phrase: str, expected: str, stored: list[str]
) -> None:
    """/track validates a phrase like a topic keyword before storing it; replies escape it."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, f"/track {phrase}".rstrip())
        assert expected in reply.text
        assert subs.tracks_of(host.conn, str(USER)) == stored


async def test_track_limit_and_untrack(tmp_path: Path, botapi: BotApiServer) -> None:
    """A chat keeps at most 20 phrases; /untrack removes one, ignoring case."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(USER), "private", "", 0.0)
        for n in range(20):
            subs.track(host.conn, str(USER), f"phrase {n}", float(n))
    async with running(botapi, host):
        assert "at most 20 phrases" in (await reply_to(botapi, "/track one more")).text
        assert (
            "Stopped tracking <code>phrase 3</code>"
            in (await reply_to(botapi, "/untrack PHRASE 3")).text
        )
        assert "Not tracking" in (await reply_to(botapi, "/untrack phrase 3")).text
    assert len(subs.tracks_of(connect(tmp_path / "state"), str(USER))) == 19


async def test_list_shows_topics_phrases_and_mute(tmp_path: Path, botapi: BotApiServer) -> None:
    """/list shows this chat's subscriptions, phrases and whether it is muted."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(USER), "private", "", 0.0)
        subs.subscribe(host.conn, str(USER), ["caesar"], 0.0)
        subs.track(host.conn, str(USER), "Assad", 0.0)
        subs.set_mute(host.conn, str(USER), time.time() + 3600)
    async with running(botapi, host):
        text = (await reply_to(botapi, "/list")).text
    assert "<b>Caesar Act</b>" in text
    assert "Convention Against Torture" not in text
    assert "<code>Assad</code>" in text
    assert "Muted until" in text


async def test_recent_lists_latest_matches(tmp_path: Path, botapi: BotApiServer) -> None:
    """/recent shows stored matches newest first; /recent TOPIC filters; bad topic is refused."""
    host = make_host(tmp_path)
    published = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        ("a", "ICJ & the <Convention>", "https://example.org/a", ["cat"]),
        ("b", "Caesar Act renewed", "https://example.org/b", ["caesar"]),
        ("c", "Unmatched", None, []),
    ]
    with transaction(host.conn):
        for n, (key, title, link, topics) in enumerate(rows):
            item = Item(key, title, link, "", "", published=published)
            item_rows.insert_item(
                host.conn, "icj", item, link_key=link, topics=topics, now=1000.0 + n
            )
    async with running(botapi, host):
        everything = (await reply_to(botapi, "/recent")).text
        only_cat = (await reply_to(botapi, "/recent cat")).text
        unknown = (await reply_to(botapi, "/recent nope")).text
    assert everything.index("Caesar Act renewed") < everything.index("ICJ &amp; the &lt;")
    assert '<a href="https://example.org/a">ICJ &amp; the &lt;Convention&gt;</a>' in everything
    assert "2026-03-01 12:00 UTC" in everything
    assert "Unmatched" not in everything
    assert "Caesar Act renewed" not in only_cat
    assert "Unknown topic" in unknown


@pytest.mark.parametrize(
    ("argument", "expected", "muted_for"),
    [
        ("2h", "Muted until", 7200.0),
        ("1d", "Muted until", 86400.0),
        ("nonsense", "Usage: /mute DURATION", None),
        ("40d", "Usage: /mute DURATION", None),
        ("", "Usage: /mute DURATION", None),
    ],
    ids=["hours", "day", "nonsense", "over-cap", "missing"],
)
async def test_mute(
    tmp_path: Path, botapi: BotApiServer, argument: str, expected: str, muted_for: float | None
) -> None:
    """/mute sets a mute of 1 s..30 days; anything else gets the usage and mutes nothing."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        before = time.time()
        reply = await reply_to(botapi, f"/mute {argument}".rstrip())
        until = subs.muted_until(host.conn, str(USER))
        assert expected in reply.text
        if muted_for is None:
            assert until is None
        else:
            assert until is not None
            assert before + muted_for <= until <= time.time() + muted_for
            assert "Alerts resumed" in (await reply_to(botapi, "/unmute")).text
            assert subs.muted_until(host.conn, str(USER)) is None


@pytest.mark.parametrize(
    ("user", "text", "present", "absent"),
    [
        (
            USER,
            "/topics",
            ["✓ <b>Caesar Act</b>", "<code>cat</code>", "e.g. Caesar Act, قانون قيصر"],
            [],
        ),
        (USER, "/help", ["/subscribe TOPIC|all", "/mute DURATION"], ["/status"]),
        (ADMIN, "/help", ["/status", "/reload"], []),
    ],
    ids=["topics", "help-user", "help-admin"],
)
async def test_read_only_commands(
    tmp_path: Path,
    botapi: BotApiServer,
    user: int,
    text: str,
    present: list[str],
    absent: list[str],
) -> None:
    """/topics marks followed topics with sample keywords; /help shows admins their commands."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        subs.subscribe(host.conn, str(user), ["caesar"], 0.0)
    async with running(botapi, host):
        reply = (await reply_to(botapi, text, user_id=user)).text
    assert all(p in reply for p in present)
    assert not any(a in reply for a in absent)


async def test_command_for_another_bot_is_ignored(tmp_path: Path, botapi: BotApiServer) -> None:
    """/subscribe@otherbot is not addressed to Vigil and changes nothing."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        botapi.command("/subscribe@other_bot cat")
        reply = await reply_to(botapi, "/list")
        assert "no topics" in reply.text
        assert subscriptions(host, USER) == []
    assert len(botapi.replies_to(USER)) == 1


async def test_full_vigil_refuses_new_chats(tmp_path: Path, botapi: BotApiServer) -> None:
    """Once 10 000 chats hold subscriptions, a new chat is refused; existing ones still work."""
    host = make_host(tmp_path)
    with transaction(host.conn):
        for chat in range(10_000):
            subs.subscribe(host.conn, str(-(chat + 1)), ["cat"], 0.0)
        subs.subscribe(host.conn, "888", ["cat"], 0.0)
    async with running(botapi, host):
        assert (await reply_to(botapi, "/subscribe caesar")).text == replies.FULL
        assert "Subscribed" in (await reply_to(botapi, "/subscribe caesar", user_id=888)).text
        assert subscriptions(host, USER) == []


async def test_handler_failure_apologizes_once(tmp_path: Path, botapi: BotApiServer) -> None:
    """A failing handler is logged and the chat gets one 'Something went wrong'."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        host.conn.close()  # every store call now raises
        reply = await reply_to(botapi, "/list")
        botapi.command("/help")  # needs no store: proves the apology was the only reply
        await botapi.wait_for_messages(2, chat_id=USER, timeout=15)
    assert reply.text == replies.SOMETHING_WRONG
    assert [m.text for m in botapi.replies_to(USER)].count(replies.SOMETHING_WRONG) == 1


# ---------------------------------------------------------------- admin commands


@pytest.mark.parametrize("command", ["/status", "/reload"])
async def test_admin_command_refused_for_others(
    tmp_path: Path, botapi: BotApiServer, command: str
) -> None:
    """A non-admin's /status or /reload gets the refusal and nothing runs."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, command, user_id=USER)
    assert reply.text == replies.ADMIN_ONLY
    assert host.reloads == 0
    assert len(botapi.messages) == 1


async def test_admin_status_reports_feeds_outbox_and_subscribers(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """/status shows each feed's health, the outbox backlog and subscriber counts."""
    host = make_host(tmp_path)
    now = time.time()
    with transaction(host.conn):
        feed_rows.sync_feeds(host.conn, FEEDS)
        feed_rows.record_success(
            host.conn, "icj", now=now, next_poll_at=now + 600, etag=None, last_modified=None
        )
        for _ in range(3):
            feed_rows.record_failure(
                host.conn,
                "ohchr",
                now=now,
                next_poll_at=now + 60,
                kind=ErrorKind.TIMEOUT,
                message="timed out <after> 30s",
            )
        item_id = item_rows.insert_item(
            host.conn, "icj", Item("k", "t", None, "", ""), link_key=None, topics=["cat"], now=now
        )
        assert item_id is not None
        outbox.enqueue(
            host.conn,
            item_id=item_id,
            deliveries=[outbox.Delivery(c, "x", "x") for c in ["5"]],
            statement_key="s",
            topics=["cat"],
            now=now - 120,
        )
        subs.subscribe(host.conn, "5", ["cat"], now)
    async with running(botapi, host):
        text = (await reply_to(botapi, "/status", user_id=ADMIN)).text
    assert "<code>icj</code>: ok" in text
    assert "<code>ohchr</code>: <b>failing</b> (timeout, 3 in a row)" in text
    assert "timed out &lt;after&gt; 30s" in text
    assert "1 pending, oldest 2m old" in text
    assert "1 chats subscribed" in text


async def test_admin_reload_replies_with_summary(tmp_path: Path, botapi: BotApiServer) -> None:
    """/reload from an admin reloads once and reports the summary."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/reload", user_id=ADMIN)
    assert reply.text == "Reloaded: 2 feeds, 2 topics."
    assert host.reloads == 1


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("mode", "user", "allowed"),
    [
        ("open", USER, True),
        ("allowlist", USER, False),
        ("allowlist", 888, True),
        ("allowlist", ADMIN, True),
        ("closed", USER, False),
        ("closed", ADMIN, True),
    ],
    ids=[
        "open",
        "allowlist-other",
        "allowlist-listed",
        "allowlist-admin",
        "closed",
        "closed-admin",
    ],
)
async def test_subscription_modes(
    tmp_path: Path, botapi: BotApiServer, mode: str, user: int, allowed: bool
) -> None:
    """`subscriptions` decides who may /subscribe; refused users change nothing."""
    host = make_host(tmp_path, mode)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/subscribe cat", user_id=user)
        assert subscriptions(host, user) == (["cat"] if allowed else [])
    assert ("Subscribed" in reply.text) is allowed


def anonymous_admin_command(text: str) -> dict[str, Any]:
    """The update Telegram sends when an anonymous group admin sends a command."""
    chat = {"id": GROUP, "type": "group", "title": "Group"}
    return {
        "message": {
            "message_id": 99,
            "date": int(time.time()),
            "chat": chat,
            "sender_chat": chat,
            "from": {
                "id": ANONYMOUS_ADMIN,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            },
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        }
    }


@pytest.mark.parametrize(
    ("sender", "allowed"),
    [("member", False), ("group-admin", True), ("vigil-admin", True), ("anonymous-admin", True)],
)
async def test_group_subscriptions_need_a_group_admin(
    tmp_path: Path, botapi: BotApiServer, sender: str, allowed: bool
) -> None:
    """In a group only its administrators (anonymous ones too) or Vigil's change what it gets."""
    host = make_host(tmp_path)
    botapi.set_chat_admins(GROUP, [556])
    async with running(botapi, host):
        if sender == "anonymous-admin":
            botapi.inject_update(anonymous_admin_command("/subscribe cat"))
        else:
            user = {"member": 555, "group-admin": 556, "vigil-admin": ADMIN}[sender]
            botapi.command("/subscribe cat", user_id=user, chat_type="group")
        reply = (await botapi.wait_for_messages(1, chat_id=GROUP, timeout=15))[0]
        assert subscriptions(host, GROUP) == (["cat"] if allowed else [])
    assert ("Subscribed" in reply.text) is allowed
    if not allowed:
        assert reply.text == replies.GROUP_ADMIN_ONLY


async def test_anonymous_admin_is_not_a_vigil_admin(tmp_path: Path, botapi: BotApiServer) -> None:
    """GroupAnonymousBot never passes the Vigil admin check (RELIABILITY F5)."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        botapi.inject_update(anonymous_admin_command("/reload"))
        reply = (await botapi.wait_for_messages(1, chat_id=GROUP, timeout=15))[0]
    assert reply.text == replies.ADMIN_ONLY
    assert host.reloads == 0


@pytest.mark.parametrize(
    ("chat", "adder", "stays"),
    [
        (-5555, USER, False),
        (-5555, ADMIN, True),
        ("@vigil_alerts", USER, True),
        ("@someone_else", USER, False),
    ],
    ids=["unknown-group", "added-by-admin", "configured-channel", "unknown-channel"],
)
async def test_added_to_chat_leaves_unless_allowed(
    tmp_path: Path, botapi: BotApiServer, chat: int | str, adder: int, stays: bool
) -> None:
    """Added to a group or channel, the bot leaves unless it is configured or an admin added it."""
    host = make_host(tmp_path, "closed")
    async with running(botapi, host):
        botapi.my_chat_member(chat, by_user_id=adder)
        if not stays:
            await wait_for_calls(botapi, "leaveChat")
        else:
            botapi.command("/help")  # processed after the membership update
            await botapi.wait_for_messages(1, chat_id=USER, timeout=15)
            await asyncio.sleep(0.2)
    assert bool(botapi.left_chats) is not stays


def blocked_by(user_id: int) -> dict[str, Any]:
    """The my_chat_member update Telegram sends when a user blocks the bot."""
    bot_user = {"id": 123456789, "is_bot": True, "first_name": "Vigil"}
    return {
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private", "first_name": "Ann"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": bot_user},
            "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
        }
    }


async def test_blocked_user_is_deactivated(tmp_path: Path, botapi: BotApiServer) -> None:
    """When a user blocks the bot, the chat's subscriptions go (like a 403 on delivery)."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        await reply_to(botapi, "/subscribe cat")
        botapi.inject_update(blocked_by(USER))
        deadline = time.monotonic() + 15
        while subscriptions(host, USER):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------- buttons


async def test_button_subscribes_and_marks_the_keyboard(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """A valid sub: press subscribes, is answered, and the keyboard shows ✓ for the topic."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        start = await reply_to(botapi, "/start")
        botapi.callback("sub:cat", message_id=start.message_id)
        answers = await wait_for_calls(botapi, "answerCallbackQuery")
        edits = await wait_for_calls(botapi, "editMessageReplyMarkup")
        assert subscriptions(host, USER) == ["cat"]
    assert answers[0].params["text"] == "Subscribed to Convention Against Torture"
    buttons = [b["text"] for row in edits[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✓ Convention Against Torture", "Caesar Act", "All topics"]


# Forged button data: tests/reliability/test_users_F.py::test_forged_callback_data_ignored (F9).


# ---------------------------------------------------------------- limits and lifecycle


async def test_rapid_commands_get_one_slow_down(tmp_path: Path, botapi: BotApiServer) -> None:
    """20 commands at once: 5 run, the rest are ignored with a single 'slow down' (F1)."""
    host = make_host(tmp_path)
    frozen = RateLimiter(clock=lambda: 0.0)
    async with running(botapi, host, limiter=frozen):
        for _ in range(20):
            botapi.command("/subscribe cat")
        await botapi.wait_for_messages(6, chat_id=USER, timeout=30)
    texts = [m.text for m in botapi.replies_to(USER)]
    assert texts.count(replies.SLOW_DOWN) == 1
    assert len(texts) == 6
    assert botapi.count_429 == 0
    assert subscriptions(make_host(tmp_path), USER) == ["cat"]


async def test_conflict_stops_the_service(tmp_path: Path, botapi: BotApiServer) -> None:
    """A 409 Conflict on getUpdates stops the host with exit code 3 and a clear reason."""
    host = make_host(tmp_path)
    botapi.conflict(True)
    async with running(botapi, host):
        await asyncio.wait_for(host.stopped.wait(), 15)
        botapi.conflict(False)
    assert host.stops[0] == (
        3,
        "another instance is polling with this bot token (409 Conflict); stop it first",
    )


async def test_unreachable_telegram_at_start_is_retried(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """Telegram down when Vigil starts: start() returns, and commands work once it is back."""
    host = make_host(tmp_path)
    botapi.set_unreachable(True)
    async with running(botapi, host):
        botapi.set_unreachable(False)
        reply = await reply_to(botapi, "/help")
    assert "/subscribe TOPIC|all" in reply.text
    assert host.stops == []


async def test_rejected_token_stops_the_service(tmp_path: Path, botapi: BotApiServer) -> None:
    """A token the server rejects stops the host at start, without the token in the reason."""
    host = make_host(tmp_path)
    bot = make_bot(Secret("999999:not-the-right-token-abcdefghijklmn"), botapi.root)
    frontend = TelegramFrontend(host, bot)
    await frontend.start()
    await frontend.stop()
    host.conn.close()
    assert host.stops
    assert host.stops[0][0] == 3
    assert "999999" not in host.stops[0][1]


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 4096, ["short"]),
        ("a\nb\nc", 20, ["a\nb\nc"]),
        ("x" * 10 + "\n" + "y" * 10, 16, ["x" * 10, "y" * 10]),
        ("z" * 40, 16, ["z" * 16, "z" * 16, "z" * 8]),
        ("a" * 14 + "&amp;b", 16, ["a" * 14, "&amp;b"]),
        ("a" * 12 + "<b>c</b>", 16, ["a" * 12, "<b>c</b>"]),
        ("\n\n\n", 16, []),
    ],
    ids=["short", "fits", "lines", "long-line", "entity-kept", "tag-kept", "blank"],
)
def test_split_message(text: str, limit: int, expected: list[str]) -> None:
    """Replies are split at line boundaries, never inside a tag or an entity."""
    assert split_message(text, limit) == expected


def test_split_message_keeps_every_line_of_a_long_reply() -> None:
    """A 500-line reply splits into parts of ≤ 4096 characters that rejoin to the original."""
    text = "\n".join(f"• line {n} " + "w" * 40 for n in range(500))
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text


@pytest.mark.parametrize(
    ("from_user", "sender_chat", "chat", "expected"),
    [
        (USER, None, USER, access.Actor(USER, rate_key=USER)),
        (ANONYMOUS_ADMIN, GROUP, GROUP, access.Actor(None, anonymous_admin=True, rate_key=GROUP)),
        (ANONYMOUS_ADMIN, -999, GROUP, access.Actor(None, rate_key=-999)),
        (136817688, -1007, GROUP, access.Actor(None, rate_key=-1007)),
        (None, None, -1008, access.Actor(None, rate_key=-1008)),
    ],
    ids=["person", "anonymous-admin", "anonymous-elsewhere", "channel-bot", "channel-post"],
)
def test_actor_of(from_user: int | None, sender_chat: int | None, chat: int, expected: Any) -> None:
    """Telegram's helper accounts never count as people; an anonymous admin only in its chat."""
    assert access.actor_of(from_user, sender_chat, chat) == expected


def test_rate_limiter_refills_and_warns_once_per_window() -> None:
    """The bucket allows a burst of 5, warns once per window, and refills with time."""
    now = [0.0]
    limiter = RateLimiter(5, 10.0, clock=lambda: now[0])
    assert [limiter.allow(1) for _ in range(6)] == [True] * 5 + [False]
    assert [limiter.should_warn(1) for _ in range(3)] == [True, False, False]
    assert limiter.allow(2)
    now[0] = 2.0
    assert limiter.allow(1)
    assert not limiter.allow(1)
    now[0] = 10.5
    assert limiter.should_warn(1)


@pytest.mark.parametrize(
    ("data", "expected"),
    [("sub:cat", ("sub", "cat")), ("sub:*", ("sub", "*")), ("unsub:caesar", ("unsub", "caesar"))]
    + [(d, None) for d in ("sub:gone", "unsub:*", "", "cat", "sub:cat ", "SUB:cat")],
)
def test_parse_press(data: str, expected: tuple[str, str] | None) -> None:
    """Only exact data naming a current topic is a press."""
    press = parse_press(data, ["cat", "caesar"])
    assert (None if press is None else (press.action, press.topic_id)) == expected


def test_keyboard_fits_callback_data_limit() -> None:
    """Every button's data stays within Telegram's 64 bytes, even for the longest topic id."""
    config = parse_config(config_text())
    markup = topic_keyboard(config.topics, {"cat"}, translator("en"))
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert datas == ["unsub:cat", "sub:caesar", "sub:*"]
    toggles = topic_keyboard(config.topics, {"cat"}, translator("ar"), toggle=True)
    datas += [b.callback_data for row in toggles.inline_keyboard for b in row]
    assert datas[3:] == ["tog:cat", "tog:caesar", "tog:*"]
    assert all(len(str(d).encode()) <= 64 for d in datas)
    assert len(("unsub:" + "x" * 32).encode()) <= 64
