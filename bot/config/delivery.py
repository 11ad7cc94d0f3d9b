"""When a chat receives its alerts: digest schedules, quiet hours and time zones (pure).

One grammar for `/digest`, `/quiet`, `/timezone` and the channel keys ``digest:``, ``quiet:``,
``timezone:`` of feeds.yaml:

- digest: ``off`` (each alert at once), ``daily HH:MM`` or ``weekly DAY HH:MM`` (DAY is
  ``mon`` … ``sun``, or the full English name), in the chat's time zone;
- quiet: ``off`` or ``HH:MM-HH:MM`` (may span midnight: ``22:00-07:00``; start and end differ);
- timezone: an IANA name (``Europe/Amsterdam``); validated with :mod:`zoneinfo`.

A refusal is a :class:`bot.i18n.Reason`: English as ``str()`` (config errors), translated in a
chat. Times are computed with :mod:`zoneinfo`: a digest time that a DST change skips (02:30 on the
spring-forward night) is taken at the first valid minute after it; one that occurs twice (the
autumn night) at its first occurrence. Quiet hours are read on the local clock.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from bot.i18n.catalog import N_
from bot.i18n.reasons import Given, Reason, Syntax

__all__ = [
    "DigestSpec",
    "QuietSpec",
    "digest_due_after",
    "parse_digest",
    "parse_quiet",
    "parse_timezone",
    "quiet_until",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class DigestSpec:
    """A digest schedule: every day (``weekday`` None) or one weekday (0 = Monday), at ``at``."""

    at: time
    weekday: int | None = None

    def __str__(self) -> str:
        clock = self.at.strftime("%H:%M")
        return f"daily {clock}" if self.weekday is None else f"weekly {DAYS[self.weekday]} {clock}"


@dataclass(frozen=True, slots=True)
class QuietSpec:
    """Quiet hours from ``start`` to ``end`` on the local clock (past midnight if end < start)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"

    def covers(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def _clock(text: str) -> time | None:
    found = _CLOCK.fullmatch(text.strip())
    return time(int(found.group(1)), int(found.group(2))) if found else None


def parse_digest(text: str) -> DigestSpec | None:
    """The schedule, or None for ``off``; a :class:`Reason` with the usage otherwise."""
    words = text.lower().split()
    if words == ["off"]:
        return None
    if len(words) == 2 and words[0] == "daily" and (at := _clock(words[1])) is not None:
        return DigestSpec(at)
    if len(words) == 3 and words[0] == "weekly" and (at := _clock(words[2])) is not None:
        day = words[1]
        if day in DAYS:
            return DigestSpec(at, DAYS.index(day))
        if day in _FULL_DAYS:
            return DigestSpec(at, _FULL_DAYS.index(day))
        raise Reason(N_("unknown day {day}: use {days}"), day=Given(words[1]), days=Syntax(*DAYS))
    raise Reason(
        N_("{text} is not a digest schedule; write {schedules} (e.g. {example})"),
        text=Given(text.strip(), limit=40),
        schedules=Syntax("off", "daily HH:MM", "weekly DAY HH:MM"),
        example=Syntax("weekly mon 08:00"),
    )


def parse_quiet(text: str) -> QuietSpec | None:
    """Quiet hours, or None for ``off``; a :class:`Reason` with the usage otherwise."""
    stripped = text.strip().lower()
    if stripped == "off":
        return None
    start_text, sep, end_text = stripped.partition("-")
    start, end = _clock(start_text), _clock(end_text)
    if not sep or start is None or end is None:
        raise Reason(
            N_("{text} is not quiet hours; write {hours} (e.g. {example}) or {off}"),
            text=Given(text.strip(), limit=40),
            hours=Syntax("HH:MM-HH:MM"),
            example=Syntax("22:00-07:00"),
            off=Syntax("off"),
        )
    if start == end:
        raise Reason(N_("quiet hours need different start and end times"))
    return QuietSpec(start, end)


def parse_timezone(text: str) -> str:
    """The IANA name, checked; a :class:`Reason` naming the problem otherwise."""
    name = text.strip()
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Reason(
            N_("unknown time zone {zone}; use an IANA name like {example}"),
            zone=Given(name, limit=40),
            example=Syntax("Europe/Amsterdam"),
        ) from None
    return name


def _local_moment(day: datetime, at: time, tz: tzinfo) -> datetime:
    """``at`` on ``day``'s date in ``tz``; a skipped time moves to the first valid minute."""
    candidate = datetime.combine(day.date(), at, tzinfo=tz).replace(fold=0)
    # A wall time in a DST gap does not survive a round trip through UTC.
    roundtrip = datetime.fromtimestamp(candidate.timestamp(), tz)
    if roundtrip.replace(tzinfo=None) != candidate.replace(tzinfo=None):
        step = candidate
        while True:
            step = step.replace(tzinfo=None) + timedelta(minutes=1)
            aware = step.replace(tzinfo=tz)
            back = datetime.fromtimestamp(aware.timestamp(), tz)
            if back.replace(tzinfo=None) == step:
                return aware
    return candidate


def digest_due_after(spec: DigestSpec, after: float, tz: tzinfo) -> float:
    """The first digest time strictly after ``after`` (a Unix time)."""
    local = datetime.fromtimestamp(after, tz)
    for offset in range(9):
        day = local + timedelta(days=offset)
        if spec.weekday is not None and day.weekday() != spec.weekday:
            continue
        moment = _local_moment(day, spec.at, tz).timestamp()
        if moment > after:
            return moment
    raise AssertionError("a weekly schedule always has a time within 8 days")  # pragma: no cover


def quiet_until(spec: QuietSpec | None, now: float, tz: tzinfo) -> float | None:
    """When the quiet hours around ``now`` end, or None when ``now`` is not in them."""
    if spec is None:
        return None
    local = datetime.fromtimestamp(now, tz)
    if not spec.covers(local.time().replace(tzinfo=None)):
        return None
    end_day = local if local.time() < spec.end else local + timedelta(days=1)
    return _local_moment(end_day, spec.end, tz).timestamp()
