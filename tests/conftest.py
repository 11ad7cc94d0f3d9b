"""Shared fixtures: real local servers, real SQLite files in tmp_path, real configs."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# PTB warns on every 429 unless RetryAfter returns timedeltas (API-NOTES §1.1); tests run with
# warnings as errors, so the whole suite uses the variable the product sets for itself.
os.environ["PTB_TIMEDELTA"] = "1"

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


def vigil_cmd(*args: str) -> list[str]:
    """The `vigil` command line run through the test interpreter."""
    return [sys.executable, "-m", "bot", *args]
