"""The delivery worker: drains the outbox, paced, fair, and at least once.

Rules:
- A row leaves `pending` only on a final outcome from the sender; a crash in between means the
  row is sent again on restart — the single duplicate SPEC allows for a message in flight.
- Fair: each pass takes the oldest due row of each chat, so a chat with a long backlog cannot
  hold the others; within a chat rows go oldest first.
- Paced by :class:`bot.deliver.limits.Pacer` (1/s per chat, 20/min per group, `rate_per_second`
  overall); a 429 pauses that chat for `retry_after` and stores the next attempt on the row.
- When Telegram is unreachable the whole worker backs off (doubling to 5 minutes) instead of
  failing every row in turn; rows keep their place so recovery delivers oldest first.
- A read timeout after the request went out is ambiguous: the message may have arrived. Vigil
  retries once (at-least-once) and records `uncertain` on the row; a second ambiguous timeout
  marks the row sent-uncertain rather than risking a second duplicate (RELIABILITY C6). A
  retry that succeeds keeps the note, so the ledger shows the message may have arrived twice.
- A send whose outcome cannot be written (disk full, database locked) is remembered in memory and
  written again before anything else is sent: the row is not sent a second time by this process,
  and only a restart before the write succeeds can repeat it (RELIABILITY C15, D5).
- A sent row whose statement gained a source (a near-duplicate elsewhere) is due again: the
  message is edited (its id is kept on the row) to add "Also published by"; edits are paced
  like sends, retried after faults, and given up with a note when Telegram refuses them.
- Rows are due by wall-clock time, so when the wall clock jumps back (NTP step, VM restore) the
  pending rows are moved back by the same amount: their remaining wait is kept instead of growing
  by the jump (RELIABILITY D10). A forward jump only makes rows due sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from bot.deliver.limits import Pacer
from bot.deliver.sender import Sender, SendOptions, SendResult, Status
from bot.i18n import translator
from bot.route.sources import with_sources
from bot.store import outbox, subs
from bot.store.db import Connection, DatabaseError, transaction

log = logging.getLogger("vigil.deliver")

BATCH = 500
MAX_RETRY_DELAY = 300.0
MAX_IDLE_WAIT = 30.0
UNCERTAIN = "uncertain"
ONE_SHOT_LINGER = 30.0  # seconds a one-shot run waits for rows due soon
RECORD_RETRY = 2.0  # seconds between attempts to write outcomes the store refused
EDIT_RETRY = 60.0  # seconds before an edit that met a fault is tried again
CLOCK_JUMP = 5.0  # a wall clock falling this far behind the monotonic one has jumped back


class DeliveryWorker:
    def __init__(
        self,
        conn: Connection,
        sender: Sender,
        pacer: Pacer,
        *,
        wall: Callable[[], float] = time.time,
        concurrency: int = 8,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.sender = sender
        self.pacer = pacer
        self.wall = wall
        self.mono = pacer.clock
        self.on_fatal = on_fatal
        # Told every recorded outcome (admin notices watch for floods and lost chats).
        self.on_outcome: Callable[[str, SendResult], None] | None = None
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._network_failures = 0
        self._paused_until = 0.0
        self.fatal: str | None = None
        self.sent = 0
        self.failed = 0
        self.rate_limited = 0
        self.last_progress = self.mono()
        self._unrecorded: dict[int, tuple[outbox.OutboxRow, SendResult]] = {}
        self._record_failures = 0
        self._clock_mark: tuple[float, float] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Delivers until cancelled (or, with until_idle, until nothing is due)."""
        try:
            while self.fatal is None:
                # Cleared before looking, so a send finishing meanwhile still wakes the sleep.
                self._wake.clear()
                wait = self._dispatch()
                if until_idle and not self._tasks and self._idle():
                    return
                await self._sleep(wait)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _idle(self) -> bool:
        """Nothing due soon — or Telegram keeps failing, so a one-shot run leaves it queued.

        Rows waiting out a short 429 or a retry are still "soon"; a long retry_after is not.
        """
        if self._network_failures >= 3 or self._record_failures >= 3:
            return True
        return not outbox.due(self.conn, self.wall() + ONE_SHOT_LINGER, 1)

    async def _sleep(self, wait: float | None) -> None:
        timeout = MAX_IDLE_WAIT if wait is None else max(0.0, min(wait, MAX_IDLE_WAIT))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    def _dispatch(self) -> float | None:
        """Starts every send that is allowed now; returns seconds until the next one may start."""
        now_mono = self.mono()
        if now_mono < self._paused_until:
            return self._paused_until - now_mono
        if self._unrecorded and not self._write_unrecorded():
            self._paused_until = now_mono + RECORD_RETRY
            return RECORD_RETRY
        self._follow_clock()
        rows = outbox.due(self.conn, self.wall(), BATCH)
        next_wait: float | None = None
        heads: dict[str, outbox.OutboxRow] = {}
        for row in rows:
            if row.id in self._unrecorded:
                continue
            if row.chat_id not in heads and row.chat_id not in self._in_flight:
                heads[row.chat_id] = row
        for chat_id, row in heads.items():
            now_mono = self.mono()
            ready = max(self.pacer.chat_ready_at(chat_id), self.pacer.overall_ready_at())
            full = len(self._tasks) >= self.concurrency
            if ready > now_mono or full:
                wait = max(ready - now_mono, 0.005)
                next_wait = wait if next_wait is None else min(next_wait, wait)
                if self.pacer.overall_ready_at() > now_mono or full:
                    break  # nothing else can start before the overall slot frees
                continue
            self.pacer.record(chat_id)
            self._in_flight.add(chat_id)
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if len(rows) >= BATCH or (heads and next_wait is None and self._in_flight):
            next_wait = 0.01 if next_wait is None else next_wait
        if next_wait is None and not rows:
            upcoming = outbox.next_due_at(self.conn)
            if upcoming is not None:
                next_wait = max(upcoming - self.wall(), 0.01)
        return next_wait

    async def _deliver(self, row: outbox.OutboxRow) -> None:
        try:
            text_html, text_plain = with_sources(
                row.text_html, row.text_plain, row.also, translator(row.language)
            )
            if row.state == outbox.SENT and row.message_id is not None:
                edited = self.sender.edit(row.chat_id, row.message_id, text_html, text_plain)
                result = await edited
            else:
                options = SendOptions(row.thread_id, row.silent, row.preview_url)
                result = await self.sender.send(row.chat_id, text_html, text_plain, options)
            self._apply(row, result)
        except Exception:
            log.exception("delivery crashed", extra={"chat_id": row.chat_id})
            self._apply(row, SendResult(Status.RETRY, error="internal error"))
        finally:
            self._in_flight.discard(row.chat_id)
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            self._wake.set()

    def _apply(self, row: outbox.OutboxRow, result: SendResult) -> None:
        now = self.wall()
        extra = {"chat_id": row.chat_id, "item_key": row.statement_key}
        conn = self.conn
        try:
            with transaction(conn):
                self._record(conn, row, result, now, extra)
        except DatabaseError as exc:
            # The send happened but could not be recorded (disk full): kept here and written
            # before anything else is sent; only a restart before that repeats it (C15).
            self._unrecorded[row.id] = (row, result)
            self._record_failures += 1
            self._paused_until = max(self._paused_until, self.mono() + RECORD_RETRY)
            log.error("could not record a delivery outcome: %s", exc, extra=extra)
            return
        self._record_failures = 0
        if self.on_outcome is not None:
            self.on_outcome(row.chat_id, result)

    def _write_unrecorded(self) -> bool:
        """Writes the outcomes the store refused earlier; False while it still refuses."""
        for row_id, (row, result) in list(self._unrecorded.items()):
            extra = {"chat_id": row.chat_id, "item_key": row.statement_key}
            try:
                with transaction(self.conn):
                    self._record(self.conn, row, result, self.wall(), extra)
            except DatabaseError as exc:
                self._record_failures += 1
                if self._record_failures in (2, 10) or self._record_failures % 100 == 0:
                    log.error("still cannot record delivery outcomes: %s", exc)
                return False
            del self._unrecorded[row_id]
        self._record_failures = 0
        log.info("delivery outcomes recorded again")
        return True

    def _follow_clock(self) -> None:
        """Moves pending rows back when the wall clock jumped back (see the module rules)."""
        wall, mono = self.wall(), self.mono()
        mark = self._clock_mark
        self._clock_mark = (wall, mono)
        if mark is None:
            return
        drift = (wall - mark[0]) - (mono - mark[1])
        if drift >= -CLOCK_JUMP:
            return
        try:
            with transaction(self.conn):
                moved = outbox.shift_pending(self.conn, drift)
        except DatabaseError as exc:
            log.error("wall clock went back %.0fs; could not move pending rows: %s", -drift, exc)
            return
        log.warning("wall clock went back %.0fs; moved %d pending rows", -drift, moved)

    def _record(
        self,
        conn: Connection,
        row: outbox.OutboxRow,
        result: SendResult,
        now: float,
        extra: dict[str, str],
    ) -> None:
        status = result.status
        if row.state == outbox.SENT:
            self._record_edit(conn, row, result, now)
            return
        if status is Status.SENT:
            note = result.note
            if note is None and (row.attempts or 0) > 0 and self._previous_uncertain(conn, row.id):
                note = f"{UNCERTAIN}: sent again after an ambiguous timeout; may have arrived twice"
            outbox.mark_sent(
                conn, row.id, now, note, message_id=result.message_id, also_sent=row.also
            )
            if note is not None:
                log.warning("delivered with a note: %s", note, extra=extra)
            self.sent += 1
            self.last_progress = self.mono()
            self._network_failures = 0
            return
        if status is Status.RETRY and result.uncertain:
            if (row.attempts or 0) > 0 and self._previous_uncertain(conn, row.id):
                outbox.mark_sent(conn, row.id, now, "sent-uncertain: two ambiguous timeouts")
                log.warning("delivery uncertain; not retried again", extra=extra)
                return
            outbox.mark_retry(conn, row.id, now + 1.0, f"{UNCERTAIN}: {result.error}")
            log.warning("ambiguous timeout, retrying once: %s", result.error, extra=extra)
            return
        if status is Status.RETRY:
            self._network_failures += 1
            pause = min(2.0 ** min(self._network_failures, 9), MAX_RETRY_DELAY)
            pause *= random.uniform(0.8, 1.2)
            self._paused_until = self.mono() + pause
            # The row keeps its place in line: the pause above, not the row, carries the wait.
            outbox.mark_retry(conn, row.id, row.next_attempt_at, result.error)
            log.warning(
                "telegram unavailable, pausing delivery %.0fs: %s",
                pause,
                result.error,
                extra=extra,
            )
            return
        if status is Status.RATE_LIMITED:
            wait = max(result.retry_after or 1.0, 1.0)
            self.rate_limited += 1
            self.pacer.pause(row.chat_id, wait)
            outbox.mark_retry(conn, row.id, now + wait, f"429 retry after {wait:.0f}s")
            log.warning("rate limited by telegram", extra={**extra, "retry_after": wait})
            return
        if status is Status.GONE:
            dropped = outbox.drop_chat(conn, row.chat_id, result.error)
            subs.deactivate(conn, row.chat_id, result.error)
            log.warning(
                "chat is gone, unsubscribed: %s", result.error, extra={**extra, "count": dropped}
            )
            return
        if status is Status.THREAD_GONE and row.thread_id is not None:
            # Like a lost chat, for one forum topic: nothing more is sent there until someone
            # subscribes in a topic again (or fixes feeds.yaml); the admins are told once.
            outbox.mark_failed(conn, row.id, result.error)
            dropped = outbox.drop_thread(conn, row.chat_id, row.thread_id, result.error)
            subs.forget_thread(conn, row.chat_id, row.thread_id)
            log.warning(
                "forum topic %d is gone: %s",
                row.thread_id,
                result.error,
                extra={**extra, "count": dropped},
            )
            return
        if status is Status.MIGRATED and result.new_chat_id:
            outbox.move_chat(conn, row.chat_id, result.new_chat_id)
            subs.move_chat(conn, row.chat_id, result.new_chat_id)
            log.info("chat migrated to %s", result.new_chat_id, extra=extra)
            return
        if status is Status.FATAL:
            self.fatal = result.error
            log.critical("telegram refused the bot token; delivery stopped", extra=extra)
            if self.on_fatal is not None:
                self.on_fatal(result.error)
            return
        outbox.mark_failed(conn, row.id, result.error)
        self.failed += 1
        log.error("telegram refused the message: %s", result.error, extra=extra)

    def _record_edit(
        self, conn: Connection, row: outbox.OutboxRow, result: SendResult, now: float
    ) -> None:
        """An edit that adds sources: done, later (429 or a fault), or impossible (noted)."""
        if result.status is Status.SENT:
            outbox.edit_done(conn, row.id, row.also, None)
        elif result.status is Status.RATE_LIMITED:
            wait = max(result.retry_after or 1.0, 1.0)
            self.pacer.pause(row.chat_id, wait)
            outbox.edit_later(conn, row.id, now + wait, f"edit: 429 retry after {wait:.0f}s")
        elif result.status is Status.RETRY:
            outbox.edit_later(conn, row.id, now + EDIT_RETRY, f"edit: {result.error}")
        else:
            outbox.edit_done(conn, row.id, row.also, f"edit refused: {result.error}")
            log.info("message not edited: %s", result.error, extra={"chat_id": row.chat_id})

    @staticmethod
    def _previous_uncertain(conn: Connection, row_id: int) -> bool:
        found = conn.execute("SELECT last_error FROM outbox WHERE id = ?", (row_id,)).fetchone()
        return bool(found and found[0] and str(found[0]).startswith(UNCERTAIN))
