"""The commands menu (setMyCommands) in each chat's language.

Rules: Telegram shows a user the list set for their client's ``language_code`` (else the one set
with no language), so the user commands are set once per language at start; the English list is
also the one with no language (Bot API setMyCommands). A chat that chose a language with /lang
gets its own list in that language (chat scope, no language code, as RSStT does), because a
group's language is not its members' client language. Each Vigil administrator also sees the
admin commands, in their chat's language. A failure is logged and never stops the bot, except a
rejected token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import InvalidToken, TelegramError

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from bot.logs import redact
from bot.telegram.handlers import COMMANDS
from bot.telegram.request import Need

log = logging.getLogger("vigil.telegram")


def commands_in(lang: str, *, admin: bool = False) -> list[BotCommand]:
    """The menu in ``lang``: user commands, and admin ones too for an administrator."""
    tr = translator(lang)
    return [
        BotCommand(c.name, tr(c.description)) for c in COMMANDS if admin or c.need is not Need.ADMIN
    ]


class Menus:
    """Sets the menus of one bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def _redact(self, text: str) -> str:
        return redact(text, (self.bot.token,))

    async def register(
        self, admins: tuple[int, ...], language_of: Callable[[int], str | None]
    ) -> None:
        """The default menus per language, and each administrator's own."""
        await self._set(commands_in(DEFAULT_LANGUAGE), None, None)
        for lang in LANGUAGES:
            await self._set(commands_in(lang), None, lang)
        for admin in admins:
            lang = language_of(admin) or DEFAULT_LANGUAGE
            await self._set(commands_in(lang, admin=True), admin, None)

    async def for_chat(self, chat_id: int, lang: str, *, admin: bool) -> None:
        """The menu of one chat that chose ``lang``."""
        await self._set(commands_in(lang, admin=admin), chat_id, None)

    async def _set(self, commands: list[BotCommand], chat_id: int | None, lang: str | None) -> None:
        scope = None if chat_id is None else BotCommandScopeChat(chat_id)
        try:
            await self.bot.set_my_commands(commands, scope=scope, language_code=lang)
        except InvalidToken:
            raise
        except TelegramError as exc:  # e.g. an admin who never opened a chat with the bot
            log.info(
                "command menu (%s, %s) not set: %s",
                chat_id or "default",
                lang or "any language",
                self._redact(str(exc)),
            )
