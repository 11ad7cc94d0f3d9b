"""Sending through the Telegram Bot API with python-telegram-bot, errors classified.

A forum topic that was deleted answers 400 "message thread not found": the alert is not retried
(`THREAD_GONE`; the worker drops what was bound to that topic and the admins are told once).
An alert is sent silently (``disable_notification``) and with a link preview of its statement
(``link_preview_options``: small media, since ministry pages carry large banners) only when the
row says so; replies and alerts otherwise show no preview, as before.

Traps handled here (API-NOTES §1, §2.4): `BadRequest` and `TimedOut` are subclasses of
`NetworkError`, so they are caught first; PTB lowercases error text, so messages are matched
case-insensitively; a read timeout after the request was written is ambiguous (it may have
been delivered), while connect and pool timeouts mean nothing was sent. An HTML entity error is
answered by resending once as plain text; "message is too long" by a truncated plain resend.

Several replicas: every request of the bot passes the `gate` given to `make_bot` first (the
leader's check that it still leads, `bot.service.ha.LeaderGate`); a replica that lost the lead
gets `NotLeader` (a `NetworkError`: retried later, by whoever leads then) and sends nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.deliver.sender import DEFAULT_OPTIONS, SendOptions, SendResult, Status
from bot.secrets import Secret

log = logging.getLogger("vigil.telegram")

DEFAULT_API_URL = "https://api.telegram.org"
# 400 answers meaning the bot can no longer post in that chat: retrying every alert cannot help
# until someone re-adds or re-permits the bot, which /start or /subscribe then records (F7).
_GONE_REASONS = (
    "chat not found",
    "user not found",
    "not enough rights",
    "have no rights",
    "chat_write_forbidden",
    "need administrator rights",
)
MAX_TEXT = 4096


def api_urls(root: str) -> tuple[str, str]:
    """Bot API base URLs for PTB; a trailing slash would make `//bot…` paths that 404."""
    root = root.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


class NotLeader(NetworkError):
    """This replica no longer leads: the request was not sent."""


Gate = Callable[[], Awaitable[None]]


class _NotLeaderInOneLine(logging.Filter):
    """python-telegram-bot's updater, stopping, calls getUpdates once more to mark what it
    fetched as read and logs a traceback when that fails. Refused by the gate (this replica no
    longer leads; a getUpdates now would end the new leader's with a 409), that is expected:
    one line instead, the new leader resumes from the offset stored in the database."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NotLeader):
            record.msg = "fetched updates not marked read here: %s; the leader resumes them"
            record.args = (str(error),)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_UPDATER_LOG = "telegram.ext.Updater"


class GatedRequest(HTTPXRequest):
    """HTTPXRequest that awaits `gate` before each request; the gate raises to stop it."""

    def __init__(self, gate: Gate | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if self.gate is not None:
            await self.gate()
        return await super().do_request(*args, **kwargs)


def make_bot(token: Secret, api_url: str, *, pool_size: int = 16, gate: Gate | None = None) -> Bot:
    """The bot; `gate`, when given, is awaited before every request (see the module docstring)."""
    base_url, base_file_url = api_urls(api_url)
    updater_log = logging.getLogger(_UPDATER_LOG)
    if gate is not None and not any(
        isinstance(f, _NotLeaderInOneLine) for f in updater_log.filters
    ):
        updater_log.addFilter(_NotLeaderInOneLine())
    request = GatedRequest(
        gate,
        connection_pool_size=pool_size,
        connect_timeout=5.0,
        read_timeout=10.0,
        write_timeout=10.0,
        pool_timeout=5.0,
        # Proxies come from feeds.yaml decisions, not from whatever the container env holds.
        httpx_kwargs={"trust_env": False},
    )
    return Bot(
        token.reveal(),
        base_url=base_url,
        base_file_url=base_file_url,
        request=request,
        get_updates_request=GatedRequest(
            gate, connection_pool_size=1, read_timeout=20.0, httpx_kwargs={"trust_env": False}
        ),
    )


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


def classify(exc: BaseException) -> SendResult:
    """Maps a PTB exception to what the worker should do with the row."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, RetryAfter):
        return SendResult(Status.RATE_LIMITED, error=text, retry_after=retry_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return SendResult(Status.MIGRATED, error=text, new_chat_id=str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return SendResult(Status.GONE, error=text)
    if isinstance(exc, InvalidToken):
        return SendResult(Status.FATAL, error="the bot token was rejected by Telegram")
    if isinstance(exc, BadRequest):
        if "thread not found" in lowered:
            return SendResult(Status.THREAD_GONE, error=text)
        if any(reason in lowered for reason in _GONE_REASONS):
            return SendResult(Status.GONE, error=text)
        return SendResult(Status.PERMANENT, error=text)
    if isinstance(exc, TimedOut):
        cause = exc.__cause__
        not_sent = isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout) or (
            "not* sent" in lowered or "pool timeout" in lowered
        )
        return SendResult(Status.RETRY, error=text or "timed out", uncertain=not not_sent)
    if isinstance(exc, NetworkError | TelegramError):
        return SendResult(Status.RETRY, error=text)
    return SendResult(Status.RETRY, error=repr(exc)[:200])


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._no_preview = LinkPreviewOptions(is_disabled=True)

    async def send(
        self, chat_id: str, html: str, plain: str, options: SendOptions = DEFAULT_OPTIONS
    ) -> SendResult:
        target: int | str = int(chat_id) if _is_int(chat_id) else chat_id
        try:
            sent = await self._send(target, html, options, ParseMode.HTML)
        except Exception as exc:
            result = classify(exc)
            if result.status is Status.THREAD_GONE:
                return dataclasses.replace(result, thread_id=options.thread_id)
            if result.status is Status.PERMANENT and _is_markup_error(str(exc)):
                log.error(
                    "telegram rejected the alert's HTML, resending as plain text: %s",
                    exc,
                    extra={"chat_id": chat_id},
                )
                return await self._send_plain(target, plain[:MAX_TEXT], options)
            return result
        return SendResult(Status.SENT, message_id=sent.message_id)

    async def edit(self, chat_id: str, message_id: int, html: str, plain: str) -> SendResult:
        """Edits a sent alert; "message is not modified" counts as done."""
        target: int | str = int(chat_id) if _is_int(chat_id) else chat_id
        try:
            await self.bot.edit_message_text(
                html,
                chat_id=target,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=self._no_preview,
            )
        except Exception as exc:
            if "message is not modified" in str(exc).lower():
                return SendResult(Status.SENT, message_id=message_id)
            return classify(exc)
        return SendResult(Status.SENT, message_id=message_id)

    async def _send(
        self, target: int | str, text: str, options: SendOptions, parse_mode: str | None
    ) -> Message:
        preview = self._no_preview
        if options.preview_url:
            preview = LinkPreviewOptions(url=options.preview_url, prefer_small_media=True)
        return await self.bot.send_message(
            target,
            text,
            parse_mode=parse_mode,
            link_preview_options=preview,
            message_thread_id=options.thread_id,
            disable_notification=options.silent or None,
        )

    async def _send_plain(self, target: int | str, text: str, options: SendOptions) -> SendResult:
        try:
            sent = await self._send(target, text, options, None)
        except Exception as exc:
            return classify(exc)
        note = "sent as plain text after an HTML error"
        return SendResult(Status.SENT, note=note, message_id=sent.message_id)

    async def close(self) -> None:
        await self.bot.shutdown()


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()


def _is_markup_error(message: str) -> bool:
    lowered = message.lower()
    return "can't parse entities" in lowered or "message is too long" in lowered
