"""feeds.yaml read into a tree that remembers where every value came from.

The validator in :mod:`bot.config.validate` needs three things plain ``yaml.safe_load`` throws
away, so this module builds its own tree from PyYAML's composed nodes:

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

import os
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
# Forms the OS resolver reads as IPv4 although ipaddress does not: 2130706433, 127.1, 0x7f000001.


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
