"""The text as the search index sees it: normalized words, and a mark where punctuation stood.

Keyword phrases match only across "soft" separators — spaces, line breaks, hyphens,
apostrophes, quotes (:mod:`bot.match.rules`): ``Julius Caesar; Act III`` is not ``Caesar Act``.
FTS5 phrases would match across any punctuation, because its tokenizer drops it. So every run of
non-word characters that holds anything else (``;``, ``,``, ``.``, ``/``, ``_``…) becomes the
token :data:`BREAK`, a private-use character that ``unicode61`` keeps as a token of its own.
A phrase then matches in the index exactly where a keyword phrase would match in the text, and
a query that itself has punctuation between words (``A/HRC/52``, ``2.0.8``) asks for a break
there, as a keyword does.

Words are runs of letters and digits (``str.isalnum``), as in :mod:`bot.match.rules`. After
:func:`index_form` the only characters between words are the soft separators: FTS5's
``unicode61`` splits there (BREAK is a private-use character, a token character to it), and
PostgreSQL's index splits at exactly those characters (migration 8), so both see the same words.
"""

from __future__ import annotations

import re

from bot.match.normalize import SOFT_SEPARATORS, normalize

__all__ = ["BREAK", "index_form", "query_words"]

BREAK = "\ue000"
_SOFT = re.escape(SOFT_SEPARATORS)
# A run of non-word characters that holds at least one character that is not soft.
_HARD_RUN = re.compile(rf"[\W_]*(?:[^\w{_SOFT}]|_)[\W_]*")
_SOFT_RUN = re.compile(rf"[{_SOFT}]+")


def index_form(normalized: str) -> str:
    """Normalized text with each hard punctuation run replaced by a BREAK token."""
    return _HARD_RUN.sub(" " + BREAK + " ", normalized)


def query_words(text: str) -> tuple[str, ...]:
    """The index tokens of a query term: words and BREAKs, none at either end."""
    tokens = _SOFT_RUN.sub(" ", index_form(normalize(text))).split()
    start, end = 0, len(tokens)
    while start < end and tokens[start] == BREAK:
        start += 1
    while end > start and tokens[end - 1] == BREAK:
        end -= 1
    out: list[str] = []
    for token in tokens[start:end]:
        if token == BREAK and out and out[-1] == BREAK:
            continue
        out.append(token)
    return tuple(out)
