"""Vigil's Telegram front end: python-telegram-bot run inside Vigil's own asyncio lifecycle.

Rules this module enforces:
- PTB does not own the loop: the Application is built by hand around the service's ``Bot`` and
  driven with initialize → start → ``updater.start_polling`` and back (API-NOTES §2.2);
  ``run_polling`` would call ``run_until_complete`` inside a running loop. Telegram being
  unreachable at start does not stop Vigil: connecting is retried in the background.
- A 409 Conflict (another process polls with this token) or a rejected token stops the service
  with exit code 3 and a message that says what to do.
- Every update passes one gate before any handler runs: a per-actor rate limit (ignored beyond
  it, one "slow down" per window), then :meth:`bot.telegram.gate.Gate.authorize` — the only
  place admin, group-admin and subscription-mode checks live. Edited messages and channel
  posts are not commands.
- Replies go through :class:`bot.telegram.outgoing.Replier`, paced together with the alerts, in
  the chat's language and into the forum topic the command came from.
- Errors inside a handler are logged with the token redacted, and the chat gets at most one
  "Something went wrong" per update.
- Membership changes are :mod:`bot.telegram.membership`'s (it leaves chats it may not stay in).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    filters,
)

from bot.config import Config
from bot.deliver.limits import Pacer
from bot.i18n import Tr
from bot.logs import redact
from bot.store import subs
from bot.telegram import access, buttons, keyboards, membership, offset, replies
from bot.telegram.gate import Gate
from bot.telegram.handlers import COMMANDS
from bot.telegram.host import Host
from bot.telegram.menu import Menus
from bot.telegram.outgoing import Replier
from bot.telegram.request import Command, Request, language_of, speaker, thread_of

log = logging.getLogger("vigil.telegram")

CONFLICT_MESSAGE = "another instance is polling with this bot token (409 Conflict); stop it first"
TOKEN_MESSAGE = "Telegram refused the bot token; check TELEGRAM_BOT_TOKEN"  # noqa: S105
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)
LONG_POLL = timedelta(seconds=5)  # also bounds a frozen leader's takeover (bot.service.ha)
CONCURRENT_UPDATES = 32
STOP_GRACE = 2.0
UPDATER_STOP_TIMEOUT = 2.0
RECONNECT_MAX = 60.0
POLLING_TASK = "Updater:start_polling:polling_task"  # the name PTB 22.8 gives that task


class TelegramFrontend:
    """Answers commands, buttons and membership changes for one service and one bot."""

    def __init__(
        self,
        host: Host,
        bot: Bot,
        *,
        limiter: access.RateLimiter | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.bot = bot
        self.wall = wall
        self.gate = Gate(bot, limiter or access.RateLimiter(clock=clock), clock)
        # Share the delivery worker's pacer when given: replies and alerts count together.
        rate = host.runtime.config.telegram.rate_per_second
        self.replier = Replier(bot, pacer or Pacer(rate, clock=clock))
        self.menus = Menus(bot)
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._fatal_reason: str | None = None
        self._apologized: OrderedDict[int, None] = OrderedDict()
        self._polling_failures = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connects and starts long polling; never raises for an unreachable Telegram."""
        self._app = self._build()
        try:
            await self._connect()
        except InvalidToken:
            self._fatal(TOKEN_MESSAGE)
        except TelegramError as exc:
            log.warning(
                "Telegram is unreachable (%s); commands will be answered once it is back",
                self._redact(str(exc)),
            )
            self._retry = asyncio.create_task(self._keep_connecting(), name="telegram-connect")

    async def stop(self) -> None:
        """Stops polling and the Application within a few seconds, whatever Telegram does."""
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
            self._retry = None
        app = self._app
        if app is None:
            return
        updater = app.updater
        if updater is not None and updater.running:
            try:
                await asyncio.wait_for(updater.stop(), UPDATER_STOP_TIMEOUT)
            except (TimeoutError, TelegramError) as exc:
                log.warning("stopping Telegram polling: %s", self._redact(repr(exc)))
        if app.running:
            stopping = asyncio.ensure_future(app.stop())
            done, _ = await asyncio.wait({stopping}, timeout=STOP_GRACE)
            if not done:
                self.replier.closing.set()  # paced replies still waiting give up now
            await stopping
        self.replier.closing.set()
        try:
            await app.shutdown()
        except (RuntimeError, TelegramError) as exc:
            log.warning("shutting down the Telegram client: %s", self._redact(repr(exc)))

    def _build(self) -> Application[Any, Any, Any, Any, Any, Any]:
        app = (
            Application.builder()
            .bot(self.bot)
            .job_queue(None)
            .concurrent_updates(CONCURRENT_UPDATES)
            .build()
        )
        for command in COMMANDS:
            app.add_handler(
                CommandHandler(
                    command.name,
                    self._command_callback(command),
                    filters=filters.UpdateType.MESSAGE,  # an edited command is not run again
                )
            )
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(offset.recorder(self.host.conn), group=offset.GROUP)
        app.add_error_handler(self._on_error)
        return app

    async def _connect(self) -> None:
        app = self._require_app()
        await app.initialize()
        await self._register_commands()
        if not app.running:
            await app.start()
        updater = app.updater
        assert updater is not None  # the builder always makes one unless told not to
        await offset.resume(self.bot, self.host.conn)  # a new leader resumes, never repeats
        await updater.start_polling(
            poll_interval=0.0,
            timeout=LONG_POLL,
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=self._on_polling_error,
        )
        self._watch_polling()
        log.info("answering Telegram commands as @%s", self.bot.username)

    async def _keep_connecting(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except InvalidToken:
                self._fatal(TOKEN_MESSAGE)
                return
            except TelegramError as exc:
                delay = min(RECONNECT_MAX, delay * 2)
                log.info("Telegram still unreachable (%s)", self._redact(str(exc)))
                continue
            log.info("connected to Telegram")
            return

    def _watch_polling(self) -> None:
        """PTB ends its polling task on a rejected token without calling error_callback."""
        for task in asyncio.all_tasks():
            if task.get_name() == POLLING_TASK and not task.done():
                task.add_done_callback(self._polling_ended)

    def _polling_ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, InvalidToken):
            self._fatal(TOKEN_MESSAGE)
        elif error is not None:
            log.error("Telegram polling stopped: %s", self._redact(repr(error)))

    def _on_polling_error(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            self._fatal(CONFLICT_MESSAGE)
        elif isinstance(error, InvalidToken):
            self._fatal(TOKEN_MESSAGE)
        else:
            self._polling_failures += 1
            level = logging.WARNING if self._polling_failures in (1, 10, 100) else logging.DEBUG
            log.log(
                level,
                "polling Telegram failed (%d so far), retrying: %s",
                self._polling_failures,
                self._redact(str(error)),
            )

    def _fatal(self, reason: str) -> None:
        if self._fatal_reason is None:
            self._fatal_reason = reason
            log.error("%s", reason)
        self.host.stop(3, reason)

    async def _register_commands(self) -> None:
        """Users see their commands in their language; administrators also see the admin ones."""
        admins = self.host.runtime.config.telegram.admins
        await self.menus.register(admins, lambda chat: language_of(self.host.conn, chat))

    def _require_app(self) -> Application[Any, Any, Any, Any, Any, Any]:
        if self._app is None:
            raise RuntimeError("TelegramFrontend.start() was not called")
        return self._app

    def _redact(self, text: str) -> str:
        return redact(text, (self.bot.token,))

    # ------------------------------------------------------------ updates

    def _command_callback(self, command: Command) -> Callable[[Update, Any], Any]:
        async def callback(update: Update, context: Any) -> None:
            await self._on_command(command, update)

        return callback

    async def _on_command(self, command: Command, update: Update) -> None:
        message = update.message
        if message is None or message.text is None:
            return
        chat = message.chat
        actor = access.actor_of(
            message.from_user.id if message.from_user else None,
            message.sender_chat.id if message.sender_chat else None,
            chat.id,
        )
        thread = thread_of(message)
        refused, warn = self.gate.throttled(actor)
        tr = speaker(self.host.conn, chat.id, message.from_user)
        if refused:
            if warn:
                await self.send(chat.id, tr.lines(tr(replies.SLOW_DOWN)), thread_id=thread)
            return
        config = self.host.runtime.config
        refusal = await self.gate.authorize(command.need, config, actor, chat.id, chat.type)
        if refusal is not None:
            log.info(
                "refused /%s for user %s", command.name, actor.user_id, extra={"chat_id": chat.id}
            )
            await self.send(chat.id, tr.lines(tr(refusal)), thread_id=thread)
            return
        parts = message.text.split(maxsplit=1)
        args = parts[1].strip() if len(parts) > 1 else ""
        request = self._request(config, actor, chat.id, chat.type, chat.title or "", tr, thread)
        await command.run(dataclasses.replace(request, args=args))

    def _request(
        self,
        config: Config,
        actor: access.Actor,
        chat_id: int,
        kind: str,
        title: str,
        tr: Tr,
        thread_id: int | None,
    ) -> Request:
        async def send(text: str, markup: InlineKeyboardMarkup | None) -> None:
            await self.send(chat_id, text, markup, thread_id=thread_id)

        admin = access.is_admin(config.telegram, actor)

        async def set_menu(lang: str) -> None:
            await self.menus.for_chat(chat_id, lang, admin=admin)

        return Request(
            host=self.host,
            config=config,
            chat_id=chat_id,
            chat_kind=kind,
            chat_title=title,
            actor=actor,
            admin=admin,
            args="",
            now=self.wall(),
            tz=ZoneInfo(config.settings.timezone),
            send=send,
            tr=tr,
            thread_id=thread_id,
            set_menu=set_menu,
        )

    async def _on_button(self, update: Update, context: Any) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        actor = access.actor_of(query.from_user.id, None, chat_id)
        tr = speaker(self.host.conn, chat_id, query.from_user)
        refused, warn = self.gate.throttled(actor)
        if refused:
            await self._answer(query, tr(replies.SLOW_DOWN) if warn else None)
            return
        config = self.host.runtime.config
        topic_ids = [t.id for t in config.topics]
        press = keyboards.parse_press(query.data, topic_ids)
        if press is None or message is None:
            await self._answer(query, tr(replies.OUT_OF_DATE))
            return
        followed = subs.subscriptions_of(self.host.conn, str(chat_id))
        need = buttons.need_of(press, followed, topic_ids)
        refusal = await self.gate.authorize(need, config, actor, chat_id, message.chat.type)
        if refusal is not None:
            await self._answer(query, tr(refusal))
            return
        thread = thread_of(message) if isinstance(message, Message) else None
        title = message.chat.title or ""
        request = self._request(config, actor, chat_id, message.chat.type, title, tr, thread)
        request, answer = buttons.press_button(request, press)
        await self._answer(query, answer)
        if press.action == "lang":
            await request.set_menu(request.tr.lang)
        if message.is_accessible:
            look = buttons.redraw(request, press)
            await buttons.edit_in_place(self.bot, chat_id, message.message_id, look)

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        """Every press is answered, or the user's client shows a spinner for a while."""
        try:
            await query.answer(text)
        except TelegramError as exc:  # too old, or already answered
            log.info("answerCallbackQuery failed: %s", self._redact(str(exc)))

    async def _on_membership(self, update: Update, context: Any) -> None:
        if update.my_chat_member is not None:
            await membership.on_change(self.host, self.bot, update.my_chat_member, self.wall())

    async def _on_error(self, update: object, context: Any) -> None:
        error = getattr(context, "error", None)
        if isinstance(error, BaseException):
            detail = "".join(traceback.format_exception(error))
        else:
            detail = repr(error)
        log.error("handling a Telegram update failed: %s", self._redact(detail))
        if not isinstance(update, Update) or update.update_id in self._apologized:
            return
        self._apologized[update.update_id] = None
        while len(self._apologized) > 1000:
            self._apologized.popitem(last=False)
        if update.callback_query is not None:
            query = update.callback_query
            chat = query.message.chat.id if query.message else query.from_user.id
            tr = speaker(self.host.conn, chat, query.from_user)
            await self._answer(query, tr(replies.SOMETHING_WRONG))
        elif update.message is not None:
            message = update.message
            tr = speaker(self.host.conn, message.chat.id, message.from_user)
            text = tr.lines(tr(replies.SOMETHING_WRONG))
            await self.send(message.chat.id, text, thread_id=thread_of(message))

    # ------------------------------------------------------------ replies

    async def send(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        thread_id: int | None = None,
    ) -> bool:
        """Sends an HTML reply, split if long and paced; False (and logged) if it failed."""
        return await self.replier.send(chat_id, text, markup, thread_id=thread_id)
