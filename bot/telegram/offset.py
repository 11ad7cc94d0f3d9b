"""The Telegram update offset, kept in the database so a new leader resumes where the last stopped.

Telegram keeps an update until a getUpdates asks for a higher offset. PTB confirms a batch only
with its next request, in memory; a leader killed between handling an update and that request
would make the next leader handle it again. So each handled update's id + 1 is written to the
`runtime` row `telegram_offset` (after the command handlers ran: handler group 1), and a
frontend confirms that offset with one short getUpdates before its long polling starts.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, TypeHandler

from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, transaction

log = logging.getLogger("vigil.telegram")

KEY = "telegram_offset"
GROUP = 1  # after the commands (group 0)


def stored(conn: Connection) -> int:
    try:
        value = runtime_rows.get(conn, KEY)
    except DatabaseError:
        return 0
    return int(value) if value and value.isdigit() else 0


def recorder(conn: Connection) -> BaseHandler[Update, Any, None]:
    """A handler that records each handled update's successor as the offset to resume from."""

    async def record(update: Update, context: Any) -> None:
        offset = update.update_id + 1
        try:
            with transaction(conn):
                if offset > stored(conn):
                    runtime_rows.put(conn, KEY, str(offset))
        except DatabaseError as exc:
            log.debug("Telegram offset not recorded: %s", exc)

    return TypeHandler(Update, record)


async def resume(bot: Bot, conn: Connection) -> None:
    """Confirms every update the previous leader handled, so none is handled twice."""
    offset = stored(conn)
    if offset <= 0:
        return
    try:
        await bot.get_updates(offset=offset, timeout=0, limit=1)
    except TelegramError as exc:
        log.info("could not confirm Telegram updates below %d: %s", offset, exc)
    else:
        log.info("resuming Telegram updates from offset %d", offset)
