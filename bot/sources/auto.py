"""Automatic mode: the entries of a listing found without a selector (PAGES.md §4.2).

How: every element holding a same-site link outside navigation
(:class:`bot.sources.links.LinkJudge`) gets a signature path from the root (tags and stable
classes: class names without digits, and not WordPress's per-post ``post-123``/``category-x``,
so posts and the grid lines of a card grid share one). A link's *row* is its highest ancestor
still one-to-one with the link's repeated shape (as many elements share the ancestor's path
as share the link's); rows are grouped by their path. Each row's link is the one in a heading or
titled element, else the one with the longest text. The group with the most headline-like
rows wins (at least two): text of three words and twelve characters, or fifteen characters of
non-Latin script, and not "read more". When most of its links share a first path segment,
rows outside it are dropped as strays.

The winning rows become a CSS selector (tag and shared classes, narrowed by the parent when
needed) that `vigil probe` prints so the user can pin it. Everything is iterative, bounded by
MAX_LINKS links and the parser's nesting limit.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bot.model import PageSpec
from bot.sources.dates import parse_date
from bot.sources.htmldoc import HtmlDoc
from bot.sources.links import LinkJudge
from bot.sources.listing import MAX_ROWS, Listing, first_time, link_text, make_item
from bot.sources.selectors import SelectorError, compile_selector
from bot.sources.text import clean_text

MAX_LINKS = 20_000
MAX_CLIMB = 12
_CSS_CLASS = re.compile(r"-?[A-Za-z_][\w-]*")
_POSITIONAL = frozenset({"odd", "even", "first", "last", "active", "is-active", "current"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_STABLE_CLASS = re.compile(r"[A-Za-z_][A-Za-z_-]*")
_VOLATILE = re.compile(
    r"(?:odd|even|first|last|active|is-active|current|hentry|"
    r"(?:category|tag|format|type|status|post|has|author|sticky|views-row)-.*)"
)
_NOT_HEADLINES = frozenset(
    {
        "read more", "continue reading", "more", "details", "lire la suite", "en savoir plus",
        "lees meer", "meer", "المزيد", "اقرأ المزيد", "التفاصيل", "view all", "see all",
    }
)  # fmt: skip


def find_rows(doc: HtmlDoc, judge: LinkJudge, now: datetime) -> Listing:
    """Items of the repeated entries of the page, with the selector that picks them."""
    listing = Listing()
    candidates = _candidates(doc, judge, listing)
    paths = _paths(candidates)
    shared = _shared(paths)
    groups: dict[int, dict[Any, list[tuple[Any, str]]]] = {}
    for anchor, absolute in candidates:
        row = _row_of(anchor, shared)
        if row is None:
            continue
        # A row is the anchor or one of its ancestors, so its signature path is in ``paths``.
        groups.setdefault(paths[row], {}).setdefault(row, []).append((anchor, absolute))
    best: list[tuple[Any, Any, str, str]] = []
    best_score = 0.0
    texts: dict[Any, str] = {}  # each anchor's link_text, worked out once
    for rows in groups.values():
        chosen = [(row, *_primary(row, links, texts)) for row, links in rows.items()]
        headlines = sum(1 for _, _, _, title in chosen if headline_like(title))
        score = headlines + 0.001 * sum(len(title) for *_, title in chosen) / max(1, len(chosen))
        if headlines >= 2 and score > best_score:
            best, best_score = chosen, score
    best = _drop_strays(best, listing)
    listing.rows = len(best)
    if len(best) > MAX_ROWS:
        listing.warnings.append(f"{len(best)} entries; only the first {MAX_ROWS} were read")
        best = best[:MAX_ROWS]
    spec = PageSpec()
    for row, anchor, absolute, title in best:
        item = make_item(row, anchor, absolute, spec, now, texts[anchor])
        if title and title != item.title:
            item = dataclasses.replace(item, title=title[:1000])
        if item.published is None and first_time(row) is None:
            rest = clean_text(row.text_content()).replace(item.title, " ")[:500]
            item = dataclasses.replace(item, published=parse_date(rest, now))
        listing.add(item)
    if best:
        listing.selector = infer_selector(doc.root, [row for row, *_ in best])
    return listing


def headline_like(text: str) -> bool:
    """Text that reads like an entry's title rather than a menu word or "read more"."""
    words = text.split()
    if text.strip(" .…→»›").lower() in _NOT_HEADLINES:
        return False
    if len(words) >= 3 and len(text) >= 12:
        return True
    return len(text) >= 15 and not text.isascii()


def infer_selector(root: Any, rows: list[Any]) -> str | None:
    """A CSS selector that picks exactly these rows, or the closest one found."""
    wanted = set(rows)
    own = _css(rows)
    parents = list(dict.fromkeys(row.getparent() for row in rows if row.getparent() is not None))
    tries = [own]
    if parents:
        parent = parents[0]
        parent_id = parent.get("id") or ""
        if len(parents) == 1 and _STABLE_CLASS.fullmatch(parent_id):
            tries.append(f"#{parent_id} > {own}")
        tries.append(f"{_css(parents)} > {own}")
    for selector in tries:
        try:
            found = compile_selector(selector).find(root)
        except SelectorError:
            continue
        if set(found) == wanted:
            return selector
    return own  # picks a few more rows, whose links are then refused (off-site, navigation…)


def _candidates(doc: HtmlDoc, judge: LinkJudge, listing: Listing) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    for count, anchor in enumerate(doc.root.iter("a")):
        if count >= MAX_LINKS:
            listing.warnings.append(f"more than {MAX_LINKS} links; the rest were not examined")
            break
        href = anchor.get("href")
        if href is None:
            continue
        absolute, why = judge.judge(anchor, href)
        if absolute is None:
            listing.drop(href, why or "refused")
            continue
        out.append((anchor, absolute))
    return out


def _paths(candidates: list[tuple[Any, str]]) -> dict[Any, int]:
    """The signature path from the root of every element holding a candidate link.

    A path is numbered by (its parent path's number, the element's label): equal numbers are
    equal paths, and comparing numbers is cheaper than hashing tuples as long as the tree is deep.
    """
    paths: dict[Any, int] = {}
    numbers: dict[tuple[int, str], int] = {}
    for anchor, _ in candidates:
        chain = []
        node = anchor
        while node is not None and node not in paths:
            chain.append(node)
            node = node.getparent()
        path = paths[node] if node is not None else -1
        for element in reversed(chain):
            key = (path, _label(element))
            number = numbers.get(key)
            if number is None:
                number = numbers[key] = len(numbers)
            paths[element] = path = number
    return paths


def _shared(paths: dict[Any, int]) -> dict[Any, int]:
    """For every element holding a candidate link: how many holders share its signature path."""
    counts = Counter(paths.values())
    return {element: counts[path] for element, path in paths.items()}


def _row_of(anchor: Any, shared: dict[Any, int]) -> Any:
    """The highest ancestor still one-to-one with the anchor's repeated shape."""
    node = anchor
    count = shared[anchor]
    if count < 2:
        return None
    for _ in range(MAX_CLIMB):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html") or shared.get(parent) != count:
            return node
        node = parent
    return node


def _label(node: Any) -> str:
    return _label_of(str(node.tag), node.get("class") or "")


@functools.lru_cache(maxsize=4096)
def _label_of(tag: str, class_attr: str) -> str:
    """Tag and stable classes; cached by value: a listing repeats the same few class strings."""
    classes = sorted(c for c in class_attr.split() if _stable(c) and len(c) <= 60)
    return ".".join([tag, *classes])


def _stable(name: str) -> bool:
    return bool(_STABLE_CLASS.fullmatch(name)) and not _VOLATILE.fullmatch(name)


def _primary(row: Any, links: list[tuple[Any, str]], texts: dict[Any, str]) -> tuple[Any, str, str]:
    """The row's own link (anchor, URL) and title; ``texts`` caches each anchor's words."""
    for anchor, _ in links:
        if anchor not in texts:
            texts[anchor] = link_text(anchor)

    def rank(pair: tuple[Any, str]) -> tuple[int, int]:
        anchor = pair[0]
        titled = any(
            node.tag in _HEADINGS or "title" in (node.get("class") or "").lower()
            for node in _up_to(anchor, row)
        )
        return (1 if titled else 0, len(texts[anchor]))

    anchor, absolute = links[0] if len(links) == 1 else max(links, key=rank)
    title = texts[anchor]
    if not headline_like(title):
        for heading in row.iter(*_HEADINGS):
            text = clean_text(heading.text_content())
            if text:
                title = text
                break
    return anchor, absolute, title


def _up_to(anchor: Any, row: Any) -> list[Any]:
    nodes = []
    node = anchor
    while node is not None:
        nodes.append(node)
        if node is row:
            break
        node = node.getparent()
    return nodes


def _drop_strays(
    rows: list[tuple[Any, Any, str, str]], listing: Listing
) -> list[tuple[Any, Any, str, str]]:
    """Rows off the group's common first path segment, when most rows share one."""
    if len(rows) < 3:
        return rows
    segments = [_first_segment(absolute) for _, _, absolute, _ in rows]
    head, count = Counter(segments).most_common(1)[0]
    if not head or count < 0.75 * len(rows):
        return rows
    kept = []
    for row, segment in zip(rows, segments, strict=True):
        if segment == head:
            kept.append(row)
        else:
            listing.drop(row[2], f"outside the listing's common path /{head}/")
    return kept


def _first_segment(url: str) -> str:
    path = urlsplit(url).path.strip("/")
    return path.split("/", 1)[0] if "/" in path else ""


def _css(elements: list[Any]) -> str:
    """Tag and the classes every element has (digits allowed here: ``col-md-4`` is shared)."""
    tag = str(elements[0].tag)
    common: frozenset[str] | None = None
    for element in elements:
        classes = _css_classes(element.get("class") or "")
        common = classes if common is None else common & classes
    return tag + "".join(f".{name}" for name in sorted(common or ()))


@functools.lru_cache(maxsize=4096)
def _css_classes(class_attr: str) -> frozenset[str]:
    """The classes of a class attribute a selector may name; cached by value, like labels."""
    return frozenset(
        c
        for c in class_attr.split()
        if _CSS_CLASS.fullmatch(c) and c not in _POSITIONAL and not _VOLATILE.fullmatch(c)
    )
