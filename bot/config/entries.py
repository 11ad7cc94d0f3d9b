"""The lists of feeds.yaml validated: topics with their words, feeds, and channels.

Rules: ids match ``[a-z0-9][a-z0-9_-]{0,31}`` and are unique, at most 10 000 of each; every
keyword, context and exclude word is compiled by the matcher's own grammar so a config that
loads never fails at match time; feed URLs are vetted by :mod:`bot.config.urls`; a channel's
``topics`` and ``feeds`` must name existing ids (with a did-you-mean) and default to all.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from bot.config.checker import Checker, value_of
from bot.config.delivery import parse_digest, parse_quiet, parse_timezone
from bot.config.durations import DAY
from bot.config.model import Channel, Feed, Settings, Topic
from bot.config.pages import read_page
from bot.config.urls import private_host, regex_problem, split_url
from bot.config.yamltree import YEntry, YMap, YNode, YScalar
from bot.i18n import LANGUAGES
from bot.match.rules import REGEX_PREFIX, KeywordError, compile_keyword

MAX_ENTRIES = 10_000
MAX_KEYWORD_LENGTH = 200

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ID_RULE = "must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter or digit"
_CHAT_USERNAME = re.compile(r"@[A-Za-z0-9_]{5,32}")
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")


def read_topics(check: Checker, node: YNode | None) -> tuple[tuple[Topic, ...], set[str]]:
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
        found = check.fields(
            entry.value, path, ("name", "keywords", "context", "exclude", "urgent")
        )
        if found is None:
            continue
        if "keywords" not in found:
            check.add(entry.value.line, f"{path}.keywords", "a topic needs `keywords`")
        names = _topic_names(check, value_of(found, "name"), f"{path}.name", entry.key)
        urgent_node = value_of(found, "urgent")
        urgent = False if urgent_node is None else check.boolean(urgent_node, f"{path}.urgent")
        words = {
            key: _words(check, found[key].value, f"{path}.{key}", entry.key, key)
            for key in ("keywords", "context", "exclude")
            if key in found
        }
        complete = "keywords" in words and None not in words.values()
        if names is not None and urgent is not None and complete:
            name, per_language = names
            topics.append(
                Topic(entry.key, name, names=per_language, urgent=urgent, **words)  # type: ignore[arg-type]
            )
    return tuple(topics), {entry.key for entry in node.entries}


def _topic_names(
    check: Checker, node: YNode | None, path: str, default: str
) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """A topic's name, or its names per interface language: ``{en: …, ar: …}``."""
    if not isinstance(node, YMap):
        name = _name(check, node, path, default)
        return None if name is None else (name, ())
    found = check.fields(node, path, LANGUAGES)
    if found is None:
        return None
    if not found:
        if not node.entries:
            check.add(node.line, path, f"give a name in one or more of: {', '.join(LANGUAGES)}")
        return None
    names = {lang: _name(check, entry.value, f"{path}.{lang}", "") for lang, entry in found.items()}
    given = tuple((lang, text) for lang, text in names.items() if text is not None)
    if len(given) != len(names):
        return None
    return dict(given).get("en", given[0][1]), given


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


def read_feeds(
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
        keys = ("id", "name", "url", "interval", "tags", "full_text", "page")
        found = check.fields(item, path, keys, ("id", "url"))
        if found is None:
            continue
        feed_id = _feed_id(check, value_of(found, "id"), f"{path}.id", id_lines)
        name = _name(check, value_of(found, "name"), f"{path}.name", feed_id or "")
        url = _feed_url(check, value_of(found, "url"), f"{path}.url", settings, url_lines)
        interval = None
        if "interval" in found:
            interval = check.duration(found["interval"].value, f"{path}.interval", 60, 7 * DAY)
        tags = _tags(check, value_of(found, "tags"), f"{path}.tags")
        full_text = None
        if "full_text" in found:
            full_text = check.boolean(found["full_text"].value, f"{path}.full_text")
        interval_ok = "interval" not in found or interval is not None
        full_text_ok = "full_text" not in found or full_text is not None
        page_node = value_of(found, "page")
        page = None if page_node is None else read_page(check, page_node, f"{path}.page")
        page_ok = "page" not in found or page is not None
        fields_ok = interval_ok and full_text_ok and page_ok
        if feed_id and name and url and tags is not None and fields_ok:
            feeds.append(Feed(feed_id, name, url, interval, tags, full_text, page))
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


def read_channels(
    check: Checker, node: YNode | None, topic_ids: set[str], feed_ids: set[str]
) -> tuple[Channel, ...]:
    items = () if node is None else check.items(node, "channels", "channels")
    channels: list[Channel] = []
    for index, item in enumerate(items or ()):
        path = f"channels[{index}]"
        found = check.fields(item, path, CHANNEL_KEYS, ("chat",))
        if found is None:
            continue
        chat = _chat(check, value_of(found, "chat"), f"{path}.chat")
        topics = _refs(check, value_of(found, "topics"), f"{path}.topics", "topic", topic_ids)
        feeds = _refs(check, value_of(found, "feeds"), f"{path}.feeds", "feed", feed_ids)
        options = _channel_options(check, found, path, topic_ids)
        timing = {
            key: _timing(check, found[key].value, f"{path}.{key}", key)
            for key in ("digest", "quiet", "timezone")
            if key in found
        }
        valid = all(v is not False for v in (topics, feeds, *timing.values()))
        if chat is not None and valid and options is not None:
            channels.append(Channel(chat, topics, feeds, **options, **timing))  # type: ignore[arg-type]
    return tuple(channels)


CHANNEL_KEYS = (
    "chat",
    "topics",
    "feeds",
    "language",
    "thread",
    "threads",
    "preview",
    "silent",
    "digest",
    "quiet",
    "timezone",
)
MAX_THREAD_ID = 2**31 - 1


def _channel_options(
    check: Checker, found: dict[str, YEntry], path: str, topic_ids: set[str]
) -> dict[str, object] | None:
    """language, thread, threads, preview and silent of one channel; None if one is wrong."""
    options: dict[str, object] = {}
    wrong = False
    for key in ("language", "thread", "threads", "preview", "silent"):
        node = value_of(found, key)
        if node is None:
            continue
        where = f"{path}.{key}"
        value: object
        if key == "language":
            word = node.value if isinstance(node, YScalar) else None
            value = word if word in LANGUAGES else None
            if value is None:
                check.add(node.line, where, f"must be one of {', '.join(LANGUAGES)}")
        elif key == "thread":
            value = check.integer(node, where, 1, MAX_THREAD_ID)
        elif key == "threads":
            value = _threads(check, node, where, topic_ids)
        else:
            value = check.boolean(node, where)
        if value is None:
            wrong = True
        else:
            options[key] = value
    return None if wrong else options


def _threads(
    check: Checker, node: YNode, path: str, topic_ids: set[str]
) -> tuple[tuple[str, int], ...] | None:
    """``{topic id: forum topic id}``: where each topic's alerts go in one forum group."""
    if not isinstance(node, YMap) or not node.entries:
        check.add(node.line, path, "must map topic ids to forum topic ids, e.g. {caesar: 42}")
        return None
    pairs: list[tuple[str, int]] = []
    for entry in node.entries:
        where = f"{path}.{entry.key}"
        if entry.key not in topic_ids:
            close = _closest(entry.key, topic_ids)
            hint = f"; did you mean `{close}`?" if close else ""
            check.add(entry.key_line, where, f"unknown topic `{entry.key}`{hint}")
            continue
        thread = check.integer(entry.value, where, 1, MAX_THREAD_ID)
        if thread is not None:
            pairs.append((entry.key, thread))
    return tuple(pairs) if len(pairs) == len(node.entries) else None


_PARSERS = {"digest": parse_digest, "quiet": parse_quiet, "timezone": parse_timezone}


def _timing(check: Checker, node: YNode, path: str, key: str) -> object:
    """A channel's digest, quiet hours or time zone; False when wrong (reported)."""
    value = node.value if isinstance(node, YScalar) else None
    if value is False and key != "timezone":
        return None  # YAML 1.1 reads an unquoted `off` as false
    if not isinstance(value, str):
        check.add(node.line, path, f"{key} must be a string (quote it)")
        return False
    try:
        return _PARSERS[key](value)
    except ValueError as exc:
        check.add(node.line, path, str(exc))
        return False


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
