"""Keyword matching: normalization, keyword rules, the per-item topic matcher, and `copies`
(whether two statements from different sources are the same statement).
"""

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
