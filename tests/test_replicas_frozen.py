"""A vanished leader: its process stopped (SIGSTOP) or cut off while its session stays open.

The server keeps such a session, and with it the advisory lock; the followers see the holder's
heartbeat stand still, end its session and take over, and the leader gate keeps the old leader
from sending or polling Telegram when it resumes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.deliver.telegram import NotLeader, make_bot
from bot.secrets import Secret
from bot.service import ha
from bot.service.ha import Coordinator, LeaderGate
from bot.store import pglock, replicas
from bot.store.db import connect_postgres
from bot.telegram import frontend
from tests.servers.botapi import BotApiServerThread
from tests.servers.feeds import FeedServerThread, rss
from tests.test_e2e import OLD
from tests.test_replicas import Replica, copies, leader, poll_now, replicas_seen, until
from tests.test_replicas import ha_world as ha_world  # the same world: both replicas, one bot
from tests.test_telegram_e2e import statement


async def _nothing() -> None:
    return None


def test_lock_holder_is_named_and_can_be_deposed(pg_url: str) -> None:
    """`holder` names the session holding the lock; `depose` ends it and frees the lock."""
    alpha, beta = pglock.Leadership(pg_url, "alpha"), pglock.Leadership(pg_url, "beta")
    assert alpha.acquire()
    assert not beta.acquire()
    holder = beta.holder()
    assert holder is not None and holder[1] == replicas.lock_name("alpha")
    assert alpha._conn is not None and holder[0] == alpha._conn.info.backend_pid
    assert beta.depose(holder[0])
    assert beta.acquire()  # free at once: depose waits for the session to end
    assert not alpha.check()
    assert beta.holder() is not None and beta.holder()[1] == replicas.lock_name("beta")  # type: ignore[index]
    beta.release()
    alpha.release()


def test_a_frozen_leader_is_deposed_a_beating_one_never(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the leader steps (heartbeats) a follower never deposes it; once its heartbeat
    stands still for STALE, the follower ends its session and leads, and the old leader's gate
    refuses to send when it resumes."""
    monkeypatch.setattr(ha, "TICK", 0.05)
    monkeypatch.setattr(ha, "STALE", 0.5)
    monkeypatch.setattr(frontend, "LONG_POLL", timedelta(0))
    conns = [connect_postgres(pg_url), connect_postgres(pg_url)]
    locks = [pglock.Leadership(pg_url, "alpha"), pglock.Leadership(pg_url, "beta")]
    for lock in locks:
        lock.grace = 0.0
    alpha, beta = (
        Coordinator(c, lock, lock.name.split()[-1], lambda: "h", lead=_nothing, follow=_nothing)
        for c, lock in zip(conns, locks, strict=True)
    )
    asyncio.run(alpha.step())
    assert alpha.leading
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # three times STALE, the leader beating throughout
        asyncio.run(alpha.step())
        asyncio.run(beta.step())
        time.sleep(0.1)
    assert alpha.leading and not beta.leading and beta.depositions == 0
    # alpha freezes: it takes no more steps, its session stays open.
    until(lambda: asyncio.run(beta.step()) is None and beta.leading, 10, "beta leading")
    assert beta.depositions == 1
    gate = LeaderGate()
    gate.lock = locks[0]
    assert locks[0].held  # alpha has not stepped since: it still believes it leads
    locks[0].confirmed_at -= 60  # it stood still a minute
    with pytest.raises(NotLeader):
        asyncio.run(gate())
    assert not locks[0].held
    beta_gate = LeaderGate()
    beta_gate.lock = locks[1]
    asyncio.run(beta_gate())  # the new leader sends
    for lock in locks:
        lock.release()
    for conn in conns:
        conn.close()


def test_gate_asks_the_lock_only_when_its_confirmation_is_old(pg_url: str) -> None:
    """A fresh confirmation passes without a query; an old one is asked again and renewed."""
    lock = pglock.Leadership(pg_url, "alpha")
    gate = LeaderGate()
    asyncio.run(gate())  # no lock yet (before coordination starts): nothing to check
    gate.lock = lock
    with pytest.raises(NotLeader):
        asyncio.run(gate())  # a follower never talks to Telegram
    assert lock.acquire()
    asyncio.run(gate())
    lock.confirmed_at -= 60
    asyncio.run(gate())
    assert time.monotonic() - lock.confirmed_at < ha.FRESH
    lock.release()


@pytest.mark.slow  # about 30 s of waiting: in `make test`, not the edit-test loop
def test_sigstopped_leader_is_taken_over_and_resumes_as_a_follower(
    tmp_path: Path, ha_world: tuple[FeedServerThread, BotApiServerThread, Path, dict[str, str]]
) -> None:
    """The leader stopped with SIGSTOP (its session stays open): the other replica takes over
    within 15 s and delivers the next alert; the old leader, continued, sends nothing, polls
    nothing (no 409) and goes on as a follower."""
    feeds, telegram, config, env = ha_world
    url = env["VIGIL_DATABASE_URL"]
    first = Replica("alpha", env, config, tmp_path)
    second: Replica | None = None
    try:
        until(lambda: leader(url) == "alpha", 30, "alpha leading")
        until(lambda: len(feeds.requests_for("/a.xml")) >= 1, 30, "the baseline poll")
        second = Replica("beta", env, config, tmp_path)
        until(lambda: replicas_seen(url) == {"alpha", "beta"}, 30, "both heartbeats")
        feeds.set("/a.xml", rss([statement(1), OLD]))
        poll_now(url)
        until(lambda: copies(telegram, "Statement 1") == 1, 30, "the first alert")

        first.proc.send_signal(signal.SIGSTOP)
        took = until(lambda: leader(url) == "beta", 40, "beta taking over")
        print(f"takeover after SIGSTOP: {took:.1f}s")
        assert took <= 15.0
        feeds.set("/a.xml", rss([statement(2), statement(1), OLD]))
        poll_now(url)
        until(lambda: copies(telegram, "Statement 2") == 1, 30, "the alert after takeover")

        first.proc.send_signal(signal.SIGCONT)
        until(lambda: "lost the leader lock" in first.stderr(), 30, "alpha noticing")
        time.sleep(ha.TICK * 3)  # alpha steps a few times as a follower
        assert first.proc.poll() is None  # it lives on, as a follower
        assert leader(url) == "beta"
        assert copies(telegram, "Statement 1") == 1 and copies(telegram, "Statement 2") == 1
        assert telegram.count_409 == 0
        assert "Conflict" not in first.stderr()
    finally:
        first.proc.send_signal(signal.SIGCONT)
        first.stop(signal.SIGKILL)
        if second is not None:
            second.stop()
    assert "Conflict" not in (second.stderr() if second else "")


def test_updater_cleanup_refused_by_the_gate_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """python-telegram-bot's last getUpdates on stop, refused by the gate, logs one INFO line,
    not an ERROR with a traceback (a replica that lost the lead stops its updater that way)."""
    make_bot(Secret("123:abc"), "http://127.0.0.1:9", gate=_nothing)
    log = logging.getLogger("telegram.ext.Updater")
    with caplog.at_level(logging.DEBUG, logger="telegram.ext.Updater"):
        try:
            raise NotLeader("this replica does not lead (any more): nothing was sent")
        except NotLeader:
            log.exception("Error while calling `get_updates` one more time")
    record = caplog.records[-1]
    assert record.levelno == logging.INFO and record.exc_info is None
    assert "fetched updates not marked read here" in record.getMessage()
    assert "Traceback" not in caplog.text
