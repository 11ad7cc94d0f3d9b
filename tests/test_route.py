"""Routing: channels, subscribers, personal phrases and mutes, each chat once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.route.chats import route_item


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
