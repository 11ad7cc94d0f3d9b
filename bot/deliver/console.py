"""The embedded default: with no token, alerts are printed to the terminal.

This is a real sender behind the same interface as Telegram's, so `make run` on a fresh clone
exercises the whole pipeline — outbox included — with nothing configured.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.deliver.limits import Pacer
from bot.deliver.sender import DEFAULT_OPTIONS, SendOptions, SendResult, Status

RULE = "─" * 60
CONSOLE_RATE = 1000.0  # a terminal has no rate limits; this only bounds a runaway loop


def console_pacer() -> Pacer:
    """Telegram's limits do not apply to a terminal: a first run with `first_run: all` over
    many feeds would otherwise print one alert a second."""
    return Pacer(CONSOLE_RATE, per_chat_interval=0.0)


class ConsoleSender:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(
        self, chat_id: str, html: str, plain: str, options: SendOptions = DEFAULT_OPTIONS
    ) -> SendResult:
        out = self.stream or sys.stdout
        out.write(f"{RULE}\n{plain}\n{RULE}\n")
        out.flush()
        return SendResult(Status.SENT)

    async def edit(self, chat_id: str, message_id: int, html: str, plain: str) -> SendResult:
        out = self.stream or sys.stdout
        out.write(f"{RULE} (updated)\n{plain}\n{RULE}\n")
        out.flush()
        return SendResult(Status.SENT)

    async def close(self) -> None:
        return None
