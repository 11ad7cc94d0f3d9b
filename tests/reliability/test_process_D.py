"""RELIABILITY D — process faults: kills, signals, a full disk, locks, bad databases, clocks.

Kills, signals, disk-full and bad databases run `vigil once` / `vigil run` as subprocesses
against a feed server and the Bot API test server in background threads, and count what the
server received. Clock jumps, overlapping cycles, hung parses and command latency run the real
scheduler, poller, worker and Telegram front end in-process, where their clocks are injectable.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import bot.sources.reader
from bot.config import Config, parse_config
from bot.deliver.limits import Pacer
from bot.deliver.telegram import TelegramSender, make_bot
from bot.deliver.worker import DeliveryWorker
from bot.fetch import Fetcher
from bot.model import Outcome, ParsedFeed
from bot.pipeline import Poller, Runtime
from bot.pipeline.scheduler import PollScheduler
from bot.secrets import Secret
from bot.service.app import fetch_policy
from bot.sources.read import read_source
from bot.store import feeds as feed_rows
from bot.store.db import StateError, connect, transaction
from tests.conftest import TOKEN, make_config, vigil_cmd
from tests.servers.botapi import BotApiServer, BotApiServerThread
from tests.servers.feeds import FeedServer, FeedServerThread, rss
from tests.test_deliver import seed, states
from tests.test_e2e import OLD, Service, poll_now, run_vigil, write
from tests.test_telegram_commands import make_host, running
from tests.test_telegram_e2e import _seed, statement

CHANNEL = 'channels:\n  - chat: "-1001"\n'


@pytest.fixture
def world(
    tmp_path: Path, vigil_env: dict[str, str]
) -> Iterator[tuple[FeedServer, BotApiServerThread, Path, dict[str, str]]]:
    """Feed and Bot API servers in threads, a feeds.yaml with one channel, and a token env."""
    with FeedServerThread() as feeds, BotApiServerThread(TOKEN) as telegram:
        feeds.set("/a.xml", rss([OLD]))
        config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}, CHANNEL))
        env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": telegram.root}
        yield feeds, telegram, config, env


World = tuple[FeedServer, BotApiServerThread, Path, dict[str, str]]


def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Waits for predicate (generous deadline); fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        time.sleep(0.05)


def pending_rows(state_dir: str) -> int:
    """Pending outbox rows, read through a separate connection."""
    conn = sqlite3.connect(Path(state_dir) / "vigil.db", timeout=10)
    try:
        return int(
            conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        )
    finally:
        conn.close()


def once_process(env: dict[str, str], config: Path) -> subprocess.Popen[str]:
    """`vigil once` started in the background."""
    return subprocess.Popen(
        [*vigil_cmd("once"), "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill9(proc: subprocess.Popen[str]) -> None:
    """SIGKILL and reap."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def copies(telegram: BotApiServerThread, needle: str) -> int:
    """How many messages the server accepted that contain needle."""
    return sum(needle in m.text for m in telegram.messages)


# ---------------------------------------------------------------- kill -9


@pytest.mark.parametrize("stage", ["fetch", "parse"], ids=["D1-during-fetch", "D1-during-parse"])
def test_kill_before_commit_redetects(world: World, stage: str) -> None:
    """D1: kill -9 before the poll commits: the restart finds the item again; sent exactly once."""
    feeds, telegram, config, env = world
    assert run_vigil(env, config, "once").returncode == 0  # baseline
    fresh = statement(1)
    if stage == "fetch":
        feeds.set("/a.xml", rss([fresh, OLD]), delay=60)
    else:  # ~8 MB of other statements: parsing takes seconds after the body arrived
        filler = [
            {"title": f"Filler {n}", "guid": f"f{n}", "description": "x" * 700}
            for n in range(10_000)
        ]
        feeds.set("/a.xml", rss([fresh, OLD, *filler]))
    served = len(feeds.requests_for("/a.xml"))
    proc = once_process(env, config)
    until(lambda: len(feeds.requests_for("/a.xml")) > served, what="the poll's request")
    if stage == "parse":
        until(lambda: feeds.in_flight == 0, what="the body being served")
        time.sleep(0.3)
    kill9(proc)
    assert pending_rows(env["VIGIL_STATE_DIR"]) == 0  # killed before the commit
    feeds.set("/a.xml", rss([fresh, OLD]))
    assert run_vigil(env, config, "once").returncode == 0
    assert copies(telegram, "Statement 1") == 1


def test_D2_kill_after_commit_before_send_delivers(world: World) -> None:
    """D2: kill -9 with the row committed but not sent: the restart delivers it, once."""
    feeds, telegram, config, env = world
    assert run_vigil(env, config, "once").returncode == 0
    telegram.set_unreachable(True)
    feeds.set("/a.xml", rss([statement(2), OLD]))
    proc = once_process(env, config)
    until(lambda: pending_rows(env["VIGIL_STATE_DIR"]) == 1, what="a pending row")
    kill9(proc)
    telegram.set_unreachable(False)
    assert copies(telegram, "Statement 2") == 0
    assert run_vigil(env, config, "once").returncode == 0
    assert copies(telegram, "Statement 2") == 1
    assert pending_rows(env["VIGIL_STATE_DIR"]) == 0


def test_D3_kill_after_telegram_accepted_one_duplicate(world: World) -> None:
    """D3: kill -9 after Telegram accepted, before `sent` was written: one duplicate, no more."""
    feeds, telegram, config, env = world
    assert run_vigil(env, config, "once").returncode == 0
    telegram.fail(kind="timeout", times=1, hold=60)  # accepted, answer withheld
    feeds.set("/a.xml", rss([statement(3), OLD]))
    proc = once_process(env, config)
    until(lambda: copies(telegram, "Statement 3") == 1, what="the accepted message")
    kill9(proc)
    assert pending_rows(env["VIGIL_STATE_DIR"]) == 1
    assert run_vigil(env, config, "once").returncode == 0
    assert copies(telegram, "Statement 3") == 2
    assert pending_rows(env["VIGIL_STATE_DIR"]) == 0


def test_D4_sigterm_mid_fan_out_exits_0_within_grace(world: World, tmp_path: Path) -> None:
    """D4: SIGTERM during a 60-chat fan-out exits 0 within 10 s; a restart completes it."""
    feeds, telegram, config, env = world
    state = Path(env["VIGIL_STATE_DIR"])
    service = Service(env, config, tmp_path)
    service.wait_for(lambda: "feed polled" in service.stderr())
    chats = [str(40_000 + n) for n in range(60)]
    _seed(state, chats)
    feeds.set("/a.xml", rss([statement(4), OLD]))
    poll_now(str(state))
    service.wait_for(lambda: copies(telegram, "Statement 4") >= 5, timeout=60)
    started = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    try:
        code = service.proc.wait(timeout=10)
    finally:
        service.stop()
    assert code == 0
    assert time.monotonic() - started < 10
    assert copies(telegram, "Statement 4") < 61
    restart = Service(env, config, tmp_path)
    try:
        restart.wait_for(
            lambda: {m.chat_id for m in telegram.messages if "Statement 4" in m.text} >= set(chats),
            timeout=90,
        )
    finally:
        assert restart.stop() == 0
    got = [m.chat_id for m in telegram.messages if "Statement 4" in m.text]
    assert len(got) - len(chats) <= 1


# ---------------------------------------------------------------- disk full


def limited_run(env: dict[str, str], config: Path, limit: int) -> subprocess.Popen[str]:
    """`vigil run` whose process may not grow any file beyond `limit` bytes (RLIMIT_FSIZE)."""
    code = (
        "import resource, runpy, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
        "sys.argv = ['vigil', *sys.argv[1:]]\n"
        "runpy.run_module('bot', run_name='__main__')\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,  # pipes: the limit must not break Vigil's own output
        stderr=subprocess.PIPE,
        text=True,
    )


class Drain:
    """Collects a pipe's text in a thread so the child never blocks on a full pipe."""

    def __init__(self, stream: object) -> None:
        self.chunks: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.chunks.append(line)

    def text(self) -> str:
        """Everything read so far."""
        return "".join(self.chunks)

    def join(self) -> str:
        """Waits for end of file; returns everything."""
        self._thread.join(timeout=30)
        return self.text()


def heartbeat(state: Path) -> float:
    """The scheduler's last heartbeat, or 0 when there is none."""
    conn = sqlite3.connect(state / "vigil.db", timeout=10)
    try:
        row = conn.execute("SELECT value FROM runtime WHERE key = 'heartbeat'").fetchone()
        return float(row[0]) if row else 0.0
    finally:
        conn.close()


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_D5_disk_full_survived_reported_and_recovered(
    tmp_path: Path, vigil_env: dict[str, str]
) -> None:
    """D5: with files capped, nothing is sent unrecorded, errors are logged without a crash loop,
    the database stays intact, writes resume when space returns, and the alert then goes once."""
    with FeedServerThread() as feeds:
        feeds.set("/a.xml", rss([OLD]))
        config = write(tmp_path / "feeds.yaml", make_config({"a": feeds.url("/a.xml")}))
        state = Path(vigil_env["VIGIL_STATE_DIR"])
        assert run_vigil(vigil_env, config, "once").returncode == 0  # console mode, baseline
        reader = sqlite3.connect(state / "vigil.db", timeout=10)  # keeps -wal/-shm in place
        reader.execute("SELECT count(*) FROM feeds").fetchone()
        proc = limited_run(vigil_env, config, limit=4096)
        out, err = Drain(proc.stdout), Drain(proc.stderr)
        try:
            until(lambda: "vigil running" in err.text(), what="vigil running")
            until(lambda: "scheduler tick failed" in err.text(), what="the first failed write")
            feeds.set("/a.xml", rss([statement(5), OLD]))
            poll_now(str(state))
            until(lambda: "poll failed" in err.text(), what="the failed poll")
            time.sleep(6.0)  # more ticks against the full disk
            assert proc.poll() is None  # survived
            assert "Statement 5" not in out.text()  # never sent without a recorded row
            assert err.text().count("scheduler tick failed") <= 2  # not every second
            freed = time.time()
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (-1, -1))
            until(lambda: heartbeat(state) > freed, timeout=30, what="writes after space freed")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.close()
        assert "Statement 5" not in out.join()
        err.join()
        check = sqlite3.connect(state / "vigil.db")
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        again = run_vigil(vigil_env, config, "once")
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("Statement 5") == 1


# ---------------------------------------------------------------- locked database


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def single_feed_poller(
    conn: sqlite3.Connection, config: Config, **options: object
) -> tuple[Poller, Fetcher]:
    """A real poller (and its fetcher) for config's feeds over conn, feed rows synced."""
    runtime = Runtime.build(config, console=True)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
    fetcher = Fetcher(fetch_policy(config))
    return Poller(conn, fetcher, lambda: runtime, **options), fetcher  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hold", "locked_out"), [(2.0, False), (7.0, True)], ids=["D6-short-lock", "D6-long-lock"]
)
async def test_locked_database_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, hold: float, locked_out: bool
) -> None:
    """D6: another process holding the write lock delays or fails a poll; no state is lost."""
    config = parse_config(make_config({"a": feed_server.url("/a.xml")}))
    conn = connect(tmp_path)
    poller, fetcher = single_feed_poller(conn, config)
    feed = config.feeds[0]
    try:
        feed_server.set("/a.xml", rss([OLD]))
        await poller.poll(feed)
        feed_server.set("/a.xml", rss([statement(6), OLD]))
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(tmp_path / "vigil.db"), str(hold)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        if locked_out:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await poller.poll(feed)
            assert holder.wait(timeout=30) == 0
            report = await poller.poll(feed)  # the scheduler's next try
        else:
            report = await poller.poll(feed)
            assert holder.wait(timeout=30) == 0
    finally:
        await fetcher.aclose()
        poller.close()
    assert report.outcome is Outcome.OK
    assert report.new_items == 1
    assert states(conn) == {"pending": 1}
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2


# ---------------------------------------------------------------- bad databases


def make_bad_database(state: Path, kind: str) -> None:
    """A vigil.db that is garbage, from a newer Vigil, or another program's SQLite file."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / "vigil.db"
    if kind == "corrupt":
        path.write_bytes(b"this is not a database " * 500)
    elif kind == "newer":
        conn = connect(state)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
        conn.commit()
        conn.close()


@pytest.mark.parametrize("command", ["run", "once"])
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("corrupt", "is unreadable"),
        ("newer", "newer than this Vigil understands"),
        ("foreign", "not Vigil's database"),
    ],
    ids=["D7-corrupt", "D7-newer-schema", "D7-foreign"],
)
def test_bad_database_stops_with_clear_message_untouched(
    tmp_path: Path, vigil_env: dict[str, str], kind: str, message: str, command: str
) -> None:
    """D7: Vigil exits 2 naming the problem and the file; the file is byte-for-byte unchanged."""
    state = Path(vigil_env["VIGIL_STATE_DIR"])
    make_bad_database(state, kind)
    digest = hashlib.sha256((state / "vigil.db").read_bytes()).hexdigest()
    config = write(tmp_path / "feeds.yaml", make_config({"a": "http://127.0.0.1:9/a.xml"}))
    done = run_vigil(vigil_env, config, command, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert str(state / "vigil.db") in done.stderr
    assert hashlib.sha256((state / "vigil.db").read_bytes()).hexdigest() == digest


def test_D8_empty_database_baselines(world: World) -> None:
    """D8: a fresh state volume with matching items in the feed sends nothing, then new ones."""
    feeds, telegram, config, env = world
    feeds.set("/a.xml", rss([statement(7), statement(8), OLD]))
    assert run_vigil(env, config, "once").returncode == 0
    assert telegram.messages == []
    feeds.set("/a.xml", rss([statement(9), statement(7), statement(8), OLD]))
    assert run_vigil(env, config, "once").returncode == 0
    assert [m.text.count("Statement 9") for m in telegram.messages] == [1]


def test_D9_second_instance_refused(world: World, tmp_path: Path) -> None:
    """D9: while `vigil run` holds the state, another `run` and a `once` exit 2 and say why."""
    _, _, config, env = world
    service = Service(env, config, tmp_path)
    try:
        service.wait_for(lambda: "vigil running" in service.stderr())
        for command in ("run", "once"):
            second = run_vigil(env, config, command, timeout=60)
            assert second.returncode == 2
            assert "already using the state directory" in second.stderr
    finally:
        assert service.stop() == 0


# ---------------------------------------------------------------- clocks and cycles


class Clock:
    """The wall clock as the product reads it, with a jump applied on demand."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def scheduler_ticks(scheduler: PollScheduler, n: int) -> None:
    """n scheduler ticks, each waiting for the polls it started."""
    for _ in range(n):
        await scheduler.tick()
        deadline = time.monotonic() + 30
        while scheduler.polling:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)


YEAR = 365 * 86_400.0
DAY = 86_400.0
TO_2200 = 7_258_118_400.0  # 2200-01-01 UTC


def jump(clock: Clock, to: str) -> bool:
    """Moves the wall clock; returns whether every feed is then due at once."""
    if to == "+1y":
        clock.offset += YEAR
    elif to == "2200":
        clock.offset = TO_2200 - time.time()
    elif to == "-1d":
        clock.offset -= DAY
    else:  # "now": back from the future
        clock.offset = 0.0
    return to in ("+1y", "2200")


@pytest.mark.parametrize(
    "jumps",
    [["+1y"], ["2200"], ["-1d"], ["2200", "now"]],
    ids=["D10-forward-1y", "D10-to-2200", "D10-back-1d", "D10-2200-and-back"],
)
async def test_wall_clock_jump_no_burst_no_stall(
    tmp_path: Path, feed_server: FeedServer, jumps: list[str]
) -> None:
    """D10: after a jump each feed is polled once (no catch-up burst) and again one interval
    later (no stall); going back keeps the remaining wait instead of adding the jump."""
    paths = ["/a.xml", "/b.xml", "/c.xml"]
    config = parse_config(make_config({p[1]: feed_server.url(p) for p in paths}))
    for path in paths:
        feed_server.set(path, rss([OLD]))
    clock = Clock()
    conn = connect(tmp_path)
    poller, fetcher = single_feed_poller(conn, config, clock=clock)
    runtime = Runtime.build(config, console=True)
    scheduler = PollScheduler(conn, poller, lambda: runtime, clock=clock)

    def polls() -> list[int]:
        return [len(feed_server.requests_for(p)) for p in paths]

    try:
        await scheduler_ticks(scheduler, 3)
        expected = 1
        assert polls() == [expected] * 3
        for to in jumps:
            if jump(clock, to):
                expected += 1  # every feed due: polled exactly once, not once per missed run
            await scheduler_ticks(scheduler, 4)
            assert polls() == [expected] * 3
        clock.offset += 60 * 1.1 + 1  # one interval plus the largest jitter
        await scheduler_ticks(scheduler, 3)
        assert polls() == [expected + 1] * 3
    finally:
        await fetcher.aclose()
        poller.close()


@pytest.mark.parametrize("to", ["-1d", "+1y"], ids=["D10-worker-back-1d", "D10-worker-1y"])
async def test_worker_clock_jump(tmp_path: Path, botapi: BotApiServer, to: str) -> None:
    """D10: rows queued just before a jump are delivered at once, paced, never stalled."""
    clock = Clock()
    conn = connect(tmp_path)
    sender = TelegramSender(make_bot(Secret(TOKEN), botapi.root))
    worker = DeliveryWorker(conn, sender, Pacer(25), wall=clock)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.2)  # a first pass notes the clock
        seed(conn, ["61", "62"], statements=3)
        conn.execute("UPDATE outbox SET next_attempt_at = ?, created_at = ?", (clock(), clock()))
        jump(clock, to)
        worker.wake()
        await botapi.wait_for_messages(6, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()
    assert states(conn) == {"sent": 6}
    assert botapi.count_429 == 0  # per-chat pacing runs on the monotonic clock: no burst


async def test_D11_slow_feed_never_polled_twice_at_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """D11: a poll slower than the schedule is never started again while it runs; others go on."""
    delay = 2.5
    config = parse_config(
        make_config({"slow": feed_server.url("/slow.xml"), "fast": feed_server.url("/fast.xml")})
    )
    feed_server.set("/slow.xml", rss([OLD]), delay=delay)
    feed_server.set("/fast.xml", rss([OLD]))
    conn = connect(tmp_path)
    poller, fetcher = single_feed_poller(conn, config)
    runtime = Runtime.build(config, console=True)
    scheduler = PollScheduler(conn, poller, lambda: runtime)
    other = sqlite3.connect(tmp_path / "vigil.db", timeout=10, isolation_level=None)
    scheduler.start()
    try:
        until_at = time.monotonic() + 8.0
        while time.monotonic() < until_at:
            other.execute("UPDATE feeds SET next_poll_at = 0")  # always overdue
            await asyncio.sleep(0.2)
    finally:
        await scheduler.stop(grace=5)
        other.close()
        await fetcher.aclose()
        poller.close()
    slow = [r.time for r in feed_server.requests_for("/slow.xml")]
    assert len(slow) >= 2
    assert all(b - a >= delay - 0.1 for a, b in itertools.pairwise(slow))
    assert len(feed_server.requests_for("/fast.xml")) >= 4


async def test_D12_hung_parse_hits_deadline_next_poll_works(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D12: a parse that never returns is abandoned at the deadline; the next poll works."""
    config = parse_config(make_config({"a": feed_server.url("/a.xml")}))
    feed_server.set("/a.xml", rss([OLD]))
    conn = connect(tmp_path)
    poller, fetcher = single_feed_poller(conn, config, parse_processes=False)
    release = threading.Event()
    real_parse = read_source

    def hung(*args: object, **kwargs: object) -> ParsedFeed:
        release.wait(60)
        return ParsedFeed(error="released")

    monkeypatch.setattr(bot.sources.reader, "PARSE_DEADLINE", 1.0)
    monkeypatch.setattr(bot.sources.reader, "read_source", hung)
    try:
        started = time.monotonic()
        report = await asyncio.wait_for(poller.poll(config.feeds[0]), 30)
        assert time.monotonic() - started < 20
        assert report.outcome is Outcome.FAILED
        assert report.error == "parsing took over 1s"
        monkeypatch.setattr(bot.sources.reader, "read_source", real_parse)
        again = await asyncio.wait_for(poller.poll(config.feeds[0]), 30)
        assert again.outcome is Outcome.OK
    finally:
        release.set()
        await fetcher.aclose()
        poller.close()


def big_feed(items: int, size: int = 700) -> bytes:
    """An RSS feed of `items` statements with `size`-character descriptions."""
    return rss(
        [
            {
                "title": f"Item {n}",
                "guid": f"g{n}",
                "link": f"http://x.test/{n}",
                "description": "d" * size,
            }
            for n in range(items)
        ]
    )


async def test_D13_commands_answered_while_a_big_feed_parses(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer
) -> None:
    """D13: /help is answered promptly while a ~8 MB feed is being parsed."""
    body = big_feed(10_000)
    assert 7_000_000 < len(body) < 10 * 1024 * 1024
    feed_server.set("/big.xml", body)
    config = parse_config(make_config({"big": feed_server.url("/big.xml")}))
    host = make_host(tmp_path)
    conn = connect(tmp_path / "state")
    poller, fetcher = single_feed_poller(conn, config)
    try:
        async with running(botapi, host):
            poll = asyncio.create_task(poller.poll(config.feeds[0]))
            while not feed_server.requests_for("/big.xml") or feed_server.in_flight:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the body is in; parsing has begun
            asked = time.monotonic()
            botapi.command("/help")
            reply = (await botapi.wait_for_messages(1, chat_id=777, timeout=30))[0]
            latency = reply.at - asked
            parsing = not poll.done()
            report = await poll
    finally:
        await fetcher.aclose()
        poller.close()
    assert report.outcome is Outcome.OK
    assert parsing, "the parse ended before the reply; the test proved nothing"
    assert latency < 2.0, f"/help took {latency:.2f}s during the parse"


async def test_D14_parsing_is_bounded_by_parse_workers(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D14: six large feeds polled at once are parsed at most parse_workers at a time."""
    paths = [f"/f{n}.xml" for n in range(6)]
    body = big_feed(1_500)
    for path in paths:
        feed_server.set(path, body)
    config = parse_config(make_config({p[1:3]: feed_server.url(p) for p in paths}))
    conn = connect(tmp_path)
    # Threads only: the replaced parser below lives in this process, not in parse workers.
    poller, fetcher = single_feed_poller(conn, config, parse_workers=2, parse_processes=False)
    real_parse = read_source
    lock = threading.Lock()
    active = [0, 0]  # now, most at once

    def counted(*args: object, **kwargs: object) -> ParsedFeed:
        with lock:
            active[0] += 1
            active[1] = max(active)
        try:
            return real_parse(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(bot.sources.reader, "read_source", counted)
    try:
        reports = await asyncio.gather(*(poller.poll(f) for f in config.feeds))
    finally:
        await fetcher.aclose()
        poller.close()
    assert [r.outcome for r in reports] == [Outcome.OK] * 6
    assert active[1] == 2


async def test_D15_commands_sent_while_down_answered_once(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """D15: commands queued while Vigil was down are each handled once, rate-limited, never
    replayed by the next start."""
    botapi.command("/subscribe cat", user_id=501)
    botapi.command("/help", user_id=502)
    for _ in range(12):
        botapi.command("/help", user_id=503)
    host = make_host(tmp_path)
    async with running(botapi, host):
        await botapi.wait_for_messages(1, chat_id=501, timeout=30)
        await botapi.wait_for_messages(1, chat_id=502, timeout=30)
        await botapi.wait_for_messages(6, chat_id=503, timeout=30)
        await asyncio.sleep(1.5)
    counts = [len(botapi.replies_to(u)) for u in (501, 502, 503)]
    assert counts == [1, 1, 6]  # 503: five answers and one "slow down"
    again = make_host(tmp_path)
    async with running(botapi, again):
        await asyncio.sleep(2.0)
    assert [len(botapi.replies_to(u)) for u in (501, 502, 503)] == counts
    conn = connect(tmp_path / "state")
    assert conn.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 1
    assert botapi.count_429 == 0


def test_D16_database_without_wal_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D16: where SQLite cannot use WAL (network filesystems) Vigil refuses with the fix."""
    real_connect = sqlite3.connect

    def without_shared_memory(
        path: Path, *, timeout: float, isolation_level: None, check_same_thread: bool
    ) -> sqlite3.Connection:
        # unix-dotfile has no shared-memory locking, like NFS/SMB mounts: SQLite refuses WAL.
        return real_connect(
            f"file:{path}?vfs=unix-dotfile",
            timeout=timeout,
            isolation_level=isolation_level,
            check_same_thread=check_same_thread,
            uri=True,
        )

    monkeypatch.setattr(sqlite3, "connect", without_shared_memory)
    with pytest.raises(StateError, match="cannot use WAL") as refused:
        connect(tmp_path)
    assert "put VIGIL_STATE_DIR on a local filesystem" in str(refused.value)
