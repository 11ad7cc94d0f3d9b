"""Bad inputs on PostgreSQL, end to end: wrong URL, refused password, a newer schema, the
database gone mid-run, a lost leader lock. Nothing is lost and the reason is said."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from bot.store.db import SCHEMA_VERSION, connect_postgres
from tests.conftest import vigil_cmd
from tests.servers import postgres
from tests.servers.botapi import BotApiServerThread
from tests.servers.feeds import FeedServerThread, rss
from tests.test_e2e import OLD
from tests.test_replicas import Replica, copies, ha_world, leader, poll_now, until
from tests.test_telegram_e2e import statement

__all__ = ["ha_world"]  # the fixture, used here by name

World = tuple[FeedServerThread, BotApiServerThread, Path, dict[str, str]]


def vigil(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*vigil_cmd(*args), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://vigil:Pw-leak-9@db/vigil", "is not a PostgreSQL URL"),
        ("WRONG-PASSWORD", "password authentication failed"),
        ("postgresql://vigil:Pw-leak-9@127.0.0.1:1/vigil?connect_timeout=2", "127.0.0.1"),
    ],
    ids=["not-postgres", "refused-password", "nothing-listening"],
)
def test_run_refuses_bad_database_urls(
    tmp_path: Path, vigil_env: dict[str, str], pg_url: str, url: str, expected: str
) -> None:
    """`vigil run` stops at once with exit 2 and one line naming the problem; no password."""
    if url == "WRONG-PASSWORD":
        url = pg_url.replace(postgres.PASSWORD, "Pw-leak-9")
    config = tmp_path / "feeds.yaml"
    config.write_text("topics: {}\nfeeds:\n  - id: a\n    url: https://example.org/f\n")
    done = vigil({**vigil_env, "VIGIL_DATABASE_URL": url}, config, "run")
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Pw-leak-9" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_database_from_a_newer_vigil_is_refused(
    tmp_path: Path, vigil_env: dict[str, str], pg_url: str
) -> None:
    """A database restored from a newer Vigil's backup: every command refuses, nothing changes."""
    connect_postgres(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("UPDATE vigil_schema SET version = %s", (SCHEMA_VERSION + 1,))
    config = tmp_path / "feeds.yaml"
    config.write_text("topics: {}\nfeeds:\n  - id: a\n    url: https://example.org/f\n")
    env = {**vigil_env, "VIGIL_DATABASE_URL": pg_url}
    for command in ("run", "status", "once"):
        done = vigil(env, config, command)
        assert done.returncode == 2, (command, done.stderr)
        assert "newer than this Vigil understands" in done.stderr
    health = vigil(env, config, "health")
    assert health.returncode == 1 and "newer than this Vigil" in health.stdout


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_database_gone_mid_run_waits_and_loses_nothing(
    tmp_path: Path, ha_world: World, vigil_env: dict[str, str]
) -> None:
    """The server stops under a running replica: it keeps running, health says why, and once
    the server is back the statement published meanwhile is delivered, once."""
    feeds, telegram, config, env = ha_world
    directory = Path(tempfile.mkdtemp(prefix="vigil-pg-gone-"))
    replica: Replica | None = None
    try:
        url = postgres.start(directory)
        env = {**env, "VIGIL_DATABASE_URL": url}
        replica = Replica("solo-" + uuid.uuid4().hex[:6], env, config, tmp_path)
        rid = replica.rid
        until(lambda: leader(url) == rid, 30, "the replica leading")
        until(lambda: len(feeds.requests_for("/a.xml")) >= 1, 30, "the baseline poll")
        postgres.stop(directory, "fast")
        feeds.set("/a.xml", rss_with(statement(7)))
        health = vigil({**env, "VIGIL_REPLICA_ID": replica.rid}, config, "health")
        assert health.returncode == 1
        assert "unhealthy:" in health.stdout and "PostgreSQL" in health.stdout
        assert postgres.PASSWORD not in health.stdout
        time.sleep(4)
        assert replica.proc.poll() is None  # waiting, not crashed
        postgres.restart(directory)
        until(lambda: leader(url) == rid, 60, "leading again after the outage")
        poll_now(url)
        # A poll that failed on the outage waits out its in-memory back-off (60 s) first, after
        # the reconnect back-off (up to 30 s); a loaded machine stretches both.
        try:
            until(lambda: copies(telegram, "Statement 7") == 1, 240, "the outage's statement")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nreplica log:\n{replica.stderr()[-4000:]}") from None
        assert replica.proc.poll() is None
        assert "Traceback" not in replica.stderr()
    finally:
        if replica is not None:
            replica.stop()
        postgres.stop(directory, "immediate")
        shutil.rmtree(directory, ignore_errors=True)


def rss_with(item: dict[str, str]) -> str:
    return rss([item, OLD])


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_lost_leader_lock_hands_over_without_409(tmp_path: Path, ha_world: World) -> None:
    """The leader's lock session is killed: it stops polling Telegram and sending, a leader
    is back within 15 s, no getUpdates overlaps (no 409), and alerts still go once."""
    feeds, telegram, config, env = ha_world
    url = env["VIGIL_DATABASE_URL"]
    tag = uuid.uuid4().hex[:6]
    first = Replica(f"a-{tag}", env, config, tmp_path)
    second: Replica | None = None
    try:
        until(lambda: leader(url) == first.rid, 30, "the first leading")
        second = Replica(f"b-{tag}", env, config, tmp_path)
        time.sleep(3)
        with psycopg.connect(url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (f"vigil-leader {first.rid}",),
            ).fetchall()
        assert killed == [(True,)]
        until(lambda: "lost the leader lock" in first.stderr(), 15, "the loss noticed")
        until(lambda: leader(url) is not None, 15, "a leader again")
        feeds.set("/a.xml", rss_with(statement(3)))
        poll_now(url)
        until(lambda: copies(telegram, "Statement 3") == 1, 30, "the alert after the handover")
        time.sleep(2)
        assert copies(telegram, "Statement 3") == 1
        assert telegram.count_409 == 0
        assert first.proc.poll() is None and second.proc.poll() is None
    finally:
        first.stop()
        if second is not None:
            second.stop(signal.SIGTERM)
