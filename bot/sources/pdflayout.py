"""PDF page text made into running text: page furniture dropped, broken words joined.

Pure functions over the text of each page, one line per text line. Rules:

- **Running headers and footers.** The first and last :data:`EDGE_LINES` lines of each page are
  candidates. A candidate whose shape (digits as ``#``, case and spaces folded) appears at the
  edge of at least half the pages (and on two pages at least) is furniture; so is a line that is
  only a page number (``3``, ``- 3 -``, ``Page 3 of 10``, ``3/10``, ``صفحة ٣``). Dropping them is
  what lets a phrase that crosses a page match.
- **Pages** are joined with a form feed (``\\f``): it is whitespace to the matcher, so a phrase
  crosses it, and it tells `vigil match` which page a hit is on.
- **Hyphens at a line end** (see :func:`join_hyphenated`): a word the layout broke
  (``Conven-⏎tion``) is joined; a real hyphen (``al-⏎Assad``, ``Caesar-⏎wet``) stays, and the
  line break goes. The document itself is the dictionary: a joined form written whole elsewhere
  in it means "join", a hyphenated form or (after a capitalised first part) a second part written
  alone elsewhere means "keep". Without evidence: a capital, digit or all-capitals part means a
  real hyphen, a common compound prefix or suffix means a real hyphen, anything else is joined.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["EDGE_LINES", "join_hyphenated", "join_pages", "page_of"]

EDGE_LINES = 2
PAGE_BREAK = "\f"

_PAGE_NUMBER = re.compile(
    r"^[\s\-–—\[\](]*(?:(?:page|p\.|pagina|seite|pág\.?|صفحة)\s*)?\d+"
    r"(?:\s*(?:/|of|de|van|sur|von|من)\s*\d+)?[\s\-–—\[\])]*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_WORD_BEFORE = re.compile(r"(\w+)-$")
_WORD_AFTER = re.compile(r"^(\w+)")
_WORDS = re.compile(r"\w+(?:-\w+)*")
_PREFIXES = frozenset(
    [
        "anti",
        "non",
        "co",
        "ex",
        "self",
        "post",
        "pre",
        "pro",
        "well",
        "vice",
        "semi",
        "multi",
        "cross",
        "counter",
        "ultra",
        "half",
        "all",
        "so",
        "quasi",
        "pseudo",
        "mid",
        "neo",
        "socio",
    ]
)
_SUFFIXES = frozenset(
    [
        "up",
        "based",
        "led",
        "wide",
        "free",
        "related",
        "like",
        "owned",
        "run",
        "made",
        "term",
        "level",
        "scale",
        "day",
        "year",
        "old",
        "making",
        "building",
        "keeping",
    ]
)


def _shape(line: str) -> str:
    return _SPACES.sub(" ", _DIGITS.sub("#", line)).strip().casefold()


def _is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line.strip()))


def _furniture(pages: Sequence[list[str]]) -> set[str]:
    """Shapes of the lines that repeat at page edges (headers, footers)."""
    counts: Counter[str] = Counter()
    for lines in pages:
        edges = {_shape(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}
        counts.update(shape for shape in edges if shape)
    needed = max(2, (len(pages) + 1) // 2)
    return {shape for shape, count in counts.items() if count >= needed}


def _strip_edges(lines: list[str], furniture: set[str]) -> list[str]:
    def drop(line: str) -> bool:
        return _is_page_number(line) or _shape(line) in furniture

    start, end = 0, len(lines)
    while start < min(end, EDGE_LINES) and drop(lines[start]):
        start += 1
    while end > max(start, len(lines) - EDGE_LINES) and drop(lines[end - 1]):
        end -= 1
    return lines[start:end]


def join_pages(page_texts: Sequence[str]) -> str:
    """The running text of a document from the text of each page (see the module rules)."""
    pages = [[ln.strip() for ln in text.splitlines() if ln.strip()] for text in page_texts]
    furniture = _furniture(pages) if len(pages) > 1 else set()
    kept = [_strip_edges(lines, furniture) for lines in pages]
    lexicon = _lexicon(kept)
    out: list[str] = []
    for page_index, lines in enumerate(kept):
        for line_index, line in enumerate(lines):
            if out and out[-1].endswith("-") and _WORD_BEFORE.search(out[-1]):
                joined = join_hyphenated(out[-1], line, lexicon)
                if joined is not None:
                    out[-1] = joined
                    continue
            separator = PAGE_BREAK if line_index == 0 and page_index and out else "\n"
            out.append(separator + line if out else line)
    return "".join(out).strip()


def _lexicon(pages: Sequence[list[str]]) -> Counter[str]:
    words: Counter[str] = Counter()
    for lines in pages:
        for line in lines:
            words.update(word.casefold() for word in _WORDS.findall(line))
    return words


def join_hyphenated(line: str, following: str, lexicon: Counter[str]) -> str | None:
    """``line`` (ending in ``word-``) and ``following`` as one line, or None when ``following``
    does not start with a word. The hyphen goes when the layout put it there, stays when real.
    """
    before = _WORD_BEFORE.search(line)
    after = _WORD_AFTER.match(following)
    if before is None or after is None:
        return None
    first, second = before.group(1), after.group(1)
    if _real_hyphen(first, second, lexicon):
        return line + following
    return line[:-1] + following


def _real_hyphen(first: str, second: str, lexicon: Counter[str]) -> bool:
    whole = (first + second).casefold()
    hyphenated = f"{first}-{second}".casefold()
    if lexicon[hyphenated]:
        return True
    if lexicon[whole]:
        return False
    if not second[0].isalpha() or second[0].isupper() or first.isdigit():
        return True
    if len(first) > 1 and first.isupper():
        return True  # an acronym: UN-rapporteur, EU-wide
    if first.casefold() in _PREFIXES or second.casefold() in _SUFFIXES:
        return True
    # A capitalised first part with a second part the document writes alone (besides here): a
    # compound (Caesar-wet, Assad-regime), not a broken word.
    return first[0].isupper() and len(second) >= 3 and lexicon[second.casefold()] > 1


def page_of(text: str, offset: int) -> int:
    """The 1-based page of a character offset in a text made by :func:`join_pages`."""
    return text.count(PAGE_BREAK, 0, max(0, offset)) + 1
