"""Who may do what in Telegram, and how often. Pure: values in, decisions out; time is injected.

Rules this module enforces:
- A Vigil administrator is a numeric user id listed in ``telegram.admins``, never a username
  (usernames change hands; changedetection CVE-2024-23329, RELIABILITY F4).
- Messages "sent" by Telegram's helper accounts carry no person: GroupAnonymousBot (an anonymous
  group admin, with ``sender_chat`` = the group) and Channel_Bot (a post on behalf of a channel).
  Such an actor has no user id, so it is never a Vigil administrator and never on an allowlist;
  an anonymous admin of *this* group counts as a group administrator (RELIABILITY F5).
- ``subscriptions`` decides who may add subscriptions or phrases: ``open`` anyone, ``allowlist``
  administrators plus ``allowlist`` (user ids; a group's own chat id may be listed too),
  ``closed`` administrators only. Removing subscriptions is always allowed.
- Added to a group or channel, the bot stays only when the chat is a configured channel, or the
  person who added it may subscribe; otherwise it leaves (RELIABILITY F6).
- Each actor gets a token bucket of commands; over it, commands are ignored and the actor is told
  "slow down" at most once per window (RELIABILITY F1).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Config, TelegramSettings

ANONYMOUS_ADMIN_ID = 1087968824  # @GroupAnonymousBot
CHANNEL_BOT_ID = 136817688  # @Channel_Bot: messages sent on behalf of a channel
SERVICE_USER_IDS = frozenset({ANONYMOUS_ADMIN_ID, CHANNEL_BOT_ID, 777000})  # 777000: Telegram

GROUP_KINDS = frozenset({"group", "supergroup"})
SHARED_KINDS = frozenset({"group", "supergroup", "channel"})

RATE_CAPACITY = 5
RATE_WINDOW = 10.0
ADMIN_CACHE_TTL = 600.0
ADMIN_CACHE_SIZE = 10_000
RATE_TABLE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sent a command or pressed a button, as far as access rules care."""

    user_id: int | None  # a real person's id; None for anonymous admins and channel posts
    anonymous_admin: bool = False  # GroupAnonymousBot speaking for the chat it is in
    rate_key: int = 0  # whose bucket the action draws from

    @property
    def person(self) -> bool:
        return self.user_id is not None


def actor_of(from_user_id: int | None, sender_chat_id: int | None, chat_id: int) -> Actor:
    """Classifies the sender of a message in chat ``chat_id``."""
    if from_user_id is None:
        key = sender_chat_id if sender_chat_id is not None else chat_id
        return Actor(None, rate_key=key)
    if from_user_id in SERVICE_USER_IDS:
        anonymous = from_user_id == ANONYMOUS_ADMIN_ID and sender_chat_id == chat_id
        key = sender_chat_id if sender_chat_id is not None else chat_id
        return Actor(None, anonymous_admin=anonymous, rate_key=key)
    return Actor(from_user_id, rate_key=from_user_id)


def is_admin(settings: TelegramSettings, actor: Actor) -> bool:
    """A Vigil administrator: a person whose numeric id is in ``telegram.admins``."""
    return actor.user_id is not None and actor.user_id in settings.admins


def may_subscribe(settings: TelegramSettings, actor: Actor, chat_id: int) -> bool:
    """Whether this actor may add subscriptions or phrases to chat ``chat_id``."""
    if is_admin(settings, actor):
        return True
    if settings.subscriptions == "open":
        return True
    if settings.subscriptions == "allowlist":
        listed = actor.user_id is not None and actor.user_id in settings.allowlist
        return listed or (chat_id < 0 and chat_id in settings.allowlist)
    return False


def is_configured_channel(config: Config, chat_id: int, username: str | None) -> bool:
    """The chat is named in ``channels`` by numeric id or by ``@username`` (case-insensitive)."""
    names = {f"@{username.lower()}"} if username else set()
    for channel in config.channels:
        chat = channel.chat
        if chat.startswith("@"):
            if chat.lower() in names:
                return True
        elif chat == str(chat_id):
            return True
    return False


def may_stay(config: Config, chat_id: int, username: str | None, adder: Actor) -> bool:
    """Whether the bot, just added to a group or channel, should remain there."""
    if is_configured_channel(config, chat_id, username):
        return True
    return adder.person and may_subscribe(config.telegram, adder, chat_id)


class RateLimiter:
    """A token bucket per actor: ``capacity`` commands, refilled over ``window`` seconds.

    ``allow`` answers whether the command may run; ``should_warn`` whether a refused actor gets
    the single "slow down" of this window. The table is bounded: the least recently seen actors
    are forgotten first, which only ever gives a forgotten actor a fresh bucket.
    """

    def __init__(
        self,
        capacity: int = RATE_CAPACITY,
        window: float = RATE_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_actors: int = RATE_TABLE_SIZE,
    ) -> None:
        self.capacity = float(capacity)
        self.window = window
        self.rate = capacity / window
        self.clock = clock
        self.max_actors = max_actors
        # actor → (tokens, last refill time, no warning before this time)
        self._buckets: OrderedDict[int, tuple[float, float, float]] = OrderedDict()

    def allow(self, key: int) -> bool:
        now = self.clock()
        tokens, last, quiet_until = self._buckets.pop(key, (self.capacity, now, 0.0))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now, quiet_until)
        while len(self._buckets) > self.max_actors:
            self._buckets.popitem(last=False)
        return allowed

    def should_warn(self, key: int) -> bool:
        """True once per window for an actor that is being refused."""
        now = self.clock()
        tokens, last, quiet_until = self._buckets.get(key, (self.capacity, now, 0.0))
        if now < quiet_until:
            return False
        self._buckets[key] = (tokens, last, now + self.window)
        return True


class AdminCache:
    """Remembers "is user U an administrator of chat C" for a while, bounded in size.

    getChatMember on every group command would cost a request each; admin lists change rarely,
    and a stale answer lasts at most ``ttl`` seconds.
    """

    def __init__(
        self,
        ttl: float = ADMIN_CACHE_TTL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = ADMIN_CACHE_SIZE,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, int], tuple[bool, float]] = OrderedDict()

    def get(self, chat_id: int, user_id: int) -> bool | None:
        entry = self._entries.get((chat_id, user_id))
        if entry is None:
            return None
        value, expires = entry
        if self.clock() >= expires:
            del self._entries[(chat_id, user_id)]
            return None
        return value

    def put(self, chat_id: int, user_id: int, value: bool) -> None:
        self._entries.pop((chat_id, user_id), None)
        self._entries[(chat_id, user_id)] = (value, self.clock() + self.ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
