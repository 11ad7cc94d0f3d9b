"""Health and metrics: the Prometheus rendering, the tiny HTTP listener, and a real `vigil run`."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.model import ErrorKind, Item, Outcome
from bot.pipeline import PlannedAlert, PollReport
from bot.service import http as vigil_http
from bot.service.http import HttpListener, ListenAddress, address_from_env, health_reason
from bot.service.metrics import Metrics
from bot.store import items as item_rows
from bot.store import outbox
from bot.store import runtime as runtime_rows
from bot.store.db import connect, transaction
from tests.conftest import make_config, vigil_cmd
from tests.servers.feeds import FeedServer, FeedServerThread, rss

STATEMENT = {
    "title": "Statement on the Convention Against Torture and Syria",
    "link": "http://x.test/cat-1",
    "guid": "cat-1",
    "description": "On Syria and the Caesar Act.",
}


def samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and labels."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(text: bytes, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def alert(topics: tuple[str, ...]) -> PlannedAlert:
    item = Item(key="k", title="t", link=None, summary="", content="")
    return PlannedAlert("a", item, topics, ("console",), "item:a:k", "<b>t</b>", "t")


# ---------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        pytest.param(
            PollReport("a", Outcome.OK, new_items=3, alerts=(alert(("cat", "caesar")),)),
            [
                ("vigil_polls_total", {"feed": "a", "outcome": "ok", "error_kind": "none"}, 1),
                ("vigil_items_seen_total", {"feed": "a"}, 3),
                ("vigil_matches_total", {"topic": "cat"}, 1),
                ("vigil_matches_total", {"topic": "caesar"}, 1),
                ("vigil_fetch_seconds_count", {"feed": "a"}, 1),
            ],
            id="ok-with-alert",
        ),
        pytest.param(
            PollReport("b", Outcome.FAILED, error_kind=ErrorKind.TIMEOUT, elapsed=30.0),
            [
                (
                    "vigil_polls_total",
                    {"feed": "b", "outcome": "failed", "error_kind": "timeout"},
                    1,
                ),
                ("vigil_fetch_seconds_bucket", {"feed": "b", "le": "10.0"}, 0),
                ("vigil_fetch_seconds_bucket", {"feed": "b", "le": "30.0"}, 1),
                ("vigil_fetch_seconds_sum", {"feed": "b"}, 30.0),
            ],
            id="failed-timeout",
        ),
        pytest.param(
            PollReport("c", Outcome.NOT_MODIFIED, elapsed=0.2),
            [
                (
                    "vigil_polls_total",
                    {"feed": "c", "outcome": "not_modified", "error_kind": "none"},
                    1,
                ),
                ("vigil_items_seen_total", {"feed": "c"}, None),
            ],
            id="not-modified",
        ),
    ],
)
def test_observe_poll_renders(
    report: PollReport, expected: list[tuple[str, dict[str, str], float | None]]
) -> None:
    """Each poll report shows up in the exposition under its feed, outcome and topics."""
    metrics = Metrics()
    metrics.observe_poll(report)
    text = metrics.render()
    for name, labels, want in expected:
        assert value(text, name, **labels) == want, (name, labels)


def test_observe_poll_counts_accumulate() -> None:
    """Counters add up over polls of the same feed."""
    metrics = Metrics()
    for _ in range(4):
        metrics.observe_poll(PollReport("a", Outcome.OK, new_items=2))
    metrics.observe_poll(PollReport("a", Outcome.FAILED, error_kind=ErrorKind.HTTP_STATUS))
    text = metrics.render()
    assert value(text, "vigil_polls_total", feed="a", outcome="ok", error_kind="none") == 4
    assert (
        value(text, "vigil_polls_total", feed="a", outcome="failed", error_kind="http_status") == 1
    )
    assert value(text, "vigil_items_seen_total", feed="a") == 8


def test_two_metrics_objects_do_not_share_series() -> None:
    """Each Metrics owns a private registry, so services and tests never collide."""
    first, second = Metrics(), Metrics()
    first.observe_poll(PollReport("a", Outcome.OK))
    assert (
        value(second.render(), "vigil_polls_total", feed="a", outcome="ok", error_kind="none")
        is None
    )


def fake_service(conn: sqlite3.Connection, *, tick_age: float = 0.0, **worker: Any) -> Any:
    """The parts of bot.app.Service that metrics and health read."""
    counts: dict[str, Any] = {"sent": 0, "failed": 0, "rate_limited": 0, "fatal": None}
    counts.update(worker)
    return SimpleNamespace(
        conn=conn,
        worker=SimpleNamespace(**counts),
        scheduler=SimpleNamespace(last_tick=time.monotonic() - tick_age, polling=frozenset()),
        started_at=1_700_000_000.0,
    )


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A real, migrated state database."""
    connection = connect(tmp_path / "state")
    try:
        yield connection
    finally:
        connection.close()


def queue(conn: sqlite3.Connection, key: str, created_at: float) -> None:
    item = Item(key=key, title=key, link=None, summary="", content="")
    with transaction(conn):
        item_id = item_rows.insert_item(conn, "a", item, link_key=None, topics=("cat",), now=0)
        assert item_id is not None
        outbox.enqueue(
            conn,
            item_id=item_id,
            deliveries=[outbox.Delivery(c, key, key) for c in ["42"]],
            statement_key=f"item:a:{key}",
            topics=["cat"],
            now=created_at,
        )


def test_render_reads_worker_and_outbox(conn: sqlite3.Connection) -> None:
    """Alerts sent/failed, 429s and the outbox backlog come from the service at scrape time."""
    now = time.time()
    queue(conn, "old", now - 600)
    queue(conn, "new", now - 5)
    text = Metrics().render(fake_service(conn, sent=7, failed=2, rate_limited=3))
    assert value(text, "vigil_alerts_sent_total") == 7
    assert value(text, "vigil_alerts_failed_total") == 2
    assert value(text, "vigil_telegram_rate_limited_total") == 3
    assert value(text, "vigil_outbox_backlog") == 2
    assert value(text, "vigil_outbox_rows", state="pending") == 2
    assert value(text, "vigil_delivery_stopped") == 0
    oldest = value(text, "vigil_outbox_oldest_age_seconds")
    assert oldest is not None and oldest >= 600


def test_render_survives_an_unreadable_database(conn: sqlite3.Connection) -> None:
    """A closed database drops the outbox gauges from the scrape; the rest still renders."""
    conn.close()
    text = Metrics().render(fake_service(conn, sent=1))
    assert value(text, "vigil_alerts_sent_total") == 1
    assert value(text, "vigil_outbox_backlog") is None


# ---------------------------------------------------------------- health


@pytest.mark.parametrize(
    ("setup", "tick_age", "fatal", "expected"),
    [
        pytest.param("heartbeat", 0.0, None, None, id="healthy"),
        pytest.param("none", 0.0, None, "not running", id="no-heartbeat"),
        pytest.param("heartbeat", 120.0, None, "has not ticked for 120s", id="tick-stalled"),
        pytest.param("heartbeat", 0.0, "Unauthorized", "refused the bot token", id="token"),
        pytest.param("stuck", 0.0, None, "outbox is stuck", id="outbox-stuck"),
    ],
)
def test_health_reason(
    conn: sqlite3.Connection, setup: str, tick_age: float, fatal: str | None, expected: str | None
) -> None:
    """/healthz fails on a stalled scheduler, a refused token or what `vigil health` finds."""
    now = time.time()
    if setup in ("heartbeat", "stuck"):
        with transaction(conn):
            runtime_rows.put(conn, "heartbeat", f"{now:.3f}")
    if setup == "stuck":
        queue(conn, "stuck", now - 3600)
    reason = health_reason(fake_service(conn, tick_age=tick_age, fatal=fatal))
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


# ---------------------------------------------------------------- the listener


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, None, id="unset"),
        pytest.param({"VIGIL_HTTP_PORT": " "}, None, id="blank"),
        pytest.param({"VIGIL_HTTP_PORT": "9180"}, ListenAddress("127.0.0.1", 9180), id="port"),
        pytest.param(
            {"VIGIL_HTTP_PORT": "9180", "VIGIL_HTTP_HOST": "0.0.0.0"},
            ListenAddress("0.0.0.0", 9180),
            id="host",
        ),
    ],
)
def test_address_from_env(env: dict[str, str], expected: ListenAddress | None) -> None:
    """The listener is off unless VIGIL_HTTP_PORT is set, and local-only unless told."""
    assert address_from_env(env) == expected


@pytest.mark.parametrize("port", ["http", "0", "65536", "-1", "91 80"])
def test_address_from_env_refuses_bad_ports(port: str) -> None:
    """A port that is not 1..65535 is refused with the variable's name."""
    with pytest.raises(ValueError, match="VIGIL_HTTP_PORT"):
        address_from_env({"VIGIL_HTTP_PORT": port})


@pytest.fixture
async def listener(conn: sqlite3.Connection) -> AsyncIterator[HttpListener]:
    """A listener on an ephemeral port, serving a healthy fake service."""
    with transaction(conn):
        runtime_rows.put(conn, "heartbeat", f"{time.time():.3f}")
    server = HttpListener(fake_service(conn), Metrics(), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        writer.write_eof()  # a truncated request is then truncated, not slow
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    ("request_bytes", "status", "body_part"),
    [
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, b"ok", id="healthz"),
        pytest.param(b"GET /healthz?probe=1 HTTP/1.0\n\n", 200, b"ok", id="query-and-lf"),
        pytest.param(
            b"GET /metrics HTTP/1.1\r\n\r\n", 200, b"vigil_alerts_sent_total", id="metrics"
        ),
        pytest.param(b"HEAD /metrics HTTP/1.1\r\n\r\n", 200, b"", id="head"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", 404, b"/healthz", id="unknown-path"),
        pytest.param(b"POST /healthz HTTP/1.1\r\n\r\n", 405, b"not allowed", id="post"),
        pytest.param(b"GET /healthz\r\n\r\n", 400, b"malformed", id="http-0.9"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", 400, b"malformed", id="tls-hello"),
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x", 400, b"incomplete", id="truncated"),
        pytest.param(
            b"GET /metrics HTTP/1.1\r\n" + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n",
            431,
            b"too large",
            id="huge-header",
        ),
        pytest.param(
            b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 500 + b"\r\n",
            431,
            b"too large",
            id="many-headers",
        ),
    ],
)
async def test_listener_answers(
    listener: HttpListener, request_bytes: bytes, status: int, body_part: bytes
) -> None:
    """Every request gets a status line and a closed connection, hostile ones a 4xx."""
    answer = await exchange(listener.port, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"Connection: close" in head
    assert body_part in body
    if request_bytes.startswith(b"HEAD"):
        assert body == b""


async def test_listener_cuts_off_a_silent_client(
    listener: HttpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that connects and says nothing gets 408 instead of holding a slot forever."""
    monkeypatch.setattr(vigil_http, "READ_TIMEOUT", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    try:
        async with asyncio.timeout(30):
            answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_listener_answers_500_when_health_crashes(listener: HttpListener) -> None:
    """An unexpected error while answering is a 500 and a log line, never a dead listener."""
    listener.service.conn.close()
    listener.service.scheduler = None  # health_reason now raises AttributeError
    answer = await exchange(listener.port, b"GET /healthz HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500 ")
    again = await exchange(listener.port, b"GET /nothing HTTP/1.1\r\n\r\n")
    assert again.startswith(b"HTTP/1.1 404 ")


async def test_healthz_503_says_why(listener: HttpListener) -> None:
    """An unhealthy service answers 503 with the reason in the body."""
    listener.service.scheduler.last_tick = time.monotonic() - 90
    answer = await exchange(listener.port, b"GET /healthz HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b"scheduler has not ticked" in answer


# ---------------------------------------------------------------- a real `vigil run`


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A feed server in a background thread, usable while subprocesses run."""
    with FeedServerThread() as server:
        yield server


def test_run_serves_health_and_metrics_and_stops_on_sigterm(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """`vigil run` with VIGIL_HTTP_PORT: /healthz 200, poll counts, `vigil health` 0, SIGTERM 0."""
    feeds.set("/a.xml", rss([STATEMENT]))
    config = tmp_path / "feeds.yaml"
    config.write_text(make_config({"a": feeds.url("/a.xml")}), encoding="utf-8")
    port = free_port()
    env = {**vigil_env, "VIGIL_HTTP_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    err = (tmp_path / "run.err").open("w+")
    proc = subprocess.Popen(
        [*vigil_cmd("run"), "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:

        def wait_for(what: str, check: Any) -> Any:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, Path(err.name).read_text()
                result = check()
                if result:
                    return result
                time.sleep(0.2)
            raise AssertionError(f"{what} not seen; stderr:\n{Path(err.name).read_text()}")

        wait_for("/healthz 200", lambda: get(base + "/healthz") == (200, "ok\n"))
        text = wait_for(
            "a poll in /metrics",
            lambda: (
                (m := get(base + "/metrics"))[0] == 200 and "vigil_polls_total{" in m[1] and m[1]
            ),
        )
        assert (
            value(text.encode(), "vigil_polls_total", feed="a", outcome="ok", error_kind="none")
            == 1
        )
        assert value(text.encode(), "vigil_items_seen_total", feed="a") == 1
        assert value(text.encode(), "vigil_outbox_backlog") == 0
        health = subprocess.run(
            [*vigil_cmd("health"), "--config", str(config)],
            env=vigil_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        assert "healthy" in health.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    assert get(base + "/healthz")[0] == 0  # the listener is gone with the process


def test_run_refuses_a_bad_http_port(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer
) -> None:
    """An invalid VIGIL_HTTP_PORT stops `vigil run` before anything starts, exit 2 with why."""
    config = tmp_path / "feeds.yaml"
    config.write_text(make_config({"a": feeds.url("/a.xml")}), encoding="utf-8")
    done = subprocess.run(
        [*vigil_cmd("run"), "--config", str(config)],
        env={**vigil_env, "VIGIL_HTTP_PORT": "web"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "VIGIL_HTTP_PORT" in done.stderr
    assert feeds.requests == []
