"""A Telegram Bot API test server on 127.0.0.1 that the real python-telegram-bot client talks to.

Rules it enforces, each mirroring the real server (tdlib/telegram-bot-api) closely enough that a
client which passes here behaves correctly against Telegram:

- Routes are ``/bot<token>/<method>`` (method names case-insensitive) and ``/file/bot<token>/…``.
  A wrong token answers 401 ``Unauthorized``; an unknown method answers 404
  ``Not Found: method not found``. PTB maps both to ``InvalidToken`` and stops polling, so every
  method PTB calls on start, stop and polling is implemented.
- Bodies are form-decoded (url-encoded or multipart) or JSON; in form bodies only the object-typed
  fields (``reply_markup``, ``entities``, ``commands``, …) are JSON-decoded, because PTB sends
  strings raw and everything else as JSON.
- Errors use HTTP status == ``error_code`` and the exact descriptions of the real server; a 429
  carries ``parameters.retry_after`` and a ``Retry-After`` header.
- ``sendMessage`` validates like Telegram: HTML is parsed (only Telegram's tag subset, balanced
  tags, every ``&`` an entity, no bare ``<``), the visible text is at most 4096 code points and not
  empty. Two deliberate strictnesses: a bare ``&`` and an unknown named entity are rejected (the
  product must escape with ``html.escape``), and a bare ``>`` is accepted.
- Flood control (``enforce_limits``), applied to ``sendMessage`` only: at most
  ``per_chat_per_second`` per chat, ``group_per_minute`` per group or channel (negative or
  ``@name`` ids) in any 60 s window, ``overall_per_second`` in any 1 s window. The windows are
  shortened by ``LIMIT_TOLERANCE`` (5 %). The per-chat rate is a cell-rate check (GCRA): a send
  may come up to ``CHAT_JITTER`` (0.5 s) before its due time, but the due time advances by the
  full interval at each send, so a client that sends faster than the rate is caught within a few
  messages while one that paces exactly at the limit is not punished when a loaded machine
  delays one request and not the next (a plain gap check saw 1.0 s gaps arrive as 0.9 s; on a
  2-core machine running ten test workers one request can be 0.3 s late). Three sends at once
  still draw a 429 on the second. A
  rejected send answers ``Too Many Requests: retry after N`` with N the ceiling of the real
  remaining wait (at least 1), is not counted as sent, and increments ``count_429``.
- ``getUpdates`` long-polls without blocking other requests, confirms updates below ``offset``,
  honours ``limit`` and ``allowed_updates``, answers ``[]`` when ``timeout`` expires and stops
  waiting when the client goes away. A getUpdates arriving while another client's is still
  waiting ends the waiting one with 409 Conflict, as Telegram does, and counts it in
  ``count_409`` (a client that already went away is not answered, and not counted).
- Forum topics: a chat made a forum (``set_forum``) has open topics; ``sendMessage`` with a
  ``message_thread_id`` that is not an open topic of the chat (never created, or removed with
  ``delete_topic``) answers 400 ``Bad Request: message thread not found``, as the real server
  does (tdlib/telegram-bot-api#847). Commands sent inside a topic carry ``message_thread_id``
  and ``is_topic_message``; the chat object says ``is_forum``.
- ``link_preview_options`` must be a JSON object, ``disable_notification`` a boolean; both are
  recorded on the message. ``setMyCommands`` keeps one list per (scope, language_code) and
  refuses a language code that is not empty or two lowercase letters (as TDLib checks it).
- Injected faults (``fail``) take precedence over everything except routing and the token check.
  The ``timeout`` fault records the message as delivered and then withholds the answer: the
  ambiguous case a sender must handle.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import html.parser
import json
import math
import signal
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.web_request import FileField

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
MAX_TEXT_LENGTH = 4096  # code points of visible text [TD MessageContent.cpp]
MAX_CALLBACK_DATA_BYTES = 64
LIMIT_TOLERANCE = 0.05
CHAT_JITTER = 0.5  # seconds a per-chat send may arrive early (GCRA's tolerance)
DEFAULT_TIMEOUT_HOLD = 30.0

# Fields whose values are JSON-serialised objects or arrays in a form body.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "link_preview_options",
        "entities",
        "caption_entities",
        "commands",
        "allowed_updates",
        "reply_parameters",
        "scope",
    }
)

# Telegram's HTML subset ("Formatting options", Bot API docs).
_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "tg-time",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Update kinds delivered when allowed_updates is empty or was never set [BotAPI getUpdates].
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CANONICAL_METHODS = (
    "getMe",
    "logOut",
    "close",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "leaveChat",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getChatMemberCount",
)
_METHOD_NAMES = {name.lower(): name for name in _CANONICAL_METHODS}

FAULT_KINDS = frozenset(
    {
        "429",
        "403_blocked",
        "403_kicked",
        "403_deactivated",
        "400_chat_not_found",
        "400_parse",
        "400_too_long",
        "400_migrate",
        "500",
        "502_html",
        "invalid_json",
        "timeout",
        "401",
    }
)

_ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the server accepted (or recorded before withholding the answer)."""

    chat_id: str
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    at: float
    message_id: int
    resolved_chat_id: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    thread_id: int | None = None  # message_thread_id: the forum topic it went to
    silent: bool = False  # disable_notification
    link_preview: dict[str, Any] | None = None  # link_preview_options as sent


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the server saw it: canonical method name, decoded params, HTTP status."""

    method: str
    params: dict[str, Any]
    status: int
    at: float


@dataclass(slots=True)
class _Fault:
    method: str
    kind: str
    chat_id: str | None
    times: int | None
    retry_after: int
    description: str | None
    migrate_to: int | None
    hold: float


class _ApiError(Exception):
    """An error answer: HTTP status == error_code, as the real server does."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters or {}


class _RawAnswer(Exception):
    """A non-JSON or malformed answer used by the 502_html and invalid_json faults."""

    def __init__(self, status: int, body: str, content_type: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.content_type = content_type


# --------------------------------------------------------------------------------------------
# HTML validation


class _EntityError(Exception):
    pass


class _TelegramHtmlChecker(html.parser.HTMLParser):
    """Walks Telegram-HTML and collects the visible text, raising on what Telegram rejects."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(index + 1)
        self._stack: list[str] = []
        self.visible: list[str] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _byte_offset(self, char_offset: int | None = None) -> int:
        at = self._offset() if char_offset is None else char_offset
        return len(self._source[:at].encode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        supported = tag in _ALLOWED_TAGS
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            supported = False
        if not supported:
            raise _EntityError(
                f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
            )
        self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            raise _EntityError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        expected = self._stack.pop()
        if expected != tag:
            raise _EntityError(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{expected}>", found "</{tag}>"'
            )

    def handle_data(self, data: str) -> None:
        start = self._offset()
        for marker in ("<", "&"):
            position = data.find(marker)
            if position >= 0:
                at = self._byte_offset(start + position)
                if marker == "<":
                    raise _EntityError(f'Unsupported start tag "" at byte offset {at}')
                raise _EntityError(f"Can't find end of the entity starting at byte offset {at}")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        start = self._offset()
        if name not in _NAMED_ENTITIES or not self._source.startswith(f"&{name};", start):
            raise _EntityError(
                f"Can't find end of the entity starting at byte offset {self._byte_offset(start)}"
            )
        self.visible.append(_NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        start = self._offset()
        problem = f"Can't find end of the entity starting at byte offset {self._byte_offset(start)}"
        if not self._source.startswith(f"&#{name};", start):
            raise _EntityError(problem)
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            char = chr(code)
        except (ValueError, OverflowError) as exc:
            raise _EntityError(problem) from exc
        self.visible.append(char)

    def _unsupported(self, what: str) -> None:
        raise _EntityError(f"Unsupported {what} at byte offset {self._byte_offset()}")

    def handle_comment(self, data: str) -> None:
        self._unsupported("comment")

    def handle_decl(self, decl: str) -> None:
        self._unsupported("declaration")

    def handle_pi(self, data: str) -> None:
        self._unsupported("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self._unsupported("declaration")

    def finish(self) -> str:
        self.close()
        if self._stack:
            raise _EntityError(
                f'Can\'t find end tag corresponding to start tag "{self._stack[-1]}"'
            )
        return "".join(self.visible)


def visible_text(text: str, parse_mode: str | None) -> str:
    """Return the text a user would see, raising _ApiError where Telegram refuses the markup."""
    mode = (parse_mode or "").lower()
    if mode != "html":
        return text
    checker = _TelegramHtmlChecker(text)
    try:
        checker.feed(text)
        return checker.finish()
    except _EntityError as exc:
        raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc


def utf16_length(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units [PTB _messageentity.py]."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Flood control


class _FloodControl:
    """Sliding windows over accepted sends, answering how long a new send must wait."""

    def __init__(
        self, per_chat_per_second: float, group_per_minute: int, overall_per_second: float
    ) -> None:
        self._chat_interval = 1.0 / per_chat_per_second
        self._group_limit = group_per_minute
        self._group_window = 60.0 * (1 - LIMIT_TOLERANCE)
        self._overall_limit = max(1, math.floor(overall_per_second))
        self._overall_window = 1.0 * (1 - LIMIT_TOLERANCE)
        self._due_by_chat: dict[str, float] = {}  # GCRA's theoretical arrival time
        self._by_group: dict[str, collections.deque[float]] = {}
        self._overall: collections.deque[float] = collections.deque()

    def wait_needed(self, chat: str, is_group: bool, now: float) -> float:
        waits = [0.0]
        due = self._due_by_chat.get(chat)
        if due is not None and now < due - CHAT_JITTER:
            waits.append(due - CHAT_JITTER - now)
        if is_group:
            times = self._prune(self._by_group.get(chat), now, self._group_window)
            if times is not None and len(times) >= self._group_limit:
                oldest_blocking = times[len(times) - self._group_limit]
                waits.append(oldest_blocking + self._group_window - now)
        overall = self._prune(self._overall, now, self._overall_window)
        if overall is not None and len(overall) >= self._overall_limit:
            oldest_blocking = overall[len(overall) - self._overall_limit]
            waits.append(oldest_blocking + self._overall_window - now)
        return max(waits)

    def record(self, chat: str, is_group: bool, now: float) -> None:
        self._due_by_chat[chat] = max(now, self._due_by_chat.get(chat, now)) + self._chat_interval
        if is_group:
            self._by_group.setdefault(chat, collections.deque()).append(now)
        self._overall.append(now)

    @staticmethod
    def _prune(
        times: collections.deque[float] | None, now: float, window: float
    ) -> collections.deque[float] | None:
        if times is not None:
            while times and now - times[0] >= window:
                times.popleft()
        return times


def _flood_error(wait: float) -> _ApiError:
    seconds = max(1, math.ceil(wait))
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


# --------------------------------------------------------------------------------------------
# Request decoding helpers


def _decode_value(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            what = "reply keyboard markup" if name == "reply_markup" else name
            raise _ApiError(400, f"Bad Request: can't parse {what} JSON object") from exc
    return value


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _as_int(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _ApiError(400, f"Bad Request: invalid {name} specified") from exc


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _chat_type(chat_key: str) -> str:
    if chat_key.startswith("@"):
        return "channel"
    number = int(chat_key)
    if number > 0:
        return "private"
    if chat_key.startswith("-100"):
        return "supergroup"
    return "group"


def resolve_chat_id(chat_key: str) -> int:
    """Map ``@name`` to a stable fake channel id so replies and lookups agree on one number."""
    if chat_key.startswith("@"):
        return -(1_000_000_000_000 + zlib.crc32(chat_key[1:].lower().encode()))
    return int(chat_key)


def _migrated_id(chat_key: str) -> int:
    number = resolve_chat_id(chat_key)
    return -(1_000_000_000_000 + abs(number) % 1_000_000_000_000)


# --------------------------------------------------------------------------------------------
# The server


class BotApiServer:
    """The Bot API test server; runs in the caller's event loop (``await start()``)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        enforce_limits: bool = True,
        per_chat_per_second: float = 1.0,
        group_per_minute: int = 20,
        overall_per_second: float = 30.0,
        bot_username: str = "vigil_test_bot",
        port: int = 0,
    ) -> None:
        self.token = token
        self.enforce_limits = enforce_limits
        self.bot_username = bot_username
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456
        self._flood = _FloodControl(per_chat_per_second, group_per_minute, overall_per_second)
        self._requested_port = port
        self._port = 0

        self.messages: list[SentMessage] = []
        self.edits: list[SentMessage] = []
        self.calls: list[Call] = []
        self.count_429 = 0
        self.count_409 = 0
        self._poller: tuple[object, Any] | None = None  # the waiting getUpdates and its transport
        self._superseded: set[object] = set()
        self.left_chats: list[str] = []

        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._faults: list[_Fault] = []
        self._conflict = False
        self._unreachable = False
        self._message_ids: dict[int, int] = {}
        self._stored: dict[tuple[int, int], dict[str, Any]] = {}
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._admins: dict[int, tuple[int | None, frozenset[int]]] = {}
        self._bot_status: dict[int, str] = {}
        self._callback_ids = 0
        self._forums: dict[int, set[int]] = {}  # chat → its open forum topics

        self._update_signal = asyncio.Event()
        self._message_signal = asyncio.Event()
        self._stopping = asyncio.Event()
        self._web: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._relisten: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def root(self) -> str:
        """What the product reads as TELEGRAM_API_URL (no trailing slash: see API-NOTES 2.1)."""
        if not self._port:
            raise RuntimeError("BotApiServer is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._web = web.Server(self._handle, access_log=None)
        sock = self._bind(self._requested_port)
        self._port = sock.getsockname()[1]
        self._listener = await self._loop.create_server(self._web, sock=sock)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake_pollers()
        if self._relisten is not None:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._relisten
            self._relisten = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._web is not None:
            self._abort_connections()
            await self._web.shutdown(1.0)
            self._web = None

    async def __aenter__(self) -> BotApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @staticmethod
    def _bind(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def _abort_connections(self) -> None:
        if self._web is None:
            return
        for handler in self._web.connections:
            if handler.transport is not None:
                handler.transport.abort()

    def set_unreachable(self, flag: bool) -> None:
        """Stop listening and reset open connections, or listen again on the same port.

        Both directions take effect synchronously: closing drops the listening socket at once,
        and re-opening binds and listens before returning, so connections queue in the backlog
        until the accept loop (started on the event loop) picks them up.
        """
        if flag == self._unreachable:
            return
        self._unreachable = flag
        if flag:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._abort_connections()
            self._wake_pollers()
            return
        if self._loop is None or self._web is None:
            return
        sock = self._bind(self._port)
        self._relisten = self._loop.create_task(self._serve_on(self._loop, self._web, sock))

    async def _serve_on(
        self, loop: asyncio.AbstractEventLoop, server: web.Server, sock: socket.socket
    ) -> None:
        listener = await loop.create_server(server, sock=sock)
        if self._unreachable or self._stopping.is_set():  # toggled back while we were starting
            listener.close()
            return
        self._listener = listener

    # ---- configuration -----------------------------------------------------------------------

    def fail(
        self,
        method: str = "sendMessage",
        *,
        kind: str,
        chat_id: str | int | None = None,
        times: int | None = None,
        retry_after: int = 3,
        description: str | None = None,
        migrate_to: int | None = None,
        hold: float = DEFAULT_TIMEOUT_HOLD,
    ) -> None:
        """Make ``method`` fail ``times`` times (forever when None), optionally for one chat only.

        ``hold`` is how long the ``timeout`` kind withholds its answer; it ends early on stop().
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        self._faults.append(
            _Fault(
                method=method.lower(),
                kind=kind,
                chat_id=None if chat_id is None else str(chat_id),
                times=times,
                retry_after=retry_after,
                description=description,
                migrate_to=migrate_to,
                hold=hold,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def conflict(self, flag: bool) -> None:
        """Answer getUpdates with 409, as Telegram does when a second poller appears."""
        self._conflict = flag
        self._wake_pollers()

    def set_chat_admins(
        self, chat_id: int | str, user_ids: Iterable[int], *, creator: int | None = None
    ) -> None:
        """getChatMember reports ``creator`` as owner, ``user_ids`` as admins, others as members."""
        self._admins[resolve_chat_id(str(chat_id))] = (creator, frozenset(user_ids))

    def set_forum(self, chat_id: int | str, threads: Iterable[int]) -> None:
        """Make the chat a forum whose open topics are ``threads`` (message_thread_id values)."""
        self._forums[resolve_chat_id(str(chat_id))] = set(threads)

    def delete_topic(self, chat_id: int | str, thread_id: int) -> None:
        """Delete one forum topic, as an admin of the group would."""
        self._forums.get(resolve_chat_id(str(chat_id)), set()).discard(thread_id)

    # ---- injected updates --------------------------------------------------------------------

    def inject_update(self, update: dict[str, Any]) -> None:
        """Queue a raw Update; an ``update_id`` is assigned when missing."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._updates.append(update)
        self._wake_pollers()

    def command(
        self,
        text: str,
        *,
        user_id: int = 777,
        chat_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str = "Ann",
        language_code: str | None = None,
        thread_id: int | None = None,
    ) -> None:
        """Queue a user message; a leading ``/word`` gets the bot_command entity PTB requires.

        ``language_code`` is the sender's client language; ``thread_id`` sends it inside that
        forum topic of the chat.
        """
        if chat_id is None:
            chat_id = {"private": user_id, "group": -424242}.get(chat_type, -1001234567890)
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        chat = self._chat_object(str(chat_id), first_name=first_name, username=username)
        chat["type"] = chat_type
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if text.startswith("/"):
            word = text.split(maxsplit=1)[0] if text.strip() else text
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(word)}
            ]
        self.inject_update({"message": message})

    def callback(
        self,
        data: str,
        *,
        user_id: int = 777,
        chat_id: int | None = None,
        message_id: int = 1,
        language_code: str | None = None,
    ) -> None:
        """Queue a button press on a bot message (created when the bot never sent it)."""
        chat_key = str(user_id if chat_id is None else chat_id)
        resolved = resolve_chat_id(chat_key)
        message = self._stored.get((resolved, message_id))
        if message is None:
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat_object(chat_key),
                "from": self._bot_user(),
                "text": "…",
            }
            self._stored[(resolved, message_id)] = message
            self._message_ids[resolved] = max(self._message_ids.get(resolved, 0), message_id)
        self._callback_ids += 1
        presser: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Ann"}
        if language_code is not None:
            presser["language_code"] = language_code
        self.inject_update(
            {
                "callback_query": {
                    "id": f"{user_id}{self._callback_ids:06d}",
                    "from": presser,
                    "chat_instance": f"ci{resolved}",
                    "data": data,
                    "message": dict(message),
                }
            }
        )

    def my_chat_member(
        self,
        chat_id: int | str,
        *,
        status: str = "member",
        by_user_id: int = 777,
        old_status: str = "left",
        title: str = "Test chat",
    ) -> None:
        """Queue the update Telegram sends when the bot is added to (or promoted in) a chat."""
        chat_key = str(chat_id)
        resolved = resolve_chat_id(chat_key)
        self._bot_status[resolved] = status
        self.inject_update(
            {
                "my_chat_member": {
                    "chat": self._chat_object(chat_key, title=title),
                    "from": {"id": by_user_id, "is_bot": False, "first_name": "Ann"},
                    "date": int(time.time()),
                    "old_chat_member": self._member(self._bot_user(), old_status),
                    "new_chat_member": self._member(self._bot_user(), status),
                }
            }
        )

    # ---- inspection --------------------------------------------------------------------------

    def commands_menu(
        self, *, language_code: str = "", chat_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The command list set for the default scope (or one chat's scope) and a language."""
        scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
        return list(
            self._commands.get(
                self._commands_key({"scope": scope, "language_code": language_code}), []
            )
        )

    def replies_to(self, chat_id: int | str) -> list[SentMessage]:
        key = str(chat_id)
        resolved = resolve_chat_id(key)
        return [m for m in self.messages if m.chat_id == key or m.resolved_chat_id == resolved]

    async def wait_for_messages(
        self, n: int, *, timeout: float = 10.0, chat_id: int | str | None = None
    ) -> list[SentMessage]:
        """Wait until at least ``n`` (matching) messages were recorded; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            signal_now = self._message_signal
            found = self.messages if chat_id is None else self.replies_to(chat_id)
            if len(found) >= n:
                return list(found)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"expected {n} message(s) for chat {chat_id}, got {len(found)}: "
                    f"{[m.text for m in found]}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal_now.wait(), remaining)

    # ---- internals: signals, ids, objects ----------------------------------------------------

    def _wake_pollers(self) -> None:
        self._update_signal.set()
        self._update_signal = asyncio.Event()

    def _wake_waiters(self) -> None:
        self._message_signal.set()
        self._message_signal = asyncio.Event()

    def _next_message_id(self, chat_id: int | str) -> int:
        resolved = resolve_chat_id(str(chat_id))
        self._message_ids[resolved] = self._message_ids.get(resolved, 0) + 1
        return self._message_ids[resolved]

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Vigil",
            "username": self.bot_username,
        }

    def _chat_object(
        self,
        chat_key: str,
        *,
        first_name: str = "Ann",
        username: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        kind = _chat_type(chat_key)
        chat: dict[str, Any] = {"id": resolve_chat_id(chat_key), "type": kind}
        if kind == "private":
            chat["first_name"] = first_name
            if username is not None:
                chat["username"] = username
        else:
            chat["title"] = title or (chat_key if kind == "channel" else f"Chat {chat_key}")
            if chat_key.startswith("@"):
                chat["username"] = chat_key[1:]
        if resolve_chat_id(chat_key) in self._forums:
            chat["is_forum"] = True
        return chat

    @staticmethod
    def _member(user: dict[str, Any], status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            member.update(_ADMIN_RIGHTS)
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0  # ChatMemberBanned requires it
        return member

    def _chat_key(self, params: Mapping[str, Any], name: str = "chat_id") -> str:
        value = params.get(name)
        if value is None or value == "":
            raise _ApiError(400, f"Bad Request: {name} is empty")
        key = str(value).strip()
        if key.startswith("@"):
            if len(key) < 2:
                raise _ApiError(400, "Bad Request: chat not found")
            return key
        try:
            number = int(key)
        except ValueError as exc:
            raise _ApiError(400, "Bad Request: chat not found") from exc
        if number == 0:
            raise _ApiError(400, "Bad Request: chat not found")
        return str(number)

    # ---- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._unreachable:
            # A request on a connection opened before the outage: reset it like a dead peer.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        path = request.path
        for prefix in ("/file/bot", "/bot"):
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                is_file = prefix == "/file/bot"
                break
        else:
            return self._json_error(404, "Not Found")
        token, _, method = rest.partition("/")
        if token != self.token:
            return self._json_error(401, self._unauthorized_text(token))
        if is_file:
            return self._json_error(404, "Not Found: file not found")
        canonical = _METHOD_NAMES.get(method.lower(), method)
        params: dict[str, Any] = {}
        started = time.monotonic()
        try:
            params = await self._read_params(request)
            result = await self._dispatch(canonical, params, request)
        except _ApiError as error:
            if error.code == 429:
                self.count_429 += 1
            self.calls.append(Call(canonical, params, error.code, started))
            return self._json_error(error.code, error.description, error.parameters)
        except _RawAnswer as raw:
            self.calls.append(Call(canonical, params, raw.status, started))
            return web.Response(status=raw.status, text=raw.body, content_type=raw.content_type)
        self.calls.append(Call(canonical, params, 200, started))
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _unauthorized_text(token: str) -> str:
        malformed = ":" not in token or token.startswith("0") or len(token) > 80
        return "Unauthorized: invalid token specified" if malformed else "Unauthorized"

    @staticmethod
    def _json_error(
        code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        headers: dict[str, str] = {}
        if parameters:
            body["parameters"] = dict(parameters)
            if "retry_after" in parameters:
                headers["Retry-After"] = str(parameters["retry_after"])
        return web.json_response(body, status=code, headers=headers)

    async def _read_params(self, request: web.BaseRequest) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, value in request.query.items():
            params[name] = _decode_value(name, value)
        if request.method != "POST" or not request.body_exists:
            return params
        if request.content_type == "application/json":
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise _ApiError(400, "Bad Request: can't parse JSON encoded request") from exc
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: JSON object expected")
            params.update(body)
            return params
        form = await request.post()
        for field_name, field_value in form.items():
            if isinstance(field_value, FileField):
                params[field_name] = field_value.file.read()
            else:
                params[field_name] = _decode_value(field_name, field_value)
        return params

    async def _dispatch(self, method: str, params: dict[str, Any], request: web.BaseRequest) -> Any:
        handler = self._methods().get(method)
        if handler is None:
            raise _ApiError(404, "Not Found: method not found")
        fault = self._take_fault(method, params)
        if fault is not None and fault.kind != "timeout":
            self._raise_fault(fault, params)
        if method == "getUpdates":
            result = await self._get_updates(params, request)
        else:
            result = handler(params)
        if fault is not None:  # the "timeout" kind: done, recorded, but the answer is withheld
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.hold)
            if request.transport is not None:
                request.transport.abort()
        return result

    def _take_fault(self, method: str, params: Mapping[str, Any]) -> _Fault | None:
        chat = params.get("chat_id")
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None and (chat is None or str(chat) != fault.chat_id):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    def _raise_fault(self, fault: _Fault, params: Mapping[str, Any]) -> None:
        kind = fault.kind
        chat_key = str(params.get("chat_id", "-1"))
        if kind == "429":
            description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
            raise _ApiError(429, description, {"retry_after": fault.retry_after})
        if kind == "400_migrate":
            new_id = fault.migrate_to if fault.migrate_to is not None else _migrated_id(chat_key)
            description = (
                fault.description or "Bad Request: group chat was upgraded to a supergroup chat"
            )
            raise _ApiError(400, description, {"migrate_to_chat_id": new_id})
        if kind == "502_html":
            body = fault.description or (
                "<html><head><title>502 Bad Gateway</title></head>"
                "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
                "</body></html>"
            )
            raise _RawAnswer(502, body, "text/html")
        if kind == "invalid_json":
            raise _RawAnswer(
                200, fault.description or '{"ok": true, "result": {"message_id', "application/json"
            )
        code, description = self._fault_text(kind, chat_key)
        raise _ApiError(code, fault.description or description)

    @staticmethod
    def _fault_text(kind: str, chat_key: str) -> tuple[int, str]:
        if kind == "403_kicked":
            try:
                chat_kind = _chat_type(chat_key)
            except ValueError:
                chat_kind = "group"
            if chat_kind == "channel":
                return 403, "Forbidden: bot is not a member of the channel chat"
            if chat_kind == "supergroup":
                return 403, "Forbidden: bot was kicked from the supergroup chat"
            return 403, "Forbidden: bot was kicked from the group chat"
        fixed = {
            "403_blocked": (403, "Forbidden: bot was blocked by the user"),
            "403_deactivated": (403, "Forbidden: user is deactivated"),
            "400_chat_not_found": (400, "Bad Request: chat not found"),
            "400_parse": (
                400,
                'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0',
            ),
            "400_too_long": (400, "Bad Request: message is too long"),
            "500": (500, "Internal Server Error"),
            "401": (401, "Unauthorized"),
        }
        return fixed[kind]

    # ---- methods -----------------------------------------------------------------------------

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "getMe": self._get_me,
            "logOut": lambda params: True,
            "close": lambda params: True,
            "deleteWebhook": lambda params: True,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": lambda params: [],  # served by _get_updates (it must await)
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": lambda params: bool(self._chat_key(params)),
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "leaveChat": self._leave_chat,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
        }

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        me = self._bot_user()
        me.update(
            {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )
        return me

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    async def _get_updates(
        self, params: dict[str, Any], request: web.BaseRequest
    ) -> list[dict[str, Any]]:
        if self._conflict:
            raise _ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        token = object()
        previous = self._poller
        if previous is not None and not (previous[1] is None or previous[1].is_closing()):
            self._superseded.add(previous[0])
            self._wake_pollers()
        self._poller = (token, request.transport)
        try:
            return await self._wait_updates(params, request, token)
        finally:
            self._superseded.discard(token)
            if self._poller is not None and self._poller[0] is token:
                self._poller = None

    async def _wait_updates(
        self, params: dict[str, Any], request: web.BaseRequest, token: object
    ) -> list[dict[str, Any]]:
        offset = _as_int(params, "offset", 0)
        limit = min(100, max(1, _as_int(params, "limit", 100)))
        timeout = max(0, _as_int(params, "timeout", 0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed) or None
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset > 0:
            self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        deadline = time.monotonic() + timeout
        while True:
            signal_now = self._update_signal
            ready = [u for u in self._updates if self._is_allowed(u)][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._stopping.is_set():
                return ready
            if self._conflict or token in self._superseded:
                if token in self._superseded:
                    self.count_409 += 1
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            transport = request.transport
            if self._unreachable or transport is None or transport.is_closing():
                return []  # the client is gone; nothing is confirmed, so nothing is lost
            # Waking periodically notices a client that closed the connection mid-poll.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal_now.wait(), min(remaining, 0.25))

    def _is_allowed(self, update: Mapping[str, Any]) -> bool:
        kinds = set(update) - {"update_id"}
        if self._allowed_updates is None:
            return not kinds <= _DEFAULT_EXCLUDED_UPDATES
        return bool(kinds & self._allowed_updates)

    def _check_text(self, params: Mapping[str, Any]) -> tuple[str, str | None]:
        text = params.get("text")
        text = "" if text is None else _as_str(text)
        parse_mode = params.get("parse_mode")
        parse_mode = None if parse_mode in (None, "") else str(parse_mode)
        if parse_mode is not None and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
            raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        shown = visible_text(text, parse_mode)
        if not shown.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(shown) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return shown, parse_mode

    @staticmethod
    def _check_markup(params: Mapping[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: object expected as reply markup")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise _ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
        return markup

    def _check_thread(self, chat_key: str, params: Mapping[str, Any]) -> int | None:
        if params.get("message_thread_id") in (None, ""):
            return None
        thread = _as_int(params, "message_thread_id", 0)
        if thread not in self._forums.get(resolve_chat_id(chat_key), set()):
            raise _ApiError(400, "Bad Request: message thread not found")
        return thread

    @staticmethod
    def _check_preview(params: Mapping[str, Any]) -> dict[str, Any] | None:
        options = params.get("link_preview_options")
        if options is None:
            return None
        if not isinstance(options, dict):
            raise _ApiError(400, "Bad Request: can't parse link preview options JSON object")
        url = options.get("url")
        if url is not None and not isinstance(url, str):
            raise _ApiError(400, 'Bad Request: field "url" must be of type String')
        return options

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_key = self._chat_key(params)
        shown, parse_mode = self._check_text(params)
        markup = self._check_markup(params)
        thread = self._check_thread(chat_key, params)
        preview = self._check_preview(params)
        now = time.monotonic()
        is_group = chat_key.startswith(("-", "@"))
        if self.enforce_limits:
            wait = self._flood.wait_needed(chat_key, is_group, now)
            if wait > 0:
                raise _flood_error(wait)
            self._flood.record(chat_key, is_group, now)
        message_id = self._next_message_id(chat_key)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_object(chat_key),
            "from": self._bot_user(),
            "text": shown,
        }
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        resolved = resolve_chat_id(chat_key)
        self._stored[(resolved, message_id)] = message
        self.messages.append(
            SentMessage(
                chat_id=chat_key,
                text=_as_str(params["text"]),
                parse_mode=parse_mode,
                reply_markup=markup,
                at=now,
                message_id=message_id,
                resolved_chat_id=resolved,
                params=dict(params),
                thread_id=thread,
                silent=_as_bool(params.get("disable_notification", False)),
                link_preview=preview,
            )
        )
        self._wake_waiters()
        return message

    def _find_message(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        if params.get("inline_message_id"):
            return None
        chat_key = self._chat_key(params)
        message_id = _as_int(params, "message_id", 0)
        if message_id <= 0:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        message = self._stored.get((resolve_chat_id(chat_key), message_id))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return message

    def _record_edit(
        self, params: Mapping[str, Any], message: dict[str, Any], parse_mode: str | None
    ) -> None:
        chat_key = self._chat_key(params)
        self.edits.append(
            SentMessage(
                chat_id=chat_key,
                text=_as_str(params.get("text", message.get("text", ""))),
                parse_mode=parse_mode,
                reply_markup=message.get("reply_markup"),
                at=time.monotonic(),
                message_id=int(message["message_id"]),
                resolved_chat_id=resolve_chat_id(chat_key),
                params=dict(params),
            )
        )

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        shown, parse_mode = self._check_text(params)
        markup = self._check_markup(params)
        self._check_preview(params)
        message = self._find_message(params)
        if message is None:
            return True
        # As the real API: a bot edits only its own messages.
        if message.get("from", {}).get("id") != self._bot_user()["id"]:
            raise _ApiError(400, "Bad Request: message can't be edited")
        new_markup = markup if markup is not None and "inline_keyboard" in markup else None
        if message.get("text") == shown and message.get("reply_markup") == new_markup:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = shown
        message["edit_date"] = int(time.time())
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        self._record_edit(params, message, parse_mode)
        return dict(message)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        markup = self._check_markup(params)
        message = self._find_message(params)
        if message is None:
            return True
        new_markup = markup if markup is not None and "inline_keyboard" in markup else None
        if message.get("reply_markup") == new_markup:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        self._record_edit(params, message, None)
        return dict(message)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_key = self._chat_key(params)
        key = (resolve_chat_id(chat_key), _as_int(params, "message_id", 0))
        if self._stored.pop(key, None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    @staticmethod
    def _answer_callback_query(params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: QUERY_ID_INVALID")
        return True

    @staticmethod
    def _commands_key(params: Mapping[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        language = str(params.get("language_code") or "")
        if language and not (len(language) == 2 and language.isascii() and language.islower()):
            raise _ApiError(400, "Bad Request: invalid language code specified")
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, 'Bad Request: parameter "commands" must be an Array')
        for entry in commands:
            if not isinstance(entry, dict):
                raise _ApiError(400, "Bad Request: BotCommand must be an Object")
            name = str(entry.get("command", ""))
            if (
                not (1 <= len(name) <= 32)
                or not all(c.islower() or c.isdigit() or c == "_" for c in name)
                or not name.isascii()
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(entry.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": str(c["command"]), "description": str(c["description"])} for c in commands
        ]
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _leave_chat(self, params: dict[str, Any]) -> bool:
        chat_key = self._chat_key(params)
        self.left_chats.append(chat_key)
        self._bot_status[resolve_chat_id(chat_key)] = "left"
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_object(self._chat_key(params))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    def _status_of(self, chat: int, user_id: int) -> str:
        if user_id == self.bot_id:
            return self._bot_status.get(chat, "member")
        creator, admins = self._admins.get(chat, (None, frozenset()))
        if chat > 0:
            return "member"
        if user_id == creator:
            return "creator"
        return "administrator" if user_id in admins else "member"

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return self._bot_user()
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = resolve_chat_id(self._chat_key(params))
        user_id = _as_int(params, "user_id", 0)
        if user_id <= 0:
            raise _ApiError(400, "Bad Request: invalid user_id specified")
        return self._member(self._user(user_id), self._status_of(chat, user_id))

    def _get_chat_administrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        chat = resolve_chat_id(self._chat_key(params))
        creator, admins = self._admins.get(chat, (None, frozenset()))
        members = []
        if creator is not None:
            members.append(self._member(self._user(creator), "creator"))
        for user_id in sorted(admins - {creator}):
            members.append(self._member(self._user(user_id), "administrator"))
        if self._bot_status.get(chat) == "administrator" and self.bot_id not in admins:
            members.append(self._member(self._bot_user(), "administrator"))
        return members

    def _get_chat_member_count(self, params: dict[str, Any]) -> int:
        chat = resolve_chat_id(self._chat_key(params))
        creator, admins = self._admins.get(chat, (None, frozenset()))
        # The configured owner and admins, plus the bot itself and the user who added it.
        return len(admins | ({creator} if creator is not None else set())) + 2


# --------------------------------------------------------------------------------------------
# Running the server from synchronous code


class BotApiServerThread:
    """Runs a BotApiServer in its own event loop on a background thread.

    Every accessor hops onto the server's loop, so state is only ever touched by that loop:
    this is what subprocess end-to-end tests and the benchmark use.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, **options: Any) -> None:
        self._token = token
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: BotApiServer | None = None

    def __enter__(self) -> BotApiServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="botapi-server", daemon=True)
        self._thread.start()
        self._server = self._run(self._create())

    async def _create(self) -> BotApiServer:
        server = BotApiServer(self._token, **self._options)
        await server.start()
        return server

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._server is not None:
            self._run(self._server.stop())
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = None
        self._thread = None

    def _run(self, coro: Any, timeout: float | None = 30.0) -> Any:
        if self._loop is None:
            raise RuntimeError("BotApiServerThread is not started")
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def _call(self, action: Callable[[BotApiServer], T]) -> T:
        server = self._server
        if server is None:
            raise RuntimeError("BotApiServerThread is not started")

        async def on_loop() -> T:
            return action(server)

        result: T = self._run(on_loop())
        return result

    @property
    def server(self) -> BotApiServer:
        """The server object itself; only touch it through the accessors from other threads."""
        if self._server is None:
            raise RuntimeError("BotApiServerThread is not started")
        return self._server

    @property
    def root(self) -> str:
        return self.server.root

    @property
    def messages(self) -> list[SentMessage]:
        return self._call(lambda s: list(s.messages))

    @property
    def edits(self) -> list[SentMessage]:
        return self._call(lambda s: list(s.edits))

    @property
    def calls(self) -> list[Call]:
        return self._call(lambda s: list(s.calls))

    @property
    def count_429(self) -> int:
        return self._call(lambda s: s.count_429)

    @property
    def count_409(self) -> int:
        """getUpdates ended with 409 because another client polled meanwhile."""
        return self._call(lambda s: s.count_409)

    def replies_to(self, chat_id: int | str) -> list[SentMessage]:
        return self._call(lambda s: s.replies_to(chat_id))

    def inject_update(self, update: dict[str, Any]) -> None:
        self._call(lambda s: s.inject_update(update))

    def set_forum(self, chat_id: int | str, threads: Iterable[int]) -> None:
        self._call(lambda s: s.set_forum(chat_id, threads))

    def delete_topic(self, chat_id: int | str, thread_id: int) -> None:
        self._call(lambda s: s.delete_topic(chat_id, thread_id))

    def command(self, text: str, **options: Any) -> None:
        self._call(lambda s: s.command(text, **options))

    def callback(self, data: str, **options: Any) -> None:
        self._call(lambda s: s.callback(data, **options))

    def my_chat_member(self, chat_id: int | str, **options: Any) -> None:
        self._call(lambda s: s.my_chat_member(chat_id, **options))

    def fail(self, method: str = "sendMessage", **options: Any) -> None:
        self._call(lambda s: s.fail(method, **options))

    def clear_faults(self) -> None:
        self._call(lambda s: s.clear_faults())

    def set_unreachable(self, flag: bool) -> None:
        self._call(lambda s: s.set_unreachable(flag))

    def conflict(self, flag: bool) -> None:
        self._call(lambda s: s.conflict(flag))

    def set_chat_admins(
        self, chat_id: int | str, user_ids: Iterable[int], *, creator: int | None = None
    ) -> None:
        admins = list(user_ids)
        self._call(lambda s: s.set_chat_admins(chat_id, admins, creator=creator))

    def wait_for_messages(
        self, n: int, *, timeout: float = 10.0, chat_id: int | str | None = None
    ) -> list[SentMessage]:
        server = self.server
        found: list[SentMessage] = self._run(
            server.wait_for_messages(n, timeout=timeout, chat_id=chat_id), timeout + 10
        )
        return found


# --------------------------------------------------------------------------------------------
# Standalone entry: python -m tests.servers.botapi --port N


async def _serve_forever(args: argparse.Namespace) -> None:
    server = BotApiServer(args.token, enforce_limits=not args.no_limits, port=args.port)
    await server.start()
    print(server.root, flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    try:
        await done.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Bot API test server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the only token accepted")
    parser.add_argument("--no-limits", action="store_true", help="do not answer 429 on floods")
    args = parser.parse_args(argv)
    asyncio.run(_serve_forever(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
