"""The validated configuration: frozen values built once by :mod:`bot.config.validate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.config.delivery import DigestSpec, QuietSpec
from bot.config.durations import DAY, HOUR, MINUTE
from bot.model import PageSpec

DEFAULT_USER_AGENT = "Vigil/0.1 (+https://github.com/vigil-bot/vigil; feed alerts)"


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What a feed's first successful poll does with the items already in it."""

    mode: Literal["baseline", "latest", "all"] = "baseline"
    latest: int = 0  # N, when mode is "latest"


@dataclass(frozen=True, slots=True)
class Settings:
    """Service-wide knobs; durations in seconds, sizes in bytes."""

    interval: float = 10 * MINUTE
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    first_run: FirstRun = FirstRun()
    allow_private_networks: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    proxy: str | None = None
    per_host_concurrency: int = 2
    max_concurrency: int = 16
    max_backoff: float = 6 * HOUR
    jitter: float = 0.1
    timezone: str = "UTC"
    # Full text (README "Full text"): None means feeds off, page sources on.
    full_text: bool | None = None
    full_text_per_poll: int = 5  # article fetches per source per poll; the rest wait, durably
    full_text_host_gap: float = 2.0  # seconds between two article requests to one host
    full_text_concurrency: int = 4  # article fetches in flight, apart from feed polling
    full_text_max_html: int = 5 * 1024 * 1024
    full_text_max_pdf: int = 20 * 1024 * 1024
    full_text_pdf_pages: int = 50
    full_text_give_up: float = 24 * HOUR  # then an item is decided on what it has
    keep: float = 365 * DAY  # how long the text of statements read stays searchable
    database_url: str | None = None  # PostgreSQL, without its password; VIGIL_DATABASE_URL wins


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """Who administers the bot and who may subscribe. The token is not here: it is a secret."""

    admins: tuple[int, ...] = ()
    subscriptions: Literal["open", "allowlist", "closed"] = "open"
    allowlist: tuple[int, ...] = ()
    rate_per_second: float = 25.0


@dataclass(frozen=True, slots=True)
class Topic:
    """A tracked subject: any keyword, plus a context word if any are given, and no exclude word.

    ``names`` are the topic's name per interface language (``name: {en: …, ar: …}``); ``name``
    is the English one (else the first given, else the id). ``urgent`` topics are never sent
    silently (``silent`` chats), and other features that hold alerts back read the same flag.
    """

    id: str
    name: str
    keywords: tuple[str, ...]
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    names: tuple[tuple[str, str], ...] = ()
    urgent: bool = False

    def label(self, lang: str) -> str:
        """The name to show in ``lang``, falling back to :attr:`name`."""
        return next((text for code, text in self.names if code == lang), self.name)


@dataclass(frozen=True, slots=True)
class Feed:
    """A polled source; ``interval`` None means the settings' interval.

    ``page`` set: an HTML listing page read into items; otherwise a feed, a page that
    advertises one, or a Telegram channel's web preview (found from what the URL answers).
    """

    id: str
    name: str
    url: str
    interval: float | None = None
    tags: tuple[str, ...] = ()
    full_text: bool | None = None  # None: the settings' default
    page: PageSpec | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """A chat that receives alerts without subscribing; None means all topics or all feeds.

    ``thread`` is the forum topic (message_thread_id) its alerts go to, ``threads`` one per
    tracked topic for a forum group (it wins over ``thread``); ``language`` is the alert frame's
    language; ``preview`` shows a link preview; ``silent`` sends non-urgent alerts silently.
    """

    chat: str
    topics: tuple[str, ...] | None = None
    feeds: tuple[str, ...] | None = None
    language: str = "en"
    thread: int | None = None
    threads: tuple[tuple[str, int], ...] = ()
    preview: bool = False
    silent: bool = False

    # How the channel receives (bot.config.delivery); None: not set here (a chat's own setting,
    # else each alert at once, in settings.timezone).
    digest: DigestSpec | None = None
    quiet: QuietSpec | None = None
    timezone: str | None = None

    def thread_for(self, topic_ids: tuple[str, ...]) -> int | None:
        """The forum topic for a statement matching ``topic_ids`` (the first mapped one wins)."""
        mapped = dict(self.threads)
        return next((mapped[t] for t in topic_ids if t in mapped), self.thread)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config. Built only by :func:`parse_config`; holds no secrets."""

    settings: Settings
    telegram: TelegramSettings
    topics: tuple[Topic, ...]
    feeds: tuple[Feed, ...]
    channels: tuple[Channel, ...] = ()
    path: str = "feeds.yaml"
    _topic_index: dict[str, Topic] = field(init=False, repr=False, compare=False, hash=False)
    _feed_index: dict[str, Feed] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_topic_index", {t.id: t for t in self.topics})
        object.__setattr__(self, "_feed_index", {f.id: f for f in self.feeds})

    def topic(self, topic_id: str) -> Topic:
        """The topic with this id; KeyError when there is none."""
        return self._topic_index[topic_id]

    def feed(self, feed_id: str) -> Feed:
        """The feed with this id; KeyError when there is none."""
        return self._feed_index[feed_id]

    def full_text_for(self, feed: Feed) -> bool:
        """Whether new items of ``feed`` are read in full: its own key, else the settings'.

        Unset everywhere, feeds are not and page sources (``page:``) are: a listing row carries
        only a headline.
        """
        if feed.full_text is not None:
            return feed.full_text
        if self.settings.full_text is not None:
            return self.settings.full_text
        return feed.page is not None

    def feed_interval(self, feed: Feed) -> float:
        """The feed's own interval, else the settings' default."""
        return self.settings.interval if feed.interval is None else feed.interval
