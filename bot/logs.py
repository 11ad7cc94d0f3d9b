"""Logging set-up: fixed snake_case keys, text or JSON lines, and the token never printed.

httpx logs every request URL at INFO, and Telegram URLs carry `/bot<TOKEN>/`; PTB logs
`Set Bot API URL: …<TOKEN>` at DEBUG (API-NOTES §1.5). So httpx/httpcore are held at WARNING and
a filter on the root handler rewrites any token-shaped text in every record, exceptions included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Keys callers pass through `extra=`; only these are emitted so the JSON shape stays fixed.
FIELDS = (
    "feed_id",
    "item_key",
    "chat_id",
    "topic_id",
    "error_kind",
    "error",
    "url",
    "status",
    "elapsed",
    "new_items",
    "alerts",
    "retry_after",
    "next_poll",
    "count",
)

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
BOT_PATH = re.compile(r"/bot[^/\s\"']+")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Masks token-shaped strings, the known secrets, and the `/bot<token>` path segment."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = TOKEN_PATTERN.sub("<redacted>", text)
    return BOT_PATH.sub("/bot<redacted>", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, arguments and exception text before any handler sees it."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted, self.secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        for key in FIELDS:
            value = record.__dict__.get(key)
            if isinstance(value, str):
                record.__dict__[key] = redact(value, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the fixed keys present."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value …` — readable in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        extras = " ".join(f"{k}={record.__dict__[k]}" for k in FIELDS if k in record.__dict__)
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line} [{extras}]"
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        return line


def setup_logging(
    *,
    fmt: str = "text",
    level: int = logging.INFO,
    secrets: tuple[str, ...] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Installs one redacting handler on the root logger (replacing earlier ones from here)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("vigil")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "vigil":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PTB logs the API URL, token included, at DEBUG.
    logging.getLogger("telegram").setLevel(max(level, logging.INFO))
    return handler
