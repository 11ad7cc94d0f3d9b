"""Which topics an item matches, and why.

A topic matches an item when at least one of its keywords matches the title, summary, content,
or the text of its article page or PDF (when read), at least one of its context words (if it has
any) matches in any of those fields, and none of its exclude words matches anywhere (SPEC
"Keyword syntax"). Context and exclude entries use the
keyword syntax of :mod:`bot.match.rules`.

Hits are reported against the original field strings (offsets into the text passed in), title
before summary before content, then by position, at most :data:`MAX_HITS` per topic; the context
hit is the first context occurrence in that same order.

Speed: the phrase and prefix keywords of all topics are compiled into one RE2 alternation that
finds, in a single linear pass over each normalized field, the spots where some keyword may
match; only there are words looked up in dictionaries and the rest of a phrase checked with an
anchored match. The cost per item therefore does not grow with the number of keywords; only the
rare ``re:`` keywords are searched one by one. Context and exclude words have their own index,
searched only in items where some keyword matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import re2

from bot.match.normalize import SOFT_SEPARATORS, normalize, normalize_with_map
from bot.match.rules import KeywordError, Re2Pattern, Rule, compile_keyword, compile_regex
from bot.model import Field, Hit, Item, TopicMatch

__all__ = ["MAX_HITS", "Matcher", "TopicSpec"]

MAX_HITS = 20

_FIELDS = (Field.TITLE, Field.SUMMARY, Field.CONTENT, Field.FULL_TEXT, Field.PDF)
_WORD = re.compile(r"[^\W_]+")
_KEYWORD, _CONTEXT, _EXCLUDE = 0, 1, 2
_ROLE_NAMES = ("keywords", "context", "exclude")
# RE2 builds its automaton lazily within this budget; thousands of alternatives need more than
# the 8 MiB default, or it falls back to a much slower engine.
_RE2_MAX_MEM = 256 << 20

# An occurrence of a rule in one field's normalized text: (rule index, field index, start, end).
_Occurrence = tuple[int, int, int, int]


class TopicSpec(Protocol):
    """What the matcher needs of a configured topic."""

    @property
    def id(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def context(self) -> Sequence[str]: ...
    @property
    def exclude(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class _Use:
    """One place a rule is used: which topic, in which role, written how."""

    topic: int
    role: int
    keyword: str


class _Index:
    """A set of rules searched together in one normalized field."""

    __slots__ = ("_exact", "_locator", "_prefix", "_prefix_lengths", "_regexes", "_tails")

    def __init__(self, rules: Sequence[Rule], members: Iterable[int]):
        exact: dict[str, list[int]] = {}
        prefix: dict[str, list[int]] = {}
        tails: dict[int, re.Pattern[str]] = {}
        regexes: list[tuple[int, Re2Pattern]] = []
        phrases: list[Rule] = []
        for index in members:
            rule = rules[index]
            if rule.regex is not None:
                regexes.append((index, compile_regex(rule.regex)))
                continue
            phrases.append(rule)
            target = prefix if rule.prefix and len(rule.words) == 1 else exact
            for form in rule.first_forms:
                target.setdefault(form, []).append(index)
            if len(rule.words) > 1:
                tails[index] = re.compile(rule.tail_pattern())
        self._exact = {form: tuple(found) for form, found in exact.items()}
        self._prefix = {form: tuple(found) for form, found in prefix.items()}
        self._prefix_lengths = tuple(sorted({len(form) for form in prefix}))
        self._tails = tails
        self._regexes = tuple(regexes)
        self._locator = _build_locator(phrases)

    def scan(self, norm: str, field_index: int, out: list[_Occurrence]) -> None:
        """Append every occurrence of this index's rules in one normalized field."""
        if self._locator is not None:
            self._scan_phrases(self._locator, norm, field_index, out)
        for rule_index, regex in self._regexes:
            for found in regex.finditer(norm):
                if found.end() > found.start():
                    out.append((rule_index, field_index, found.start(), found.end()))

    def _scan_phrases(
        self, locator: Re2Pattern, norm: str, field_index: int, out: list[_Occurrence]
    ) -> None:
        # The locator's ASCII \b treats "_" as a letter; to us it separates words.
        located_in = norm.replace("_", " ") if "_" in norm else norm
        # Searching UTF-8 bytes spares the RE2 wrapper its costly per-match offset decoding;
        # offsets are converted here, incrementally (linear overall).
        encoded = located_in.encode()
        ascii_only = len(encoded) == len(norm)
        byte_mark = char_mark = 0
        checked = -1
        word_finditer = _WORD.finditer
        for located in locator.finditer(encoded):
            start, end = located.span()
            if not ascii_only:
                start_chars = char_mark + len(encoded[byte_mark:start].decode())
                end_chars = start_chars + len(encoded[start:end].decode())
                byte_mark, char_mark = end, end_chars
                start, end = start_chars, end_chars
            # The locator consumed a whole phrase; other rules may start at any word inside it
            # and would not be reported, so every word start in the span is looked at.
            for word in word_finditer(norm, start, end):
                if word.start() > checked:
                    checked = word.start()
                    self._rules_at(norm, checked, field_index, out)

    def _rules_at(self, norm: str, start: int, field_index: int, out: list[_Occurrence]) -> None:
        """Append the occurrences of all rules whose first word is the word at ``start``."""
        if start > 0 and norm[start - 1].isalnum():
            return
        word = _WORD.match(norm, start)
        if word is None:  # pragma: no cover - callers pass word starts
            return
        token = word.group()
        end = word.end()
        for rule_index in self._exact.get(token, ()):
            tail = self._tails.get(rule_index)
            if tail is None:
                out.append((rule_index, field_index, start, end))
            else:
                rest = tail.match(norm, end)
                if rest is not None:
                    out.append((rule_index, field_index, start, rest.end()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            for rule_index in self._prefix.get(token[:length], ()):
                out.append((rule_index, field_index, start, end))


class Matcher:
    """All topics' keywords compiled together; immutable once built."""

    __slots__ = ("_has_context", "_keyword_index", "_other_index", "_uses", "topic_ids")

    def __init__(self, topic_ids: tuple[str, ...], rules: Sequence[Rule], uses: list[list[_Use]]):
        self.topic_ids = topic_ids
        self._uses = tuple(tuple(rule_uses) for rule_uses in uses)
        with_context = {u.topic for rule_uses in uses for u in rule_uses if u.role == _CONTEXT}
        self._has_context = tuple(index in with_context for index in range(len(topic_ids)))
        keyword_rules = [i for i, rule_uses in enumerate(uses) if _has_role(rule_uses, _KEYWORD)]
        other_rules = [
            i
            for i, rule_uses in enumerate(uses)
            if _has_role(rule_uses, _CONTEXT) or _has_role(rule_uses, _EXCLUDE)
        ]
        self._keyword_index = _Index(rules, keyword_rules)
        self._other_index = _Index(rules, other_rules)

    @classmethod
    def compile(cls, topics: Iterable[TopicSpec]) -> Matcher:
        """Compile every topic's keywords; a bad keyword raises KeywordError naming the topic."""
        topic_ids: list[str] = []
        rules: list[Rule] = []
        uses: list[list[_Use]] = []
        by_raw: dict[str, int] = {}
        for topic_index, topic in enumerate(topics):
            topic_ids.append(topic.id)
            for role, entries in enumerate((topic.keywords, topic.context, topic.exclude)):
                for raw in dict.fromkeys(entries):
                    if raw not in by_raw:
                        try:
                            rule = compile_keyword(raw)
                        except KeywordError as exc:
                            raise KeywordError(
                                f"topic {topic.id!r}, {_ROLE_NAMES[role]}: {exc}"
                            ) from exc
                        by_raw[raw] = len(rules)
                        rules.append(rule)
                        uses.append([])
                    uses[by_raw[raw]].append(_Use(topic_index, role, raw))
        return cls(tuple(topic_ids), rules, uses)

    def match_item(self, item: Item, full_text: str = "", pdf: str = "") -> tuple[TopicMatch, ...]:
        """Match an item's title, summary and content, and its page's text when read."""
        return self.match(item.title, item.summary, item.content, full_text, pdf)

    def match(
        self, title: str, summary: str, content: str, full_text: str = "", pdf: str = ""
    ) -> tuple[TopicMatch, ...]:
        """Return the matching topics, in topic order, each with its hits."""
        texts = (title, summary, content, full_text, pdf)
        normalized = tuple(normalize(text) if text else "" for text in texts)
        keyword_occurrences: list[_Occurrence] = []
        for field_index, norm in enumerate(normalized):
            if norm:
                self._keyword_index.scan(norm, field_index, keyword_occurrences)

        found: dict[int, list[tuple[_Occurrence, str]]] = {}
        for occurrence in keyword_occurrences:
            for use in self._uses[occurrence[0]]:
                if use.role == _KEYWORD:
                    found.setdefault(use.topic, []).append((occurrence, use.keyword))
        if not found:
            return ()

        other_occurrences: list[_Occurrence] = []
        for field_index, norm in enumerate(normalized):
            if norm:
                self._other_index.scan(norm, field_index, other_occurrences)
        context: dict[int, tuple[_Occurrence, str]] = {}
        excluded: set[int] = set()
        for occurrence in other_occurrences:
            for use in self._uses[occurrence[0]]:
                if use.role == _EXCLUDE:
                    excluded.add(use.topic)
                elif use.role == _CONTEXT:
                    best = context.get(use.topic)
                    if best is None or occurrence[1:] < best[0][1:]:
                        context[use.topic] = (occurrence, use.keyword)

        maps: dict[int, list[int]] = {}
        results: list[TopicMatch] = []
        for topic in sorted(found):
            context_hit = context.get(topic)
            if topic in excluded or (self._has_context[topic] and context_hit is None):
                continue
            ordered = sorted(found[topic], key=lambda entry: (entry[0][1:], entry[1]))
            hits = tuple(
                _to_hit(texts, maps, occurrence, keyword)
                for occurrence, keyword in ordered[:MAX_HITS]
            )
            results.append(
                TopicMatch(
                    topic_id=self.topic_ids[topic],
                    hits=hits,
                    context=None if context_hit is None else _to_hit(texts, maps, *context_hit),
                )
            )
        return tuple(results)


def _has_role(uses: Iterable[_Use], role: int) -> bool:
    return any(use.role == role for use in uses)


def _build_locator(rules: Sequence[Rule]) -> Re2Pattern | None:
    """One RE2 pattern that finds, left to right, the spots where some phrase rule may match.

    It is a superset filter: it checks the leading word boundary exactly but the trailing one
    only for ASCII, and its matches never overlap; :meth:`_Index._rules_at` decides.
    """
    alternatives: list[str] = []
    for rule in rules:
        parts = ["(?:" + "|".join(_escape(form) for form in rule.first_forms) + ")"]
        for gap, word in zip(rule.gaps, rule.words[1:], strict=True):
            parts.append(_locator_gap(gap))
            parts.append(_escape(word))
        last = rule.words[-1][-1]
        if not rule.prefix and last.isascii() and last.isalnum():
            parts.append(r"\b")
        alternatives.append("".join(parts))
    if not alternatives:
        return None
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False
    pattern = r"(?:^|[^\pL\pN])(?:" + "|".join(alternatives) + ")"
    return cast(Re2Pattern, re2.compile(pattern, options))


def _locator_gap(gap: str) -> str:
    soft = "[" + _escape(SOFT_SEPARATORS) + "]"
    if not gap:
        return soft + "+"
    return soft + "*" + "".join(_escape(ch) + soft + "*" for ch in gap)


def _escape(text: str) -> str:
    return str(re2.escape(text))


def _to_hit(
    texts: tuple[str, ...], maps: dict[int, list[int]], occurrence: _Occurrence, keyword: str
) -> Hit:
    """Translate a span of normalized text into a span of the original field."""
    _, field_index, start, end = occurrence
    origin = maps.get(field_index)
    if origin is None:
        origin = normalize_with_map(texts[field_index])[1]
        maps[field_index] = origin
    original_start = origin[start]
    # Extend over characters that normalization dropped right after the match (combining marks,
    # tatweel, soft hyphens), so the span covers what the reader sees as the matched words.
    original_end = origin[end] if end < len(origin) else len(texts[field_index])
    original_end = max(original_end, origin[end - 1] + 1)
    return Hit(keyword=keyword, field=_FIELDS[field_index], start=original_start, end=original_end)
