"""feeds.yaml, validated once into one frozen :class:`Config`.

Every problem is collected and reported at once as ``feeds.yaml:LINE: key.path: what is wrong``
(LINE is the value's line for a bad value and the key's line for an unknown key). Rules:

- The file is at most 5 MB of UTF-8; it holds one YAML mapping. Only ``feeds`` and ``topics`` are
  required; ``settings``, ``telegram`` and ``channels`` are optional. Unknown keys are refused at
  every level, with a did-you-mean. Duplicate keys, aliases and exotic tags are refused
  (:mod:`bot.config_loader` says why).
- Topic ids are the keys of ``topics``; feed ids are the ``id`` of each feed. Both match
  ``[a-z0-9][a-z0-9_-]{0,31}`` and are unique; at most 10 000 of each.
- Keywords, context and exclude words are strings: YAML 1.1 reads ``no``, ``on`` and ``010`` as
  false, true and 8, so those must be quoted. A topic needs at least one keyword; no keyword may
  be empty, whitespace or punctuation only (it would match everything or nothing), or longer than
  200 characters. Every keyword is compiled with the matcher's own grammar
  (:func:`bot.match.rules.compile_keyword`: ``*`` only ends the last word, …), so a config that
  loads never fails at match time. ``re:PATTERN`` is compiled case-insensitively with RE2; RE2
  runs in linear time, which is why backreferences and lookaround are refused (said in those
  words, not RE2's "invalid escape"). A pattern matching empty text is refused too.
- Durations: interval and per-feed interval 1m..7d, timeout 1s..5m, max_backoff 1m..7d. Sizes:
  max_bytes 1KB..100MB. rate_per_second 1..30 (Telegram's bot limit is 30 messages a second).
  jitter 0..0.5 of the interval. timezone is an IANA name (used only to display times).
- ``first_run`` is ``baseline`` (remember a new feed's items, send none), ``all`` (send them), or
  ``latest: N`` (send the newest N, 1..100), written ``first_run: {latest: 3}`` or, quoted,
  ``first_run: "latest: 3"``.
- Feed URLs are http or https with a host, no spaces, no credentials (they would reach logs).
  International host names are stored in their ASCII (punycode) form. Unless
  ``allow_private_networks`` is true, loopback, private, link-local and other non-public IP
  literals, ``localhost`` and numeric hosts in odd forms (``2130706433``, ``127.1``) are refused.
  This is only the load-time half: names resolving to such addresses are refused by the fetcher.
- A proxy is an http(s) URL without credentials: the config holds no secrets.
- Telegram ``admins`` and ``allowlist`` are numeric user ids. A channel's ``chat`` is an
  ``@username`` or a numeric chat id (kept as a string); its ``topics`` and ``feeds`` must name
  existing ids and default to all.
"""

from __future__ import annotations

import difflib
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Literal

from bot.config_loader import (
    Checker,
    ConfigError,
    Problem,
    YEntry,
    YMap,
    YNode,
    YScalar,
    load_tree,
    private_host,
    regex_problem,
    split_url,
)
from bot.durations import format_size, parse_duration, parse_size
from bot.match.rules import REGEX_PREFIX, KeywordError, compile_keyword

__all__ = [
    "Channel",
    "Config",
    "ConfigError",
    "Feed",
    "FirstRun",
    "Problem",
    "Settings",
    "TelegramSettings",
    "Topic",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_KEYWORD_LENGTH = 200
DEFAULT_USER_AGENT = "Vigil/0.1 (+https://github.com/vigil-bot/vigil; feed alerts)"

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ID_RULE = "must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit"
_CHAT_USERNAME = re.compile(r"@[A-Za-z0-9_]{5,32}")
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")
_LATEST = re.compile(r"latest\s*:?\s*([0-9]+)")

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What a feed's first successful poll does with the items already in it."""

    mode: Literal["baseline", "latest", "all"] = "baseline"
    latest: int = 0  # N, when mode is "latest"


@dataclass(frozen=True, slots=True)
class Settings:
    """Service-wide knobs; durations in seconds, sizes in bytes."""

    interval: float = 10 * _MINUTE
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    first_run: FirstRun = FirstRun()
    allow_private_networks: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    proxy: str | None = None
    per_host_concurrency: int = 2
    max_concurrency: int = 16
    max_backoff: float = 6 * _HOUR
    jitter: float = 0.1
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """Who administers the bot and who may subscribe. The token is not here: it is a secret."""

    admins: tuple[int, ...] = ()
    subscriptions: Literal["open", "allowlist", "closed"] = "open"
    allowlist: tuple[int, ...] = ()
    rate_per_second: float = 25.0


@dataclass(frozen=True, slots=True)
class Topic:
    """A tracked subject: any keyword, plus a context word if any are given, and no exclude word."""

    id: str
    name: str
    keywords: tuple[str, ...]
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feed:
    """A polled feed; ``interval`` None means the settings' interval."""

    id: str
    name: str
    url: str
    interval: float | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Channel:
    """A chat that receives alerts without subscribing; None means all topics or all feeds."""

    chat: str
    topics: tuple[str, ...] | None = None
    feeds: tuple[str, ...] | None = None


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

    def feed_interval(self, feed: Feed) -> float:
        """The feed's own interval, else the settings' default."""
        return self.settings.interval if feed.interval is None else feed.interval


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; ConfigError names the path when it cannot be read."""
    name = os.fspath(path)
    file = os.path.basename(name) or name
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError((Problem(file, None, "", f"cannot read {name}: {reason}"),)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError((_too_large(file),))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError((Problem(file, line, "", "the file is not UTF-8 text"),)) from None
    return parse_config(text, name)


def parse_config(text: str, filename: str = "feeds.yaml") -> Config:
    """Validate a config text; ConfigError lists every problem, located by line and key path."""
    file = os.path.basename(filename) or filename
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError((_too_large(file),))
    tree, problems = load_tree(text, filename)
    if tree is None:
        raise ConfigError((Problem(file, None, "", "config is empty"),))
    check = Checker(file, problems)
    if not isinstance(tree, YMap):
        check.add(tree.line, "", "the top level must be a mapping with `feeds` and `topics` keys")
        raise ConfigError(tuple(check.problems))
    top = check.fields(
        tree, "", ("settings", "telegram", "topics", "feeds", "channels"), ("feeds", "topics")
    )
    assert top is not None  # a YMap always has fields
    settings = _settings(check, _value(top, "settings"))
    telegram = _telegram(check, _value(top, "telegram"))
    topics, topic_ids = _topics(check, _value(top, "topics"))
    feeds, feed_ids = _feeds(check, _value(top, "feeds"), settings)
    channels = _channels(check, _value(top, "channels"), topic_ids, feed_ids)
    if check.problems:
        raise ConfigError(tuple(check.problems))
    return Config(settings, telegram, topics, feeds, channels, filename)


def _too_large(file: str) -> Problem:
    return Problem(file, None, "", f"config is larger than {format_size(MAX_FILE_BYTES)}")


def _value(found: dict[str, YEntry] | None, key: str) -> YNode | None:
    entry = None if found is None else found.get(key)
    return None if entry is None else entry.value


def _settings(check: Checker, node: YNode | None) -> Settings:
    keys = tuple(Settings.__dataclass_fields__)
    found = check.fields(node, "settings", keys)
    if not found:
        return Settings()
    values: dict[str, object] = {}
    for key, entry in found.items():
        path, value = f"settings.{key}", entry.value
        parsed: object
        if key == "interval" or key == "max_backoff":
            parsed = check.duration(value, path, _MINUTE, 7 * _DAY)
        elif key == "timeout":
            parsed = check.duration(value, path, 1.0, 5 * _MINUTE)
        elif key == "max_bytes":
            parsed = check.size(value, path, 1024, 100 * 1024 * 1024)
        elif key == "first_run":
            parsed = _first_run(check, value, path)
        elif key == "allow_private_networks":
            parsed = check.boolean(value, path)
        elif key == "user_agent":
            parsed = _user_agent(check, value, path)
        elif key == "proxy":
            parsed = _proxy(check, value, path)
        elif key == "per_host_concurrency":
            parsed = check.integer(value, path, 1, 16)
        elif key == "max_concurrency":
            parsed = check.integer(value, path, 1, 256)
        elif key == "jitter":
            parsed = check.number(value, path, 0.0, 0.5)
        else:
            parsed = _timezone(check, value, path)
        if parsed is not None:
            values[key] = parsed
    return Settings(**values)  # type: ignore[arg-type]


def _first_run(check: Checker, node: YNode, path: str) -> FirstRun | None:
    usage = "must be baseline, all, or latest: N (write `first_run: {latest: 3}`)"
    if isinstance(node, YMap):
        found = check.fields(node, path, ("latest",), ("latest",))
        latest = _value(found, "latest")
        if latest is None:
            return None
        count = check.integer(latest, f"{path}.latest", 1, 100)
        return None if count is None else FirstRun("latest", count)
    if isinstance(node, YScalar) and isinstance(node.value, str):
        word = node.value.strip()
        if word in ("baseline", "all"):
            return FirstRun("baseline" if word == "baseline" else "all")
        match = _LATEST.fullmatch(word)
        if match:
            count = int(match.group(1))
            if 1 <= count <= 100:
                return FirstRun("latest", count)
            check.add(node.line, path, f"latest must be between 1 and 100, got {count}")
            return None
    check.add(node.line, path, usage)
    return None


def _user_agent(check: Checker, node: YNode, path: str) -> str | None:
    agent = check.text(node, path, "user_agent")
    if agent is None:
        return None
    if not agent.strip() or len(agent) > 200 or not agent.isprintable():
        check.add(node.line, path, "user_agent must be 1-200 printable characters on one line")
        return None
    return agent


def _proxy(check: Checker, node: YNode, path: str) -> str | None:
    url = check.text(node, path, "proxy")
    if url is None:
        return None
    parts, reason = split_url(url)
    if parts is not None and (parts.path not in ("", "/") or parts.query):
        reason = "a proxy URL is only scheme, host and port"
    if reason:
        check.add(node.line, path, reason)
        return None
    return url


def _timezone(check: Checker, node: YNode, path: str) -> str | None:
    name = check.text(node, path, "timezone")
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        check.add(
            node.line, path, f"unknown time zone {name!r}; use an IANA name like Europe/Paris"
        )
        return None
    return name


def _telegram(check: Checker, node: YNode | None) -> TelegramSettings:
    keys = tuple(TelegramSettings.__dataclass_fields__)
    found = check.fields(node, "telegram", keys)
    if not found:
        return TelegramSettings()
    values: dict[str, object] = {}
    for key, entry in found.items():
        path, value = f"telegram.{key}", entry.value
        parsed: object
        if key in ("admins", "allowlist"):
            parsed = _user_ids(check, value, path, key)
        elif key == "rate_per_second":
            parsed = check.number(value, path, 1, 30)
        else:
            word = value.value if isinstance(value, YScalar) else None
            parsed = word if word in ("open", "allowlist", "closed") else None
            if parsed is None:
                check.add(value.line, path, "must be one of open, allowlist, closed")
        if parsed is not None:
            values[key] = parsed
    return TelegramSettings(**values)  # type: ignore[arg-type]


def _user_ids(check: Checker, node: YNode, path: str, key: str) -> tuple[int, ...] | None:
    items = check.items(node, path, key)
    if items is None:
        return None
    ids: list[int] = []
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        if isinstance(item, YScalar) and isinstance(item.value, str):
            check.add(item.line, item_path, f"{key} are numeric user ids, not usernames")
            continue
        user_id = check.integer(item, item_path, 1, 2**63 - 1)
        if user_id is not None:
            ids.append(user_id)
    return tuple(ids)


def _topics(check: Checker, node: YNode | None) -> tuple[tuple[Topic, ...], set[str]]:
    if isinstance(node, YScalar) and node.value is None:
        return (), set()
    if not isinstance(node, YMap):
        if node is not None:
            check.add(node.line, "topics", "must be a mapping of topic id to topic")
        return (), set()
    if len(node.entries) > MAX_ENTRIES:
        check.add(node.line, "topics", f"more than {MAX_ENTRIES} topics")
        return (), set()
    topics: list[Topic] = []
    for entry in node.entries:
        path = f"topics.{entry.key}"
        if not _ID.fullmatch(entry.key):
            check.add(entry.key_line, path, f"topic id {_ID_RULE}")
        found = check.fields(entry.value, path, ("name", "keywords", "context", "exclude"))
        if found is None:
            continue
        if "keywords" not in found:
            check.add(entry.value.line, f"{path}.keywords", "a topic needs `keywords`")
        name = _name(check, _value(found, "name"), f"{path}.name", entry.key)
        words = {
            key: _words(check, found[key].value, f"{path}.{key}", entry.key, key)
            for key in ("keywords", "context", "exclude")
            if key in found
        }
        if name is not None and "keywords" in words and None not in words.values():
            topics.append(Topic(entry.key, name, **words))  # type: ignore[arg-type]
    return tuple(topics), {entry.key for entry in node.entries}


def _name(check: Checker, node: YNode | None, path: str, default: str) -> str | None:
    if node is None:
        return default
    name = check.text(node, path, "name")
    if name is not None and not (name.strip() and len(name) <= 200):
        check.add(node.line, path, "name must be 1-200 characters")
        return None
    return None if name is None else name.strip()


def _words(check: Checker, node: YNode, path: str, topic: str, key: str) -> tuple[str, ...] | None:
    what = {"keywords": "keyword", "context": "context word", "exclude": "exclude word"}[key]
    items = check.items(node, path, key)
    if items is None:
        return None
    if key == "keywords" and not items:
        check.add(node.line, path, "a topic needs at least one keyword")
        return None
    words = [_word(check, item, f"{path}[{i}]", topic, what) for i, item in enumerate(items)]
    return None if None in words else tuple(w for w in words if w is not None)


def _word(check: Checker, node: YNode, path: str, topic: str, what: str) -> str | None:
    word = check.text(node, path, what)
    if word is None:
        return None
    if not word.strip():
        check.add(node.line, path, f"empty {what}: it would match every item")
        return None
    if len(word) > MAX_KEYWORD_LENGTH:
        check.add(node.line, path, f"{what} is longer than {MAX_KEYWORD_LENGTH} characters")
        return None
    word = word.strip()
    if word.startswith(REGEX_PREFIX):
        reason = regex_problem(word[len(REGEX_PREFIX) :])
        if reason:
            check.add(node.line, path, f"topic `{topic}`: pattern {word[3:]!r}: {reason}")
            return None
    try:
        # The matcher owns the keyword grammar (where `*` may go, what counts as a word);
        # compiling here means a config that loads can never fail at match time.
        compile_keyword(word)
    except KeywordError as exc:
        check.add(node.line, path, f"{what} {exc}")
        return None
    return word


def _feeds(
    check: Checker, node: YNode | None, settings: Settings
) -> tuple[tuple[Feed, ...], set[str]]:
    items = None if node is None else check.items(node, "feeds", "feeds")
    if items is None:
        return (), set()
    if not items:
        check.add(node.line if node else None, "feeds", "add at least one feed")
    if len(items) > MAX_ENTRIES:
        check.add(items[0].line, "feeds", f"more than {MAX_ENTRIES} feeds")
        return (), set()
    feeds: list[Feed] = []
    id_lines: dict[str, int] = {}
    url_lines: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"feeds[{index}]"
        found = check.fields(item, path, ("id", "name", "url", "interval", "tags"), ("id", "url"))
        if found is None:
            continue
        feed_id = _feed_id(check, _value(found, "id"), f"{path}.id", id_lines)
        name = _name(check, _value(found, "name"), f"{path}.name", feed_id or "")
        url = _feed_url(check, _value(found, "url"), f"{path}.url", settings, url_lines)
        interval = None
        if "interval" in found:
            interval = check.duration(found["interval"].value, f"{path}.interval", 60, 7 * _DAY)
        tags = _tags(check, _value(found, "tags"), f"{path}.tags")
        interval_ok = "interval" not in found or interval is not None
        if feed_id and name and url and tags is not None and interval_ok:
            feeds.append(Feed(feed_id, name, url, interval, tags))
    return tuple(feeds), set(id_lines)


def _feed_id(check: Checker, node: YNode | None, path: str, seen: dict[str, int]) -> str | None:
    feed_id = None if node is None else check.text(node, path, "feed id")
    if node is None or feed_id is None:
        return None
    if not _ID.fullmatch(feed_id):
        check.add(node.line, path, f"feed id {_ID_RULE}")
        return None
    if feed_id in seen:
        check.add(node.line, path, f"duplicate feed id `{feed_id}` (first on line {seen[feed_id]})")
        return None
    seen[feed_id] = node.line
    return feed_id


def _feed_url(
    check: Checker, node: YNode | None, path: str, settings: Settings, seen: dict[str, int]
) -> str | None:
    url = None if node is None else check.text(node, path, "url")
    if node is None or url is None:
        return None
    parts, reason = split_url(url)
    if parts is not None and not settings.allow_private_networks:
        kind = private_host(parts.hostname or "")
        if kind:
            reason = f"{kind}; set settings.allow_private_networks: true to allow it"
    if parts is None or reason:
        check.add(node.line, path, reason or "invalid URL")
        return None
    normalized = parts.geturl()
    if normalized in seen:
        check.add(node.line, path, f"the same URL as the feed on line {seen[normalized]}")
        return None
    seen[normalized] = node.line
    return normalized


def _tags(check: Checker, node: YNode | None, path: str) -> tuple[str, ...] | None:
    items = () if node is None else check.items(node, path, "tags")
    if items is None:
        return None
    tags = [check.text(item, f"{path}[{i}]", "tag") for i, item in enumerate(items)]
    for item, tag in zip(items, tags, strict=True):
        if tag is not None and not (tag.strip() and len(tag) <= 64):
            check.add(item.line, path, "a tag must be 1-64 characters")
            return None
    return None if None in tags else tuple(t.strip() for t in tags if t is not None)


def _channels(
    check: Checker, node: YNode | None, topic_ids: set[str], feed_ids: set[str]
) -> tuple[Channel, ...]:
    items = () if node is None else check.items(node, "channels", "channels")
    channels: list[Channel] = []
    for index, item in enumerate(items or ()):
        path = f"channels[{index}]"
        found = check.fields(item, path, ("chat", "topics", "feeds"), ("chat",))
        if found is None:
            continue
        chat = _chat(check, _value(found, "chat"), f"{path}.chat")
        topics = _refs(check, _value(found, "topics"), f"{path}.topics", "topic", topic_ids)
        feeds = _refs(check, _value(found, "feeds"), f"{path}.feeds", "feed", feed_ids)
        if chat is not None and topics is not False and feeds is not False:
            channels.append(Channel(chat, topics, feeds))
    return tuple(channels)


def _chat(check: Checker, node: YNode | None, path: str) -> str | None:
    if node is None:
        return None
    value = node.value if isinstance(node, YScalar) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and (_CHAT_USERNAME.fullmatch(value) or _CHAT_ID.fullmatch(value)):
        return value
    check.add(node.line, path, "chat must be a @username (5-32 letters, digits, _) or a numeric id")
    return None


def _refs(
    check: Checker, node: YNode | None, path: str, what: str, known: set[str]
) -> tuple[str, ...] | Literal[False] | None:
    """The ids a channel names; None means all, False means the list was wrong."""
    if node is None or (isinstance(node, YScalar) and node.value == "all"):
        return None
    items = check.items(node, path, f"{what}s")
    if items is None:
        return False
    if not items:
        check.add(node.line, path, f"empty list: leave `{what}s` out to mean all {what}s")
        return False
    refs: list[str] = []
    for index, item in enumerate(items):
        ref = check.text(item, f"{path}[{index}]", f"{what} id")
        if ref is not None and ref not in known:
            close = _closest(ref, known)
            hint = f"; did you mean `{close}`?" if close else ""
            check.add(item.line, f"{path}[{index}]", f"unknown {what} `{ref}`{hint}")
        elif ref is not None:
            refs.append(ref)
    return tuple(refs) if len(refs) == len(items) else False


def _closest(word: str, choices: set[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None
