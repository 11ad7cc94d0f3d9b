"""Reading typed values out of the YAML tree, each failure recorded as a located problem.

A ``Checker`` collects problems instead of raising, so one run of `vigil check` reports every
mistake in the file, each as ``feeds.yaml:LINE: key.path: what is wrong``; a method returns
None for a value it refused, and the caller carries on with the next key.
"""

from __future__ import annotations

import difflib

from bot.config.durations import format_duration, format_size, parse_duration, parse_size
from bot.config.yamltree import Problem, YEntry, YMap, YNode, YScalar, YSeq, describe, quote


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


def value_of(found: dict[str, YEntry] | None, key: str) -> YNode | None:
    """The value under ``key`` of a mapping read by :meth:`Checker.fields`, or None."""
    entry = None if found is None else found.get(key)
    return None if entry is None else entry.value
