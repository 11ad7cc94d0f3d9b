"""Routing: which chats receive a matched statement, and how. Pure: values in, values out.

A chat gets a statement when a `channels` entry of feeds.yaml covers the feed and one of the
matched topics, when it subscribed to one of the matched topics, or when one of its personal
phrases matched — and it is not muted. Each chat appears once, whatever the number of reasons.

How each chat gets it (:func:`delivery_targets`): a configured channel's own settings win
(``language``, ``thread``/``threads``, ``preview``, ``silent``); otherwise the chat's stored
preferences, and the forum topic its subscription (or phrase) was made in. A statement matching
topics bound to two forum topics of one group goes once, to the first matched topic's thread
(one message per chat per statement). A statement matching an urgent topic is never silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

CONSOLE_CHAT = "console"


class ChannelSpec(Protocol):
    @property
    def chat(self) -> str: ...
    @property
    def topics(self) -> tuple[str, ...] | None: ...
    @property
    def feeds(self) -> tuple[str, ...] | None: ...


class ChannelOptions(ChannelSpec, Protocol):
    @property
    def language(self) -> str: ...
    @property
    def preview(self) -> bool: ...
    @property
    def silent(self) -> bool: ...
    def thread_for(self, topic_ids: tuple[str, ...]) -> int | None: ...


class ChatPrefs(Protocol):
    @property
    def language(self) -> str | None: ...
    @property
    def preview(self) -> bool: ...
    @property
    def silent(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Target:
    """One chat a statement goes to, and how: frame language, forum topic, preview, sound."""

    chat: str
    language: str
    thread: int | None = None
    preview: bool = False
    silent: bool = False


def _covers(channel: ChannelSpec, feed_id: str, topic_ids: Sequence[str]) -> bool:
    if channel.feeds is not None and feed_id not in channel.feeds:
        return False
    return channel.topics is None or bool(set(channel.topics) & set(topic_ids))


def delivery_targets(
    chats: Sequence[str],
    *,
    feed_id: str,
    topic_ids: tuple[str, ...],
    urgent: bool,
    channels: Iterable[ChannelOptions],
    prefs: Mapping[str, ChatPrefs],
    threads: Mapping[tuple[str, str], int],
    track_threads: Mapping[str, int],
    default_language: str,
) -> tuple[Target, ...]:
    """How each routed chat receives the statement (see the module docstring)."""
    configured: dict[str, ChannelOptions] = {}
    for channel in channels:
        if topic_ids and _covers(channel, feed_id, topic_ids):
            configured.setdefault(channel.chat, channel)
    targets: list[Target] = []
    for chat in chats:
        spec = configured.get(chat)
        if spec is not None:
            silent = spec.silent and not urgent
            targets.append(
                Target(chat, spec.language, spec.thread_for(topic_ids), spec.preview, silent)
            )
            continue
        pref = prefs.get(chat)
        thread = next((threads[(chat, t)] for t in topic_ids if (chat, t) in threads), None)
        if thread is None:
            thread = track_threads.get(chat)
        if pref is None:
            targets.append(Target(chat, default_language, thread))
            continue
        language = pref.language or default_language
        targets.append(Target(chat, language, thread, pref.preview, pref.silent and not urgent))
    return tuple(targets)


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
            if _covers(channel, feed_id, topic_ids):
                chats[channel.chat] = None
        for topic_id in topic_ids:
            for chat in sorted(subscribers.get(topic_id, ())):
                chats[chat] = None
    for chat in tracked_by:
        chats[chat] = None
    return tuple(chat for chat in chats if chat not in muted)
