"""The search grammar's refusals said once: English for `vigil search`, translated for `/search`.

Every :class:`bot.search.query.QueryError` is a :class:`bot.i18n.Reason`: ``str()`` is word for
word the English sentence `vigil search` printed before the reasons were translatable (the table
below was taken from the code before the change), and its message id is one the catalogs carry
in every language. A chat gets the user's text escaped, bounded and in ``<code>`` (pure; the
Telegram round trip is in tests/test_telegram_search.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config, parse_config
from bot.i18n import Names, Reason, translator
from bot.search.engine import check_names, run_search
from bot.search.query import MAX_QUERY, QueryError, parse_query
from bot.telegram.replies import reason_text
from tests.conftest import make_config
from tests.test_reasons import catalog_ids

NOW = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
TZ = ZoneInfo("Europe/Amsterdam")

ENGLISH = [
    ('a "' + "w " * 17 + '"', "a phrase can have at most 16 words"),
    ("tortu a*", "a*: put at least 2 letters before '*' (it would match too many words)"),
    (
        '"caesar a"*',
        "caesar a*: put at least 2 letters before '*' (it would match too many words)",
    ),
    ("since:2026-02-30", "since:2026-02-30 is not a real date"),
    ("UNTIL:2026-13-01", "until:2026-13-01 is not a real date"),
    (
        "since:yesterday",
        "since: wants a date like 2026-03-01 or a span back from now like 7d; got 'yesterday'",
    ),
    (
        "until:" + "x" * 60,
        f"until: wants a date like 2026-03-01 or a span back from now like 7d; got '{'x' * 40}'",
    ),
    ("feed:", "feed: needs a feed id right after the colon, e.g. feed:ohchr"),
    ("Topic:", "topic: needs a topic id right after the colon, e.g. topic:caesar"),
    ("since:", "since: needs a date right after the colon, e.g. since:2026-03-01"),
    ("until:", "until: needs a date right after the colon, e.g. until:2026-03-31"),
    ("feed:<b>bad</b>", "feed:<b>bad</b> is not a feed id (see /topics or feeds.yaml)"),
    ("topic:" + "Ü" * 50, f"topic:{'Ü' * 40} is not a topic id (see /topics or feeds.yaml)"),
    ("x" * (MAX_QUERY + 1), "a query is at most 300 characters"),
    ("OR x", "OR must stand between two words or phrases"),
    ("x OR", "OR must stand between two words or phrases"),
    ("x OR OR y", "OR must stand between two words or phrases"),
    ("x OR feed:a", "OR must stand between two words or phrases"),
    ("x OR -y", "OR must stand between two words or phrases, not before a -"),
    ("-feed:a x", "-feed: a filter cannot be excluded"),
    ("-Since:1d x", "-Since: a filter cannot be excluded"),
    (" ".join(f"w{n}" for n in range(13)), "a query can have at most 12 words and phrases"),
    ("", 'nothing to search for: give a word, a "phrase" or a filter'),
    ("!!! —", 'nothing to search for: give a word, a "phrase" or a filter'),
    ("since:2026-03-02 until:2026-03-01", "since: must come before until:"),
]


def two_feeds() -> Config:
    """A configuration with feeds a and b and the topics caesar and cat."""
    return parse_config(make_config({"a": "http://x.test/a", "b": "http://x.test/b"}))


def refusal(text: str) -> QueryError:
    """The QueryError the grammar (then the configured names) raise for ``text``."""
    with pytest.raises(QueryError) as refused:
        check_names(parse_query(text, now=NOW, tz=TZ), two_feeds())
    return refused.value


@pytest.mark.parametrize(("text", "english"), ENGLISH)
def test_every_refusal_keeps_its_english_sentence(text: str, english: str) -> None:
    """str() of each grammar refusal is the sentence `vigil search` printed before, and its
    message id is in the catalogs."""
    error = refusal(text)
    assert isinstance(error, Reason)
    assert str(error) == english
    assert error.message in catalog_ids()


def test_unknown_names_and_the_limit_keep_their_english_sentence() -> None:
    """check_names lists the configured ids as before; run_search's limit reads as before."""
    feed, topic = refusal("feed:nope"), refusal("topic:nope x")
    assert str(feed) == "unknown feed 'nope'; feeds are: a, b"
    assert str(topic) == "unknown topic 'nope'; topics are: caesar, cat"
    with pytest.raises(QueryError) as limit:
        run_search(None, parse_query("x", now=NOW), two_feeds(), limit=0)  # type: ignore[arg-type]
    assert str(limit.value) == "the limit must be between 1 and 1000"
    for error in (feed, topic, limit.value):
        assert error.message in catalog_ids()


@pytest.mark.parametrize("lang", ["fr", "nl", "ar"])
@pytest.mark.parametrize(("text", "english"), ENGLISH)
def test_every_refusal_is_translated(lang: str, text: str, english: str) -> None:
    """Each language says every refusal in its own words (not the English id), and the
    user's text, when the sentence echoes it, is in <code> and escaped."""
    error = refusal(text)
    shown = reason_text(error, translator(lang))
    assert shown != reason_text(error, translator("en"))
    assert "<b>" not in shown and "<script" not in shown


def test_the_list_of_names_follows_the_language() -> None:
    """Configured ids come each in <code>, separated as the language writes a list; in Arabic
    each is isolated so Latin ids keep their order."""
    reason = Reason("{known}", known=Names("a", "b<c"))
    assert reason_text(reason, translator("fr")) == "<code>a</code>, <code>b&lt;c</code>"
    assert reason_text(reason, translator("ar")) == (
        "\u2068\u2068<code>a</code>\u2069، \u2068<code>b&lt;c</code>\u2069\u2069"
    )
    assert reason_text(Reason("{known}", known=Names("a")), translator("nl")) == "<code>a</code>"
    assert str(Reason("[{known}]", known=Names())) == "[]"


def test_a_markup_laden_query_comes_back_escaped_and_bounded() -> None:
    """A 200-character phrase full of markup is echoed short (the English keeps all of it),
    escaped, in <code>; a feed: value with markup is escaped too."""
    error = refusal('"<b>' + "x" * 200 + ' a</b>"*')
    assert str(error).startswith("<b>" + "x" * 200 + " a</b>*: put at least 2 letters")
    shown = reason_text(error, translator("fr"))
    assert shown.startswith("<code>&lt;b&gt;xxx")
    assert shown.endswith(
        "x…</code> : mettez au moins 2 lettres avant « * » (sinon trop de mots correspondraient)"
    )
    assert len(shown) < 200
    feed = reason_text(refusal("feed:<a_href='x'><b>"), translator("nl"))
    assert feed == (
        "<code>feed:&lt;a_href=&#x27;x&#x27;&gt;&lt;b&gt;</code> is geen bron-id "
        "(zie /topics of feeds.yaml)"
    )


def test_until_the_last_representable_day_is_read() -> None:
    """until:9999-12-31 runs to the end of that day instead of overflowing datetime (it used
    to escape as an OverflowError, not a QueryError)."""
    query = parse_query("x until:9999-12-31", now=NOW, tz=TZ)
    last = datetime(9999, 12, 31, tzinfo=TZ).timestamp()
    assert query.until == last + timedelta(days=1).total_seconds()
