"""Shared fixtures: real local servers, real SQLite files in tmp_path, a real PostgreSQL, configs.

PostgreSQL: `.ci/run` starts one server and exports VIGIL_TEST_DATABASE_URL; without it, the
first pytest process (the xdist controller, before its workers exist) starts its own when the
server binaries are on the machine, and stops it at exit. Each test gets a fresh schema of its
own (`pg_url`), so parallel workers never see each other's tables. Only when no server binary
exists are the PostgreSQL runs skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

# PTB warns on every 429 unless RetryAfter returns timedeltas (API-NOTES §1.1); tests run with
# warnings as errors, so the whole suite uses the variable the product sets for itself.
os.environ["PTB_TIMEDELTA"] = "1"

# Which database a test uses is the test's choice, never the developer's shell's.
os.environ.pop("VIGIL_DATABASE_URL", None)

from tests.servers import postgres
from tests.servers.botapi import BotApiServer
from tests.servers.feeds import FeedServer

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAtest-token-for-vigil-tests-0123456789"

BASE_CONFIG = """
settings:
  interval: 1m
  timeout: 5s
  allow_private_networks: true
topics:
  cat:
    name: Convention Against Torture
    keywords: [Convention Against Torture, اتفاقية مناهضة التعذيب]
    context: [Syria, سوريا]
  caesar:
    name: Caesar Act
    keywords: [Caesar Act, قانون قيصر]
feeds:
{feeds}
{extra}
"""


def make_config(feeds: dict[str, str], extra: str = "") -> str:
    """feeds.yaml text for feed id → URL, with two topics (cat, caesar)."""
    lines = "\n".join(f"  - id: {fid}\n    url: {url}" for fid, url in feeds.items())
    return textwrap.dedent(BASE_CONFIG).format(feeds=lines, extra=textwrap.dedent(extra))


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A feed server on 127.0.0.1 in the test's event loop."""
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiServer]:
    """A Telegram Bot API test server on 127.0.0.1 in the test's event loop."""
    server = BotApiServer(TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def vigil_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `vigil` subprocesses: no proxies, no token, state in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("TELEGRAM_BOT_TOKEN_FILE", None)
    env["VIGIL_STATE_DIR"] = str(tmp_path / "state")
    env["PYTHONPATH"] = str(ROOT)
    return env


_OWN_SERVER: list[Path] = []
NO_POSTGRES = (
    "PostgreSQL runs skipped: no server binary (initdb) on this machine and "
    f"{postgres.ENV} unset; install Debian's postgresql package to run them"
)


def pytest_configure(config: pytest.Config) -> None:
    """Starts a PostgreSQL for the whole run when none was given (controller process only)."""
    if hasattr(config, "workerinput") or os.environ.get(postgres.ENV):
        return
    if postgres.bindir() is None:
        return
    directory = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    try:
        os.environ[postgres.ENV] = postgres.start(directory)
    except Exception as exc:
        print(f"PostgreSQL could not be started for the tests: {exc}", file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        return
    _OWN_SERVER.append(directory)


def pytest_unconfigure(config: pytest.Config) -> None:
    for directory in _OWN_SERVER:
        postgres.stop(directory, "immediate")
        shutil.rmtree(directory, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    """The URL with every session's search_path set to `schema`."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}', safe='')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema of this test's own."""
    base = os.environ.get(postgres.ENV)
    if not base:
        pytest.skip(NO_POSTGRES)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once on SQLite and once on PostgreSQL (VIGIL_DATABASE_URL set)."""
    if request.param == "postgresql":
        if request.node.get_closest_marker("sqlite_only"):
            pytest.skip("SQLite only: the file, its header and its lock are SQLite's")
        monkeypatch.setenv("VIGIL_DATABASE_URL", request.getfixturevalue("pg_url"))
    return str(request.param)


def vigil_cmd(*args: str) -> list[str]:
    """The `vigil` command line run through the test interpreter."""
    return [sys.executable, "-m", "bot", *args]
