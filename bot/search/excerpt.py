"""Where the searched words are in a statement, shown in the text the reader sees.

The index holds normalized text (``évoqué`` is stored as ``evoque``), so FTS5's own
``highlight()`` and ``snippet()`` would show the normalized form. Instead the words are found
again here in the normalized text, with the grammar's rules (whole words; a phrase's words in
order with only non-word characters between them; the last word a prefix for ``*``; Arabic
prefixes on the first word), and each span is traced back to the ORIGINAL characters with
:func:`bot.match.normalize.normalize_with_map`. Pure: strings in, marked pieces out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.match.normalize import normalize_with_map
from bot.search.query import Term
from bot.search.tokens import BREAK

__all__ = ["Piece", "excerpt", "find_spans", "mark", "to_html", "to_marked_text"]

EXCERPT_CHARS = 220
_BEFORE = 60  # characters of context kept before the first match
_GAP = r"[\W_]+"
_END = r"(?![^\W_])"
_START = r"(?<![^\W_])"


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of original text, marked when it is (part of) a matched word or phrase."""

    text: str
    marked: bool = False


def _pattern(terms: Sequence[Term]) -> re.Pattern[str] | None:
    alternatives: list[str] = []
    for term in terms:
        for words in term.forms():
            body = _GAP.join(re.escape(w) for w in words if w != BREAK)
            tail = r"[^\W_]*" if term.prefix else ""
            alternatives.append(_START + body + tail + _END)
    if not alternatives:
        return None
    # Longest first, so a phrase wins over a word it starts with.
    alternatives.sort(key=len, reverse=True)
    return re.compile("|".join(alternatives))


def find_spans(text: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Spans of ``text`` (original offsets) where a term occurs, in order, not overlapping."""
    pattern = _pattern(terms)
    if pattern is None or not text:
        return []
    normalized, origin = normalize_with_map(text)
    spans: list[tuple[int, int]] = []
    for found in pattern.finditer(normalized):
        if found.end() == found.start():
            continue
        start = origin[found.start()]
        end = origin[found.end() - 1] + 1
        if spans and start < spans[-1][1]:
            continue
        spans.append((start, end))
    return spans


def mark(text: str, spans: Sequence[tuple[int, int]]) -> list[Piece]:
    """Cuts text into pieces, the spans marked."""
    pieces: list[Piece] = []
    position = 0
    for start, end in spans:
        if start > position:
            pieces.append(Piece(text[position:start]))
        pieces.append(Piece(text[start:end], True))
        position = end
    if position < len(text):
        pieces.append(Piece(text[position:]))
    return pieces


def _cut_start(text: str, first: int) -> int:
    """Where an excerpt starts: a little before the first match, at a word boundary."""
    if first <= _BEFORE:
        return 0
    start = first - _BEFORE
    space = text.find(" ", start, first)
    return space + 1 if space != -1 else start


def excerpt(text: str, terms: Sequence[Term], limit: int = EXCERPT_CHARS) -> list[Piece]:
    """About ``limit`` characters of ``text`` around its first match, the matches marked.

    Line breaks and runs of spaces become one space; ``…`` shows where text was cut. With no
    match the excerpt is the beginning of the text.
    """
    flat = " ".join(text.split())
    spans = find_spans(flat, terms)
    start = _cut_start(flat, spans[0][0]) if spans else 0
    stop = min(len(flat), start + limit)
    if stop < len(flat):
        space = flat.rfind(" ", start, stop)
        if space > start + limit // 2:
            stop = space
    # A match cut by the window's end is shown whole.
    inside = [(max(a, start), b) for a, b in spans if a < stop and b > start]
    if inside and inside[-1][1] > stop:
        stop = inside[-1][1]
    shifted = [(a - start, min(b, stop) - start) for a, b in inside]
    pieces = mark(flat[start:stop], shifted)
    if start > 0:
        pieces.insert(0, Piece("…"))
    if stop < len(flat):
        pieces.append(Piece("…"))
    return pieces


def to_html(pieces: Sequence[Piece]) -> str:
    """Telegram HTML: marked pieces in ``<b>``, everything escaped."""
    return "".join(
        f"<b>{html.escape(p.text)}</b>" if p.marked else html.escape(p.text) for p in pieces
    )


def to_marked_text(pieces: Sequence[Piece], before: str = "**", after: str = "**") -> str:
    """Plain text with marked pieces wrapped (``**word**`` by default, ANSI bold on a tty)."""
    return "".join(before + p.text + after if p.marked else p.text for p in pieces)
