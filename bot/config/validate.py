"""feeds.yaml, validated once into one frozen :class:`Config`.

Every problem is collected and reported at once as ``feeds.yaml:LINE: key.path: what is wrong``
(LINE is the value's line for a bad value and the key's line for an unknown key). Rules:

- The file is at most 5 MB of UTF-8; it holds one YAML mapping. Only ``feeds`` and ``topics`` are
  required; ``settings``, ``telegram`` and ``channels`` are optional. Unknown keys are refused at
  every level, with a did-you-mean. Duplicate keys, aliases and exotic tags are refused
  (:mod:`bot.config.yamltree` says why).
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
  jitter 0..0.5 of the interval. timezone is an IANA name (used only to display times). keep
  (how long the archive keeps statements searchable) 1d..3650d.
- Full text: ``full_text`` true/false (unset: feeds off, page sources on), ``full_text_per_poll``
  1..100, ``full_text_concurrency`` 1..64, ``full_text_pdf_pages`` 1..2000, ``full_text_host_gap``
  0..300 seconds, ``full_text_give_up`` 1h..7d, ``full_text_max_html``/``_pdf`` 1KB..200MB. A
  feed's own ``full_text`` overrides the default.
- ``first_run`` is ``baseline`` (remember a new feed's items, send none), ``all`` (send them), or
  ``latest: N`` (send the newest N, 1..100), written ``first_run: {latest: 3}`` or, quoted,
  ``first_run: "latest: 3"``.
- Feed URLs are http or https with a host, no spaces, no credentials (they would reach logs).
  International host names are stored in their ASCII (punycode) form. Unless
  ``allow_private_networks`` is true, loopback, private, link-local and other non-public IP
  literals, ``localhost`` and numeric hosts in odd forms (``2130706433``, ``127.1``) are refused.
  This is only the load-time half: names resolving to such addresses are refused by the fetcher.
- A proxy is an http(s) URL without credentials: the config holds no secrets.
- ``database_url`` is a ``postgresql://`` URL without a password, for the same reason: the
  password comes from ``PGPASSWORD`` or ``~/.pgpass``, or the whole URL from VIGIL_DATABASE_URL.
- Telegram ``admins`` and ``allowlist`` are numeric user ids. A channel's ``chat`` is an
  ``@username`` or a numeric chat id (kept as a string); its ``topics`` and ``feeds`` must name
  existing ids and default to all.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from urllib.parse import urlsplit

from bot.config.checker import Checker, value_of
from bot.config.durations import DAY, HOUR, MINUTE, format_size
from bot.config.entries import read_channels, read_feeds, read_topics
from bot.config.model import Config, FirstRun, Settings, TelegramSettings
from bot.config.urls import split_url
from bot.config.yamltree import (
    ConfigError,
    Problem,
    YMap,
    YNode,
    YScalar,
    load_tree,
)

__all__ = ["load_config", "parse_config"]

MAX_FILE_BYTES = 5 * 1024 * 1024

_LATEST = re.compile(r"latest\s*:?\s*([0-9]+)")


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
    settings = _settings(check, value_of(top, "settings"))
    telegram = _telegram(check, value_of(top, "telegram"))
    topics, topic_ids = read_topics(check, value_of(top, "topics"))
    feeds, feed_ids = read_feeds(check, value_of(top, "feeds"), settings)
    channels = read_channels(check, value_of(top, "channels"), topic_ids, feed_ids)
    if check.problems:
        raise ConfigError(tuple(check.problems))
    return Config(settings, telegram, topics, feeds, channels, filename)


def _too_large(file: str) -> Problem:
    return Problem(file, None, "", f"config is larger than {format_size(MAX_FILE_BYTES)}")


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
            parsed = check.duration(value, path, MINUTE, 7 * DAY)
        elif key == "timeout":
            parsed = check.duration(value, path, 1.0, 5 * MINUTE)
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
        elif key == "database_url":
            parsed = _database_url(check, value, path)
        elif key == "per_host_concurrency":
            parsed = check.integer(value, path, 1, 16)
        elif key == "max_concurrency":
            parsed = check.integer(value, path, 1, 256)
        elif key == "keep":
            parsed = check.duration(value, path, DAY, 3650 * DAY)
        elif key == "jitter":
            parsed = check.number(value, path, 0.0, 0.5)
        elif key.startswith("full_text"):
            parsed = _full_text_setting(check, key, value, path)
        else:
            parsed = _timezone(check, value, path)
        if parsed is not None:
            values[key] = parsed
    return Settings(**values)  # type: ignore[arg-type]


def _full_text_setting(check: Checker, key: str, node: YNode, path: str) -> object:
    if key == "full_text":
        return check.boolean(node, path)
    if key == "full_text_per_poll":
        return check.integer(node, path, 1, 100)
    if key == "full_text_concurrency":
        return check.integer(node, path, 1, 64)
    if key == "full_text_pdf_pages":
        return check.integer(node, path, 1, 2000)
    if key == "full_text_host_gap":
        return check.number(node, path, 0.0, 300.0)
    if key == "full_text_give_up":
        return check.duration(node, path, HOUR, 7 * DAY)
    return check.size(node, path, 1024, 200 * 1024 * 1024)  # full_text_max_html / _pdf


def _first_run(check: Checker, node: YNode, path: str) -> FirstRun | None:
    usage = "must be baseline, all, or latest: N (write `first_run: {latest: 3}`)"
    if isinstance(node, YMap):
        found = check.fields(node, path, ("latest",), ("latest",))
        latest = value_of(found, "latest")
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


def _database_url(check: Checker, node: YNode, path: str) -> str | None:
    url = check.text(node, path, "database_url")
    if url is None:
        return None
    reason = None
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        reason = "database_url must be a postgresql:// URL"
    elif parts.password is not None or "password=" in parts.query:
        reason = (
            "database_url must not hold the password (the config holds no secrets): set "
            "PGPASSWORD, or the whole URL in VIGIL_DATABASE_URL"
        )
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
