"""The bot token as a value that never prints.

The token reaches logs through many doors (httpx's INFO request line, PTB's reprs and its
InvalidToken message — API-NOTES §1.5), so the token is kept in a type whose str/repr is masked
and every log record passes through :class:`bot.logs.RedactingFilter`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class TokenError(Exception):
    """The token could not be read (a missing or empty token file)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that shows as `***` everywhere except through :meth:`reveal`."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"


def token_from_env(env: Mapping[str, str] | None = None) -> Secret | None:
    """`TELEGRAM_BOT_TOKEN`, else the file in `TELEGRAM_BOT_TOKEN_FILE`, else None (console)."""
    env = os.environ if env is None else env
    value = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if value:
        return Secret(value)
    path = env.get("TELEGRAM_BOT_TOKEN_FILE", "").strip()
    if not path:
        return None
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"TELEGRAM_BOT_TOKEN_FILE {path}: {exc.strerror or exc}") from None
    if not value:
        raise TokenError(f"TELEGRAM_BOT_TOKEN_FILE {path}: the file is empty")
    return Secret(value)
