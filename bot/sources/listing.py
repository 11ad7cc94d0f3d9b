"""A listing page's rows made into items, with the selectors of a ``page:`` block.

Rules:
- Rows come from ``items``; in each row the link is ``link`` (an element, or its first
  ``a[href]``), else the row's first link that :class:`bot.sources.links.LinkJudge` accepts.
- Title: ``title``, else the link's text, else its ``title`` attribute or an image's ``alt``.
  Date: ``date`` (``selector@attribute`` or the text), else the row's first ``<time>``; read
  by :func:`bot.sources.dates.parse_date`, absent rather than invented. Summary only when
  ``summary`` is set.
- Identity is the canonical link (:func:`bot.sources.identity.canonical_link`): never the
  row's position or content, so reordering, a featured copy, an edited title or a row that
  drops off and returns never looks new. A link seen twice in one page is one item.
- Bounds: at most MAX_ROWS rows are read (the rest are counted in a warning), text fields are
  capped, and dropped links are reported up to MAX_DROPPED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.model import Item, PageSpec
from bot.sources.dates import parse_date
from bot.sources.htmldoc import HtmlDoc
from bot.sources.identity import canonical_link, cap_key
from bot.sources.links import LinkJudge
from bot.sources.selectors import compile_selector
from bot.sources.text import clean_text

MAX_ROWS = 2_000
MAX_DROPPED = 200
MAX_TITLE = 1_000
MAX_SUMMARY = 20_000


@dataclass
class Listing:
    """What reading a listing found: items, links refused and why, and notes."""

    items: list[Item] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: int = 0
    selector: str | None = None
    _keys: set[str] = field(default_factory=set)

    def drop(self, link: str, why: str) -> None:
        if len(self.dropped) < MAX_DROPPED:
            self.dropped.append((link[:300], why))

    def add(self, item: Item) -> None:
        if item.key not in self._keys:
            self._keys.add(item.key)
            self.items.append(item)


def read_rows(doc: HtmlDoc, spec: PageSpec, judge: LinkJudge, now: datetime) -> Listing:
    """Items from the rows the ``items`` selector picks (manual mode)."""
    assert spec.items is not None
    rows = [row for row in compile_selector(spec.items).find(doc.root) if _is_element(row)]
    listing = Listing(rows=len(rows))
    if len(rows) > MAX_ROWS:
        listing.warnings.append(f"{len(rows)} rows; only the first {MAX_ROWS} were read")
        rows = rows[:MAX_ROWS]
    for row in rows:
        element, absolute = _row_link(row, spec, judge, listing)
        if element is None or absolute is None:
            continue
        listing.add(make_item(row, element, absolute, spec, now))
    return listing


def _row_link(
    row: Any, spec: PageSpec, judge: LinkJudge, listing: Listing
) -> tuple[Any, str | None]:
    if spec.link:
        candidates = [
            a
            for hit in compile_selector(spec.link).find(row)
            if _is_element(hit)
            for a in ([hit] if hit.get("href") is not None else hit.iterfind(".//a[@href]"))
        ][:1]
    else:
        candidates = [row] if row.tag == "a" and row.get("href") else []
        candidates += list(row.iterfind(".//a[@href]"))
    last_why = "no link in the row"
    for element in candidates:
        absolute, why = judge.judge(element)
        if absolute is not None:
            return element, absolute
        listing.drop(element.get("href") or "", why or "refused")
        last_why = why or last_why
    if not candidates:
        listing.drop(clean_text(row.text_content())[:80], last_why)
    return None, None


def make_item(
    row: Any, link: Any, absolute: str, spec: PageSpec, now: datetime, words: str | None = None
) -> Item:
    """One entry: identity from the link, the rest from the row.

    ``words`` is the link's :func:`link_text` when the caller has it already.
    """
    title = ""
    if spec.title:
        title = clean_text(compile_selector(spec.title).first_value(row) or "")
    if not title:
        title = link_text(link) if words is None else words
    date_text = compile_selector(spec.date).first_value(row) if spec.date else None
    if date_text is None and not spec.date:
        date_text = first_time(row)
    summary = ""
    if spec.summary:
        summary = clean_text(compile_selector(spec.summary).first_value(row) or "")
    return Item(
        key=cap_key(canonical_link(absolute)),
        title=title[:MAX_TITLE],
        link=absolute,
        summary=summary[:MAX_SUMMARY],
        content="",
        published=parse_date(date_text, now),
    )


def link_text(link: Any) -> str:
    """A link's words: its text, else its title attribute, else an image's alt text."""
    text = clean_text(link.text_content())
    if text:
        return text
    text = clean_text(link.get("title") or "")
    if text:
        return text
    for image in link.iterfind(".//img[@alt]"):
        return clean_text(image.get("alt") or "")
    return ""


def first_time(row: Any) -> str | None:
    """The row's first ``<time>``: its datetime attribute, else its text."""
    for node in row.iter("time"):
        return str(node.get("datetime") or node.text_content())
    return None


def _is_element(node: Any) -> bool:
    return isinstance(getattr(node, "tag", None), str)
