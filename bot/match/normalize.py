"""The canonical form in which keywords and statement text are compared.

Rules, applied to keywords and text alike, one character at a time (so every normalized character
can be traced back to the character it came from):

- NFKC compatibility folding (ligatures, full-width forms, Arabic presentation forms), then
  ``casefold``;
- diacritics removed: canonical decomposition, then every nonspacing mark (category Mn) dropped,
  so ``é → e`` and ``ö → o``. Arabic letters stay; Arabic hamza/madda carriers decompose to their
  base letter (``أ إ آ → ا``, ``ئ → ي``, ``ؤ → و``), and tashkeel, shadda, tanween, sukun and the
  superscript alef (U+064B–U+065F, U+0670) are nonspacing marks, so they go too;
- Arabic spelling variants: ``ٱ → ا``, ``ة → ه``, ``ى → ي`` (and the Persian ``ی → ي``,
  ``ک → ك``, which Arabic feeds often contain); tatweel (U+0640) removed;
- typographic apostrophes (’ ‘ ʼ ′ ` ´ …) become ``'``; typographic double quotes and guillemets
  become ``"``; every hyphen, dash and minus variant becomes ``-``;
- every whitespace character (NBSP and narrow NBSP included) and the zero-width space become one
  plain space, one for one: runs are not collapsed, so offsets stay simple;
- invisible format characters (soft hyphen, ZWJ, ZWNJ, word joiner, BOM, bidi marks) are removed,
  so a soft hyphen or a joiner inside a word does not split it.

A word is then a run of characters for which ``str.isalnum()`` holds (Unicode ``\\w`` without the
underscore); :mod:`bot.match.rules` builds on that.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["SOFT_SEPARATORS", "normalize", "normalize_char", "normalize_with_map"]

# After normalization these are the only characters that may sit between the words of a phrase.
SOFT_SEPARATORS = " -'\""

_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\u058a\u1806"
_APOSTROPHES = "\u2019\u2018\u201a\u201b\u02bc\u02bb\u2032\u2035\u0060\u00b4\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u2033\u2036\uff02"

_EXPLICIT: dict[str, str] = {
    "\u0671": "\u0627",  # ٱ alef wasla → ا
    "\u0629": "\u0647",  # ة teh marbuta → ه
    "\u0649": "\u064a",  # ى alef maksura → ي
    "\u06cc": "\u064a",  # ی Farsi yeh → ي
    "\u06a9": "\u0643",  # ک keheh → ك
    "\u0640": "",  # tatweel
    "\u200b": " ",  # zero-width space separates words
}
_EXPLICIT.update(dict.fromkeys(_HYPHENS, "-"))
_EXPLICIT.update(dict.fromkeys(_APOSTROPHES, "'"))
_EXPLICIT.update(dict.fromkeys(_DOUBLE_QUOTES, '"'))

# The BMP lookup table; characters above it take the (rare) slow path.
_TABLE_SIZE = 0x10000
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _fold_one(ch: str) -> str:
    """Apply the rules above to one character that the explicit table does not cover."""
    if ch in _EXPLICIT:
        return _EXPLICIT[ch]
    if ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    folded = unicodedata.normalize("NFKC", ch).casefold()
    out: list[str] = []
    for part in unicodedata.normalize("NFD", folded):
        if part in _EXPLICIT:
            out.append(_EXPLICIT[part])
        elif part.isspace():
            out.append(" ")
        elif unicodedata.category(part) not in ("Mn", "Cf"):
            out.append(part)
    return "".join(out)


@functools.cache
def normalize_char(ch: str) -> str:
    """The normalized form of one character (possibly empty or several characters long)."""
    return _fold_one(ch)


@functools.cache
def _bmp_table() -> list[int | str | None]:
    # A list indexed by code point is what makes str.translate fast (a dict costs twice as
    # much per character); built once, on first use, in about 0.1 s.
    table: list[int | str | None] = list(range(_TABLE_SIZE))
    for code in range(_TABLE_SIZE):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        folded = _fold_one(ch)
        if folded != ch:
            table[code] = folded if folded else None
    return table


def _fold_astral(match: re.Match[str]) -> str:
    return normalize_char(match.group())


def normalize(text: str) -> str:
    """Return the canonical form used for matching (see the module rules)."""
    folded = text.translate(_bmp_table())
    if not folded.isascii() and _ASTRAL.search(folded) is not None:
        folded = _ASTRAL.sub(_fold_astral, folded)
    return folded


@functools.cache
def _irregular() -> re.Pattern[str]:
    """Characters that do not fold to exactly one character (dropped, expanded, or astral)."""
    table = _bmp_table()
    irregular = [
        code
        for code, entry in enumerate(table)
        if not (0xD800 <= code <= 0xDFFF)
        and not isinstance(entry, int)
        and (entry is None or len(entry) != 1)
    ]
    ranges: list[str] = []
    index = 0
    while index < len(irregular):
        low = high = irregular[index]
        while index + 1 < len(irregular) and irregular[index + 1] == high + 1:
            index += 1
            high = irregular[index]
        ranges.append(f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}")
        index += 1
    return re.compile("[" + "".join(ranges) + "\U00010000-\U0010ffff]")


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalize, and give for each normalized character the index of its source character.

    Used only for the fields where something matched, so that spans found in the normalized text
    can be shown in the text the reader sees. Most characters fold to exactly one character; only
    the others (found with one regex pass) need individual attention.
    """
    normalized = normalize(text)
    origin: list[int] = []
    position = 0
    for found in _irregular().finditer(text):
        index = found.start()
        origin.extend(range(position, index))
        origin.extend([index] * len(normalize_char(text[index])))
        position = index + 1
    origin.extend(range(position, len(text)))
    return normalized, origin
