"""Log lines: fixed keys in JSON, readable text, and the token never printed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import redact, setup_logging

TOKEN = "123456789:AAtest-token-for-vigil-tests-0123456789"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger writing JSON into a buffer; restored afterwards."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging(fmt="json", level=logging.DEBUG, secrets=(TOKEN,), stream=stream)
    yield stream
    for handler in list(root.handlers):
        if handler.get_name() == "vigil":
            root.removeHandler(handler)
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_json_lines_have_fixed_keys(captured: io.StringIO) -> None:
    """One JSON object per record with ts, level, logger, message and the extra keys given."""
    logging.getLogger("vigil.poll").warning(
        "feed failed: %s", "boom", extra={"feed_id": "icj", "error_kind": "timeout", "junk": 1}
    )
    record = json.loads(captured.getvalue().splitlines()[-1])
    assert record["message"] == "feed failed: boom"
    assert (record["feed_id"], record["error_kind"], record["level"]) == (
        "icj",
        "timeout",
        "warning",
    )
    assert "junk" not in record


def test_token_is_redacted_in_messages_args_and_tracebacks(captured: io.StringIO) -> None:
    """The token disappears from the message, its arguments and an exception's text."""
    log = logging.getLogger("vigil.test")
    log.info("url http://api/bot%s/sendMessage", TOKEN)
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("crash")
    out = captured.getvalue()
    assert TOKEN not in out
    assert "/bot<redacted>/sendMessage" in out


def test_httpx_request_lines_are_not_logged(captured: io.StringIO) -> None:
    """httpx's INFO request line (it carries /bot<TOKEN>/) is held back."""
    logging.getLogger("httpx").info("HTTP Request: POST http://x/bot%s/getMe", TOKEN)
    assert "HTTP Request" not in captured.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"POST /bot{TOKEN}/getMe", "POST /bot<redacted>/getMe"),
        ("nothing secret here", "nothing secret here"),
        ("id 42:short stays", "id 42:short stays"),
    ],
    ids=["bot-path", "plain", "short-colon"],
)
def test_redact(text: str, expected: str) -> None:
    """Token-shaped text and /bot<…> path segments are masked; other text is kept."""
    assert redact(text, (TOKEN,)) == expected
