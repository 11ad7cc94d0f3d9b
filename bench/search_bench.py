"""The archive search row: query time over N stored statements, indexing cost, database growth.

Statements are generated deterministically in English, French, Dutch and Arabic (a quarter
each): a title of 8-14 words and a body of 60-100, half common words of the language and half
drawn Zipf-like from 5,000 content words per language, so a query word is as common or rare as
in real text. They are stored the way the poller stores them (``items`` row + archive, 100 per
transaction, like a busy poll).

- **Query time:** `run_search` (parse, FTS5, the join, excerpts for the page) with a page of 5,
  for 40 one-word queries (content words from rank 1 to 2,000: the most common ones hit about
  one statement in ten), 40 two-word phrases and 40 three-term AND queries, each taken from a
  stored statement so that it matches. p50 and p95 per kind; the target is p95 ≤ 50 ms.
- **Indexing cost:** the time to store statements with the archive, minus the time to store the
  same statements without it (the seen set only), per item.
- **Growth:** database bytes per 1,000 statements, with and without the archive.

The same row runs on PostgreSQL (:func:`search_row` with a server URL): the same statements
and queries, each side in a schema of its own; growth is the schema's tables with their indexes
and TOAST (``pg_total_relation_size``), measured after ``ANALYZE`` as autovacuum would leave it.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.replicas import _schema
from bench.table import Row
from bot.config import parse_config
from bot.model import Item
from bot.search.engine import run_search
from bot.search.query import parse_query
from bot.store import archive
from bot.store import items as item_rows
from bot.store.backend import Connection
from bot.store.db import connect, connect_postgres, transaction

TARGET_MS = 50.0
BATCH = 100
QUERIES = 40
_COMMON = {
    "en": [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "on",
        "with",
        "as",
        "by",
        "at",
        "from",
        "this",
        "be",
        "are",
        "was",
        "it",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "et",
        "à",
        "en",
        "un",
        "une",
        "pour",
        "que",
        "qui",
        "dans",
        "sur",
        "par",
        "avec",
        "au",
        "est",
    ],
    "nl": [
        "de",
        "het",
        "een",
        "en",
        "van",
        "in",
        "op",
        "te",
        "dat",
        "voor",
        "met",
        "is",
        "zijn",
        "aan",
        "door",
        "om",
        "als",
        "bij",
        "ook",
    ],
    "ar": [
        "في",
        "من",
        "على",
        "إلى",
        "أن",
        "عن",
        "مع",
        "هذا",
        "التي",
        "الذي",
        "كان",
        "قد",
        "بين",
        "هذه",
        "كما",
        "بعد",
        "أو",
        "ثم",
        "عند",
    ],
}
_SYLLABLES = {
    "en": [
        "ra",
        "to",
        "mi",
        "sen",
        "la",
        "ver",
        "con",
        "tion",
        "ment",
        "ing",
        "al",
        "de",
        "pro",
        "res",
        "ter",
    ],
    "fr": [
        "ré",
        "to",
        "mi",
        "sé",
        "la",
        "vè",
        "con",
        "tion",
        "ment",
        "é",
        "al",
        "dé",
        "pro",
        "res",
        "ter",
    ],
    "nl": [
        "ra",
        "to",
        "mi",
        "sen",
        "la",
        "ver",
        "ge",
        "heid",
        "ing",
        "aal",
        "de",
        "pro",
        "res",
        "ter",
        "ij",
    ],
    "ar": [
        "تع",
        "مل",
        "حك",
        "وز",
        "رة",
        "قا",
        "نو",
        "سل",
        "مد",
        "شر",
        "عد",
        "لة",
        "بي",
        "حر",
        "مس",
    ],
}
LANGUAGES = tuple(_COMMON)
CONFIG = parse_config(
    "topics:\n  t:\n    name: T\n    keywords: [x]\nfeeds:\n"
    + "".join(f"  - id: {lang}\n    url: https://gov.example/{lang}\n" for lang in LANGUAGES)
)


def _vocabulary(lang: str, rng: random.Random, size: int = 5000) -> list[str]:
    syllables = _SYLLABLES[lang]
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


class Corpus:
    """Deterministic statements in four languages with Zipf-distributed content words."""

    def __init__(self, seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.vocab = {lang: _vocabulary(lang, self.rng) for lang in LANGUAGES}
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(5000)]
        total = sum(weights)
        self.cumulative: list[float] = []
        acc = 0.0
        for weight in weights:
            acc += weight / total
            self.cumulative.append(acc)

    def _words(self, lang: str, count: int) -> list[str]:
        rng, vocab, common = self.rng, self.vocab[lang], _COMMON[lang]
        content = rng.choices(vocab, cum_weights=self.cumulative, k=count)
        return [w if rng.random() < 0.5 else rng.choice(common) for w in content]

    def item(self, number: int) -> tuple[str, Item]:
        lang = LANGUAGES[number % len(LANGUAGES)]
        title = " ".join(self._words(lang, self.rng.randint(8, 14))).capitalize()
        body = " ".join(self._words(lang, self.rng.randint(60, 100))) + "."
        published = datetime.fromtimestamp(1_700_000_000 + number * 60, UTC)
        link = f"https://gov.example/{lang}/{number}"
        return lang, Item(f"n{number}", title, link, body, "", published)


def _store(conn: Connection, items: list[tuple[str, Item]], *, index: bool) -> float:
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        with transaction(conn):
            for feed, item in items[start : start + BATCH]:
                item_id = item_rows.insert_item(
                    conn, feed, item, link_key=item.link, topics=(), now=time.time()
                )
                if index and item_id is not None:
                    archive.add(conn, item_id, item, now=time.time())
    return time.perf_counter() - started


def _size(path: Path, conn: Connection) -> int:
    if conn.dialect == "postgresql":
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
        return int(row[0])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def _open(directory: Path, pg_base: str | None) -> Connection:
    """A fresh state: a SQLite file in ``directory``, or a schema named after it."""
    if pg_base is None:
        return connect(directory)
    return connect_postgres(_schema(pg_base, f"bench_search_{directory.name}"))


def _queries(corpus: Corpus, items: list[tuple[str, Item]]) -> dict[str, list[str]]:
    rng = random.Random(7)
    ranks = [int(2000 ** (n / (QUERIES - 1))) - 1 for n in range(QUERIES)]
    # Words by how common they are in the stored statements (a rare one may not occur at all in
    # a small corpus, and a query without results measures nothing).
    counts: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
    for lang, item in items:
        counts[lang].update(item.title.lower().split() + item.summary.rstrip(".").split())
    present = {lang: [w for w, _ in counts[lang].most_common()] for lang in LANGUAGES}
    one = [
        present[lang][min(rank, len(present[lang]) - 1)]
        for n, rank in enumerate(ranks)
        for lang in (LANGUAGES[n % 4],)
    ]
    phrase, three = [], []
    for _ in range(QUERIES):
        _, item = rng.choice(items)
        words = item.summary.rstrip(".").split()
        pairs = [n for n in range(len(words) - 1) if len(words[n]) > 3 and len(words[n + 1]) > 3]
        at = rng.choice(pairs)
        phrase.append(f'"{words[at]} {words[at + 1]}"')
        three.append(" ".join(rng.sample([w for w in words if len(w) > 3], 3)))
    return {"one-word": one, "phrase": phrase, "three-term": three}


def _time_queries(conn: Connection, queries: list[str]) -> list[float]:
    times = []
    now = time.time()
    for text in queries:
        started = time.perf_counter()
        results = run_search(conn, parse_query(text, now=now), CONFIG, limit=5)
        times.append((time.perf_counter() - started) * 1000)
        assert results, text
    return times


def measure(statements: int, pg_base: str | None = None) -> dict[str, float]:
    corpus = Corpus()
    items = [corpus.item(n) for n in range(statements)]
    sample = items[: min(len(items), 10_000)]
    out: dict[str, float] = {"statements": statements}
    with tempfile.TemporaryDirectory(prefix="vigil-search-") as tmp:
        plain_dir, full_dir = Path(tmp, "plain"), Path(tmp, "full")
        plain, full = _open(plain_dir, pg_base), _open(full_dir, pg_base)
        base_plain, base_full = (
            _size(plain_dir / "vigil.db", plain),
            _size(full_dir / "vigil.db", full),
        )
        without = _store(plain, sample, index=False)
        with_index = _store(full, sample, index=True)
        out["index_ms_per_item"] = (with_index - without) / len(sample) * 1000
        out["store_ms_per_item"] = without / len(sample) * 1000
        grown_plain = _size(plain_dir / "vigil.db", plain) - base_plain
        out["bytes_per_1000_plain"] = grown_plain / len(sample) * 1000
        _store(full, items[len(sample) :], index=True)
        out["bytes_per_1000"] = (_size(full_dir / "vigil.db", full) - base_full) / statements * 1000
        out["text_bytes_per_item"] = sum(
            len((i.title + i.summary).encode()) for _, i in sample
        ) / len(sample)
        for kind, queries in _queries(corpus, items).items():
            _time_queries(full, queries[:5])  # warm the page cache
            times = sorted(_time_queries(full, queries))
            out[f"{kind}_p50"] = statistics.median(times)
            out[f"{kind}_p95"] = times[int(len(times) * 0.95) - 1]
        plain.close()
        full.close()
    return out


def search_row(statements: int, pg_base: str | None = None) -> Row:
    """The row on SQLite, or on the PostgreSQL server at ``pg_base`` when given."""
    r = measure(statements, pg_base)
    where = " on PostgreSQL" if pg_base else ""
    kinds = ("one-word", "phrase", "three-term")
    worst = max(r[f"{k}_p95"] for k in kinds)
    measured = "; ".join(f"{k} p95 {r[f'{k}_p95']:.1f} ms (p50 {r[f'{k}_p50']:.1f})" for k in kinds)
    return Row(
        what=f"archive search{where}: {statements:,} statements EN/FR/NL/AR",
        measured=measured + f"; indexing +{r['index_ms_per_item']:.2f} ms/item; "
        f"{r['bytes_per_1000'] / 1e6:.2f} MB per 1,000 statements",
        target=f"p95 ≤ {TARGET_MS:.0f} ms per query kind",
        met=worst <= TARGET_MS,
        notes=[
            f"archive search{where}: bench/search_bench.py; a page of 5 with excerpts, 40 queries "
            "per "
            "kind taken from stored statements (one-word from the most common content word to "
            "rank 2,000); indexing cost = storing with the archive minus storing the seen set "
            f"alone ({r['store_ms_per_item']:.2f} ms/item), 100 items per transaction; growth "
            f"with the archive {r['bytes_per_1000'] / 1e6:.2f} MB vs "
            f"{r['bytes_per_1000_plain'] / 1e6:.2f} MB for the seen set alone per 1,000 "
            f"statements of about {r['text_bytes_per_item']:.0f} bytes of text."
        ],
    )
