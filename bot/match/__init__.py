"""Keyword matching: normalization, keyword rules, and the per-item topic matcher."""

from bot.match.normalize import normalize, normalize_with_map
from bot.match.rules import KeywordError, Rule, compile_keyword
from bot.match.topics import MAX_HITS, Matcher, TopicSpec

__all__ = [
    "MAX_HITS",
    "KeywordError",
    "Matcher",
    "Rule",
    "TopicSpec",
    "compile_keyword",
    "normalize",
    "normalize_with_map",
]
