"""feeds.yaml keys of issue 14: topic names per language, urgent topics, and per-channel
language, forum topic(s), link previews and silent alerts — each mistake at its line."""

from __future__ import annotations

import pytest

from bot.config import Channel, parse_config
from tests.test_config import MINIMAL, problems_of

TOPICS = """\
topics:
  cat:
    name: {en: Convention Against Torture, ar: اتفاقية مناهضة التعذيب}
    keywords: [torture]
    urgent: true
  caesar:
    name: Caesar Act
    keywords: [Caesar Act]
feeds:
  - id: icj
    url: https://example.org/icj.rss
"""


def test_topic_names_per_language_and_urgent() -> None:
    """A name map gives a label per language; English is the name; urgent defaults to false."""
    config = parse_config(TOPICS)
    cat, caesar = config.topics
    assert cat.name == "Convention Against Torture"
    assert (cat.label("ar"), cat.label("fr")) == ("اتفاقية مناهضة التعذيب", cat.name)
    assert (cat.urgent, caesar.urgent) == (True, False)
    assert caesar.label("nl") == "Caesar Act"


def test_a_name_map_without_english_uses_its_first_name() -> None:
    """Only French given: that is the name shown in every other language."""
    config = parse_config(MINIMAL.replace("  cat:\n", "  cat:\n    name: {fr: Torture}\n"))
    assert config.topics[0].name == "Torture"
    assert config.topics[0].label("ar") == "Torture"


def test_channel_options() -> None:
    """language, thread, threads, preview and silent are read; the defaults keep old behaviour."""
    config = parse_config(
        TOPICS
        + "channels:\n"
        + "  - chat: -1001234567890\n    language: ar\n    thread: 42\n"
        + "    threads: {caesar: 43}\n    preview: true\n    silent: yes\n"
        + "  - chat: '@alerts'\n"
    )
    forum, plain = config.channels
    assert forum == Channel(
        "-1001234567890",
        language="ar",
        thread=42,
        threads=(("caesar", 43),),
        preview=True,
        silent=True,
    )
    assert plain == Channel("@alerts")
    assert (forum.thread_for(("caesar", "cat")), forum.thread_for(("cat",))) == (43, 42)
    assert plain.thread_for(("cat",)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace("  cat:\n", "  cat:\n    name: {de: Folter}\n"),
            "feeds.yaml:3: topics.cat.name.de: unknown key `de`; expected one of: en, fr, nl, ar",
        ),
        (
            MINIMAL.replace("  cat:\n", "  cat:\n    name: {}\n"),
            "feeds.yaml:3: topics.cat.name: give a name in one or more of: en, fr, nl, ar",
        ),
        (
            MINIMAL.replace("  cat:\n", "  cat:\n    name:\n      en: Torture\n      ar: ''\n"),
            "feeds.yaml:5: topics.cat.name.ar: name must be 1-200 characters",
        ),
        (
            MINIMAL.replace("  cat:\n", "  cat:\n    urgent: very\n"),
            "feeds.yaml:3: topics.cat.urgent: must be true or false, not 'very'",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    language: de\n",
            "feeds.yaml:9: channels[0].language: must be one of en, fr, nl, ar",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    thread: 0\n",
            "feeds.yaml:9: channels[0].thread: must be between 1 and 2147483647, got 0",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    thread: general\n",
            "feeds.yaml:9: channels[0].thread: must be a whole number, not 'general'",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    threads: {cta: 4}\n",
            "feeds.yaml:9: channels[0].threads.cta: unknown topic `cta`; did you mean `cat`?",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    threads:\n      cat: -1\n",
            "feeds.yaml:10: channels[0].threads.cat: must be between 1 and 2147483647, got -1",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    threads: 4\n",
            "feeds.yaml:9: channels[0].threads: must map topic ids to forum topic ids, "
            "e.g. {caesar: 42}",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    preview: sometimes\n",
            "feeds.yaml:9: channels[0].preview: must be true or false, not 'sometimes'",
        ),
        (
            MINIMAL + "channels:\n  - chat: 5\n    silence: true\n",
            "feeds.yaml:9: channels[0].silence: unknown key `silence`; did you mean `silent`?",
        ),
    ],
    ids=[
        "name-unknown-language",
        "name-empty-map",
        "name-empty-text",
        "urgent-not-bool",
        "channel-language",
        "thread-zero",
        "thread-word",
        "threads-unknown-topic",
        "threads-negative",
        "threads-not-a-map",
        "preview-not-bool",
        "silent-misspelt",
    ],
)
def test_mistakes_are_reported_at_their_line(text: str, expected: str) -> None:
    """Each mistake names the file, line, key path and what is wrong."""
    assert expected in problems_of(text)
