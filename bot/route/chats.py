"""Routing: which chats receive a matched statement. Pure: values in, chat ids out.

A chat gets a statement when a `channels` entry of feeds.yaml covers the feed and one of the
matched topics, when it subscribed to one of the matched topics, or when one of its personal
phrases matched — and it is not muted. Each chat appears once, whatever the number of reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

CONSOLE_CHAT = "console"


class ChannelSpec(Protocol):
    @property
    def chat(self) -> str: ...
    @property
    def topics(self) -> tuple[str, ...] | None: ...
    @property
    def feeds(self) -> tuple[str, ...] | None: ...


def route_item(
    *,
    feed_id: str,
    topic_ids: Sequence[str],
    channels: Iterable[ChannelSpec],
    subscribers: dict[str, frozenset[str]],
    tracked_by: Iterable[str] = (),
    muted: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """Chat ids in a stable order: configured channels first, then subscribers, then trackers."""
    chats: dict[str, None] = {}
    if topic_ids:
        for channel in channels:
            if channel.feeds is not None and feed_id not in channel.feeds:
                continue
            if channel.topics is not None and not set(channel.topics) & set(topic_ids):
                continue
            chats[channel.chat] = None
        for topic_id in topic_ids:
            for chat in sorted(subscribers.get(topic_id, ())):
                chats[chat] = None
    for chat in tracked_by:
        chats[chat] = None
    return tuple(chat for chat in chats if chat not in muted)
