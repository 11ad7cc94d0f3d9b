"""Several replicas on one PostgreSQL: claims, the leader lock, refusals, takeover end to end."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.service.ha import Coordinator
from bot.store import feeds as feed_rows
from bot.store import pglock, replicas
from bot.store import runtime as runtime_rows
from bot.store.db import connect, connect_postgres, transaction
from tests.conftest import TOKEN, make_config, vigil_cmd
from tests.servers.botapi import BotApiServerThread
from tests.servers.feeds import FeedServerThread, rss
from tests.test_e2e import OLD, write
from tests.test_telegram_e2e import statement

CHANNEL = 'channels:\n  - chat: "-1001"\n'
HORIZON = 10**9


def _feeds(conn: object, n: int) -> None:
    with transaction(conn):  # type: ignore[arg-type]
        feed_rows.sync_feeds(conn, {f"f{i}": f"https://x.example/{i}" for i in range(n)})  # type: ignore[arg-type]


def _claim_due(conn: object, owner: str, now: float, limit: int = 200) -> list[str]:
    rows = feed_rows.claim_due(conn, owner, now=now, horizon=HORIZON, lease=60, limit=limit)  # type: ignore[arg-type]
    return [r.feed_id for r in rows]


def test_claims_split_feeds_between_replicas(pg_url: str) -> None:
    """A feed claimed by one replica is not claimed by another until its lease ends."""
    conn = connect_postgres(pg_url)
    _feeds(conn, 10)
    first = _claim_due(conn, "a", 100.0, limit=6)
    second = _claim_due(conn, "b", 100.0)
    assert len(first) == 6 and len(second) == 4
    assert not set(first) & set(second)
    assert _claim_due(conn, "b", 120.0) == sorted(second)
    # "a" died mid-poll: its leases run out and "b" takes its feeds.
    taken = _claim_due(conn, "b", 161.0)
    assert set(first) <= set(taken)
    feed_rows.release(conn, first[0], "a")  # a late release from the dead owner changes nothing
    assert _claim_due(conn, "a", 162.0) == []
    conn.close()


def test_concurrent_claims_never_overlap(pg_url: str) -> None:
    """Four connections claiming at once: every feed is claimed exactly once."""
    conns = [connect_postgres(pg_url) for _ in range(4)]
    _feeds(conns[0], 200)

    async def claim(i: int) -> list[str]:
        return await asyncio.to_thread(_claim_due, conns[i], f"r{i}", 1.0, 80)

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(claim(i) for i in range(4)))

    results = asyncio.run(main())
    everything = [f for r in results for f in r]
    assert len(everything) == len(set(everything)) == 200
    for conn in conns:
        conn.close()


def test_sqlite_claims_write_nothing(tmp_path: Path) -> None:
    """SQLite's one process needs no lease: claiming is reading the due feeds."""
    conn = connect(tmp_path)
    _feeds(conn, 3)
    assert _claim_due(conn, "a", 1.0) == ["f0", "f1", "f2"]
    assert _claim_due(conn, "b", 1.0) == ["f0", "f1", "f2"]
    leased = conn.execute("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL").fetchone()
    assert leased[0] == 0


def test_leader_lock_is_exclusive_and_dies_with_its_session(pg_url: str) -> None:
    """One holder at a time; a killed session frees it and its holder learns it lost it."""
    first, second = pglock.Leadership(pg_url), pglock.Leadership(pg_url)
    assert first.acquire()
    assert not second.acquire()
    assert first.check()
    assert first._conn is not None
    pid = first._conn.info.backend_pid
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert not first.check()
    assert first.last_error
    # The killed backend releases the lock as it exits, a moment after the signal.
    until(second.acquire, 10, "the lock free after its session was killed")
    assert not first.acquire()  # the lock has moved on
    second.release()
    # Closing the session frees the lock as its backend exits, a moment later (a loaded machine
    # made the immediate try fail).
    until(first.acquire, 10, "the lock free after its holder released it")
    first.release()


def test_other_feeds_yaml_refuses_to_lead_while_the_leaders_runs(pg_url: str) -> None:
    """A replica with another feeds.yaml does not even try the lock while the leader's lives."""
    conn = connect_postgres(pg_url)
    with transaction(conn):
        runtime_rows.put(conn, replicas.LEADER_CONFIG, "aaaa")
        replicas.beat(conn, "old", now=100.0, started_at=1.0, leader=True, config_hash="aaaa")

    class Lock:
        held = False
        last_error = ""
        grace = 0.0
        tries = 0

        def acquire(self) -> bool:
            self.tries += 1
            return True

        def check(self) -> bool:
            return True

        def release(self) -> None:
            return None

    async def nothing() -> None:
        return None

    lock = Lock()
    now = [105.0]
    coordinator = Coordinator(
        conn, lock, "new", lambda: "bbbb", lead=nothing, follow=nothing, clock=lambda: now[0]
    )
    asyncio.run(coordinator.step())
    assert lock.tries == 0 and not coordinator.leading
    assert coordinator.refusal is not None and "differs from the one the leader runs" in (
        coordinator.refusal
    )
    row = replicas.get_replica(conn, "new")
    assert row is not None and row.note.startswith("will not lead:")
    now[0] = 100.0 + replicas.ALIVE + 1  # the old leader is gone: a rolling update may proceed
    asyncio.run(coordinator.step())
    assert lock.tries == 1 and coordinator.leading
    assert runtime_rows.get(conn, replicas.LEADER_CONFIG) == "bbbb"
    conn.close()


# ---------------------------------------------------------------- end to end


class Replica:
    """`vigil run` as one replica: its own id and state directory, the shared database."""

    def __init__(self, rid: str, env: dict[str, str], config: Path, logs: Path) -> None:
        self.rid = rid
        self.err = (logs / f"{rid}.err").open("w+")
        self.env = {**env, "VIGIL_REPLICA_ID": rid, "VIGIL_STATE_DIR": str(logs / rid)}
        self.proc = subprocess.Popen(
            [*vigil_cmd("run"), "--config", str(config)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            text=True,
        )

    def stderr(self) -> str:
        return Path(self.err.name).read_text()  # the child writes it; ours is never written

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.err.close()


def until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Waits for predicate; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"{what} not reached in {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


def leader(url: str) -> str | None:
    """The live leader's id, read as an operator would (None before the schema exists)."""
    with psycopg.connect(url) as db:
        if not db.execute("SELECT to_regclass('replicas')").fetchone()[0]:
            return None
        row = db.execute(
            "SELECT replica_id FROM replicas WHERE leader = 1 AND heartbeat > %s",
            (time.time() - replicas.ALIVE,),
        ).fetchone()
    return str(row[0]) if row else None


def poll_now(url: str) -> None:
    with psycopg.connect(url) as db:
        db.execute("UPDATE feeds SET next_poll_at = 0")


@pytest.fixture
def ha_world(
    tmp_path: Path, vigil_env: dict[str, str], pg_url: str
) -> Iterator[tuple[FeedServerThread, BotApiServerThread, Path, dict[str, str]]]:
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        feeds.set("/a.xml", rss([OLD]))
        config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}, CHANNEL))
        env = {
            **vigil_env,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.root,
            "VIGIL_DATABASE_URL": pg_url,
        }
        yield feeds, telegram, config, env


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_two_replicas_one_leader_one_poll_and_takeover(
    tmp_path: Path, ha_world: tuple[FeedServerThread, BotApiServerThread, Path, dict[str, str]]
) -> None:
    """Two replicas: one leads, each poll happens once, an alert goes once; the leader killed,
    the other takes over within 15 s and delivers the next alert; no 409, status lists both."""
    feeds, telegram, config, env = ha_world
    url = env["VIGIL_DATABASE_URL"]
    first = Replica("alpha", env, config, tmp_path)
    second: Replica | None = None
    try:
        until(lambda: leader(url) == "alpha", 30, "alpha leading")
        until(lambda: len(feeds.requests_for("/a.xml")) >= 1, 30, "the baseline poll")
        second = Replica("beta", env, config, tmp_path)
        until(lambda: replicas_seen(url) == {"alpha", "beta"}, 30, "both heartbeats")
        polls = len(feeds.requests_for("/a.xml"))
        feeds.set("/a.xml", rss([statement(1), OLD]))
        poll_now(url)
        until(lambda: copies(telegram, "Statement 1") == 1, 30, "the first alert")
        time.sleep(3)  # both replicas ticked several times since
        assert len(feeds.requests_for("/a.xml")) == polls + 1  # polled once, not twice
        status = subprocess.run(
            [*vigil_cmd("status", "--json"), "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        summary = json.loads(status.stdout.strip().splitlines()[-1])
        listed = {r["id"]: r for r in summary["replicas"]}
        assert set(listed) == {"alpha", "beta"}
        assert listed["alpha"]["leader"] and not listed["beta"]["leader"]
        assert all(r["heartbeat"] for r in listed.values())

        first.stop(signal.SIGKILL)
        took = until(lambda: leader(url) == "beta", 30, "beta taking over")
        print(f"takeover after kill -9: {took:.1f}s")
        assert took <= 15.0
        time.sleep(max(0.0, replicas.ALIVE + 1 - took))  # alpha's last beat is now stale
        feeds.set("/a.xml", rss([statement(2), statement(1), OLD]))
        poll_now(url)
        until(lambda: copies(telegram, "Statement 2") == 1, 30, "the alert after takeover")
        assert copies(telegram, "Statement 1") == 1
        assert telegram.count_409 == 0
        health = {
            rid: subprocess.run(
                [*vigil_cmd("health"), "--config", str(config)],
                env={**env, "VIGIL_REPLICA_ID": rid},
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            for rid in ("beta", "alpha")
        }
        assert health["beta"].returncode == 0, health["beta"].stdout
        assert health["alpha"].returncode == 1
        assert "replica alpha has not beaten" in health["alpha"].stdout
    finally:
        first.stop(signal.SIGKILL)
        if second is not None:
            second.stop()
    assert "Conflict" not in (second.stderr() if second else "")


def replicas_seen(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT replica_id FROM replicas WHERE heartbeat > %s", (time.time() - 10,)
        ).fetchall()
    return {str(r[0]) for r in rows}


def copies(telegram: BotApiServerThread, needle: str) -> int:
    return sum(needle in m.text for m in telegram.messages)
