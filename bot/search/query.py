"""The search grammar, shared by `vigil search` and `/search`: text in, a safe query out.

Grammar (documented in the README, "Searching the archive"):

- ``caesar act`` — every word, in any order (AND);
- ``"convention against torture"`` — these words in this order (a phrase); typographic quotes
  and guillemets count as quotes; a quote left open runs to the end of the query;
- ``-ceasefire`` or ``-"peace talks"`` — leave out statements that contain it;
- ``assad OR asad`` — either (``OR`` in capitals, between two words or phrases; it binds
  tighter than the implicit AND, so ``syria assad OR asad`` is syria AND (assad OR asad));
- ``tortur*`` — words that start with ``tortur`` (at least two letters before the ``*``); on a
  phrase, ``"caesar ac"*``, the last word is the prefix;
- ``since:2026-03-01``, ``until:2026-03-31`` (whole days, in the configured time zone), or a
  span back from now: ``since:7d``, ``since:12h``;
- ``feed:ID`` and ``topic:ID`` — only that source or topic (given twice: either one).

Every word is normalized exactly as keywords and statements are (:mod:`bot.match.normalize`):
case, accents and Arabic spelling variants never matter; words are runs of letters and digits,
and punctuation other than spaces, hyphens, apostrophes and quotes between two words must be
there in the statement too, as for keywords (:mod:`bot.search.tokens`): ``A/HRC/52`` finds
``A/HRC/52`` and ``A.HRC.52`` but not ``a hrc 52``. An Arabic first
word also matches with the attached prefixes that keywords take (``و``, ``ف``, ``ب``, ``ل``,
``ك``, ``لل``; :func:`bot.match.rules.arabic_forms`). Punctuation alone is ignored.

Safety: :meth:`Query.match_expression` emits only double-quoted runs of letters and digits joined
by ``AND``, ``OR``, ``NOT`` and parentheses, so no input can cause an FTS5 syntax error or name a
column. :meth:`Query.tsquery` is the same query for PostgreSQL: single-quoted lexemes (a quote or
backslash inside doubled, though words never hold one) joined by ``&``, ``|``, ``!``, ``<->``,
``:*`` and parentheses, read by the ``::tsquery`` cast, which takes lexemes as written (no parser,
no dictionary: the words are already the index's). Both are bound as parameters, never formatted
into SQL. A query that cannot be read raises :class:`QueryError` saying what is wrong: a
:class:`bot.i18n.Reason`, so ``str()`` is the English sentence `vigil search` prints and `/search`
says it in the chat's language, the user's text escaped and bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from bot.config.durations import parse_duration
from bot.i18n.catalog import N_
from bot.i18n.reasons import Given, Reason, Syntax
from bot.match.normalize import normalize_char
from bot.match.rules import arabic_forms, is_arabic
from bot.search.tokens import BREAK, query_words

__all__ = ["MAX_QUERY", "MAX_TERMS", "Query", "QueryError", "Term", "parse_query"]

MAX_QUERY = 300  # characters
MAX_TERMS = 12  # words and phrases, excluded ones included
MAX_PHRASE_WORDS = 16
MIN_PREFIX = 2
OR = "OR"

_FILTER = re.compile(r"(?i)(feed|topic|since|until):(.*)", re.DOTALL)
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class QueryError(Reason):
    """A query that cannot be read; the message says what is wrong, in words for users.

    A :class:`Reason`: ``str()`` is the English sentence, ``message`` its ``N_`` id.
    """


OR_PLACE = N_("OR must stand between two words or phrases")


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: normalized words, the last one a prefix when ``prefix``."""

    words: tuple[str, ...]
    prefix: bool = False

    def forms(self) -> tuple[tuple[str, ...], ...]:
        """The word sequences that count as this term (Arabic first words take prefixes)."""
        first = self.words[0]
        if not is_arabic(first):
            return (self.words,)
        return tuple((form, *self.words[1:]) for form in arabic_forms(first))

    def fts(self) -> str:
        """The FTS5 form: quoted runs of letters and digits only, never an operator or column."""
        star = "*" if self.prefix else ""
        alternatives = ['"' + " ".join(words) + '"' + star for words in self.forms()]
        if len(alternatives) == 1:
            return alternatives[0]
        return "(" + " OR ".join(alternatives) + ")"

    def tsquery(self) -> str:
        """The PostgreSQL tsquery form: the same alternatives, words adjacent (``<->``).

        The forms differ only in their first word, so they are one phrase whose first place
        is an OR (``('الاسد' | 'والاسد' | …) <-> 'word'``): the same matches as an OR of
        whole phrases, checked once per row instead of once per form (bench: Arabic phrases).
        """
        places = [[form[0] for form in self.forms()], *([word] for word in self.words[1:])]
        parts = []
        for number, options in enumerate(places):
            star = ":*" if self.prefix and number == len(places) - 1 else ""
            lexemes = [_lexeme(option) + star for option in options]
            parts.append(lexemes[0] if len(lexemes) == 1 else "(" + " | ".join(lexemes) + ")")
        return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"

    def shown(self) -> str:
        text = " ".join(self.words).replace(f" {BREAK} ", "/") + ("*" if self.prefix else "")
        return f'"{text}"' if len(self.words) > 1 else text


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: groups AND-ed together, each group's terms OR-ed; exclusions; filters.

    ``since`` and ``until`` are Unix times, ``until`` exclusive.
    """

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()
    feeds: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    text: str = field(default="", compare=False)

    @property
    def terms(self) -> tuple[Term, ...]:
        """The terms a result contains (what excerpts mark), in the order typed."""
        return tuple(term for group in self.groups for term in group)

    def match_expression(self) -> str | None:
        """The FTS5 MATCH string, or None when there is no word to look for (filters only)."""
        if not self.groups:
            return None
        parts = []
        for group in self.groups:
            inner = " OR ".join(term.fts() for term in group)
            parts.append(f"({inner})")
        positive = " AND ".join(parts)
        negative = self.exclusion_expression()
        return f"({positive}) NOT {negative}" if negative else positive

    def exclusion_expression(self) -> str | None:
        """The FTS5 expression of what must not occur, or None."""
        if not self.excluded:
            return None
        return "(" + " OR ".join(term.fts() for term in self.excluded) + ")"

    def tsquery(self) -> str | None:
        """The PostgreSQL tsquery text of :meth:`match_expression` (same meaning), or None."""
        if not self.groups:
            return None
        positive = " & ".join(
            "(" + " | ".join(term.tsquery() for term in group) + ")" for group in self.groups
        )
        negative = self.exclusion_tsquery()
        return f"({positive}) & !{negative}" if negative else positive

    def exclusion_tsquery(self) -> str | None:
        """The PostgreSQL tsquery text of :meth:`exclusion_expression`, or None."""
        if not self.excluded:
            return None
        return "(" + " | ".join(term.tsquery() for term in self.excluded) + ")"

    def explain(self) -> str:
        """The normalized query, for "nothing matched" replies: shows what was looked for."""
        parts = [" OR ".join(t.shown() for t in group) for group in self.groups]
        parts += ["-" + t.shown() for t in self.excluded]
        parts += [f"feed:{f}" for f in self.feeds] + [f"topic:{t}" for t in self.topics]
        return " ".join(parts)


def _lexeme(word: str) -> str:
    """A tsquery lexeme, quoted (a quote or backslash inside doubled: words never hold one)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    quoted: bool
    negated: bool
    prefix: bool


def _is_quote(ch: str) -> bool:
    return ch == '"' or normalize_char(ch) == '"'


def _is_dash(ch: str) -> bool:
    return ch == "-" or normalize_char(ch) == "-"


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index, end = 0, len(text)
    while index < end:
        if text[index].isspace():
            index += 1
            continue
        negated = False
        if _is_dash(text[index]) and index + 1 < end and not text[index + 1].isspace():
            negated = True
            index += 1
        if _is_quote(text[index]):
            close = index + 1
            while close < end and not _is_quote(text[close]):
                close += 1
            body = text[index + 1 : close]
            index = close + 1  # past the closing quote (or past the end: an open quote)
            prefix = body.endswith("*")
            if index < end and text[index] == "*":
                prefix = True
                index += 1
            tokens.append(_Token(body.rstrip("*"), True, negated, prefix))
            continue
        stop = index
        while stop < end and not text[stop].isspace() and not _is_quote(text[stop]):
            stop += 1
        word = text[index:stop]
        index = stop
        tokens.append(_Token(word.rstrip("*"), False, negated, word.endswith("*")))
    return tokens


def _term(token: _Token) -> Term | None:
    words = query_words(token.text)
    if not words:
        return None  # punctuation only: nothing to look for
    if len(words) > MAX_PHRASE_WORDS:
        raise QueryError(N_("a phrase can have at most {n} words"), n=MAX_PHRASE_WORDS)
    if token.prefix and len(words[-1]) < MIN_PREFIX:
        raise QueryError(
            N_("{word}: put at least {n} letters before '*' (it would match too many words)"),
            word=Given(token.text + "*", quoted=False),
            n=MIN_PREFIX,
        )
    return Term(words, token.prefix)


def _when(value: str, key: str, now: float, tz: tzinfo) -> float:
    found = _DATE.fullmatch(value)
    if found:
        try:
            year, month, date = (int(g) for g in found.groups())
            day = datetime(year, month, date, tzinfo=tz)
        except ValueError:
            raise QueryError(
                N_("{date} is not a real date"), date=Given(f"{key}:{value}", quoted=False)
            ) from None
        if key != "until":
            return day.timestamp()
        try:
            return (day + timedelta(days=1)).timestamp()  # up to the end of that day
        except OverflowError:  # until:9999-12-31: the next day is past what datetime holds
            return day.timestamp() + 86400
    try:
        return now - parse_duration(value)
    except ValueError:
        raise QueryError(
            N_("{key} wants a date like {date} or a span back from now like {span}; got {value}"),
            key=Syntax(f"{key}:"),
            date=Syntax("2026-03-01"),
            span=Syntax("7d"),
            value=Given(value, limit=40),
        ) from None


class _Builder:
    """Collects the parts of a query while the tokens are read."""

    def __init__(self, now: float, tz: tzinfo) -> None:
        self.now, self.tz = now, tz
        self.groups: list[list[Term]] = []
        self.excluded: list[Term] = []
        self.feeds: list[str] = []
        self.topics: list[str] = []
        self.since: float | None = None
        self.until: float | None = None

    def apply_filter(self, key: str, value: str) -> None:
        key = key.lower()
        if not value:
            raise QueryError(_NEEDS[key], key=Syntax(f"{key}:"), example=Syntax(_EG[key]))
        if key in ("feed", "topic"):
            ident = value.lower()
            if not _ID.fullmatch(ident):
                raise QueryError(_NOT_AN_ID[key], value=Given(f"{key}:{value[:40]}", quoted=False))
            target = self.feeds if key == "feed" else self.topics
            target.append(ident)
        elif key == "since":
            self.since = _when(value, key, self.now, self.tz)
        else:
            self.until = _when(value, key, self.now, self.tz)

    def count(self) -> int:
        return sum(len(g) for g in self.groups) + len(self.excluded)


_EG = {
    "feed": "feed:ohchr",
    "topic": "topic:caesar",
    "since": "since:2026-03-01",
    "until": "until:2026-03-31",
}
_NEEDS = {
    "feed": N_("{key} needs a feed id right after the colon, e.g. {example}"),
    "topic": N_("{key} needs a topic id right after the colon, e.g. {example}"),
    "since": N_("{key} needs a date right after the colon, e.g. {example}"),
    "until": N_("{key} needs a date right after the colon, e.g. {example}"),
}
_NOT_AN_ID = {
    "feed": N_("{value} is not a feed id (see /topics or feeds.yaml)"),
    "topic": N_("{value} is not a topic id (see /topics or feeds.yaml)"),
}


def parse_query(text: str, *, now: float, tz: tzinfo = UTC) -> Query:
    """Reads a query (see the module grammar); raises QueryError with the reason."""
    if len(text) > MAX_QUERY:
        raise QueryError(N_("a query is at most {n} characters"), n=MAX_QUERY)
    build = _Builder(now, tz)
    pending_or = False
    after_term = False
    for token in _lex(text):
        if not token.quoted and not token.negated and token.text == OR and not token.prefix:
            if not after_term or pending_or:
                raise QueryError(OR_PLACE)
            pending_or = True
            continue
        found = None if token.quoted else _FILTER.fullmatch(token.text)
        if found is not None:
            if token.negated:
                raise QueryError(
                    N_("{filter}: a filter cannot be excluded"),
                    filter=Given("-" + found.group(1), quoted=False),
                )
            if pending_or:
                raise QueryError(OR_PLACE)
            build.apply_filter(found.group(1), found.group(2) + ("*" if token.prefix else ""))
            after_term = False
            continue
        term = _term(token)
        if term is None:
            continue
        if token.negated:
            if pending_or:
                raise QueryError(N_("OR must stand between two words or phrases, not before a -"))
            build.excluded.append(term)
            after_term = False
        elif pending_or:
            build.groups[-1].append(term)
            pending_or = False
            after_term = True
        else:
            build.groups.append([term])
            after_term = True
        if build.count() > MAX_TERMS:
            raise QueryError(N_("a query can have at most {n} words and phrases"), n=MAX_TERMS)
    if pending_or:
        raise QueryError(OR_PLACE)
    query = Query(
        groups=tuple(tuple(g) for g in build.groups),
        excluded=tuple(build.excluded),
        feeds=tuple(dict.fromkeys(build.feeds)),
        topics=tuple(dict.fromkeys(build.topics)),
        since=build.since,
        until=build.until,
        text=text,
    )
    filtered = query.feeds or query.topics or query.since is not None or query.until is not None
    if not (query.groups or query.excluded or filtered):
        raise QueryError(N_('nothing to search for: give a word, a "phrase" or a filter'))
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise QueryError(
            N_("{since} must come before {until}"), since=Syntax("since:"), until=Syntax("until:")
        )
    return query
