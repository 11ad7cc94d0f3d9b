"""Digests and quiet hours, pure: the grammar, the times (DST included), the decision, the text."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, parse_config
from bot.config.delivery import (
    DigestSpec,
    QuietSpec,
    digest_due_after,
    parse_digest,
    parse_quiet,
    parse_timezone,
    quiet_until,
)
from bot.route.digest import MAX_MESSAGE, DigestLine, plain_text, render_digest
from bot.route.when import HOLD, NOW, Delivery, delivery_for, is_urgent, timing
from tests.conftest import make_config

AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str, tz: ZoneInfo = AMS) -> float:
    """A Unix time from 'YYYY-MM-DD HH:MM' on the given zone's clock."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp()


def local(ts: float, tz: ZoneInfo = AMS) -> str:
    """A Unix time as 'YYYY-MM-DD HH:MM' on the given zone's clock."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", None),
        ("daily 08:00", DigestSpec(time(8, 0))),
        ("Daily 7:30", DigestSpec(time(7, 30))),
        ("weekly mon 08:00", DigestSpec(time(8, 0), 0)),
        ("weekly Sunday 18:05", DigestSpec(time(18, 5), 6)),
    ],
)
def test_parse_digest(text: str, expected: DigestSpec | None) -> None:
    """off, daily HH:MM and weekly DAY HH:MM."""
    assert parse_digest(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hourly", "not a digest schedule"),
        ("daily 25:00", "not a digest schedule"),
        ("daily", "not a digest schedule"),
        ("weekly xyz 08:00", "unknown day"),
        ("weekly mon", "not a digest schedule"),
    ],
)
def test_parse_digest_refuses(text: str, reason: str) -> None:
    """Anything else is refused with the usage."""
    with pytest.raises(ValueError, match=reason):
        parse_digest(text)


def test_parse_quiet_and_timezone() -> None:
    """Quiet hours may span midnight; start and end differ; zones are IANA names."""
    assert parse_quiet("22:00-07:00") == QuietSpec(time(22), time(7))
    assert parse_quiet("off") is None
    for bad in ("22:00", "22:00-22:00", "10pm-7am", "22:00-07:60"):
        with pytest.raises(ValueError, match="quiet hours"):
            parse_quiet(bad)
    assert parse_timezone("Europe/Amsterdam") == "Europe/Amsterdam"
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime"):
        with pytest.raises(ValueError, match="IANA"):
            parse_timezone(bad)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        (DigestSpec(time(8)), "2026-03-04 07:59", "2026-03-04 08:00"),
        (DigestSpec(time(8)), "2026-03-04 08:00", "2026-03-05 08:00"),
        (DigestSpec(time(8), 0), "2026-03-04 09:00", "2026-03-09 08:00"),  # Wed → next Mon
        (DigestSpec(time(8), 2), "2026-03-04 07:00", "2026-03-04 08:00"),  # this Wednesday
        (DigestSpec(time(2, 30)), "2026-03-29 01:00", "2026-03-29 03:00"),  # DST gap: next valid
        (DigestSpec(time(8)), "2026-03-28 09:00", "2026-03-29 08:00"),  # across the DST change
    ],
)
def test_digest_due_after(spec: DigestSpec, after: str, expected: str) -> None:
    """The first digest time strictly after a moment, on the chat's clock."""
    assert local(digest_due_after(spec, at(after), AMS)) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-03-04 21:59", None),
        ("2026-03-04 22:00", "2026-03-05 07:00"),
        ("2026-03-05 03:00", "2026-03-05 07:00"),
        ("2026-03-05 07:00", None),
    ],
)
def test_quiet_until_spans_midnight(now: str, expected: str | None) -> None:
    """Inside 22:00-07:00 the wait ends at 07:00 next morning; outside there is none."""
    until = quiet_until(QuietSpec(time(22), time(7)), at(now), AMS)
    assert (local(until) if until else None) == expected


def test_timing_urgent_then_digest_then_quiet() -> None:
    """Urgent goes now; a digest holds; quiet hours defer; otherwise now."""
    night = at("2026-03-04 23:00")
    quiet = Delivery(None, QuietSpec(time(22), time(7)), "Europe/Amsterdam")
    digest = Delivery(DigestSpec(time(8)), QuietSpec(time(22), time(7)), "Europe/Amsterdam")
    plain = Delivery(None, None, "UTC")
    assert timing(quiet, True, night) == (NOW, night)
    assert timing(digest, False, night) == (HOLD, night)
    assert timing(quiet, False, night) == (NOW, at("2026-03-05 07:00"))
    assert timing(plain, False, night) == (NOW, night)


CHANNEL = """
channels:
  - chat: "@vigil_alerts"
    digest: weekly fri 17:00
    quiet: "22:00-07:00"
    timezone: Asia/Beirut
  - chat: "-100200"
    digest: off
"""


def test_channel_keys_and_urgent_topics_in_feeds_yaml() -> None:
    """Channels take digest/quiet/timezone; feeds.yaml wins over the chat's own choice."""
    text = make_config({"a": "http://x.test/a"}, CHANNEL).replace(
        "    keywords: [Caesar Act, قانون قيصر]", "    keywords: [Caesar Act]\n    urgent: true"
    )
    config = parse_config(text)
    how = delivery_for(config, "@vigil_alerts", "daily 08:00", "", "Europe/Paris")
    assert how == Delivery(DigestSpec(time(17), 4), QuietSpec(time(22), time(7)), "Asia/Beirut")
    assert delivery_for(config, "-100200", "daily 08:00", "", "").digest == DigestSpec(time(8))
    assert delivery_for(config, "42", "", "", "").timezone == "UTC"
    assert is_urgent(config, ["cat", "caesar"]) and not is_urgent(config, ["cat"])


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('channels:\n  - chat: "@vigil_alerts"\n    digest: hourly\n', "channels[0].digest: "),
        ('channels:\n  - chat: "@vigil_alerts"\n    quiet: "22:00"\n', "channels[0].quiet: "),
        ('channels:\n  - chat: "@vigil_alerts"\n    timezone: Mars/X\n', "unknown time zone"),
        ('channels:\n  - chat: "@vigil_alerts"\n    quiet: 22\n', "must be a string"),
    ],
)
def test_channel_keys_are_validated(extra: str, problem: str) -> None:
    """Bad channel keys are refused with feeds.yaml:LINE: key.path."""
    with pytest.raises(ConfigError) as error:
        parse_config(make_config({"a": "http://x.test/a"}, extra))
    assert problem in str(error.value.problems[0])


def test_digest_groups_by_topic_and_splits_between_items() -> None:
    """One message per topic group when it fits; beyond 4096 characters, cut between lines."""
    names = {"cat": "Convention Against Torture", "caesar": "Caesar Act"}
    few = [
        DigestLine("A <b>", "https://x.test/1", "UN News", "caesar"),
        DigestLine("B", "https://x.test/2", "OHCHR", "cat"),
        DigestLine("C", None, "Embassy", None),
    ]
    since = datetime(2026, 3, 4, 8, tzinfo=UTC).timestamp()
    [text] = render_digest(few, names, since=since, now=since + 86_400, tz=UTC)
    assert text.splitlines() == [
        "<b>Vigil digest</b> · 3 statements since Wed 4 Mar 08:00",
        "",
        "<b>Convention Against Torture</b> (1)",
        '• <a href="https://x.test/2">B</a> — OHCHR',
        "",
        "<b>Caesar Act</b> (1)",
        '• <a href="https://x.test/1">A &lt;b&gt;</a> — UN News',
        "",
        "<b>Your tracked phrases</b> (1)",
        "• C — Embassy",
    ]
    assert "A <b> — UN News" in plain_text(text)
    many = [
        DigestLine(f"Statement {n} " + "x" * 150, f"https://x.test/{n}", "S", "cat")
        for n in range(100)
    ]
    parts = render_digest(many, names, since=since, now=since, tz=UTC)
    assert len(parts) > 1
    assert all(len(part) <= MAX_MESSAGE for part in parts)
    lines = [line for part in parts for line in part.splitlines() if line.startswith("•")]
    assert len(lines) == 100


def test_digest_in_french_and_arabic() -> None:
    """The digest frame (header, CLDR day and month names, tracked phrases) is in the chat's
    language; in Arabic each line reads right to left with titles and sources isolated."""
    from bot.i18n import translator

    few = [
        DigestLine("A", "https://x.test/1", "UN News", "caesar"),
        DigestLine("C", None, "Embassy", None),
    ]
    names = {"caesar": "Loi César"}
    since = datetime(2026, 3, 4, 8, tzinfo=UTC).timestamp()
    [fr] = render_digest(few, names, since=since, now=since, tz=UTC, tr=translator("fr"))
    assert fr.splitlines() == [
        "<b>Récapitulatif Vigil</b> · 2 déclarations depuis le mer. 4 mars 08:00",
        "",
        "<b>Loi César</b> (1)",
        '• <a href="https://x.test/1">A</a> — UN News',
        "",
        "<b>Vos expressions suivies</b> (1)",
        "• C — Embassy",
    ]
    names = {"caesar": "قانون قيصر"}
    [ar] = render_digest(few[:1], names, since=since, now=since, tz=UTC, tr=translator("ar"))
    assert ar.splitlines() == [
        "\u200f<b>ملخص Vigil</b> · بيان واحد منذ \u2068الأربعاء 4 مارس 08:00\u2069",
        "",
        "\u200f\u2068<b>قانون قيصر</b>\u2069 (1)",
        '\u200f• \u2068<a href="https://x.test/1">A</a>\u2069 — \u2068UN News\u2069',
    ]


def test_also_published_by_in_french_and_arabic() -> None:
    """The edit's line uses the alert frame's catalog entry in the row's language."""
    from bot.i18n import translator
    from bot.route.sources import with_sources

    also = '[["UN News", "https://news.un.org/1"], ["Embassy", null]]'
    html_fr, plain_fr = with_sources("<b>T</b>", "T", also, translator("fr"))
    assert html_fr.endswith(
        'Également publié par : <a href="https://news.un.org/1">UN News</a> · Embassy'
    )
    assert plain_fr.endswith("Également publié par : UN News · Embassy")
    html_ar, _ = with_sources("<b>T</b>", "T", also, translator("ar"))
    names = '\u2068<a href="https://news.un.org/1">UN News</a>\u2069 · \u2068Embassy\u2069'
    assert html_ar.endswith(f"\n\n\u200fصدر أيضًا عن: \u2068{names}\u2069")
