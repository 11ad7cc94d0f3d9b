"""RELIABILITY A22: Hypothesis over parse → match → render (Miniflux's FuzzParse/FuzzSanitizer).

Properties, for arbitrary bytes and for generated RSS/Atom documents carrying hostile strings
(markup, entities, bidi overrides, astral characters, 10 000-character titles):

- ``parse_feed`` never raises and returns a classified result;
- every example finishes within a generous per-example deadline (a hang is the failure);
- every alert rendered from what was parsed is a message Telegram accepts: only the tags Vigil
  writes (``b``, ``i``, ``a`` with an http(s) href), balanced, every entity valid (checked by the
  Bot API test server's own parser), at most 4096 visible characters, the plain text too.

The fast suite runs about a hundred examples per property; ``-m slow`` runs thousands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import parse_config
from bot.match.topics import Matcher
from bot.model import ErrorKind, Item, ParsedFeed
from bot.route.render import render_alert
from bot.sources.feed import parse_feed
from tests.servers.botapi import visible_text
from tests.servers.feeds import atom, rss

CONFIG = parse_config(
    """
topics:
  caesar:
    name: Caesar <Act> & "friends"
    keywords: [Caesar Act, قانون قيصر, tortur*]
  cat:
    name: Convention Against Torture
    keywords: ['re:conven\\w+ against tor+ture']
    context: [Syria, سوريا]
feeds:
  - id: a
    url: https://example.org/a.rss
"""
)
MATCHER = Matcher.compile(CONFIG.topics)
NAMES = {topic.id: topic.name for topic in CONFIG.topics}

# Generous: an example of the fast suite takes milliseconds; minutes would mean a hang.
DEADLINE = timedelta(seconds=10)
FAST = settings(
    max_examples=100,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=3000,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = [
    "Caesar Act",
    "قانون قيصر",
    "Convention against Torture in Syria",
    "<b>unclosed",
    "</b></i></a>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="tg://resolve?domain=x">x</a>',
    "&amp;amp;",
    "&lt;b&gt;",
    "&#0;&#xD800;&#1114112;&bogus;",
    "a < b & c > d",
    "_*[]()~`>#+-=|{}.!",
    "\u202egnp.exe\u202c",
    "\u2066isolate\u2069",
    "\x00\x01\x1b[31m\x7f",
    "👩‍👩‍👧‍👦🇸🇾🏳️‍🌈",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "e\u0301\u0301\u0301",
    "<![CDATA[x]]>",
    "]]>",
    "\ufeff\ufffe\uffff",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(list("<>&;#/\"'= abCA\u202e👩\u200d")), max_size=300),
    # Long fields: a short hostile seed repeated up to 10 000 characters and beyond.
    st.builds(
        lambda seed, times: (seed * times)[:12_000],
        st.sampled_from(HOSTILE),
        st.integers(min_value=1, max_value=3_000),
    ),
)


@st.composite
def hostile_field(draw: Callable[..., Any]) -> str:
    """Hostile text, often with a keyword inside so that the match and render stages run."""
    parts = draw(st.lists(hostile_text, min_size=1, max_size=4))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(HOSTILE[:3])))
    return " ".join(parts)


@st.composite
def hostile_feed(draw: Callable[..., Any]) -> bytes:
    """An RSS or Atom document whose fields carry hostile strings (escaped or in CDATA)."""
    count = draw(st.integers(min_value=0, max_value=4))
    items = []
    for n in range(count):
        item = {"title": draw(hostile_field()), "guid": draw(st.sampled_from([f"g{n}", "same"]))}
        if draw(st.booleans()):
            item["description"] = draw(hostile_field())
        if draw(st.booleans()):
            item["link"] = draw(
                st.sampled_from(
                    ["http://x.test/1", "javascript:alert(1)", "tg://x", "/relative", "http://x/ y"]
                )
            )
        if draw(st.booleans()):
            item["pubDate"] = draw(
                st.sampled_from(["not a date", "Thu, 01 Jan 1970 00:00:00 GMT", "0001-01-01"])
            )
        items.append(item)
    build = draw(st.sampled_from([rss, atom]))
    body: bytes = build(items, title=draw(hostile_field()))
    if draw(st.booleans()):
        # Raw markup in CDATA reaches feedparser unescaped (a description's usual shape).
        raw = draw(hostile_field()).replace("]]>", "]]")
        body = body.replace(b"<title>", f"<title><![CDATA[{raw}]]>".encode(), 1)
    if draw(st.booleans()):
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]  # truncated
    return body


_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)([^>]*)>")


def assert_telegram_accepts(html_text: str, plain: str) -> None:
    """Only Vigil's tags, http(s) links, valid for Telegram's parser, ≤ 4096 both ways."""
    for closing, name, attrs in _TAG.findall(html_text):
        assert name in ("b", "i", "a"), html_text
        if name == "a" and not closing:
            assert re.fullmatch(r' href="https?://[^"<>]*"', attrs), attrs
    shown = visible_text(html_text, "HTML")  # raises on unbalanced tags or bad entities
    assert 0 < len(shown) <= 4096
    assert 0 < len(plain) <= 4096
    for text in (shown, plain):
        assert not re.search("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f\ud800-\udfff]", text)


def check_pipeline(parsed: ParsedFeed) -> None:
    """Match and render every parsed item; what comes out must be sendable."""
    assert isinstance(parsed, ParsedFeed)
    assert parsed.ok == (parsed.error_kind is None)
    if not parsed.ok:
        assert isinstance(parsed.error_kind, ErrorKind)
        assert parsed.error
    for item in parsed.items:
        matches = MATCHER.match_item(item)
        names = [NAMES[m.topic_id] for m in matches] or ["your tracked phrases"]
        rendered = render_alert(
            item, feed_name="Feed <&> \u202e", topic_names=names, matches=matches
        )
        assert_telegram_accepts(rendered.html, rendered.plain)


def fuzz_bytes(body: bytes) -> None:
    check_pipeline(parse_feed(body))


def fuzz_feed(body: bytes) -> None:
    check_pipeline(
        parse_feed(body, headers={"content-type": "application/xml"}, url="http://x.test/")
    )


def fuzz_item(title: str, summary: str, content: str, link: str) -> None:
    item = Item(key="k", title=title, link=link, summary=summary, content=content)
    matches = MATCHER.match_item(item)
    rendered = render_alert(
        item,
        feed_name=title[:50],
        topic_names=[NAMES[m.topic_id] for m in matches],
        matches=matches,
    )
    assert_telegram_accepts(rendered.html, rendered.plain)


ITEM_ARGS = (
    hostile_field(),
    hostile_field(),
    hostile_field(),
    st.one_of(st.text(), st.just('https://x.test/a?b=<c>&d="e"')),
)


@FAST
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes_A22(body: bytes) -> None:
    """Arbitrary bytes never make parse → match → render raise or emit an unsendable message."""
    fuzz_bytes(body)


@FAST
@given(hostile_feed())
def test_fuzz_hostile_feeds_A22(body: bytes) -> None:
    """Generated RSS/Atom with hostile strings always parse, match and render sendably."""
    fuzz_feed(body)


@FAST
@given(*ITEM_ARGS)
def test_fuzz_hostile_items_render_A22(title: str, summary: str, content: str, link: str) -> None:
    """Any item text, matched by the real matcher, renders into a message Telegram accepts."""
    fuzz_item(title, summary, content, link)


@pytest.mark.slow
@SLOW
@given(st.binary(max_size=65_536))
def test_fuzz_arbitrary_bytes_A22_long_run(body: bytes) -> None:
    """The arbitrary-bytes property, thousands of examples."""
    fuzz_bytes(body)


@pytest.mark.slow
@SLOW
@given(hostile_feed())
def test_fuzz_hostile_feeds_A22_long_run(body: bytes) -> None:
    """The hostile-feed property, thousands of examples."""
    fuzz_feed(body)


@pytest.mark.slow
@SLOW
@given(*ITEM_ARGS)
def test_fuzz_hostile_items_render_A22_long_run(
    title: str, summary: str, content: str, link: str
) -> None:
    """The hostile-item property, thousands of examples."""
    fuzz_item(title, summary, content, link)
