"""Dates as listing pages print them, read into UTC-aware datetimes.

Rules (PAGES.md §4.4): Arabic-Indic digits become ASCII first; ISO 8601 (offsets with or without
a colon, e.g. ``2020-06-03T03:01+0400``), RFC 2822, numeric dates (day first unless that is
impossible: EEAS ``26.03.2026``, EP ``17-12-2024 - 13:17``), and dates with month names in
English, French, Dutch and Arabic are read; a date without a zone is UTC. A date before 1990
or more than two days ahead is no date: never "now" in its place.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

MIN_YEAR = 1990
FUTURE_SLACK = timedelta(days=2)

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_PLAIN_UTC = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:Z|\+00:00)", re.ASCII)
_NUMERIC = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:\D{1,5}(\d{1,2}):(\d{2}))?")
_MONTHS = {
    # English, French, Dutch
    **{m: i for i, m in enumerate(
        ["january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"], 1)},
    **{m: i for i, m in enumerate(
        ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
         "septembre", "octobre", "novembre", "décembre"], 1)},
    **{m: i for i, m in enumerate(
        ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
         "september", "oktober", "november", "december"], 1)},
    # Arabic: the Egyptian/Gulf names and the Levantine (Syrian) ones
    **{m: i for i, m in enumerate(
        ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر",
         "أكتوبر", "نوفمبر", "ديسمبر"], 1)},
    **{m: i for i, m in enumerate(
        ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول",
         "تشرين الأول", "تشرين الثاني", "كانون الأول"], 1)},
    "ابريل": 4, "اغسطس": 8, "اكتوبر": 10, "fevrier": 2, "aout": 8, "decembre": 12,
}  # fmt: skip
_ABBREVIATIONS = {name[:3]: n for name, n in _MONTHS.items() if name.isascii()}
_MONTH_WORDS = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s+({_MONTH_WORDS}|[a-z]{{3}})\.?,?\s+(\d{{4}})",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"\b({_MONTH_WORDS}|[a-z]{{3}})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})",
    re.IGNORECASE,
)


def parse_date(text: str | None, now: datetime | None = None) -> datetime | None:
    """The first date found in ``text``, in UTC; None when there is none or it is absurd."""
    if not text:
        return None
    moment = _plain_utc(text) or _general(text)
    if moment is None:
        return None
    reference = now or datetime.now(UTC)
    if moment.year < MIN_YEAR or moment > reference + FUTURE_SLACK:
        return None
    return moment


def _general(text: str) -> datetime | None:
    value = " ".join(text.translate(_DIGITS).split())[:300]
    return _iso(value) or _rfc2822(value) or _numeric(value) or _named(value)


def _plain_utc(text: str) -> datetime | None:
    """The common ``<time datetime>`` form (``2023-10-27T10:00:00Z``) without the general path,
    which reads it the same way; anything else, or an impossible date, takes the general path."""
    match = _PLAIN_UTC.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _iso(value: str) -> datetime | None:
    match = _ISO.search(value)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    return _build(year, month, day, hour, minute, second, zone)


def _rfc2822(value: str) -> datetime | None:
    if not re.match(r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d", value):
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _numeric(value: str) -> datetime | None:
    match = _NUMERIC.search(value)
    if not match:
        return None
    first, second, year, hour, minute = match.groups()
    day, month = int(first), int(second)
    if month > 12 >= day:  # 04/13/2018: month first is the only reading
        day, month = month, day
    return _build(year, month, day, hour, minute, None, None)


def _named(value: str) -> datetime | None:
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        match = pattern.search(value)
        if not match:
            continue
        groups = match.groups()
        if order == "dmy":
            day, word, year = groups
        else:
            word, day, year = groups
        month = _MONTHS.get(word.lower()) or _ABBREVIATIONS.get(word.lower()[:3])
        if month:
            return _build(year, month, day, None, None, None, None)
    return None


def _build(
    year: str | int,
    month: str | int,
    day: str | int,
    hour: str | None,
    minute: str | None,
    second: str | None,
    zone: str | None,
) -> datetime | None:
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            min(int(second or 0), 59),
            tzinfo=_zone(zone),
        )
    except (ValueError, OverflowError):
        return None
    return moment.astimezone(UTC)


def _zone(zone: str | None) -> timezone:
    if not zone or zone.upper() == "Z":
        return UTC
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    return timezone(-offset if zone[0] == "-" else offset)
