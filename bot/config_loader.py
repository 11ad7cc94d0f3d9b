"""feeds.yaml read into a tree that remembers where every value came from.

The validator in :mod:`bot.config` needs three things plain ``yaml.safe_load`` throws away, so this
module builds its own tree from PyYAML's composed nodes:

- the **line** of every key and value, so each problem reads ``feeds.yaml:LINE: key.path: …``;
- the **source text** of every scalar, because YAML 1.1 turns ``no``, ``on`` and ``010`` into
  ``False``, ``True`` and ``8`` and the "quote it" hint must show what the user actually typed;
- **duplicate keys**, which PyYAML silently resolves by keeping the last one. Each duplicate is
  reported with the lines of both occurrences; the first one is kept for further checks.

It also refuses what a config never needs and an attacker might use:

- **aliases** (``*name``) are refused outright, at their first use. A handful of aliases can
  expand to billions of nodes ("billion laughs"), so counting them bounds nothing; anchors
  without aliases are harmless and allowed;
- **tags** other than the plain YAML ones (``!!python/object``, ``!!binary``, ``!!set``, …);
- keys that are not plain scalars (``? [a, b]``), and nesting deep enough to exhaust the stack.

A text that is not YAML at all stops here with a single problem carrying line and column.

The :class:`Checker` then reads typed values out of the tree (strings, numbers, durations, sizes),
recording a located problem for each wrong one instead of raising, so that one pass reports every
mistake. URL and RE2 pattern checks live here too: they are pure functions of one value.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import re2
import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from bot.durations import format_duration, format_size, parse_duration, parse_size

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
MAX_URL_LENGTH = 2048
# Forms the OS resolver reads as IPv4 although ipaddress does not: 2130706433, 127.1, 0x7f000001.
_ODD_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the config, located as precisely as the YAML allows."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config is unusable; ``problems`` lists every reason, in file order."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class YScalar:
    """A leaf: the value YAML made of it, and the text it was written as."""

    line: int
    value: object
    text: str


@dataclass(frozen=True, slots=True)
class YEntry:
    """A key of a mapping (always its source text) and its value."""

    key: str
    key_line: int
    value: YNode


@dataclass(frozen=True, slots=True)
class YMap:
    """A mapping, its entries in file order with duplicates removed."""

    line: int
    entries: tuple[YEntry, ...]

    def get(self, key: str) -> YEntry | None:
        """The entry for ``key``, or None when the mapping does not have it."""
        return next((e for e in self.entries if e.key == key), None)


@dataclass(frozen=True, slots=True)
class YSeq:
    """A sequence, its items in file order."""

    line: int
    items: tuple[YNode, ...]


YNode = YScalar | YMap | YSeq


class _AliasRefusedError(Exception):
    """Raised at the first node met twice (an alias), so an alias bomb is never expanded."""


# libyaml composes about ten times faster than pure Python, which keeps a 10 000-feed file
# loadable in a couple of seconds; both compose aliases into shared nodes, never copies.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _first_alias_line(text: str) -> int | None:
    """The line of the first alias, found by re-reading the events (only on the error path)."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, AliasEvent) and event.start_mark is not None:
            return int(event.start_mark.line) + 1
    return None


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _TreeBuilder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def problem(self, line: int, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def build(self, node: Node, path: str) -> YNode:
        if id(node) in self.seen:
            raise _AliasRefusedError
        self.seen.add(id(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _YAML + "seq":
                self.problem(_line(node), path, f"unsupported YAML tag {node.tag}")
            items = tuple(self.build(child, f"{path}[{i}]") for i, child in enumerate(node.value))
            return YSeq(_line(node), items)
        assert isinstance(node, MappingNode)
        return self.mapping(node, path)

    def scalar(self, node: ScalarNode, path: str) -> YScalar:
        text = str(node.value)
        if node.tag not in _SCALAR_TAGS:
            self.problem(_line(node), path, f"unsupported YAML tag {node.tag}")
            return YScalar(_line(node), text, text)
        try:
            value: Any = self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            # An out-of-range timestamp such as 2024-13-45 fails in the constructor.
            self.problem(_line(node), path, f"cannot read {text!r}: {exc}")
            value = text
        return YScalar(_line(node), value, text)

    def mapping(self, node: MappingNode, path: str) -> YMap:
        if node.tag != _YAML + "map":
            self.problem(_line(node), path, f"unsupported YAML tag {node.tag}")
        entries: list[YEntry] = []
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(_line(key_node), path, "keys must be plain text, not lists or maps")
                continue
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in first_line:
                self.problem(
                    _line(key_node),
                    child,
                    f"duplicate key `{key}` (first on line {first_line[key]}); "
                    "YAML would silently keep only the last one",
                )
                continue
            first_line[key] = _line(key_node)
            entries.append(YEntry(key, _line(key_node), self.build(value_node, child)))
        return YMap(_line(node), tuple(entries))


def load_tree(text: str, filename: str = "feeds.yaml") -> tuple[YNode | None, list[Problem]]:
    """The located tree of a YAML text (None for an empty document) and the problems found.

    Raises ConfigError when the text is not YAML that can be read at all; problems that leave the
    tree usable (duplicate keys, odd tags) are returned so validation can report them all at once.
    """
    file = os.path.basename(filename) or filename
    try:
        loader = _Loader(text)
    except ReaderError as exc:
        raise ConfigError((_reader_problem(file, text, exc),)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        builder = _TreeBuilder(loader, file)
        tree = builder.build(node, "")
    except _AliasRefusedError:
        message = "YAML aliases (*name) are not supported: write the value out in full"
        raise ConfigError((Problem(file, _first_alias_line(text), "", message),)) from None
    except ReaderError as exc:
        raise ConfigError((_reader_problem(file, text, exc),)) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError((_syntax_problem(file, exc),)) from None
    except yaml.YAMLError as exc:
        raise ConfigError((Problem(file, None, "", f"YAML error: {exc}"),)) from None
    except RecursionError:
        message = "the YAML is nested too deeply to be a config"
        raise ConfigError((Problem(file, None, "", message),)) from None
    finally:
        loader.dispose()
    return tree, builder.problems


def _reader_problem(file: str, text: str, exc: ReaderError) -> Problem:
    line = text[: exc.position].count("\n") + 1
    return Problem(file, line, "", f"character {exc.character!r} is not allowed in YAML")


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    if mark is None:
        return Problem(file, None, "", f"YAML syntax error: {what}")
    return Problem(
        file, mark.line + 1, "", f"YAML syntax error at column {mark.column + 1}: {what}"
    )


def describe(node: YNode) -> str:
    """How a value reads to YAML, for messages such as "must be a list, not …"."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{node.text!r}, which YAML reads as {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {node.text}"
    if isinstance(value, str):
        return repr(value)
    return f"{node.text!r}, which YAML reads as a {type(value).__name__}"


def quote(text: str) -> str:
    """``text`` as a single-quoted YAML scalar, the form the "quote it" hint suggests."""
    return "'" + text.replace("'", "''") + "'"


class Checker:
    """Reads typed values out of the tree, collecting a problem for each one that is wrong.

    Every reader returns None for a wrong value (after recording why), so a validator can go on
    and report everything in one pass instead of stopping at the first mistake.
    """

    def __init__(self, file: str, problems: list[Problem] | None = None) -> None:
        self.file = file
        self.problems: list[Problem] = [] if problems is None else problems

    def add(self, line: int | None, path: str, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(self.file, line, path, message))

    def fields(
        self,
        node: YNode | None,
        path: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
    ) -> dict[str, YEntry] | None:
        """The entries of a mapping, refusing unknown keys (with a did-you-mean) and missing ones.

        An absent or empty (null) section reads as an empty mapping, so ``settings:`` with
        nothing under it is the same as leaving it out.
        """
        if node is None or (isinstance(node, YScalar) and node.value is None):
            entries: tuple[YEntry, ...] = ()
            line = None if node is None else node.line
        elif isinstance(node, YMap):
            entries, line = node.entries, node.line
        else:
            self.add(node.line, path, f"must be a mapping of keys to values, not {describe(node)}")
            return None
        found: dict[str, YEntry] = {}
        for entry in entries:
            child = f"{path}.{entry.key}" if path else entry.key
            if entry.key in allowed:
                found[entry.key] = entry
                continue
            close = difflib.get_close_matches(entry.key, allowed, n=1, cutoff=0.6)
            hint = (
                f"did you mean `{close[0]}`?" if close else f"expected one of: {', '.join(allowed)}"
            )
            self.add(entry.key_line, child, f"unknown key `{entry.key}`; {hint}")
        for key in required:
            if key not in found:
                child = f"{path}.{key}" if path else key
                self.add(line, child, f"`{key}` is required")
        return found

    def text(self, node: YNode, path: str, what: str) -> str | None:
        """A string; a scalar YAML read as something else gets a "quote it" hint."""
        if not isinstance(node, YScalar):
            self.add(node.line, path, f"{what} must be a string, not {describe(node)}")
        elif isinstance(node.value, str):
            return node.value
        elif node.value is None:
            self.add(node.line, path, f"{what} is empty")
        else:
            self.add(node.line, path, f"{what} must be a string (quote it: {quote(node.text)})")
        return None

    def items(self, node: YNode, path: str, what: str) -> tuple[YNode, ...] | None:
        """The items of a list; null reads as an empty list."""
        if isinstance(node, YSeq):
            return node.items
        if isinstance(node, YScalar) and node.value is None:
            return ()
        self.add(node.line, path, f"{what} must be a list, not {describe(node)}")
        return None

    def integer(self, node: YNode, path: str, low: int, high: int) -> int | None:
        """A whole number within bounds (booleans are not numbers here)."""
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(node.line, path, f"must be a whole number, not {describe(node)}")
            return None
        if not low <= value <= high:
            self.add(node.line, path, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def number(self, node: YNode, path: str, low: float, high: float) -> float | None:
        """A number within bounds (booleans are not numbers here)."""
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.add(node.line, path, f"must be a number, not {describe(node)}")
            return None
        if not low <= value <= high:
            self.add(node.line, path, f"must be between {low:g} and {high:g}, got {value:g}")
            return None
        return float(value)

    def boolean(self, node: YNode, path: str) -> bool | None:
        """true or false (YAML's yes/no/on/off count, since that is what they mean here)."""
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        self.add(node.line, path, f"must be true or false, not {describe(node)}")
        return None

    def duration(self, node: YNode, path: str, low: float, high: float) -> float | None:
        """Seconds within bounds, read from the source text (YAML 1.1 reads 1:30 as 90)."""
        # The source text, not YAML's reading of it: 1:30 is sexagesimal 90 to YAML 1.1.
        if not isinstance(node, YScalar) or node.value is None or isinstance(node.value, bool):
            self.add(node.line, path, "must be a duration such as 90s, 10m, 2h or 1d")
            return None
        try:
            seconds = parse_duration(node.text)
        except ValueError as exc:
            self.add(node.line, path, str(exc))
            return None
        if not low <= seconds <= high:
            bounds = f"{format_duration(low)} and {format_duration(high)}"
            self.add(node.line, path, f"must be between {bounds}, got {node.text}")
            return None
        return seconds

    def size(self, node: YNode, path: str, low: int, high: int) -> int | None:
        """Bytes within bounds."""
        if not isinstance(node, YScalar) or node.value is None or isinstance(node.value, bool):
            self.add(node.line, path, "must be a size such as 512KB or 10MB")
            return None
        try:
            size = parse_size(node.text)
        except ValueError as exc:
            self.add(node.line, path, str(exc))
            return None
        if not low <= size <= high:
            bounds = f"{format_size(low)} and {format_size(high)}"
            self.add(node.line, path, f"must be between {bounds}, got {node.text}")
            return None
        return size


def split_url(url: str) -> tuple[SplitResult | None, str | None]:
    """The URL's parts with an ASCII host, or the reason it cannot be fetched safely."""
    if len(url) > MAX_URL_LENGTH:
        return None, f"URL is longer than {MAX_URL_LENGTH} characters"
    if any(char.isspace() or not char.isprintable() for char in url):
        return None, "URL contains spaces or control characters (percent-encode them: %20)"
    if "://" not in url:
        return None, "URL needs a scheme: write https://…"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"only http and https URLs are allowed, not {parts.scheme}:"
    try:
        port = parts.port
    except ValueError:
        return None, "URL has an invalid port"
    if parts.username is not None or parts.password is not None:
        return None, "credentials in the URL are not allowed: they would end up in logs"
    host = parts.hostname
    if not host:
        return None, "URL has no host"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None, "the host is not a valid international domain name"
        netloc = host if port is None else f"{host}:{port}"
        parts = parts._replace(netloc=netloc)
    return parts, None


def private_host(host: str) -> str | None:
    """Why a host literal is not a public destination, or None when it may be."""
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is not a public host (loopback)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _ODD_NUMERIC_HOST.fullmatch(host):
            return f"{host} is a numeric host that resolvers may read as any IP address"
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("special-purpose", not address.is_global),
    ):
        if flag:
            return f"{host} is not a public address ({kind})"
    return None


def regex_problem(pattern: str) -> str | None:
    """Why RE2 will not take the pattern, in words a config author can act on; None if fine."""
    if not pattern.strip():
        return "empty pattern: it would match every item"
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        # RE2 says "invalid escape sequence: \1" or "invalid perl operator: (?=", which does not
        # tell a config author that the feature itself is what is refused, nor why.
        if re.search(r"\\[1-9]|\(\?P=|\\k<", pattern):
            return "backreferences are not supported (RE2 guarantees linear-time matching)"
        if re.search(r"\(\?<?[=!]", pattern):
            return (
                "lookahead and lookbehind are not supported (RE2 guarantees linear-time matching)"
            )
        detail = exc.args[0] if exc.args else exc
        text = detail.decode() if isinstance(detail, bytes) else str(detail)
        return f"invalid regular expression: {text}"
    if compiled.search("") is not None:
        return "the pattern matches empty text, so it would match every item"
    return None
