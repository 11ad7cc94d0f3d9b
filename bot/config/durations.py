"""Durations and sizes as people write them in feeds.yaml.

Rules:
- A duration is one or more ``<number><unit>`` parts with units ``d``, ``h``, ``m``, ``s``, each
  used at most once and from the largest to the smallest (``1h30m``, ``90s``, ``1.5h``). Units are
  lowercase only, so ``10M`` (months? megabytes?) is refused rather than guessed. A bare number is
  refused: ``interval: 10`` could mean seconds or minutes, and a poll interval off by 60× is a
  silent, expensive mistake.
- A size is a whole or decimal number with an optional unit ``B``, ``KB``, ``MB``, ``GB`` (or
  ``KiB``, ``MiB``, ``GiB``), case-insensitive. **Units are binary**: ``1KB`` = 1024 bytes and
  ``10MB`` = 10 485 760 bytes, the way operating systems and most tools show file sizes. A bare
  number is bytes, since there is no other sensible reading of a size.

Both return plain numbers (float seconds, int bytes); range checks belong to the caller, which
knows what the value is for.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[dhms])+")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``10m``, ``2h``, ``1d`` or ``1h30m``."""
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        raise ValueError(
            f"{text!r} has no unit; write e.g. {stripped}s, {stripped}m or {stripped}h"
        )
    if not _DURATION_WHOLE.fullmatch(stripped):
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 10m, 2h, 1d or 1h30m")
    seconds = 0.0
    previous_rank = -1
    order = list(_DURATION_UNITS)
    for number, unit in _DURATION_PART.findall(stripped):
        rank = order.index(unit)
        if rank <= previous_rank:
            raise ValueError(
                f"{text!r}: units must go from largest to smallest, each once (e.g. 1h30m)"
            )
        previous_rank = rank
        seconds += float(number) * _DURATION_UNITS[unit]
    return seconds


def parse_size(text: str) -> int:
    """Bytes in a size such as ``10MB``, ``512KB``, ``1GB`` or ``1000`` (binary units)."""
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; write e.g. 512KB, 10MB or 1GB (binary units)")
    return round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration, for error messages that state bounds."""
    if seconds <= 0 or seconds != int(seconds):
        return f"{seconds:g}s"
    parts = []
    remaining = int(seconds)
    for unit, size in _DURATION_UNITS.items():
        count, remaining = divmod(remaining, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_size(size: int) -> str:
    """The spelling of a size in the largest binary unit that divides it, for error messages."""
    for unit in ("GB", "MB", "KB"):
        factor = _SIZE_UNITS[unit.lower()]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
