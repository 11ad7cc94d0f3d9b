"""Self-check of the matcher's speed and results against the obvious implementation.

Generates, deterministically (``random.Random(seed)``), multilingual statement text (English,
French with accents, Arabic with spelling variants, tashkeel and attached prefixes) and topics
whose keywords are phrases and prefixes in those languages. It then times Vigil's
:class:`bot.match.Matcher` (normalization included) against the naive approach, one compiled
stdlib ``re`` per keyword searched in the already-normalized text, and asserts that both find the
same (item, topic) pairs. The naive loop is slow, so it runs on the first ``naive_megabytes`` of
the corpus; speeds are compared per megabyte.

Run: ``python -m bench.match_bench [KEYWORDS] [MEGABYTES]``.
"""

from __future__ import annotations

import random
import re
import sys
import time
from dataclasses import dataclass, field

from bot.match import Matcher, normalize

_EN_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_FR_LETTERS = "abcdefghijlmnopqrstuvéèêàâçôîûù"
_AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآئؤ"
_TASHKEEL = "\u064b\u064e\u064f\u0650\u0651\u0652"
_SOFT = "[ \\-'\"]"
_WORD_END = r"(?![^\W_])"
_WORD_START = r"(?<![^\W_])"


@dataclass(frozen=True)
class _Topic:
    id: str
    keywords: list[str]
    context: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


def _word(rng: random.Random, letters: str, low: int, high: int) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(low, high)))


def _vocabulary(rng: random.Random, size: int) -> list[tuple[str, str]]:
    """(language, word) pairs: a third each of English, French and Arabic made-up words."""
    words: list[tuple[str, str]] = []
    for index in range(size):
        language = ("en", "fr", "ar")[index % 3]
        letters = {"en": _EN_LETTERS, "fr": _FR_LETTERS, "ar": _AR_LETTERS}[language]
        words.append((language, _word(rng, letters, 2, 12)))
    return words


def _make_topics(rng: random.Random, vocab: list[tuple[str, str]], keywords: int) -> list[_Topic]:
    """Topics of ten keywords; a quarter with context words, a seventh with an exclude word.

    Keywords are specific terms: their words come from a vocabulary of their own, except that a
    fifth of the phrases start with an everyday word of the text (as "United Nations ..."
    would), so that the matcher also meets many phrases that start but do not finish.
    """
    own = _vocabulary(rng, 6000)
    by_language: dict[str, list[str]] = {"en": [], "fr": [], "ar": []}
    for language, word in own:
        if len(word) >= 4:
            by_language[language].append(word)
    everyday: dict[str, list[str]] = {"en": [], "fr": [], "ar": []}
    for language, word in vocab[100:1100]:
        everyday[language].append(word)
    topics: list[_Topic] = []
    per_topic = 10
    common = [word for _, word in vocab[200:260]]
    for number in range((keywords + per_topic - 1) // per_topic):
        entries: list[str] = []
        for _ in range(min(per_topic, keywords - number * per_topic)):
            language = rng.choice(("en", "fr", "ar"))
            phrase = rng.sample(by_language[language], rng.choice((1, 1, 2, 2, 3)))
            if len(phrase) > 1 and rng.random() < 0.2:
                phrase[0] = rng.choice(everyday[language])
            keyword = " ".join(phrase)
            if rng.random() < 0.15 and len(keyword) >= 7:
                keyword = keyword[: max(5, len(keyword) - 2)].rstrip() + "*"
            elif rng.random() < 0.3:
                keyword = keyword.title()
            entries.append(keyword)
        context = rng.sample(common, 2) if number % 4 == 0 else []
        exclude = [rng.choice(common)] if number % 7 == 0 else []
        topics.append(_Topic(f"t{number}", entries, context, exclude))
    return topics


def _decorate(rng: random.Random, phrase: str) -> str:
    """Write a keyword the way a statement might: other case, accents, Arabic prefix, tashkeel."""
    phrase = phrase.rstrip("*")
    if "\u0600" <= phrase[0] <= "\u06ff":
        phrase = rng.choice(("", "", "و", "ب", "لل", "وب")) + phrase
        if rng.random() < 0.3:
            phrase = phrase[:2] + rng.choice(_TASHKEEL) + phrase[2:]
    elif rng.random() < 0.5:
        phrase = phrase.upper()
    separator = rng.choice((" ", " ", "\u00a0", "\n", "-"))
    return phrase.replace(" ", separator)


def _make_items(
    rng: random.Random,
    vocab: list[tuple[str, str]],
    topics: list[_Topic],
    megabytes: float,
) -> list[tuple[str, str, str]]:
    """Statements of one language each, with a keyword (of any language) in one sentence in 100."""
    words: dict[str, list[str]] = {"en": [], "fr": [], "ar": []}
    for language, word in vocab:
        words[language].append(word)
    weights = {lang: [1.0 / (rank + 10) for rank in range(len(w))] for lang, w in words.items()}
    all_keywords = [keyword for topic in topics for keyword in topic.keywords]
    items: list[tuple[str, str, str]] = []
    total = 0
    target = int(megabytes * 1_000_000)
    while total < target:
        language = rng.choice(("en", "fr", "ar"))
        chunks: list[str] = []
        for _ in range(rng.randint(8, 30)):
            sentence = rng.choices(words[language], weights[language], k=rng.randint(6, 20))
            if rng.random() < 0.01:
                position = rng.randrange(len(sentence))
                sentence[position] = _decorate(rng, rng.choice(all_keywords))
            ending = rng.choice((". ", ", ", "; ", "\n", " — " if language == "fr" else ". "))
            chunks.append(" ".join(sentence) + ending)
        title = chunks[0]
        content = "".join(chunks)
        summary = content[:200]
        items.append((title, summary, content))
        total += len(title.encode()) + len(summary.encode()) + len(content.encode())
    return items


def _naive_pattern(keyword: str) -> re.Pattern[str]:
    """The keyword syntax as one stdlib regex, written independently of bot.match.rules."""
    text = normalize(keyword)
    prefix = text.endswith("*")
    words = re.findall(r"[^\W_]+", text)
    first = re.escape(words[0])
    if "\u0600" <= words[0][0] <= "\u06ff":
        options = [f"[وف]?(?:[بلك]|لل)?{first}"]
        if words[0].startswith("ال") and len(words[0]) > 2:
            options.append(f"[وف]?لل{re.escape(words[0][2:])}")
        first = "(?:" + "|".join(options) + ")"
    body = (_SOFT + "+").join([first, *(re.escape(word) for word in words[1:])])
    return re.compile(_WORD_START + body + (r"[^\W_]*" if prefix else "") + _WORD_END)


def _naive_match(
    compiled: list[tuple[str, list[re.Pattern[str]], list[re.Pattern[str]], list[re.Pattern[str]]]],
    fields: tuple[str, str, str],
) -> set[str]:
    matched: set[str] = set()
    for topic_id, keywords, context, exclude in compiled:

        def found(patterns: list[re.Pattern[str]]) -> bool:
            return any(p.search(text) for p in patterns for text in fields)

        if found(keywords) and (not context or found(context)) and not found(exclude):
            matched.add(topic_id)
    return matched


def run(
    keywords: int = 2000, megabytes: float = 50.0, naive_megabytes: float = 2.0, seed: int = 7
) -> dict[str, float]:
    """Time the matcher over ``megabytes`` of text and the naive loop over a prefix of it."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 20000)
    topics = _make_topics(rng, vocab, keywords)
    items = _make_items(rng, vocab, topics, megabytes)
    size = sum(len(f.encode()) for item in items for f in item) / 1_000_000

    started = time.perf_counter()
    matcher = Matcher.compile(topics)
    compile_seconds = time.perf_counter() - started

    started = time.perf_counter()
    vigil = [{m.topic_id for m in matcher.match(*item)} for item in items]
    vigil_seconds = time.perf_counter() - started

    compiled = [
        (
            topic.id,
            [_naive_pattern(k) for k in topic.keywords],
            [_naive_pattern(k) for k in topic.context],
            [_naive_pattern(k) for k in topic.exclude],
        )
        for topic in topics
    ]
    sample: list[tuple[str, str, str]] = []
    sample_size = 0.0
    for item in items:
        if sample_size >= naive_megabytes:
            break
        sample.append(item)
        sample_size += sum(len(f.encode()) for f in item) / 1_000_000
    normalized = [(normalize(a), normalize(b), normalize(c)) for a, b, c in sample]
    started = time.perf_counter()
    naive = [_naive_match(compiled, fields) for fields in normalized]
    naive_seconds = time.perf_counter() - started

    for index, expected in enumerate(naive):
        assert vigil[index] == expected, (index, sorted(vigil[index]), sorted(expected))

    vigil_rate = size / vigil_seconds
    naive_rate = sample_size / naive_seconds
    return {
        "keywords": float(sum(len(t.keywords) for t in topics)),
        "megabytes": round(size, 2),
        "items": float(len(items)),
        "matched_items": float(sum(1 for found in vigil if found)),
        "compile_s": round(compile_seconds, 3),
        "mb_per_s": round(vigil_rate, 1),
        "naive_mb_per_s": round(naive_rate, 3),
        "naive_megabytes": round(sample_size, 2),
        "speedup": round(vigil_rate / naive_rate, 1),
    }


def main(argv: list[str]) -> None:
    keywords = int(argv[0]) if argv else 2000
    megabytes = float(argv[1]) if len(argv) > 1 else 50.0
    result = run(keywords, megabytes)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
