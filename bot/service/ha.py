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


def config_digest(config: Config) -> str:
    """What replicas compare: the validated feeds.yaml (comments and layout do not count)."""
    return hashlib.sha256(repr(dataclasses.replace(config, path="")).encode()).hexdigest()


class LeaderLock(Protocol):
    held: bool
    last_error: str
    grace: float

    def acquire(self) -> bool: ...

    def check(self) -> bool: ...

    def release(self) -> None: ...


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
            if self.refusal is None and await asyncio.to_thread(self.lock.acquire):
                # A leader that lost the lock but lives needs a tick to notice and a moment to
                # stop polling; starting before that would earn it (or us) a 409 Conflict.
                await asyncio.sleep(self.lock.grace)
                if self.lock.grace and not await asyncio.to_thread(self.lock.check):
                    self._beat(now, digest)
                    return
                self.leading = True
                self.takeovers += 1
                log.info("replica %s leads: Telegram polling and sending run here", self.replica_id)
                await self._lead()
        self._beat(now, digest)

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
