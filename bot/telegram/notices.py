"""Tells the admins, once, about conditions only a person can fix (RELIABILITY B15, C2, C8, E11).

A feed failing for hours, Telegram holding the bot back for a long flood wait, a group or channel
that removed the bot, a feeds.yaml edit the running service refused: each is logged, but an
operator looks at logs only when something seems off. A notice goes to every admin in a private
chat, as plain text; the layout-changed notice carries one button, "Accept the new layout", which
does what /rebaseline does (:mod:`bot.telegram.layout`).

Each notice has a key. The keys told are kept in the runtime table, so a condition that lasts for
days is told once — across restarts too — and told again only after it cleared and came back. A
feed that works again gets a short "recovered" notice, so the first one is not left hanging.

Triggers arrive from inside other components' transactions (the delivery worker records an
outcome, the scheduler reports a poll); the notices queue them and do their own reads, writes and
sends later in one task, so a notice never touches a transaction it did not open and never slows
the caller. Notices are best effort: they are not alerts and have no outbox. One that cannot be
sent is logged and not marked told, so the next trigger tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.deliver.limits import is_group
from bot.deliver.sender import SendResult, Status
from bot.i18n import N_, Tr, translator
from bot.model import ErrorKind, Outcome
from bot.pipeline import PollReport
from bot.store import feeds as feed_rows
from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, transaction

if TYPE_CHECKING:  # python-telegram-bot loads with the token, not with every `vigil` command
    from telegram import InlineKeyboardMarkup

log = logging.getLogger("vigil.notices")

FAILING_AFTER = 3  # consecutive failed polls before a feed is worth a person's attention
LONG_FLOOD_WAIT = 60.0  # a 429 asking for a longer wait than this delays alerts noticeably
QUEUE_MAX = 1000  # triggers beyond this are dropped (and logged): notices must not grow memory
PREFIX = "notice:"


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell `message` under `key` unless told; `clear` forgets keys starting with `key` instead.

    `message` and `recovered` are catalog ids, said in each admin's language with `values`.
    """

    key: str
    message: str = ""
    values: tuple[tuple[str, str], ...] = ()
    clear: bool = False
    recovered: str = ""  # sent on clear, only when the notice had been told
    accept: str = ""  # a feed id: the notice carries the "Accept the new layout" button

    def say(self, tr: Tr, message: str | None = None) -> str:
        """The notice (or its recovery, with ``message``) as plain text in ``tr``'s language."""
        return tr.lines(tr(self.message if message is None else message, **dict(self.values)))

    @property
    def text(self) -> str:
        return self.say(translator(None))


# ---------------------------------------------------------------- the texts (pure)


def feed_failing(feed_id: str, errors: int, kind: str, error: str) -> Notice:
    return Notice(
        f"feed:{feed_id}",
        N_(
            "Vigil: feed {feed} has failed {errors} polls in a row ({kind}: {error}). "
            "It is retried with growing pauses; its statements are not being seen. "
            "`vigil status` shows the details."
        ),
        (("feed", feed_id), ("errors", str(errors)), ("kind", kind), ("error", error[:300])),
    )


def layout_changed(feed_id: str, error: str) -> Notice:
    """Told at once: alerts are held until a person looks (the message says what to run)."""
    return Notice(
        f"feed:{feed_id}",
        N_(
            "Vigil: the page of source {feed} changed its layout; its alerts are held. "
            "{error} (`vigil probe {feed}` shows what Vigil reads now; "
            "`vigil rebaseline {feed}`, /rebaseline {feed} or the button below accepts it.)"
        ),
        (("feed", feed_id), ("error", error[:600])),
        accept=feed_id,
    )


def feed_recovered(feed_id: str) -> Notice:
    return Notice(
        f"feed:{feed_id}",
        values=(("feed", feed_id),),
        clear=True,
        recovered=N_("Vigil: feed {feed} works again."),
    )


def flood_wait(seconds: float) -> Notice:
    return Notice(
        "flood",
        N_(
            "Vigil: Telegram asked the bot to wait {seconds}s before sending again (429). "
            "Alerts stay queued and go out, oldest first, when the wait is over."
        ),
        (("seconds", f"{seconds:.0f}"),),
    )


def flood_over() -> Notice:
    return Notice("flood", clear=True)


def chat_gone(chat_id: str, reason: str) -> Notice:
    return Notice(
        f"chat:{chat_id}",
        N_(
            "Vigil: chat {chat} can no longer receive alerts ({reason}); it was "
            "unsubscribed and its queued alerts dropped. Add the bot back (with the right to "
            "post) and subscribe again, or remove the chat from feeds.yaml."
        ),
        (("chat", chat_id), ("reason", reason[:200])),
    )


def thread_gone(chat_id: str, thread_id: int, reason: str) -> Notice:
    return Notice(
        f"thread:{chat_id}:{thread_id}",
        N_(
            "Vigil: forum topic {thread} of chat {chat} is gone ({reason}); what was subscribed "
            "there was removed and its queued alerts dropped. Subscribe again from another "
            "topic, or change the channel's thread in feeds.yaml."
        ),
        (("thread", str(thread_id)), ("chat", chat_id), ("reason", reason[:200])),
    )


def reload_refused(message: str) -> Notice:
    digest = hashlib.sha256(message.encode()).hexdigest()[:12]
    return Notice(
        f"reload:{digest}",
        N_(
            "Vigil: the edited feeds.yaml was refused; the previous configuration keeps "
            "running.\n{problems}"
        ),
        (("problems", message[:3000]),),
    )


def reload_accepted() -> Notice:
    return Notice("reload:", clear=True)


def notice_for_poll(report: PollReport, consecutive_errors: int) -> Notice | None:
    """The notice a poll outcome calls for, if any."""
    if report.outcome is Outcome.FAILED:
        if report.error_kind is ErrorKind.LAYOUT_CHANGED:
            return layout_changed(report.feed_id, report.error or "")
        if consecutive_errors < FAILING_AFTER:
            return None
        return feed_failing(
            report.feed_id, consecutive_errors, str(report.error_kind), report.error or ""
        )
    return feed_recovered(report.feed_id)


def notice_for_send(chat_id: str, result: SendResult) -> Notice | None:
    """The notice a delivery outcome calls for, if any."""
    if result.status is Status.RATE_LIMITED:
        wait = result.retry_after or 0.0
        return flood_wait(wait) if wait >= LONG_FLOOD_WAIT else None
    if result.status is Status.THREAD_GONE and result.thread_id is not None:
        return thread_gone(chat_id, result.thread_id, result.error)
    if result.status is Status.GONE and is_group(chat_id):
        # A private user who blocks the bot is their own choice, not the operator's problem.
        return chat_gone(chat_id, result.error)
    if result.status is Status.SENT:
        return flood_over()
    return None


# ---------------------------------------------------------------- the sending side


class AdminNotices:
    """Queues notices and sends them to the admins from one task (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        send: Callable[[int, str, InlineKeyboardMarkup | None], Awaitable[bool]],
        admins: Callable[[], tuple[int, ...]],
        language_of: Callable[[int], str | None] = lambda admin: None,
    ) -> None:
        self.conn = conn
        self.send = send
        self.admins = admins
        self.language_of = language_of  # an admin's chosen interface language
        # A clear carries the told keys it removes: they leave `_told` when posted, so a tell
        # posted right after it (a reload refused again after one accepted) is not skipped.
        self._queue: asyncio.Queue[tuple[Notice, tuple[str, ...]]] = asyncio.Queue(QUEUE_MAX)
        self._dropped = 0
        # The keys told, mirrored in memory so the common case (nothing to tell, nothing to
        # clear: a feed polled fine, a message sent) costs neither a queue slot nor a query.
        self._told = {
            str(key)[len(PREFIX) :]
            for (key,) in conn.execute(
                "SELECT key FROM runtime WHERE substr(key, 1, ?) = ?", (len(PREFIX), PREFIX)
            )
        }
        self._queued: set[str] = set()

    def post(self, notice: Notice | None) -> None:
        """Queues a notice; safe to call from inside another component's transaction."""
        if notice is None:
            return
        keys: tuple[str, ...] = ()
        if notice.clear:
            keys = tuple(self._matching(notice.key))
            if not keys:
                return
        elif notice.key in self._told or notice.key in self._queued:
            return
        try:
            self._queue.put_nowait((notice, keys))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped in (1, 100) or self._dropped % 1000 == 0:
                log.warning("admin notices are backed up; %d dropped", self._dropped)
            return
        if notice.clear:
            self._told.difference_update(keys)
        else:
            self._queued.add(notice.key)

    def observe_poll(self, report: PollReport) -> None:
        if report.outcome is Outcome.FAILED:
            row = feed_rows.get_feed(self.conn, report.feed_id)
            self.post(notice_for_poll(report, row.consecutive_errors if row else 1))
        else:
            self.post(notice_for_poll(report, 0))

    def observe_send(self, chat_id: str, result: SendResult) -> None:
        self.post(notice_for_send(chat_id, result))

    async def run(self) -> None:
        """Sends queued notices until cancelled."""
        while True:
            await self._handle_logged(*await self._queue.get())

    async def drain(self) -> None:
        """Handles everything queued so far (one-shot runs and tests)."""
        while not self._queue.empty():
            await self._handle_logged(*self._queue.get_nowait())

    def _matching(self, key: str) -> list[str]:
        """Told keys a clear of `key` removes: a key ending in ':' is a prefix, else exact."""
        if key.endswith(":"):
            return [told for told in self._told if told.startswith(key)]
        return [key] if key in self._told else []

    async def _handle_logged(self, notice: Notice, keys: tuple[str, ...]) -> None:
        try:
            if notice.clear:
                await self._clear(notice, keys)
            else:
                await self._tell(notice)
        except DatabaseError as exc:
            log.warning("admin notice %s not recorded: %s", notice.key, exc)
        finally:
            self._queued.discard(notice.key)

    async def _tell(self, notice: Notice) -> None:
        if notice.key in self._told:
            return
        admins = self.admins()
        log.warning("admin notice: %s", notice.text)
        if not admins:
            return
        told = [admin for admin in admins if await self._send(notice, admin)]
        if told:
            with transaction(self.conn):
                runtime_rows.put(self.conn, PREFIX + notice.key, "told")
            self._told.add(notice.key)

    async def _clear(self, notice: Notice, keys: tuple[str, ...]) -> None:
        with transaction(self.conn):
            for key in keys:
                runtime_rows.delete(self.conn, PREFIX + key)
        if notice.recovered:
            log.info("admin notice: %s", notice.say(translator(None), notice.recovered))
            for admin in self.admins():
                await self._send(notice, admin, notice.recovered)

    async def _send(self, notice: Notice, admin: int, message: str | None = None) -> bool:
        """Says the notice (or its recovery) in the admin's language, with its button if any."""
        try:
            lang = self.language_of(admin)
        except DatabaseError:
            lang = None
        tr = translator(lang)
        button = notice.accept and message is None
        markup = None
        if button:
            from bot.telegram.keyboards import accept_layout_keyboard

            markup = accept_layout_keyboard(notice.accept, tr)
        return await self.send(admin, notice.say(tr, message), markup)
