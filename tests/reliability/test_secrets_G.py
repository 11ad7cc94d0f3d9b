"""RELIABILITY §G, secrets and logging: the bot token never reaches any output.

G1 runs `vigil once` and a short `vigil run` as subprocesses at DEBUG with a real token against
the Bot API test server, through feed failures (connection refused, HTTP 500) and Telegram
faults (Telegram unreachable, 401), and searches everything they printed. G2 feeds the redacting
filter the exceptions httpx and python-telegram-bot actually raise, request URLs included. G3
checks the one admin-facing report Vigil has, `/status`, with hostile error text.
"""

from __future__ import annotations

import io
import logging
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import telegram
from telegram.error import InvalidToken

from bot.config import parse_config
from bot.i18n import translator
from bot.logs import RedactingFilter, TextFormatter, redact, setup_logging
from bot.store.feeds import FeedRow
from bot.store.outbox import Backlog
from bot.telegram.status import status_text
from tests.conftest import TOKEN, make_config, vigil_cmd
from tests.reliability.test_config_E import VALID
from tests.servers.botapi import BotApiServer, BotApiServerThread, visible_text
from tests.servers.feeds import FeedServer, FeedServerThread, rss

TOKEN_SHAPE = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
OLD = {"title": "An older statement", "link": "http://x.test/old", "guid": "old"}


def matching(n: int) -> dict[str, str]:
    return {
        "title": f"Statement {n} on the Caesar Act",
        "link": f"http://x.test/{n}",
        "guid": f"caesar-{n}",
    }


def assert_no_token(text: str) -> None:
    assert TOKEN not in text
    assert TOKEN.split(":", 1)[1] not in text
    assert TOKEN_SHAPE.search(text) is None, TOKEN_SHAPE.search(text)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A feed server in a background thread, usable while subprocesses run."""
    with FeedServerThread() as server:
        yield server


@pytest.fixture
def bot_api() -> Iterator[BotApiServerThread]:
    """A Bot API test server that knows the test token."""
    with BotApiServerThread(TOKEN) as server:
        yield server


def once(env: dict[str, str], config: Path) -> str:
    done = subprocess.run(
        [*vigil_cmd("once", "-v"), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


def wait_until(
    predicate: Callable[[], bool], what: Callable[[], str], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what()}")


@pytest.mark.slow  # 15-35 s of waiting: in `make test`, not the edit-test loop
def test_g1_full_runs_at_debug_never_print_the_token(
    tmp_path: Path, vigil_env: dict[str, str], feeds: FeedServer, bot_api: BotApiServerThread
) -> None:
    """`once` and `run` at DEBUG, through feed and Telegram faults, print no token."""
    feeds.set("/a.xml", rss([OLD]))
    feeds.status("/err", 500)
    urls = {"a": feeds.url("/a.xml"), "err": feeds.url("/err"), "down": "http://127.0.0.1:9/x"}
    config = tmp_path / "feeds.yaml"
    config.write_text(make_config(urls, 'channels:\n  - chat: "-1001"\n'), encoding="utf-8")
    env = {**vigil_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": bot_api.root}
    outputs = [once(env, config)]  # baseline; feed faults: HTTP 500 and connection refused

    feeds.set("/a.xml", rss([matching(1), OLD]))
    bot_api.set_unreachable(True)  # httpx.ConnectError on every Bot API call
    outputs.append(once(env, config))
    bot_api.set_unreachable(False)

    bot_api.fail("sendMessage", kind="401")  # PTB's InvalidToken message quotes the token
    _make_due(vigil_env["VIGIL_STATE_DIR"])
    outputs.append(once(env, config))
    bot_api.clear_faults()

    feeds.set("/a.xml", rss([matching(2), matching(1), OLD]))
    _make_due(vigil_env["VIGIL_STATE_DIR"])
    out_path, err_path = tmp_path / "run.out", tmp_path / "run.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        service = subprocess.Popen(
            [*vigil_cmd("run", "-v"), "--config", str(config)], env=env, stdout=out, stderr=err
        )
        try:
            wait_until(
                lambda: len(bot_api.messages) >= 2,
                lambda: f"both alerts to be delivered:\n{err_path.read_text()}",
            )
            bot_api.fail("getUpdates", kind="500", times=2)
            wait_until(
                lambda: (
                    sum(c.method == "getUpdates" and c.status == 500 for c in bot_api.calls) >= 1
                ),
                lambda: "a failed getUpdates",
            )
        finally:
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
    outputs.append(out_path.read_text() + err_path.read_text())

    assert code == 0
    everything = "\n".join(outputs)
    assert " DEBUG " in everything  # -v really logged at DEBUG
    assert "feed down failed: network" in outputs[0]
    assert "feed err failed: http_status" in outputs[0]
    assert "Telegram" in outputs[2] or "token" in outputs[2].lower()
    assert sorted(m.text.split("\n", 1)[0] for m in bot_api.messages) == [
        "<b>Statement 1 on the Caesar Act</b>",
        "<b>Statement 2 on the Caesar Act</b>",
    ]
    assert_no_token(everything)


def _make_due(state_dir: str) -> None:
    """Makes every feed and queued alert due now, instead of waiting out intervals and back-off."""
    conn = sqlite3.connect(Path(state_dir) / "vigil.db", timeout=5)
    conn.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state = 'pending'")
    conn.execute("DELETE FROM runtime WHERE key = 'fatal'")
    conn.execute("UPDATE feeds SET next_poll_at = 0")
    conn.commit()
    conn.close()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger at DEBUG writing into a buffer through Vigil's handler; restored after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging(fmt="text", level=logging.DEBUG, secrets=(TOKEN,), stream=stream)
    yield stream
    root.handlers[:] = before[0]
    root.setLevel(before[1])


async def test_g2_httpx_errors_with_request_urls_are_redacted(captured: io.StringIO) -> None:
    """raise_for_status, ConnectError and the request object itself log without the token."""
    log = logging.getLogger("vigil.test")
    async with BotApiServer("999999:wrong-token-for-this-server-abcdefghijk") as server:
        url = f"{server.root}/bot{TOKEN}/getMe"
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(url)
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                log.exception("status error for %r", exc.request)
                log.warning("request %s", exc.request.url, extra={"url": str(exc.request.url)})
                try:
                    raise RuntimeError(f"sending failed: {exc}") from exc
                except RuntimeError:
                    log.exception("chained")
    async with httpx.AsyncClient(trust_env=False) as client:
        try:
            await client.get(f"http://127.0.0.1:9/bot{TOKEN}/sendMessage")
        except httpx.ConnectError as exc:
            log.error("connect error: %s (%r)", exc, exc.request, exc_info=True)
    logging.getLogger("httpx").info("HTTP Request: GET %s", url)
    out = captured.getvalue()
    assert "/bot<redacted>/getMe" in out
    assert "The above exception was the direct cause" in out
    assert "connect error" in out
    assert_no_token(out)


async def test_g2_telegram_errors_are_redacted(captured: io.StringIO) -> None:
    """PTB's InvalidToken (it quotes the token) and its URL-bearing errors are masked."""
    log = logging.getLogger("vigil.test")
    async with BotApiServer("999999:wrong-token-for-this-server-abcdefghijk") as server:
        bot = telegram.Bot(TOKEN, base_url=f"{server.root}/bot")
        try:
            async with bot:
                await bot.get_me()
        except InvalidToken:
            log.exception("bot refused")
        log.debug("bot object %r", bot)
    log.info("token echoed %s", InvalidToken(f"The token `{TOKEN}` was rejected by the server."))
    out = captured.getvalue()
    assert "bot refused" in out
    assert_no_token(out)


REDACT_CASES = {
    "G2-bot-path": (
        f"POST http://api/bot{TOKEN}/sendMessage",
        "POST http://api/bot<redacted>/sendMessage",
    ),
    "G2-bare-token": (f"token={TOKEN}", "token=<redacted>"),
    "G2-repr-request": (
        repr(httpx.Request("GET", f"https://api.telegram.org/bot{TOKEN}/getMe")),
        "<Request('GET', 'https://api.telegram.org/bot<redacted>/getMe')>",
    ),
    "G2-other-token-shape": ("1234567:" + "A" * 35, "<redacted>"),
}


@pytest.mark.parametrize(("text", "expected"), list(REDACT_CASES.values()), ids=list(REDACT_CASES))
def test_redact(text: str, expected: str) -> None:
    """Token-shaped text, known secrets and /bot<…> segments are masked."""
    assert redact(text, (TOKEN,)) == expected


def test_g2_filter_rewrites_exception_chains_and_fields() -> None:
    """A record's exception chain, args and fixed fields are redacted before formatting."""
    try:
        try:
            raise httpx.ConnectError(
                "refused", request=httpx.Request("GET", f"http://x/bot{TOKEN}/m")
            )
        except httpx.ConnectError as inner:
            raise RuntimeError(f"while calling {inner.request.url}") from inner
    except RuntimeError:
        record = logging.getLogger("vigil.test").makeRecord(
            "vigil.test",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            (TOKEN,),
            exc_info=sys.exc_info(),
            extra={"url": f"http://x/bot{TOKEN}/m", "error": TOKEN},
        )
    assert RedactingFilter((TOKEN,)).filter(record)
    line = TextFormatter().format(record)
    assert "failed <redacted>" in line
    assert "while calling http://x/bot<redacted>/m" in line
    assert_no_token(line)


def test_g3_admin_status_escapes_hostile_error_text() -> None:
    """Feed error text shown to admins in /status is escaped and valid Telegram HTML."""
    config = parse_config(VALID)
    hostile = f'HTTP 500 <script>alert(1)</script> & <a href="tg://x">x</a> {"x" * 400}'
    row = FeedRow(
        feed_id="icj",
        url="https://example.org/icj.rss",
        title=None,
        etag=None,
        last_modified=None,
        baselined=True,
        next_poll_at=time.time() + 60,
        last_poll_at=time.time(),
        last_success_at=None,
        last_error_at=time.time(),
        last_error_kind="http_status",
        last_error=hostile,
        consecutive_errors=3,
        polls=3,
        failures=3,
        items_seen=0,
        alerts_queued=0,
    )
    text = status_text(
        config,
        [row],
        Backlog(0, None, 0, 0, 0),
        (0, 0),
        time.time(),
        ZoneInfo("UTC"),
        translator("en"),
    )
    shown = visible_text(text, "HTML")
    assert "<script>alert(1)</script>" in shown  # shown literally, not as markup
    assert "<script>" not in text
    assert "<a " not in text
    assert_no_token(text)
