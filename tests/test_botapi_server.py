"""The Bot API test server speaks to the real python-telegram-bot 22.8 client over HTTP.

Every test drives PTB (Bot, ExtBot through Application) against the server on 127.0.0.1, so the
server's answers are checked by the same code that will read Telegram's in production.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.servers.botapi import DEFAULT_TOKEN, BotApiServer, BotApiServerThread, _FloodControl

REPO_ROOT = Path(__file__).resolve().parents[1]
POLL = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """RetryAfter warns on construction unless PTB_TIMEDELTA is set (API-NOTES §1.1)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    """A started server with default limits."""
    async with BotApiServer() as started:
        yield started


def make_bot(root: str, token: str = DEFAULT_TOKEN) -> Bot:
    """Build a bare PTB Bot pointed at the test server."""
    return Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    """An initialised PTB Bot talking to ``server``."""
    async with make_bot(server.root) as ready:
        yield ready


def make_app(root: str) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build a PTB Application pointed at the test server, without a job queue."""
    return (
        Application.builder()
        .token(DEFAULT_TOKEN)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .job_queue(None)
        .build()
    )


async def test_get_me_reports_username(server: BotApiServer, bot: Bot) -> None:
    """initialize() makes one getMe and PTB learns the bot's username from it."""
    assert bot.username == "vigil_test_bot"
    assert [call.method for call in server.calls] == ["getMe"]


async def test_send_message_is_recorded(server: BotApiServer, bot: Bot) -> None:
    """A sendMessage is recorded with decoded markup and answered with a proper Message."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:1")]])
    sent = await bot.send_message(
        42,
        "<b>Hi</b> &amp; 123",
        parse_mode="HTML",
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.message_id == 1
    assert sent.chat.type == "private"
    assert sent.text == "Hi & 123"
    assert sent.reply_markup == keyboard
    (recorded,) = server.replies_to(42)
    assert recorded.chat_id == "42"
    assert recorded.text == "<b>Hi</b> &amp; 123"
    assert recorded.parse_mode == "HTML"
    assert recorded.reply_markup == {
        "inline_keyboard": [[{"callback_data": "mute:1", "text": "Mute"}]]
    }
    assert recorded.params["link_preview_options"] == {"is_disabled": True}
    second = await bot.send_message(43, "123")
    assert (second.message_id, server.messages[-1].text) == (1, "123")


@pytest.mark.parametrize(
    ("chat_id", "chat_type"),
    [(42, "private"), (-5, "group"), (-100123, "supergroup"), ("@news", "channel")],
    ids=["private", "group", "supergroup", "channel"],
)
async def test_chat_types_follow_the_id(
    server: BotApiServer, bot: Bot, chat_id: int | str, chat_type: str
) -> None:
    """sendMessage and getChat agree on chat type and on the id given to an @name."""
    sent = await bot.send_message(chat_id, "x")
    info = await bot.get_chat(chat_id)
    assert sent.chat.type == info.type == chat_type
    assert sent.chat.id == info.id
    assert server.replies_to(chat_id)[0].resolved_chat_id == info.id


FAULT_ROWS = [
    ("429", 42, {"retry_after": 3}, RetryAfter, "0:00:03"),
    ("403_blocked", 42, {}, Forbidden, "forbidden: bot was blocked by the user"),
    ("403_kicked", -5, {}, Forbidden, "kicked from the group chat"),
    ("403_kicked", -100777, {}, Forbidden, "kicked from the supergroup chat"),
    ("403_deactivated", 42, {}, Forbidden, "user is deactivated"),
    ("400_chat_not_found", 42, {}, BadRequest, "chat not found"),
    ("400_parse", 42, {}, BadRequest, "can't parse entities"),
    ("400_too_long", 42, {}, BadRequest, "message is too long"),
    ("400_migrate", -5, {"migrate_to": -1001557912345}, ChatMigrated, "-1001557912345"),
    ("500", 42, {}, NetworkError, "internal server error"),
    ("502_html", 42, {}, NetworkError, "bad gateway"),
    ("invalid_json", 42, {}, TelegramError, "invalid server response"),
    ("401", 42, {}, InvalidToken, "unauthorized"),
]


@pytest.mark.parametrize(
    ("kind", "chat_id", "options", "error", "fragment"),
    FAULT_ROWS,
    ids=[f"{row[0]}-{row[1]}" for row in FAULT_ROWS],
)
async def test_injected_fault_maps_to_ptb_exception(
    server: BotApiServer,
    bot: Bot,
    kind: str,
    chat_id: int,
    options: dict[str, Any],
    error: type[TelegramError],
    fragment: str,
) -> None:
    """Each fault kind reaches PTB as exactly the exception class the product must handle."""
    server.fail(kind=kind, chat_id=chat_id, times=1, **options)
    with pytest.raises(TelegramError) as raised:
        await bot.send_message(chat_id, "alert")
    assert type(raised.value) is error
    assert fragment in str(raised.value).lower()
    assert server.messages == []
    await bot.send_message(chat_id, "alert")  # times=1: the next attempt goes through
    assert [m.text for m in server.messages] == ["alert"]


async def test_fault_for_one_chat_spares_the_others(server: BotApiServer, bot: Bot) -> None:
    """A chat-scoped fault leaves other chats alone; a 429 fault counts and sets Retry-After."""
    server.fail(kind="429", chat_id=42, retry_after=7)
    await bot.send_message(43, "fine")
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "blocked")
    assert raised.value.retry_after == timedelta(seconds=7)
    assert server.count_429 == 1
    assert [m.chat_id for m in server.messages] == ["43"]
    server.clear_faults()
    await bot.send_message(42, "now fine")
    assert [m.chat_id for m in server.messages] == ["43", "42"]


async def test_timeout_fault_records_then_times_out(server: BotApiServer, bot: Bot) -> None:
    """The timeout fault delivers the message yet the client sees TimedOut (the ambiguous case)."""
    server.fail(kind="timeout", times=1)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "maybe delivered", read_timeout=0.5)
    assert [m.text for m in server.messages] == ["maybe delivered"]


ACCEPTED_ROWS = [
    ("a < b & c", None, "a < b & c"),
    ("<b>Title</b> &amp; &lt;x&gt; &quot;q&quot; &#39;&#x27;", "HTML", "Title & <x> \"q\" ''"),
    (
        '<span class="tg-spoiler">s</span><a href="https://e.x/?a=1&amp;b=2">l</a>'
        "<blockquote expandable>q</blockquote>"
        '<pre><code class="language-py">x</code></pre><tg-spoiler>t</tg-spoiler>a > b',
        "HTML",
        "slqxta > b",
    ),
    ("&amp;" * 4096, "HTML", "&" * 4096),
    ("é" * 4096, None, "é" * 4096),
]


@pytest.mark.parametrize(
    ("text", "parse_mode", "visible"),
    ACCEPTED_ROWS,
    ids=["plain-unescaped", "html-entities", "html-subset", "4096-visible", "4096-code-points"],
)
async def test_valid_text_is_accepted(
    server: BotApiServer, bot: Bot, text: str, parse_mode: str | None, visible: str
) -> None:
    """Telegram-valid text goes through and the returned Message carries the visible text."""
    sent = await bot.send_message(42, text, parse_mode=parse_mode)
    assert sent.text == visible
    assert server.messages[0].text == text


REJECTED_ROWS = [
    ("<p>x</p>", "HTML", 'unsupported start tag "p" at byte offset 0'),
    ("<span>x</span>", "HTML", 'unsupported start tag "span"'),
    ("<b>x", "HTML", 'can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", "HTML", "unmatched end tag"),
    ("</b>", "HTML", "unexpected end tag"),
    ("Tom & Jerry", "HTML", "can't find end of the entity starting at byte offset 4"),
    ("é&amp b", "HTML", "can't find end of the entity starting at byte offset 2"),
    ("a&nbsp;b", "HTML", "can't find end of the entity"),
    ("a < b", "HTML", "unsupported start tag"),
    ("<!-- c -->x", "HTML", "unsupported comment"),
    ("x" * 4097, None, "message is too long"),
    ("<b>" + "é" * 4097 + "</b>", "HTML", "message is too long"),
    ("   ", None, "message text is empty"),
    ("<b></b>", "HTML", "message text is empty"),
]


@pytest.mark.parametrize(
    ("text", "parse_mode", "fragment"),
    REJECTED_ROWS,
    ids=[
        "unsupported-tag",
        "span-without-spoiler",
        "unclosed",
        "mismatched",
        "stray-end-tag",
        "bare-ampersand",
        "entity-without-semicolon",
        "unknown-named-entity",
        "bare-less-than",
        "comment",
        "too-long-plain",
        "too-long-html",
        "blank",
        "only-tags",
    ],
)
async def test_invalid_text_is_rejected(
    server: BotApiServer, bot: Bot, text: str, parse_mode: str | None, fragment: str
) -> None:
    """Text Telegram refuses yields BadRequest with the real server's wording, and no record."""
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(42, text, parse_mode=parse_mode)
    assert fragment in str(raised.value).lower()
    assert server.messages == []


@pytest.mark.parametrize(
    ("options", "chats", "rejected"),
    [
        ({"per_chat_per_second": 0.01}, [42, 42], [1]),
        ({"per_chat_per_second": 0.01}, [42, 43], []),
        ({"per_chat_per_second": 1e6, "group_per_minute": 2}, [-100123] * 3, [2]),
        ({"per_chat_per_second": 1e6, "group_per_minute": 2}, ["@news"] * 3, [2]),
        ({"per_chat_per_second": 1e6, "group_per_minute": 2}, [42] * 3, []),
        ({"enforce_limits": False}, [42] * 3, []),
    ],
    ids=[
        "per-chat",
        "per-chat-other-chat",
        "group-per-minute",
        "channel-per-minute",
        "private-not-a-group",
        "limits-off",
    ],
)
async def test_flood_limits(
    options: dict[str, Any], chats: list[int | str], rejected: list[int]
) -> None:
    """Sends over a limit answer 429 RetryAfter with an honest wait and are not recorded."""
    async with BotApiServer(**options) as server, make_bot(server.root) as bot:
        outcomes: list[RetryAfter | None] = []
        for chat in chats:
            try:
                await bot.send_message(chat, "x")
                outcomes.append(None)
            except RetryAfter as exc:
                outcomes.append(exc)
        assert [i for i, o in enumerate(outcomes) if o is not None] == rejected
        assert server.count_429 == len(rejected)
        assert len(server.messages) == len(chats) - len(rejected)
        for outcome in outcomes:
            if outcome is not None:  # the waits are 95 s and 57 s: far from the 1 s minimum
                assert isinstance(outcome.retry_after, timedelta)
                assert outcome.retry_after > timedelta(seconds=30)


async def test_overall_limit_rejects_a_burst() -> None:
    """A burst to many chats beyond overall_per_second gets 429s; accepted + rejected = sent."""
    async with BotApiServer(overall_per_second=2) as server, make_bot(server.root) as bot:
        results = await asyncio.gather(
            *(bot.send_message(chat, "x") for chat in range(1, 7)), return_exceptions=True
        )
    rejected = [r for r in results if isinstance(r, RetryAfter)]
    assert rejected
    assert len(rejected) == server.count_429 == 6 - len(server.messages)


async def test_application_command_handler_replies(server: BotApiServer) -> None:
    """A polling Application gets an injected /start with arguments and replies to the chat."""

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"hello {context.args}")

    app = make_app(server.root)
    app.add_handler(CommandHandler("start", on_start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=POLL)
        try:
            server.command("/start@vigil_test_bot now", user_id=555)
            replies = await server.wait_for_messages(1, chat_id=555)
        finally:
            await app.updater.stop()
            await app.stop()
    assert [m.text for m in replies] == ["hello ['now']"]
    methods = [call.method for call in server.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert methods[-1] == "getUpdates"
    assert server.calls[-1].params["timeout"] == "0"  # the confirming poll on stop


async def test_callback_query_reaches_handler(server: BotApiServer) -> None:
    """A button press reaches CallbackQueryHandler, which can answer and edit the message."""

    async def on_mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Muted")
        await query.edit_message_text(f"muted by {query.data}")
        await context.bot.send_message(query.from_user.id, "done")

    app = make_app(server.root)
    app.add_handler(CallbackQueryHandler(on_mute, pattern="^mute:"))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=POLL)
        try:
            server.callback("mute:1", message_id=5)
            await server.wait_for_messages(1, chat_id=777)
        finally:
            await app.updater.stop()
            await app.stop()
    answers = [c for c in server.calls if c.method == "answerCallbackQuery"]
    assert answers[0].status == 200
    assert answers[0].params["text"] == "Muted"
    assert [(e.message_id, e.text) for e in server.edits] == [(5, "muted by mute:1")]


async def test_edit_unchanged_message_is_rejected(server: BotApiServer, bot: Bot) -> None:
    """Editing to identical content answers 'message is not modified', like Telegram."""
    sent = await bot.send_message(42, "same")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("same", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("new", chat_id=42, message_id=99)


async def test_only_the_bots_own_messages_can_be_edited(server: BotApiServer, bot: Bot) -> None:
    """As Telegram: editing a message someone else sent answers "message can't be edited"."""
    sent = await bot.send_message(42, "mine")
    edited = await bot.edit_message_text("mine, edited", chat_id=42, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "mine, edited"
    server._stored[(42, 500)] = {  # a message a user sent in that chat
        "message_id": 500,
        "date": 0,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 777, "is_bot": False, "first_name": "Ann"},
        "text": "theirs",
    }
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("changed", chat_id=42, message_id=500)


async def test_long_poll_does_not_block_other_requests(server: BotApiServer, bot: Bot) -> None:
    """A held getUpdates lets sendMessage through, then returns the update that arrives."""
    poll = asyncio.create_task(bot.get_updates(timeout=timedelta(seconds=30)))
    await bot.send_message(42, "while polling")
    assert not poll.done()
    server.command("/help")
    (update,) = await poll
    assert update.effective_message is not None
    assert update.effective_message.text == "/help"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_get_updates_offset_limit_and_expiry(server: BotApiServer, bot: Bot) -> None:
    """limit caps the batch, a higher offset confirms, and an empty poll ends with []."""
    for text in ("/a", "/b", "/c"):
        server.command(text)
    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.effective_message.text for u in first if u.effective_message] == ["/a", "/b"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert [u.effective_message.text for u in rest if u.effective_message] == ["/c"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=POLL) == ()


async def test_cancelled_poll_loses_nothing(server: BotApiServer, bot: Bot) -> None:
    """A client that abandons a long poll leaves unconfirmed updates for the next poll."""
    poll = asyncio.create_task(bot.get_updates(timeout=timedelta(seconds=30)))
    await asyncio.sleep(0.2)  # let the poll reach the server; the test holds either way
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    server.command("/start")
    (update,) = await bot.get_updates(timeout=POLL)
    assert update.effective_message is not None
    assert update.effective_message.text == "/start"


async def test_command_entity_counts_utf16(server: BotApiServer, bot: Bot) -> None:
    """The bot_command entity covers the first word, measured in UTF-16 code units."""
    server.command("/start🙂 x")
    (update,) = await bot.get_updates(timeout=0)
    assert update.effective_message is not None
    (entity,) = update.effective_message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 8)


async def test_conflict_mode(server: BotApiServer, bot: Bot) -> None:
    """conflict(True) makes getUpdates answer 409, which PTB raises as Conflict."""
    server.conflict(True)
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await bot.get_updates(timeout=0)
    server.conflict(False)
    assert await bot.get_updates(timeout=0) == ()


async def test_unreachable_then_back(server: BotApiServer, bot: Bot) -> None:
    """While unreachable every call fails as NetworkError; afterwards the same root works."""
    await bot.send_message(42, "before")
    server.set_unreachable(True)
    for _ in range(2):  # the pooled connection and then a fresh connect both fail
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(43, "during")
        assert type(raised.value) is NetworkError
    server.set_unreachable(False)
    await bot.send_message(44, "after")
    assert [m.text for m in server.messages] == ["before", "after"]


async def test_token_and_method_routing(server: BotApiServer, bot: Bot) -> None:
    """A wrong token gives InvalidToken, an unknown method 404 (EndPointNotFound); case is free."""
    with pytest.raises(InvalidToken):
        async with make_bot(server.root, token="999:wrong"):
            pass
    with pytest.raises(EndPointNotFound):  # PTB's name for a 404 once the bot is initialised
        await bot.do_api_request("noSuchMethod")
    me = await bot.do_api_request("GETME")
    assert me["username"] == "vigil_test_bot"
    statuses = {(c.method, c.status) for c in server.calls}
    assert {("noSuchMethod", 404), ("getMe", 200)} <= statuses


@pytest.mark.parametrize(
    ("user_id", "member_type"),
    [(4, ChatMemberOwner), (5, ChatMemberAdministrator), (6, ChatMemberMember)],
    ids=["creator", "administrator", "member"],
)
async def test_chat_member_status(
    server: BotApiServer, bot: Bot, user_id: int, member_type: type[Any]
) -> None:
    """getChatMember reports the status configured with set_chat_admins."""
    server.set_chat_admins(-100900, [5], creator=4)
    member = await bot.get_chat_member(-100900, user_id)
    assert type(member) is member_type
    admins = await bot.get_chat_administrators(-100900)
    assert sorted(m.user.id for m in admins) == [4, 5]


async def test_my_chat_member_update(server: BotApiServer, bot: Bot) -> None:
    """Adding the bot as admin arrives as my_chat_member and shows in getChatAdministrators."""
    server.my_chat_member(-100555, status="administrator", by_user_id=9)
    (update,) = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "administrator"
    assert update.my_chat_member.from_user.id == 9
    admins = await bot.get_chat_administrators(-100555)
    assert [m.user.username for m in admins] == ["vigil_test_bot"]
    assert await bot.leave_chat(-100555)
    assert server.left_chats == ["-100555"]


async def test_my_commands_round_trip(server: BotApiServer, bot: Bot) -> None:
    """setMyCommands stores what getMyCommands returns; invalid names are refused."""
    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Start", "Start")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


def test_thread_wrapper_from_sync_code() -> None:
    """The thread wrapper serves PTB while sync code injects updates and reads messages."""

    async def answer_one(root: str) -> str:
        async with make_bot(root) as bot:
            (update,) = await bot.get_updates(timeout=POLL)
            assert update.effective_chat is not None
            assert update.effective_message is not None
            await bot.send_message(update.effective_chat.id, "pong")
            return update.effective_message.text or ""

    with BotApiServerThread(enforce_limits=False) as server:
        server.command("/ping", user_id=31)
        assert asyncio.run(answer_one(server.root)) == "/ping"
        (reply,) = server.wait_for_messages(1, chat_id=31)
        assert reply.text == "pong"
        assert server.count_429 == 0
        assert any(call.method == "getUpdates" for call in server.calls)


async def test_standalone_entry_point() -> None:
    """``python -m tests.servers.botapi --port 0`` prints its root and serves PTB until SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.servers.botapi",
        "--port",
        "0",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        root = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert root.startswith("http://127.0.0.1:")
        async with make_bot(root) as bot:
            assert bot.username == "vigil_test_bot"
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0


def test_per_chat_limit_tolerates_jitter_but_not_a_faster_rate() -> None:
    """A request 0.4 s late and the next on time pass; pacing at 0.8 s is caught by the 4th."""

    def rejected_at(arrivals: list[float]) -> list[int]:
        flood = _FloodControl(per_chat_per_second=1.0, group_per_minute=20, overall_per_second=30)
        refused = []
        for index, now in enumerate(arrivals):
            if flood.wait_needed("42", False, now) > 0:
                refused.append(index)
            else:
                flood.record("42", False, now)
        return refused

    # Paced at exactly 1 s, but every other request reached the server 400 ms late.
    assert rejected_at([0.0, 1.4, 2.0, 3.4, 4.0, 5.4, 6.0]) == []
    # Paced at 0.8 s: the fourth send is early by 0.6 s > the 0.5 s tolerance.
    assert rejected_at([0.0, 0.8, 1.6, 2.4]) == [3]
    # Two at once: the second is refused, however loaded the machine.
    assert rejected_at([0.0, 0.0]) == [1]
