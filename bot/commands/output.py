"""How the commands print: one JSON object per line, times in UTC for people and ISO for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime


def json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None
