"""Whether two statements from different sources are the same statement (pure).

A statement is compared as the set of its 5-word shingles over the NORMALIZED words of its title
and text (:mod:`bot.match.normalize`), each shingle hashed with CRC-32 (stable across processes,
unlike ``hash``). Two statements are copies when at least :data:`THRESHOLD` of the shorter one's
shingles are in the other (the overlap coefficient: a republisher adds an introduction or a
credit line, or cuts the last paragraph, which Jaccard similarity punishes) once
**boilerplate** is set aside: shingles found in two or more earlier statements of either source
(a spokesperson's template, a press office footer). Without that,
two different statements wrapped in the same long template look alike; with it they are compared
on what they actually say. Statements with fewer than :data:`MIN_SHINGLES` shingles left are
never called copies (too little text to tell).

The threshold is tuned on the labelled set in ``tests/data_copies.py`` (republished releases
with new headers, footers and small edits; template pairs that must not merge); the test
reports precision and recall. Statements in different languages share no shingles, so "same
language" needs no separate check. Candidates are found through :func:`sample` — about one
shingle in four, by hash — which the store indexes.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable

from bot.match.normalize import normalize

__all__ = [
    "MIN_SHINGLES",
    "THRESHOLD",
    "boilerplate",
    "sample",
    "shingles",
    "similarity",
]

SHINGLE_WORDS = 5
MIN_SHINGLES = 12
THRESHOLD = 0.8
SAMPLE_MOD = 4
_WORD = re.compile(r"[^\W_]+")


def shingles(text: str) -> frozenset[int]:
    """The hashed 5-word shingles of a text's normalized words."""
    words = _WORD.findall(normalize(text))
    if len(words) < SHINGLE_WORDS:
        return frozenset()
    return frozenset(
        zlib.crc32(" ".join(words[i : i + SHINGLE_WORDS]).encode())
        for i in range(len(words) - SHINGLE_WORDS + 1)
    )


def sample(hashes: Iterable[int]) -> frozenset[int]:
    """The shingles indexed for finding candidates (one in SAMPLE_MOD, chosen by hash)."""
    return frozenset(h for h in hashes if h % SAMPLE_MOD == 0)


def boilerplate(others: Iterable[frozenset[int]], min_count: int = 2) -> frozenset[int]:
    """Shingles found in at least ``min_count`` of a source's other statements."""
    counts: Counter[int] = Counter()
    for hashes in others:
        counts.update(hashes)
    return frozenset(h for h, n in counts.items() if n >= min_count)


def similarity(a: frozenset[int], b: frozenset[int], common: frozenset[int]) -> float:
    """The share of the smaller shingle set found in the other, boilerplate aside (0 if short)."""
    left, right = a - common, b - common
    if len(left) < MIN_SHINGLES or len(right) < MIN_SHINGLES:
        return 0.0
    return len(left & right) / min(len(left), len(right))
