"""One keyword as written in the config, compiled into a rule over normalized text.

Keyword syntax (SPEC "Keyword syntax"); all of it applies to the normalized form of keyword and
text (:mod:`bot.match.normalize`), so case, accents and Arabic spelling variants never matter:

- a plain phrase is a sequence of whole words. Hyphens and apostrophes separate words like spaces
  do (``al-Assad`` is the words ``al`` and ``assad``). In the text, two words of a phrase may be
  separated by any run of spaces, line breaks, hyphens, apostrophes and quotes, but not by other
  punctuation: ``Julius Caesar; Act III`` is not ``Caesar Act``. Punctuation the keyword itself
  puts between two words must appear there in the text (``A/HRC/52`` needs the slashes).
  Punctuation before the first word or after the last one is ignored, and so are quotes around a
  phrase;
- ``tortur*`` matches any word that starts with ``tortur``; a ``*`` may only end the last word;
- ``re:PATTERN`` is an RE2 expression (linear time: no catastrophic backtracking), searched
  case-insensitively in the NORMALIZED text: write it lowercase, without accents, with Arabic in
  its normalized spelling (``ا`` for ``أ``, ``ه`` for ``ة``). It must compile and must not match
  empty text;
- Arabic: when a keyword's first word is Arabic, it also matches with an attached conjunction
  (``و`` or ``ف``) followed by an optional preposition (``ب``, ``ل``, ``ك`` or ``لل``), and a word
  starting with the article ``ال`` also matches with ``لل`` in place of ``ال`` (``للمحكمة`` for
  ``المحكمة``). Only the first word takes prefixes, and only prefixes are added: a keyword is never
  shortened, so ``وزارة`` never matches ``زارة``.

An empty or whitespace-only keyword is an error: it would match every statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, cast

import re2

from bot.match.normalize import SOFT_SEPARATORS, normalize

__all__ = [
    "KeywordError",
    "Re2Match",
    "Re2Pattern",
    "Rule",
    "arabic_forms",
    "compile_keyword",
    "compile_regex",
    "is_arabic",
]

REGEX_PREFIX = "re:"

_WORD = re.compile(r"[^\W_]+")
_ARABIC_CONJUNCTIONS = ("", "\u0648", "\u0641")  # و ف
_ARABIC_PREPOSITIONS = ("", "\u0628", "\u0644", "\u0643", "\u0644\u0644")  # ب ل ك لل
_ARABIC_ARTICLE = "\u0627\u0644"  # ال
_ARABIC_LAM_LAM = "\u0644\u0644"  # لل


class Re2Match(Protocol):
    """The part of a google-re2 match object that matching uses (re2 ships no type hints)."""

    def start(self) -> int: ...
    def end(self) -> int: ...
    def span(self) -> tuple[int, int]: ...


class Re2Pattern(Protocol):
    """The part of a compiled google-re2 pattern that matching uses."""

    def search(self, text: str) -> Re2Match | None: ...
    def finditer(self, text: str | bytes) -> Iterator[Re2Match]: ...


class KeywordError(ValueError):
    """A keyword that cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled keyword.

    For a phrase, ``words`` are its normalized words, ``gaps[i]`` is what must separate word i
    from word i+1 (``""``: any run of soft separators; otherwise the punctuation that must be
    there, soft separators aside), and ``first_forms`` are the spellings the first word may take
    in the text (itself, plus the Arabic prefixed forms). For ``re:``, ``regex`` is the pattern.
    """

    raw: str
    words: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()
    prefix: bool = False
    first_forms: tuple[str, ...] = ()
    regex: str | None = None

    @property
    def is_regex(self) -> bool:
        return self.regex is not None

    def tail_pattern(self) -> str:
        """A stdlib-``re`` pattern for what follows the first word, ending on a word boundary."""
        parts: list[str] = []
        last = len(self.words) - 1
        for index, word in enumerate(self.words):
            if index > 0:
                parts.append(gap_pattern(self.gaps[index - 1]))
                parts.append(re.escape(word))
            if index == last:
                if self.prefix and index > 0:
                    parts.append(r"[^\W_]*")
                parts.append(r"(?![^\W_])")
        return "".join(parts)


def gap_pattern(gap: str) -> str:
    """The stdlib-``re`` pattern for the text between two words of a phrase."""
    soft = "[" + re.escape(SOFT_SEPARATORS) + "]"
    if not gap:
        return soft + "+"
    return soft + "*" + "".join(re.escape(ch) + soft + "*" for ch in gap)


def is_arabic(word: str) -> bool:
    """Whether a normalized word is Arabic (it then takes the attached prefixes below)."""
    return "\u0600" <= word[0] <= "\u06ff"


def arabic_forms(word: str) -> tuple[str, ...]:
    """The spellings an Arabic first word may take in the text (itself first); search too."""
    forms: list[str] = []
    for conjunction in _ARABIC_CONJUNCTIONS:
        for preposition in _ARABIC_PREPOSITIONS:
            forms.append(conjunction + preposition + word)
        if word.startswith(_ARABIC_ARTICLE) and len(word) > len(_ARABIC_ARTICLE):
            forms.append(conjunction + _ARABIC_LAM_LAM + word[len(_ARABIC_ARTICLE) :])
    return tuple(dict.fromkeys(forms))


def compile_regex(pattern: str) -> Re2Pattern:
    """Compile a ``re:`` pattern the way matching uses it (RE2, case-insensitive, UTF-8)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return cast(Re2Pattern, re2.compile(pattern, options))


def _compile_regex_rule(raw: str, pattern: str) -> Rule:
    if not pattern.strip():
        raise KeywordError(f"{raw!r}: empty regular expression after 're:'")
    try:
        compiled = compile_regex(pattern)
    except re2.error as exc:
        raise KeywordError(f"{raw!r}: invalid RE2 regular expression: {exc}") from exc
    if compiled.search("") is not None:
        raise KeywordError(f"{raw!r}: the regular expression matches empty text")
    return Rule(raw=raw, regex=pattern)


def compile_keyword(raw: str) -> Rule:
    """Compile one keyword (plain phrase, ``prefix*`` or ``re:PATTERN``) or raise KeywordError."""
    stripped = raw.strip()
    if not stripped:
        raise KeywordError(f"{raw!r}: empty keyword (it would match everything)")
    if stripped.startswith(REGEX_PREFIX):
        return _compile_regex_rule(raw, stripped[len(REGEX_PREFIX) :])

    text = normalize(stripped).strip(SOFT_SEPARATORS)
    prefix = text.endswith("*")
    if prefix:
        text = text[:-1]
        if not text or not text[-1].isalnum():
            raise KeywordError(f"{raw!r}: '*' must directly follow the letters of a word")
    if "*" in text:
        raise KeywordError(f"{raw!r}: '*' is only allowed at the end of the last word")

    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        raise KeywordError(f"{raw!r}: no letters or digits to match")
    words = tuple(text[start:end] for start, end in spans)
    gaps = tuple(
        "".join(ch for ch in text[spans[i][1] : spans[i + 1][0]] if ch not in SOFT_SEPARATORS)
        for i in range(len(spans) - 1)
    )
    first = words[0]
    first_forms = arabic_forms(first) if is_arabic(first) else (first,)
    return Rule(raw=raw, words=words, gaps=gaps, prefix=prefix, first_forms=first_forms)
