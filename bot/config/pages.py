"""The ``page:`` block of a feed: how an HTML listing page becomes items.

Rules: ``page`` is a mapping of ``items``, ``link``, ``title``, ``date``, ``summary`` and
``link_pattern`` (all optional), or ``auto`` / empty for the automatic mode. ``items: auto``
means the same. Every selector is compiled here with the reader's own compiler
(:func:`bot.sources.selectors.compile_selector`: CSS, or XPath after ``xpath:``, optionally
ending in ``@attribute``), and ``link_pattern`` with RE2, so a config that loads never fails
when the page is read.
"""

from __future__ import annotations

from bot.config.checker import Checker
from bot.config.urls import regex_problem
from bot.config.yamltree import YNode, YScalar
from bot.model import PageSpec
from bot.sources.selectors import SelectorError, compile_selector

PAGE_KEYS = ("items", "link", "title", "date", "summary", "link_pattern")
MAX_SELECTOR_CHARS = 500


def read_page(check: Checker, node: YNode, path: str) -> PageSpec | None:
    """The page spec, or None after recording a problem."""
    if isinstance(node, YScalar) and (node.value is None or node.value == "auto"):
        return PageSpec()
    found = check.fields(node, path, PAGE_KEYS)
    if found is None:
        return None
    values: dict[str, str | None] = {}
    ok = True
    for key, entry in found.items():
        text = check.text(entry.value, f"{path}.{key}", key)
        if text is None:
            ok = False
            continue
        text = text.strip()
        problem = _problem(key, text)
        if problem:
            check.add(entry.value.line, f"{path}.{key}", problem)
            ok = False
            continue
        values[key] = None if key == "items" and text == "auto" else text
    return PageSpec(**values) if ok else None


def _problem(key: str, text: str) -> str | None:
    if not text:
        return f"empty {key}; leave it out to use the default"
    if len(text) > MAX_SELECTOR_CHARS:
        return f"longer than {MAX_SELECTOR_CHARS} characters"
    if key == "link_pattern":
        reason = regex_problem(text)
        return f"pattern {text!r}: {reason}" if reason else None
    if key == "items" and text == "auto":
        return None
    try:
        selector = compile_selector(text)
    except SelectorError as exc:
        return str(exc)
    if key in ("items", "link") and selector.attr:
        return f"`@{selector.attr}` reads a value; {key} must select elements"
    return None
