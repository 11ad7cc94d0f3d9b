"""What a sender reports back, so the worker decides retries without knowing Telegram.

The classification follows the Bot API's error taxonomy (API-NOTES §2.4, RELIABILITY C):
permanent refusals are never retried, gone chats are dropped, rate limits are waited out,
transient faults are retried with back-off, and an invalid token stops delivery loudly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Status(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # transient: 5xx, network, connect timeout
    RATE_LIMITED = "rate_limited"  # 429: wait retry_after
    GONE = "gone"  # blocked, kicked, deactivated, chat not found: drop the chat
    THREAD_GONE = "thread_gone"  # the forum topic was deleted: drop what goes there
    MIGRATED = "migrated"  # group became a supergroup: resend to new_chat_id
    PERMANENT = "permanent"  # Telegram refuses this message for good
    FATAL = "fatal"  # invalid token: stop all delivery


@dataclass(frozen=True, slots=True)
class SendResult:
    status: Status
    error: str = ""
    retry_after: float | None = None
    new_chat_id: str | None = None
    # A read timeout after the request went out: the message may have arrived. Marked so the
    # ledger records the decision (RELIABILITY C6).
    uncertain: bool = False
    note: str | None = None
    thread_id: int | None = None  # the forum topic, with THREAD_GONE
    message_id: int | None = None  # the message as sent (kept to edit it later)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How one alert is sent: into which forum topic, with or without sound and link preview."""

    thread_id: int | None = None
    silent: bool = False
    preview_url: str | None = None


DEFAULT_OPTIONS = SendOptions()


class Sender(Protocol):
    """Delivers one rendered alert to one chat."""

    async def send(
        self, chat_id: str, html: str, plain: str, options: SendOptions = ...
    ) -> SendResult: ...

    async def edit(self, chat_id: str, message_id: int, html: str, plain: str) -> SendResult:
        """Replaces a sent message's text (it gained a source)."""
        ...

    async def close(self) -> None: ...
