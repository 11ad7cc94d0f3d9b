"""Routing: channels, subscribers, personal phrases and mutes, each chat once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.route.chats import Target, delivery_targets, route_item
from bot.store.subs import ChatPrefs


@dataclass(frozen=True)
class Chan:
    chat: str
    topics: tuple[str, ...] | None = None
    feeds: tuple[str, ...] | None = None


def test_channel_filters_by_topic_and_feed() -> None:
    """A channel receives only its topics from its feeds; defaults mean all."""
    channels = [Chan("@all"), Chan("@cat", topics=("cat",)), Chan("@icj", feeds=("icj",))]
    chats = route_item(feed_id="un", topic_ids=("cat",), channels=channels, subscribers={})
    assert chats == ("@all", "@cat")
    chats = route_item(feed_id="icj", topic_ids=("caesar",), channels=channels, subscribers={})
    assert chats == ("@all", "@icj")


def test_each_chat_once_whatever_the_reasons() -> None:
    """Two matched topics, a subscription to both and a phrase still give one chat entry."""
    chats = route_item(
        feed_id="un",
        topic_ids=("cat", "caesar"),
        channels=[Chan("42")],
        subscribers={"cat": frozenset({"42", "7"}), "caesar": frozenset({"7"})},
        tracked_by=("7", "9"),
    )
    assert chats == ("42", "7", "9")


def test_muted_chats_are_left_out() -> None:
    """A muted chat gets nothing until the mute ends."""
    chats = route_item(
        feed_id="un",
        topic_ids=("cat",),
        channels=[],
        subscribers={"cat": frozenset({"1", "2"})},
        muted=frozenset({"2"}),
    )
    assert chats == ("1",)


def test_no_topic_no_channel() -> None:
    """An item matched only by a personal phrase does not reach topic channels."""
    chats = route_item(
        feed_id="un", topic_ids=(), channels=[Chan("@all")], subscribers={}, tracked_by=("5",)
    )
    assert chats == ("5",)


@dataclass(frozen=True)
class Forum:
    """A configured channel with delivery options (a feeds.yaml `channels` entry)."""

    chat: str
    topics: tuple[str, ...] | None = None
    feeds: tuple[str, ...] | None = None
    language: str = "en"
    thread: int | None = None
    threads: tuple[tuple[str, int], ...] = ()
    preview: bool = False
    silent: bool = False

    def thread_for(self, topic_ids: tuple[str, ...]) -> int | None:
        mapped = dict(self.threads)
        return next((mapped[t] for t in topic_ids if t in mapped), self.thread)


def targets(chats: tuple[str, ...], topic_ids: tuple[str, ...], **kw: object) -> tuple[Target, ...]:
    """delivery_targets with empty defaults for what a case does not set."""
    options: dict[str, object] = {
        "feed_id": "un",
        "topic_ids": topic_ids,
        "urgent": False,
        "channels": [],
        "prefs": {},
        "threads": {},
        "track_threads": {},
        "default_language": "en",
    }
    options.update(kw)
    return delivery_targets(chats, **options)  # type: ignore[arg-type]


def test_configured_channel_options_win() -> None:
    """A channel's language, thread map, preview and silence apply; urgent is never silent."""
    forum = Forum("-100", language="ar", thread=5, threads=(("caesar", 7),), silent=True)
    stored = {"-100": ChatPrefs("fr", preview=True)}
    got = targets(("-100",), ("cat",), channels=[forum], prefs=stored)
    assert got == (Target("-100", "ar", 5, False, True),)
    got = targets(("-100",), ("cat", "caesar"), channels=[forum], urgent=True)
    assert got == (Target("-100", "ar", 7, False, False),)


def test_subscribers_get_their_stored_choices_and_threads() -> None:
    """The thread of the matched subscription (else of the phrases); stored language and options."""
    got = targets(
        ("7", "8", "9"),
        ("cat", "caesar"),
        prefs={"7": ChatPrefs("nl", preview=True, silent=True), "8": ChatPrefs(None)},
        threads={("7", "caesar"): 42},
        track_threads={"8": 3, "7": 99},
    )
    assert got == (
        Target("7", "nl", 42, True, True),
        Target("8", "en", 3),
        Target("9", "en", None),
    )


def test_a_channel_that_does_not_cover_the_statement_is_a_plain_subscriber() -> None:
    """Channel options only apply where that channel entry covers the feed and topic."""
    narrow = Forum("-100", feeds=("icj",), language="fr", thread=5)
    got = targets(("-100",), ("cat",), channels=[narrow], prefs={"-100": ChatPrefs("ar")})
    assert got == (Target("-100", "ar", None),)
