"""Leader and followers: which replica talks to Telegram, and this replica's heartbeat.

Every replica polls feeds (the scheduler's claims keep each poll to one replica). Exactly one —
the leader, holder of the store's leader lock — also runs the *leader duties*: Telegram long
polling (a second getUpdates would get 409 Conflict), the paced delivery worker (Telegram's
limits are per bot token, and one sender keeps each chat's order) and the admin notices.

Every `TICK` seconds `Coordinator.step`:
- a follower whose feeds.yaml matches the leader's tries the lock; on success it resumes the
  duties (the Telegram offset is in the database, the outbox is rows);
- the leader confirms the lock is still held; a lost lock (its session died, the database went
  away) stops the duties at once, so two replicas never send side by side for long;
- the replica's row gets its heartbeat, its role and, for a follower that may not lead, why.
A dead leader's session ends with it, so a follower takes the lock within one tick of the
database noticing (at once for a killed process, within the keepalive window, ~11 s, for a lost
machine), then waits `grace` (TICK + 3 s) before polling Telegram, the time a leader that lost
its lock but lives needs to notice and stop: never two getUpdates at once, never a 409.

A *frozen* leader (SIGSTOP, a paused VM, a partition that leaves its session open) keeps the
lock: the server sees a live session. A follower that fails to take the lock looks at the holder's
heartbeat; when it has not moved for `STALE` seconds (by the follower's own monotonic clock, so
clock skew between machines does not count), the follower ends the holder's session
(`Leadership.depose`), takes the lock, and waits until the frozen leader's last long poll must
have ended at Telegram (its last heartbeat + TICK + LONG_POLL) before polling: the takeover
takes about STALE + TICK + a few seconds, under 15. A replica heartbeats during every such wait
so it is never taken for frozen itself.

Every request to Telegram first passes `LeaderGate` (`make_bot`'s gate): when the lock was last
confirmed more than `FRESH` seconds ago — the process stood still — it asks the lock session
again, and a lost lock raises `NotLeader` instead of sending. A frozen leader that resumes
therefore sends nothing, polls nothing (no 409 for the new leader) and stops its duties at its
next step.
On SQLite the one process leads from its first step, as before replicas existed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.config import Config
from bot.store import replicas
from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, transaction

log = logging.getLogger("vigil.replicas")

TICK = 2.0
ALIVE = replicas.ALIVE
STALE = 3 * TICK  # the lock holder's heartbeat standing still this long: frozen, deposed
FRESH = TICK + 1.0  # a lock confirmed longer ago is asked again before anything is sent


def _long_poll() -> float:
    """Telegram's long-poll timeout, read where it is set (python-telegram-bot loads only for a
    replica with a token, and only such a replica deposes a frozen leader that polled)."""
    from bot.telegram.frontend import LONG_POLL

    return LONG_POLL.total_seconds()


def config_digest(config: Config) -> str:
    """What replicas compare: the validated feeds.yaml (comments and layout do not count)."""
    return hashlib.sha256(repr(dataclasses.replace(config, path="")).encode()).hexdigest()


class LeaderLock(Protocol):
    held: bool
    last_error: str
    grace: float
    confirmed_at: float  # monotonic: when the lock was last seen held

    def acquire(self) -> bool: ...

    def check(self) -> bool: ...

    def release(self) -> None: ...

    def holder(self) -> tuple[int, str] | None: ...

    def depose(self, pid: int) -> bool: ...


class LeaderGate:
    """Awaited before every Telegram request: passes while this replica surely leads."""

    def __init__(self) -> None:
        self.lock: LeaderLock | None = None  # set when coordination starts

    async def __call__(self) -> None:
        lock = self.lock
        if lock is None:
            return
        if lock.held and time.monotonic() - lock.confirmed_at <= FRESH:
            return
        if lock.held and await asyncio.to_thread(lock.check):
            return
        # Only a replica with a bot gets here: python-telegram-bot is loaded already.
        from bot.deliver.telegram import NotLeader

        raise NotLeader("this replica does not lead (any more): nothing was sent")


class Coordinator:
    def __init__(
        self,
        conn: Connection,
        lock: LeaderLock,
        replica_id: str,
        config_hash: Callable[[], str],
        *,
        lead: Callable[[], Awaitable[None]],
        follow: Callable[[], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self.lock = lock
        self.replica_id = replica_id
        self.config_hash = config_hash
        self._lead = lead
        self._follow = follow
        self.clock = clock
        self.started_at = clock()
        self.leading = False
        self.refusal: str | None = None
        self.takeovers = 0
        self.depositions = 0
        self._holder: tuple[int, str, float | None] | None = None  # pid, name, heartbeat
        self._holder_since = 0.0  # monotonic: when that holder's heartbeat was first seen

    async def step(self) -> None:
        now = self.clock()
        digest = self.config_hash()
        if self.leading:
            if not await asyncio.to_thread(self.lock.check):
                log.error(
                    "lost the leader lock (%s); Telegram polling and sending stop here",
                    self.lock.last_error or "the lock session ended",
                )
                self.leading = False
                await self._follow()
        else:
            self.refusal = self._refusal(digest, now)
            acquired = self.refusal is None and await asyncio.to_thread(self.lock.acquire)
            # A leader that lost the lock but lives needs a tick to notice and a moment to
            # stop polling; starting before that would earn it (or us) a 409 Conflict.
            wait = self.lock.grace
            if self.refusal is None and not acquired:
                frozen_since = await self._depose_frozen()
                if frozen_since is not None:
                    acquired = await asyncio.to_thread(self.lock.acquire)
                    # Its last getUpdates may still be open at Telegram; ours would end it
                    # with a 409. The gate keeps it from sending once it resumes.
                    wait = max(0.0, frozen_since + TICK + _long_poll() + 0.5)
                    wait -= time.monotonic()
            if acquired:
                await self._wait_beating(wait, digest)
                if wait and not await asyncio.to_thread(self.lock.check):
                    self._beat(self.clock(), digest)
                    return
                self.leading = True
                self.takeovers += 1
                log.info("replica %s leads: Telegram polling and sending run here", self.replica_id)
                await self._lead()
        self._beat(now, digest)

    async def _depose_frozen(self) -> float | None:
        """Ends the session of a lock holder whose heartbeat stood still for STALE seconds;
        returns when its heartbeat was first seen (monotonic), or None when nothing was done."""
        holder = await asyncio.to_thread(self.lock.holder)
        if holder is None:
            self._holder = None
            return None
        pid, name = holder
        try:
            rows = replicas.all_replicas(self.conn)
        except DatabaseError:
            return None  # cannot judge its heartbeat: leave it
        beat = next((r.heartbeat for r in rows if replicas.lock_name(r.replica_id) == name), None)
        if self._holder != (pid, name, beat):
            self._holder, self._holder_since = (pid, name, beat), time.monotonic()
            return None
        still = time.monotonic() - self._holder_since
        if still < STALE:
            return None
        log.warning(
            "the leader's heartbeat has stood still for %.0fs while its session holds the lock "
            "(%s, backend %d: frozen or cut off); ending that session to take over",
            still,
            name,
            pid,
        )
        if not await asyncio.to_thread(self.lock.depose, pid):
            log.error("could not end the frozen leader's session: %s", self.lock.last_error)
            return None
        self.depositions += 1
        self._holder = None
        return self._holder_since

    async def _wait_beating(self, seconds: float, digest: str) -> None:
        """Sleeps `seconds` while heartbeating each tick, so no one takes this replica for
        frozen while it waits to lead."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._beat(self.clock(), digest)
            await asyncio.sleep(min(TICK, left))

    def _refusal(self, digest: str, now: float) -> str | None:
        try:
            reason = replicas.lead_refusal(self.conn, self.replica_id, digest, now=now, alive=ALIVE)
        except DatabaseError as exc:
            return f"the database is unavailable: {exc}"
        if reason and reason != self.refusal:
            log.error("this replica will not lead: %s", reason)
        return reason

    def _beat(self, now: float, digest: str) -> None:
        try:
            with transaction(self.conn):
                if self.leading:
                    runtime_rows.put(self.conn, replicas.LEADER_CONFIG, digest)
                replicas.beat(
                    self.conn,
                    self.replica_id,
                    now=now,
                    started_at=self.started_at,
                    leader=self.leading,
                    config_hash=digest,
                    note=f"will not lead: {self.refusal}" if self.refusal else "",
                )
        except DatabaseError as exc:
            log.debug("replica heartbeat not written: %s", exc)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("replica coordination step failed; trying again")
            try:
                await asyncio.wait_for(stop.wait(), TICK)
            except TimeoutError:
                continue

    async def close(self) -> None:
        """Stops the duties, gives up the lock and removes this replica's row."""
        if self.leading:
            self.leading = False
            await self._follow()
        await asyncio.to_thread(self.lock.release)
        try:
            with transaction(self.conn):
                replicas.forget(self.conn, self.replica_id)
        except DatabaseError as exc:
            log.debug("replica row not removed: %s", exc)
