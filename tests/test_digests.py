"""Digests and quiet hours over the real poller, a real feed server and a real SQLite file."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.pipeline.digests import send_due_digests
from bot.store import outbox, prefs, subs
from bot.store.db import transaction
from tests.conftest import TOKEN, make_config
from tests.servers.botapi import BotApiServerThread
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_e2e import Service, poll_now, write
from tests.test_pipeline import PLAIN, Rig, item, rig_for

DAY = 86_400.0


def states(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(chat, state) of every outbox row, in order."""
    return [(r[0], r[1]) for r in conn.execute("SELECT chat_id, state FROM outbox ORDER BY id")]


def digests(conn: sqlite3.Connection) -> list[str]:
    """The texts of the digest rows."""
    rows = conn.execute("SELECT text_html FROM outbox WHERE statement_key LIKE 'digest:%'")
    return [r[0] for r in rows]


async def digest_rig(
    tmp_path: Path, server: FeedServer, channel: str, urgent: bool = False
) -> AsyncIterator[Rig]:
    """A rig whose channel "-100" has the given extra keys; caesar urgent when asked."""
    async for rig in rig_for(tmp_path, server, extra=channel):
        if urgent:
            topics = tuple(
                t if t.id != "caesar" else type(t)(t.id, t.name, t.keywords, urgent=True)
                for t in rig.runtime.config.topics
            )
            config = type(rig.runtime.config)(
                rig.runtime.config.settings,
                rig.runtime.config.telegram,
                topics,
                rig.runtime.config.feeds,
                rig.runtime.config.channels,
            )
            rig.runtime = type(rig.runtime).build(config, console=False)
        server.set("/a.xml", rss([PLAIN]))
        await rig.poll()  # baseline
        yield rig


async def test_digest_holds_then_sends_one_message(tmp_path: Path, feed_server: FeedServer) -> None:
    """Alerts are held; at digest time one message lists them by topic; nothing twice."""
    async for rig in digest_rig(tmp_path, feed_server, "    digest: daily 08:00\n"):
        feed_server.set("/a.xml", rss([item(1), item(2), PLAIN]))
        await rig.poll()
        assert states(rig.conn) == [("-100", "held"), ("-100", "held")]
        config, now = rig.runtime.config, time.time()
        assert send_due_digests(rig.conn, config, now, None) == 0  # schedules the first one
        [next_at] = prefs.scheduled(rig.conn).values()
        assert datetime.fromtimestamp(next_at, UTC).strftime("%H:%M") == "08:00"
        assert send_due_digests(rig.conn, config, next_at, None) == 1
        [text] = digests(rig.conn)
        assert "<b>Vigil digest</b> · 2 statements" in text
        assert "<b>Convention Against Torture</b> (2)" in text
        assert text.count('<a href="http://x.test/') == 2
        assert states(rig.conn).count(("-100", "digested")) == 2
        assert send_due_digests(rig.conn, config, next_at + 60, None) == 0
        assert prefs.scheduled(rig.conn)["-100"] == next_at + DAY


async def test_catching_up_after_downtime_sends_one_digest(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Three missed periods: one digest, and the next one in the future."""
    async for rig in digest_rig(tmp_path, feed_server, "    digest: daily 08:00\n"):
        feed_server.set("/a.xml", rss([item(1), PLAIN]))
        await rig.poll()
        now = time.time()
        with transaction(rig.conn):
            prefs.schedule(rig.conn, "-100", now - 3 * DAY)
        assert send_due_digests(rig.conn, rig.runtime.config, now, None) == 1
        assert len(digests(rig.conn)) == 1
        assert now < prefs.scheduled(rig.conn)["-100"] <= now + DAY


async def test_a_failed_digest_transaction_keeps_everything_held(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A failure while building the digest (a crash before commit) loses nothing and sends
    nothing; the next run sends it once."""
    async for rig in digest_rig(tmp_path, feed_server, "    digest: daily 08:00\n"):
        feed_server.set("/a.xml", rss([item(1), PLAIN]))
        await rig.poll()
        now = time.time()
        with transaction(rig.conn):
            prefs.schedule(rig.conn, "-100", now - 1)
        rig.conn.execute(
            "CREATE TRIGGER boom BEFORE UPDATE OF state ON outbox WHEN new.state = 'digested' "
            "BEGIN SELECT raise(ABORT, 'disk full'); END"
        )
        with pytest.raises(sqlite3.IntegrityError, match="disk full"):
            send_due_digests(rig.conn, rig.runtime.config, now, None)
        assert states(rig.conn) == [("-100", "held")]
        assert prefs.scheduled(rig.conn)["-100"] == now - 1
        rig.conn.execute("DROP TRIGGER boom")
        assert send_due_digests(rig.conn, rig.runtime.config, now, None) == 1
        assert states(rig.conn) == [("-100", "digested"), ("-100", "pending")]


async def test_urgent_topics_bypass_the_digest(tmp_path: Path, feed_server: FeedServer) -> None:
    """A statement of an urgent topic goes at once; the others wait for the digest."""
    caesar = item(7, title="Statement on the Caesar Act")
    async for rig in digest_rig(tmp_path, feed_server, "    digest: daily 08:00\n", urgent=True):
        feed_server.set("/a.xml", rss([caesar, item(1), PLAIN]))
        await rig.poll()
        rows = dict(
            rig.conn.execute("SELECT statement_key, state FROM outbox ORDER BY id").fetchall()
        )
    assert rows == {"link:http://x.test/7": "pending", "link:http://x.test/1": "held"}


async def test_quiet_hours_defer_and_never_drop(tmp_path: Path, feed_server: FeedServer) -> None:
    """Inside quiet hours the alert is queued with its first attempt at their end."""
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    window = f'    quiet: "{start:%H:%M}-{end:%H:%M}"\n'
    async for rig in digest_rig(tmp_path, feed_server, window):
        feed_server.set("/a.xml", rss([item(1), PLAIN]))
        await rig.poll()
        [(state, first)] = rig.conn.execute("SELECT state, next_attempt_at FROM outbox").fetchall()
        assert state == "pending"
        assert abs(first - end.replace(second=0, microsecond=0).timestamp()) < 1
        assert outbox.due(rig.conn, time.time()) == []
        assert len(outbox.due(rig.conn, first)) == 1


async def test_turning_the_digest_off_releases_held_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A private chat's own /digest: held rows become ordinary alerts when it is turned off."""
    async for rig in digest_rig(tmp_path, feed_server, ""):
        conn, now = rig.conn, time.time()
        with transaction(conn):
            subs.ensure_chat(conn, "555", "private", "", now)
            subs.subscribe(conn, "555", ["cat"], now)
            prefs.put(conn, "555", "digest", "weekly mon 08:00")
        feed_server.set("/a.xml", rss([item(1), PLAIN]))
        await rig.poll()
        assert sorted(states(conn)) == [("-100", "pending"), ("555", "held")]
        send_due_digests(conn, rig.runtime.config, now, None)
        assert "555" in prefs.scheduled(conn)
        with transaction(conn):
            prefs.put(conn, "555", "digest", "")
        send_due_digests(conn, rig.runtime.config, now, None)
        assert sorted(states(conn)) == [("-100", "pending"), ("555", "pending")]
        assert prefs.scheduled(conn) == {}


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_vigil_run_sends_one_digest_across_kill_9(
    tmp_path: Path, vigil_env: dict[str, str]
) -> None:
    """End to end: `vigil run` holds a channel's alerts, sends them as one digest when due,
    and after kill -9 and a restart sends no second digest."""
    channel = 'channels:\n  - chat: "-1001"\n    digest: daily 08:00\n'
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        feeds.set("/a.xml", rss([PLAIN]))
        text = make_config({"a": feeds.url("/a.xml")}, channel)
        config = write(
            tmp_path / "feeds.yaml", text.replace("interval: 1m", "interval: 1m\n  jitter: 0")
        )
        env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
        state = Path(env["VIGIL_STATE_DIR"])
        first = Service(env, config, tmp_path)
        try:
            first.wait_for(lambda: "feed polled" in first.stderr())
            feeds.set("/a.xml", rss([item(1), item(2), PLAIN]))
            poll_now(str(state))
            first.wait_for(
                lambda: db_value(state, "SELECT count(*) FROM outbox WHERE state = 'held'") == 2
            )
            first.wait_for(lambda: db_value(state, "SELECT count(*) FROM digests") == 1)
            db_value(state, "UPDATE digests SET next_at = 0")
            first.wait_for(lambda: any("Vigil digest" in m.text for m in telegram.messages))
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
        second = Service(env, config, tmp_path)
        try:
            second.wait_for(lambda: "answering Telegram commands" in second.stderr())
            time.sleep(2)  # a few scheduler ticks: the digest check runs on the first one
        finally:
            assert second.stop() == 0
        sent = [m for m in telegram.messages if m.chat_id == "-1001"]
    assert len(sent) == 1
    assert "2 statements" in sent[0].text
    assert db_value(state, "SELECT count(*) FROM outbox WHERE state = 'digested'") == 2
    assert db_value(state, "SELECT min(next_at) FROM digests") > time.time()


def db_value(state: Path, sql: str) -> object:
    """One value from the state database (or None for a statement without rows)."""
    conn = sqlite3.connect(state / "vigil.db", timeout=5)
    try:
        row = conn.execute(sql).fetchone()
        conn.commit()
    finally:
        conn.close()
    return row[0] if row else None
