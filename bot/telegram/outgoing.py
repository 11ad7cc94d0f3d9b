"""Replies to commands: HTML, split under Telegram's 4096 characters, paced with the alerts.

Rules: replies share the delivery worker's :class:`bot.deliver.limits.Pacer`, so replies and
alerts together keep within Telegram's limits (one message a second per chat, 20 a minute per
group, `rate_per_second` overall; Bot FAQ, "My bot is hitting limits"). A reply that would
wait longer than MAX_REPLY_WAIT is dropped, so a flood cannot build an unbounded queue; one
429 is waited out and retried once. Closing gives up the replies still waiting.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError

from bot.deliver.limits import Pacer
from bot.deliver.telegram import retry_seconds
from bot.logs import redact
from bot.telegram.replies import split_message

log = logging.getLogger("vigil.telegram")

MAX_REPLY_WAIT = 30.0


class Replier:
    """Sends the replies of one bot through a shared pacer."""

    def __init__(self, bot: Bot, pacer: Pacer) -> None:
        self.bot = bot
        self.pacer = pacer
        self.closing = asyncio.Event()
        self._no_preview = LinkPreviewOptions(is_disabled=True)

    def _redact(self, text: str) -> str:
        return redact(text, (self.bot.token,))

    async def send(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        thread_id: int | None = None,
    ) -> bool:
        """Sends an HTML reply, split if long and paced; False (and logged) if it failed.

        ``thread_id`` is the forum topic the command came from: the answer goes there too.
        """
        parts = split_message(text)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if not await self._send_part(chat_id, part, markup if last else None, thread_id):
                return False
        return True

    async def _send_part(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None, thread_id: int | None
    ) -> bool:
        for attempt in range(2):
            delay = self.pacer.reserve(str(chat_id), MAX_REPLY_WAIT)
            if delay is None:
                log.warning("reply dropped: the chat is over its rate", extra={"chat_id": chat_id})
                return False
            if delay > 0 and not await self._pause(delay):
                return False
            settle = self.pacer.settle(str(chat_id))  # the previous reply may have gone late
            if settle > 0 and not await self._pause(settle):
                return False
            self.pacer.sending(str(chat_id))
            try:
                await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=self._no_preview,
                    message_thread_id=thread_id,
                )
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                self.pacer.pause(str(chat_id), wait)
                log.warning("reply rate limited for %.0fs", wait, extra={"chat_id": chat_id})
                if attempt or wait > MAX_REPLY_WAIT:
                    return False
                continue
            except TelegramError as exc:
                log.warning("reply failed: %s", self._redact(str(exc)), extra={"chat_id": chat_id})
                return False
            return True
        return False

    async def _pause(self, seconds: float) -> bool:
        """Sleeps; False when the front end is closing and the reply should be given up."""
        try:
            await asyncio.wait_for(self.closing.wait(), seconds)
        except TimeoutError:
            return True
        return False
