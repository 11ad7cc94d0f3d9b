"""A parser's refusal said once: English for feeds.yaml, translated and escaped for a chat (pure).

:class:`bot.i18n.Reason` keeps ``str()`` the English sentence config errors have always shown,
and carries the message id and its values for :func:`bot.telegram.replies.reason_text`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from bot.config import ConfigError, parse_config
from bot.config.delivery import parse_digest, parse_quiet, parse_timezone
from bot.i18n import Given, Reason, Syntax, translator
from bot.i18n.maintain import extract
from bot.telegram.replies import reason_text
from tests.conftest import make_config


@functools.cache
def catalog_ids() -> frozenset[str]:
    """Every message id extracted from bot/ (once per test process)."""
    return frozenset(m.id for m in extract() if isinstance(m.id, str) and m.id)


@pytest.mark.parametrize(
    ("parse", "text", "english"),
    [
        (
            parse_digest,
            "weekly xyz 08:00",
            "unknown day 'xyz': use mon, tue, wed, thu, fri, sat or sun",
        ),
        (
            parse_digest,
            "hourly",
            "'hourly' is not a digest schedule; write off, daily HH:MM or weekly DAY HH:MM "
            "(e.g. weekly mon 08:00)",
        ),
        (
            parse_quiet,
            " 10pm-7am ",
            "'10pm-7am' is not quiet hours; write HH:MM-HH:MM (e.g. 22:00-07:00) or off",
        ),
        (parse_quiet, "08:00-8:00", "quiet hours need different start and end times"),
        (
            parse_timezone,
            "Mars/" + "x" * 60,
            f"unknown time zone 'Mars/{'x' * 35}'; use an IANA name like Europe/Amsterdam",
        ),
    ],
)
def test_refusals_stay_the_english_sentence(
    parse: Callable[[str], object], text: str, english: str
) -> None:
    """str() of each refusal is the sentence config errors showed before it was translatable,
    and its message id is one the catalogs carry."""
    with pytest.raises(Reason) as refused:
        parse(text)
    assert str(refused.value) == english
    assert refused.value.message in catalog_ids()


def test_config_errors_keep_the_english_reason() -> None:
    """feeds.yaml errors name the line and key path, then the English reason."""
    extra = 'channels:\n  - chat: "@vigil_alerts"\n    digest: weekly xyz 08:00\n'
    with pytest.raises(ConfigError) as error:
        parse_config(make_config({"a": "http://x.test/a"}, extra))
    shown = str(error.value.problems[0])
    assert shown.endswith(
        "channels[0].digest: unknown day 'xyz': use mon, tue, wed, thu, fri, sat or sun"
    )


def test_values_show_as_their_kind() -> None:
    """Given text is quoted and cut in English; Syntax alternatives read "a, b or c"."""
    reason = Reason(
        "{a} {b} {c} {n}", a=Given("x" * 9, limit=3), b=Syntax("p", "q", "r"), c=Syntax("s"), n=4
    )
    assert str(reason) == "'xxx' p, q or r s 4"
    assert str(Reason("{a}", a=Given("k:v", quoted=False))) == "k:v"
    assert isinstance(reason, ValueError)
    with pytest.raises(ValueError, match="at least one word"):
        Syntax()


def test_a_chat_gets_user_text_escaped_and_bounded() -> None:
    """A 4 KB argument full of markup comes back short, escaped, control characters shown as ?;
    what to type is in <code>, joined with the language's own "or"."""
    reason = Reason(
        "{text} / {choices}",
        text=Given("<b>" + "\x00" + "y" * 4000),
        choices=Syntax("off", "on"),
    )
    shown = reason_text(reason, translator("fr"))
    assert shown.startswith("<code>&lt;b&gt;?yyy")
    assert shown.endswith("…</code> / <code>off</code> ou <code>on</code>")
    assert len(shown) < 200
    assert "<b>" not in shown


def test_a_plain_value_error_is_still_shown_escaped() -> None:
    """A ValueError that is not a Reason (none today) is shown as it is, escaped and bounded."""
    shown = reason_text(ValueError("<i>" + "z" * 500), translator("en"))
    assert shown.startswith("&lt;i&gt;zzz") and shown.endswith("…")
    assert len(shown) <= 210
