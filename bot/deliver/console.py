"""The embedded default: with no token, alerts are printed to the terminal.

This is a real sender behind the same interface as Telegram's, so `make run` on a fresh clone
exercises the whole pipeline — outbox included — with nothing configured.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.deliver.sender import SendResult, Status

RULE = "─" * 60


class ConsoleSender:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, chat_id: str, html: str, plain: str) -> SendResult:
        out = self.stream or sys.stdout
        out.write(f"{RULE}\n{plain}\n{RULE}\n")
        out.flush()
        return SendResult(Status.SENT)

    async def close(self) -> None:
        return None
