"""`vigil once` beside running replicas: it claims feeds as a replica does, so each poll once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from bot.store import feeds as feed_rows
from bot.store import replicas
from bot.store.db import connect_postgres, transaction
from tests.conftest import make_config, vigil_cmd
from tests.servers.feeds import FeedServerThread, rss
from tests.test_e2e import OLD, write
from tests.test_replicas import Replica, until

HORIZON = 10**9


def _feeds(conn: object, *ids: str) -> None:
    with transaction(conn):  # type: ignore[arg-type]
        feed_rows.sync_feeds(conn, {i: f"https://x.example/{i}" for i in ids})  # type: ignore[arg-type]


def _leases(url: str) -> dict[str, str]:
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT feed_id, lease_owner FROM feeds WHERE lease_owner IS NOT NULL"
        ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def test_named_claims_leave_live_leases_alone(pg_url: str) -> None:
    """`claim` takes free and expired feeds, never one another owner holds; its lease then keeps
    a replica's `claim_due` off the feed, and the poll's own write ends it."""
    conn = connect_postgres(pg_url)
    _feeds(conn, "a", "b", "c")
    held = feed_rows.claim_due(conn, "replica", now=100.0, horizon=HORIZON, lease=60, limit=1)
    assert [r.feed_id for r in held] == ["a"]
    got = feed_rows.claim(conn, "once", ["a", "b", "c"], now=100.0, lease=60)
    assert sorted(r.feed_id for r in got) == ["b", "c"]
    assert feed_rows.claim_due(conn, "replica", now=101.0, horizon=HORIZON, lease=60) == [held[0]]
    # The replica died: its lease ran out and `vigil once` may take the feed.
    assert [r.feed_id for r in feed_rows.claim(conn, "once", ["a"], now=162.0, lease=60)] == ["a"]
    with transaction(conn):
        feed_rows.record_success(
            conn, "b", now=102.0, next_poll_at=500.0, etag=None, last_modified=None, owner="once"
        )
        feed_rows.record_success(  # another owner's write does not end this lease
            conn, "c", now=102.0, next_poll_at=500.0, etag=None, last_modified=None, owner="x"
        )
    assert _leases(pg_url) == {"a": "once", "c": "once"}
    feed_rows.release_all(conn, "once")
    assert _leases(pg_url) == {}
    conn.close()


def _once(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*vigil_cmd("once"), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_once_leaves_a_feed_a_replica_is_polling(
    tmp_path: Path, vigil_env: dict[str, str], pg_url: str
) -> None:
    """A feed under a replica's live claim is not polled by `vigil once` (that poll is the one
    poll), the others are; once it is free again `vigil once` polls it; no claim outlives it.
    A live leader sends the outbox, so `vigil once` leaves sending to it."""
    with FeedServerThread() as feeds:
        feeds.set("/a.xml", rss([OLD]))
        feeds.set("/b.xml", rss([OLD]))
        config = write(
            tmp_path / "feeds.yaml",
            make_config({"a": feeds.url("/a.xml"), "b": feeds.url("/b.xml")}),
        )
        env = {**vigil_env, "VIGIL_DATABASE_URL": pg_url}
        assert _once(config, env).returncode == 0  # creates the schema, polls both
        assert len(feeds.requests_for("/a.xml")) == len(feeds.requests_for("/b.xml")) == 1
        conn = connect_postgres(pg_url)
        feed_rows.claim(conn, "replica-x", ["a"], now=time.time(), lease=600)  # polling it now
        with transaction(conn):  # and leading: it sends the outbox, `vigil once` must not too
            replicas.beat(
                conn, "replica-x", now=time.time(), started_at=1.0, leader=True, config_hash="h"
            )
        done = _once(config, env)
        assert done.returncode == 0, done.stderr
        assert len(feeds.requests_for("/a.xml")) == 1  # left to the replica
        assert len(feeds.requests_for("/b.xml")) == 2
        assert "feed a is being polled by a running replica" in done.stderr
        assert "1 left to the replica polling them" in done.stderr
        assert (
            "replica replica-x leads and sends the queued alerts; not sending here" in done.stderr
        )
        assert _leases(pg_url) == {"a": "replica-x"}  # its own claims released, not others'
        feed_rows.release(conn, "a", "replica-x")
        assert _once(config, env).returncode == 0
        assert len(feeds.requests_for("/a.xml")) == 2
        assert _leases(pg_url) == {}
        conn.close()


@pytest.mark.slow  # waits on a 20 s answer: in `make test`, not the edit-test loop
def test_once_beside_vigil_run_polls_each_feed_once(
    tmp_path: Path, vigil_env: dict[str, str], pg_url: str
) -> None:
    """A real `vigil run` replica in the middle of a slow poll, `vigil once` started beside it:
    the slow feed is asked once in all, the other feed by `vigil once`."""
    with FeedServerThread() as feeds:
        feeds.set("/slow.xml", rss([OLD]))
        feeds.set("/fast.xml", rss([OLD]))
        config = write(
            tmp_path / "feeds.yaml",
            # A fetch timeout past the answer's delay: the replica's poll lasts the whole 20 s.
            make_config({"slow": feeds.url("/slow.xml"), "fast": feeds.url("/fast.xml")}).replace(
                "timeout: 5s", "timeout: 30s"
            ),
        )
        assert "timeout: 30s" in config.read_text()
        env = {**vigil_env, "VIGIL_DATABASE_URL": pg_url}
        assert _once(config, env).returncode == 0  # baseline; the replica then waits its interval
        feeds.set("/slow.xml", rss([OLD]), delay=20.0)
        replica = Replica("alpha", env, config, tmp_path)
        try:
            with psycopg.connect(pg_url, autocommit=True) as db:
                until(lambda: _beating(db), 30, "the replica's heartbeat")
                db.execute("UPDATE feeds SET next_poll_at = 0 WHERE feed_id = 'slow'")
            until(lambda: len(feeds.requests_for("/slow.xml")) == 2, 30, "the replica's poll")
            done = _once(config, env)
            assert done.returncode == 0, done.stderr
            assert "feed slow is being polled by a running replica" in done.stderr
            assert len(feeds.requests_for("/fast.xml")) == 2
            until(lambda: "slow" not in _leases(pg_url), 40, "the replica's poll to end")
            assert len(feeds.requests_for("/slow.xml")) == 2  # baseline + the replica's, once
        finally:
            replica.stop()


def _beating(db: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = db.execute("SELECT to_regclass('replicas')").fetchone()
    if not row or not row[0]:
        return False
    count = db.execute("SELECT count(*) FROM replicas").fetchone()
    return bool(count and count[0])
