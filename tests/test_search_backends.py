"""Word search on PostgreSQL means what it means on SQLite: the same archive and the same queries
find the same statements on both.

What is compared: for every query, the SET of statements found (all of them: the archive is far
below the rank window). Queries without words (filters, exclusions) must come in exactly the same
order (newest first). Ranked queries may order close ranks differently (bm25 weighs a word's
rarity, ts_rank does not: bot.store.archive), so their order is compared only where the rule is
the documented one: a statement with the words in its title comes before one with them only in
its body (`test_title_first_on_both`).
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.search.engine import run_search
from bot.search.query import QueryError, parse_query
from bot.store import archive
from bot.store import db as db_module
from bot.store.backend import Connection, Cursor
from bot.store.db import connect_postgres, connect_sqlite, open_postgres, transaction
from tests.conftest import vigil_cmd
from tests.test_archive import NOW, STATEMENTS, config, keys, store

Row = tuple[str, str, str, str, int, list[str]]


# Words of the four languages as statements spell them: accents, tashkeel, Arabic attached
# prefixes and spelling variants, hyphens, apostrophes, UN symbols and version numbers.
_WORDS = {
    "en": [
        "torture",
        "detention",
        "court",
        "ruling",
        "convention",
        "against",
        "sanctions",
        "caesar",
        "act",
        "syria",
        "ceasefire",
        "peace",
        "talks",
        "human",
        "rights",
        "council",
        "statement",
    ],
    "fr": [
        "torture",
        "détention",
        "arbitraire",
        "évoqué",
        "cour",
        "pénale",
        "droits",
        "de",
        "l'homme",
        "conseil",
        "déclaration",
        "sanctions",
        "paix",
        "négociations",
    ],
    "nl": [
        "foltering",
        "detentie",
        "rechtbank",
        "uitspraak",
        "mensenrechten",
        "verdrag",
        "sancties",
        "staakt-het-vuren",
        "vredesbesprekingen",
        "ijsselmeer",
    ],
    "ar": [
        "التعذيب",
        "الاحتجاز",
        "المحكمة",
        "الجنائية",
        "الأسد",
        "الأسَد",
        "والأسد",
        "بالمحكمة",
        "قانون",
        "قيصر",
        "سوريا",
        "مجلس",
        "حقوق",
        "الإنسان",
        "اتفاقية",
        "مناهضة",
    ],
}
_CODES = ["A/HRC/52/1", "A.HRC.52", "2.0.8", "v2.0.8", "S/RES/2254", "al-Assad's", "l'ONU"]


_FIXED: list[Row] = [
    (
        "ohchr",
        "f1",
        "Conseil des droits de l'homme",
        "Le Conseil des droits de l’homme a dit.",
        12,
        [],
    ),
    ("icj", "f2", "Document a hrc 52", "Plain words: a hrc 52, not the symbol.", 8, ["cat"]),
    ("ohchr", "f3", "التعذيب في سوريا", "قالت اللجنة إن التعذيب مستمر.", 20, ["cat"]),
]


def corpus(count: int = 160, seed: int = 15) -> list[Row]:
    """STATEMENTS and ``count`` generated ones, the same on every run."""
    rng = random.Random(seed)
    rows: list[Row] = [*STATEMENTS, *_FIXED]
    for n in range(count):
        words = _WORDS[rng.choice(sorted(_WORDS))]

        def text(low: int, high: int, words: list[str] = words) -> str:
            picked = [rng.choice(words) for _ in range(rng.randint(low, high))]
            if rng.random() < 0.3:
                picked.insert(rng.randrange(len(picked) + 1), rng.choice(_CODES))
            return " ".join(picked) + rng.choice(["", ".", "; ", " — fin"])

        feed = rng.choice(["icj", "ohchr"])
        topics = rng.choice([[], ["cat"], ["caesar"], ["cat", "caesar"]])
        rows.append((feed, f"g{n}", text(2, 7), text(8, 30), rng.randint(0, 120), topics))
    return rows


QUERIES = [
    "torture",
    "TORTURE",
    "tortur*",
    "détention",
    "detention",
    "evoque",
    "ÉVOQUÉ",
    '"droits de l\'homme"',
    "l'homme",
    '"caesar act"',
    "caesar act",
    '"caesar ac"*',
    "caesar -act",
    "torture -syria",
    '-"peace talks" sanctions',
    "peace OR paix OR vredesbesprekingen",
    "syria torture OR foltering",
    "A/HRC/52",
    "a/hrc/52/1",
    '"a hrc 52"',
    "2.0.8",
    "v2",
    "al-Assad's",
    "staakt-het-vuren",
    '"staakt het vuren"',
    "ijsselmeer",
    "mensenrechten verdrag",
    "الأسد",
    "الاسد",
    "الأسَد",
    "الـأسد",
    "المحكمة",
    '"المحكمة الجنائية"',
    "قيصر -سوريا",
    "التعذ*",
    "feed:ohchr torture",
    "topic:cat",
    "topic:caesar feed:icj",
    "since:2026-04-01 until:2026-05-01",
    "since:30d sanctions",
    "-torture",
    "-torture -التعذيب feed:icj",
    '"unbalanced',
    "nothing-matches-this",
]


@dataclass
class Pair:
    """The same archive in SQLite and in PostgreSQL."""

    sqlite: Connection
    postgres: Connection

    def both(self, text: str) -> tuple[list[str], list[str]]:
        """The keys a query finds on each, in order."""
        query = parse_query(text, now=NOW)
        return tuple(  # type: ignore[return-value]
            keys(run_search(conn, query, config(), limit=1000))
            for conn in (self.sqlite, self.postgres)
        )


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[Pair]:
    """The corpus stored in a SQLite file and in a fresh PostgreSQL schema."""
    lite = connect_sqlite(tmp_path / "state", create=True)
    pg = connect_postgres(pg_url)
    rows = corpus()
    store(lite, rows)
    store(pg, rows)
    try:
        yield Pair(lite, pg)
    finally:
        lite.close()
        pg.close()


def _has_words(text: str) -> bool:
    query = parse_query(text, now=NOW)
    return query.match_expression() is not None


def test_same_statements_found_on_both(pair: Pair) -> None:
    """Every query finds the same statements on SQLite and PostgreSQL; word-less queries in
    the same order. (Most queries find something: the comparison is not of empty lists.)"""
    found_something = 0  # "unbalanced and nothing-matches-this find nothing
    for text in QUERIES:
        on_sqlite, on_postgres = pair.both(text)
        assert sorted(on_sqlite) == sorted(on_postgres), text
        if not _has_words(text):
            assert on_sqlite == on_postgres, text
        found_something += bool(on_sqlite)
    assert found_something == len(QUERIES) - 2


def test_title_first_on_both(pair: Pair) -> None:
    """On both, the statements with a word in their title come before those with it only in
    their body; statements alike in all but date come newest first."""
    rows: list[Row] = [
        ("icj", "t-old", "Foltering verdrag", "x", 50, []),
        ("icj", "t-new", "Foltering verdrag", "x", 5, []),
        ("icj", "b", "Nieuws", "foltering verdrag genoemd", 1, []),
    ]
    store(pair.sqlite, rows)
    store(pair.postgres, rows)
    for found in pair.both('"foltering verdrag"'):
        assert found[:2] == ["t-new", "t-old"]
        assert found.index("b") > 1
        title_hits = [k for k in found if k.startswith("t-")]
        assert found[: len(title_hits)] == title_hits


_SOUP = [
    *sorted({w for words in _WORDS.values() for w in words} | set(_CODES)),
    "OR",
    "-",
    '"',
    "*",
    "tortur*",
    "feed:icj",
    "topic:cat",
    "since:30d",
    "(",
    ")",
]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(_SOUP), min_size=1, max_size=5), st.booleans())
def test_any_query_finds_the_same_on_both(pair: Pair, parts: list[str], glued: bool) -> None:
    """Queries made of the corpus's words, operators and filters: the same set on both (or
    the same reason to refuse)."""
    text = ("" if glued else " ").join(parts)
    try:
        on_sqlite, on_postgres = pair.both(text)
    except QueryError:
        return
    assert sorted(on_sqlite) == sorted(on_postgres), text
    if not _has_words(text):
        assert on_sqlite == on_postgres, text


def test_existing_rows_are_indexed_by_the_migration(pg_url: str) -> None:
    """A PostgreSQL state from before word search (schema 7) with archived statements: after
    migration 8 they are found, with nothing re-written."""
    conn = open_postgres(pg_url)
    with transaction(conn):
        for script in db_module.MIGRATIONS[:7]:
            for statement in db_module._statements(script, "postgresql"):
                conn.execute(statement)
        conn.set_schema_version(7)
    store(conn, STATEMENTS)
    conn.close()
    migrated = connect_postgres(pg_url)
    try:
        assert migrated.schema_version() == 8
        found = keys(run_search(migrated, parse_query("tortur*", now=NOW), config(), limit=10))
        assert sorted(found) == ["2", "5"]
        assert keys(run_search(migrated, parse_query("الاسد", now=NOW), config(), limit=9)) == ["3"]
    finally:
        migrated.close()


def test_reindex_and_prune_keep_both_indexes_right(pair: Pair) -> None:
    """Full text read later is found after reindex; pruned text is found no more; on both."""
    for conn in (pair.sqlite, pair.postgres):
        item_id = conn.execute("SELECT id FROM items WHERE item_key = '6'").fetchone()[0]
        with transaction(conn):
            conn.execute(
                "UPDATE items SET full_text = ? WHERE id = ?",
                ("Le texte intégral cite la résolution S/RES/2254.", item_id),
            )
            assert archive.reindex(conn, item_id)
    assert pair.both('integral "s/res/2254"') == (["6"], ["6"])
    for conn in (pair.sqlite, pair.postgres):
        with transaction(conn):
            while archive.prune(conn, before=NOW - 1.5 * 86_400.0):
                pass
    on_sqlite, on_postgres = pair.both("integral")
    assert on_sqlite == on_postgres == []
    assert sorted(pair.both("-nothingatall")[0]) == sorted(pair.both("-nothingatall")[1])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_no_input_breaks_postgresql(pair: Pair, text: str) -> None:
    """Any text is a QueryError with a reason or a search PostgreSQL runs: never an engine
    error (the tsquery is built from escaped lexemes and bound, not concatenated)."""
    try:
        query = parse_query(text, now=NOW)
    except QueryError:
        return
    try:
        run_search(pair.postgres, query, config(), limit=5)
    except QueryError:
        return  # an unknown feed: or topic:


def test_vigil_migrate_then_search_on_postgresql(
    tmp_path: Path, pg_url: str, vigil_env: dict[str, str]
) -> None:
    """`vigil migrate --to` copies the archive (FTS5's hidden rowid included); `vigil search`
    against the PostgreSQL then answers as it did against the SQLite file."""
    state = tmp_path / "state"
    conn = connect_sqlite(state, create=True)
    rows = corpus(40)
    store(conn, rows)
    conn.close()
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "topics:\n  cat: {keywords: [torture]}\n  caesar: {keywords: [caesar]}\nfeeds:\n"
        "  - {id: icj, url: 'https://a.test/1'}\n  - {id: ohchr, url: 'https://a.test/2'}\n"
    )
    moved = subprocess.run(
        vigil_cmd("migrate", "--to", pg_url), env=vigil_env, capture_output=True, text=True
    )
    assert moved.returncode == 0, moved.stderr
    assert f"archive_index: {len(rows)} rows copied and verified" in moved.stdout

    def search(env: dict[str, str], *args: str) -> list[str]:
        done = subprocess.run(
            [*vigil_cmd("search", *args, "--json", "--limit", "1000"), "--config", str(feeds)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode in (0, 1), done.stderr
        return sorted(json.loads(line)["link"] for line in done.stdout.splitlines())

    on_pg = {**vigil_env, "VIGIL_DATABASE_URL": pg_url}
    for query in ("tortur*", "الاسد", "A/HRC/52", '"caesar act" -syria', "2.0.8 OR évoqué"):
        assert search(vigil_env, query) == search(on_pg, query), query
    assert search(on_pg, "tortur*")


def test_the_newest_window_is_the_same_on_both(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the newest RANK_WINDOW matches are ranked, on both. PostgreSQL finds them by walking
    the newest rows, walking a longer span, or listing every match from the GIN index: each
    way (all three taken here, with a window of 4 and spans of 8 and 32 rows) gives the
    window SQLite's FTS5 gives, filters included."""
    monkeypatch.setattr(archive, "RANK_WINDOW", 4)
    monkeypatch.setattr(archive, "PG_FIRST_SPAN", 8)
    monkeypatch.setattr(archive, "PG_MAX_WALK", 32)
    seen: list[str] = []
    execute = pair.postgres.execute

    def counting(sql: str, params: Sequence[object] = ()) -> Cursor:
        if "f.rowid > ?" in sql:
            seen.append("walk")
        elif "MATERIALIZED" in sql:
            seen.append("gin")
        return execute(sql, params)

    monkeypatch.setattr(pair.postgres, "execute", counting)
    paths = set()
    for text in ("torture", "détention", "sanctions feed:icj", "الاسد", "ijsselmeer", "2.0.8"):
        seen.clear()
        on_sqlite, on_postgres = pair.both(text)
        assert len(on_sqlite) == 4, text
        assert sorted(on_sqlite) == sorted(on_postgres), text
        paths.add(tuple(seen))
    assert paths >= {("walk",), ("walk", "walk"), ("walk", "gin")}, paths
