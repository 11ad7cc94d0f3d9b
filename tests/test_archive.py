"""The archive and search over a real SQLite file and a real PostgreSQL (the `database` fixture):
what is found, in which order, and shown how."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, parse_config
from bot.fetch import Fetcher
from bot.match import Matcher
from bot.model import Item
from bot.pipeline import Poller, Runtime
from bot.pipeline.scheduler import PollScheduler
from bot.search.engine import Result, run_search
from bot.search.excerpt import to_html, to_marked_text
from bot.search.query import QueryError, parse_query
from bot.service.app import fetch_policy
from bot.store import archive
from bot.store import db as db_module
from bot.store import items as item_rows
from bot.store.backend import Connection, SqliteConnection
from bot.store.db import connect, connect_postgres, transaction
from tests.conftest import make_config

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
DAY = 86_400.0

STATEMENTS = [
    # feed, key, title, summary, days before NOW, topics
    ("icj", "1", "ICJ rules on the Caesar Act", "The Court évoqué the Caesar Act.", 3, ["caesar"]),
    ("icj", "2", "Torture case hearing", "Tortures in detention; A/HRC/52/1 cited.", 10, ["cat"]),
    ("ohchr", "3", "بيان حول الأسد", "قال المتحدث إن الأسَد والمحكمة الجنائية", 5, []),
    ("ohchr", "4", "Weather", "Sunny with a chance of rain; version 2.0.8.", 1, []),
    ("ohchr", "5", "Torture", "Convention against torture, again.", 40, ["cat"]),
    ("icj", "6", "Julius Caesar; Act III", "A play.", 2, []),
]


def config() -> Config:
    """Two feeds (icj, ohchr) and the topics cat and caesar."""
    return parse_config(make_config({"icj": "http://a.test/1", "ohchr": "http://a.test/2"}))


def store(conn: Connection, rows: list[tuple[str, str, str, str, int, list[str]]]) -> None:
    """Inserts items and archives them, as the poller does, in one transaction."""
    with transaction(conn):
        for feed, key, title, summary, age, topics in rows:
            published = datetime.fromtimestamp(NOW - age * DAY, UTC)
            item = Item(key, title, f"http://a.test/{key}", summary, "", published)
            item_id = item_rows.insert_item(
                conn, feed, item, link_key=item.link, topics=topics, now=NOW - age * DAY
            )
            assert item_id is not None
            archive.add(conn, item_id, item, now=NOW - age * DAY)


@pytest.fixture
def conn(tmp_path: Path, database: str) -> Connection:
    """A state database holding STATEMENTS, on SQLite and on PostgreSQL."""
    db = connect(tmp_path)
    store(db, STATEMENTS)
    return db


def search(conn: Connection, text: str, limit: int = 20) -> list[Result]:
    """Runs a query as `vigil search` does."""
    return run_search(conn, parse_query(text, now=NOW), config(), limit=limit)


def keys(results: list[Result]) -> list[str]:
    """The item keys found, in order (items are keyed by their ids here)."""
    return [r.found.link.rsplit("/", 1)[1] for r in results if r.found.link]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caesar", ["6", "1"]),
        ('"caesar act"', ["1"]),
        ("caesar act", ["6", "1"]),
        ("tortur*", ["5", "2"]),
        ("evoque", ["1"]),
        ("ÉVOQUÉ", ["1"]),
        ("الأسد", ["3"]),
        ("الاسد", ["3"]),
        ("الأسَد", ["3"]),
        ("الـأسد", ["3"]),
        ("المحكمة", ["3"]),
        ("A/HRC/52", ["2"]),
        ("2.0.8", ["4"]),
        ("torture -convention", ["2"]),
        ("caesar OR weather", ["4", "6", "1"]),
        ("feed:ohchr torture", ["5"]),
        ("topic:cat", ["2", "5"]),
        ("since:2026-05-20 tortur*", ["2"]),
        ("until:2026-05-01 tortur*", ["5"]),
        ("-torture", ["4", "6", "1", "3"]),
        ("nothing-here", []),
    ],
)
def test_finds(conn: Connection, database: str, text: str, expected: list[str]) -> None:
    """Normalized matching, the grammar's operators and filters, best then newest first.

    The same statements on both databases, in the same order, except where SQLite's bm25 ranks
    by a word's rarity, which PostgreSQL's ts_rank does not weigh (bot.store.archive).
    """
    found = keys(search(conn, text))
    if database == "postgresql" and text in _RARER_FIRST:
        assert sorted(found) == sorted(expected)
    else:
        assert found == expected


_RARER_FIRST = {"caesar OR weather"}  # bm25: the rarer "weather" first


def test_title_outranks_body_then_newer_first(conn: Connection) -> None:
    """A title hit beats a body hit; equal ranks go newest first."""
    store(
        conn,
        [
            ("icj", "7", "Sanctions", "nothing", 9, []),
            ("icj", "8", "Other", "sanctions mentioned once", 1, []),
            ("icj", "9", "Sanctions", "nothing", 2, []),
        ],
    )
    assert keys(search(conn, "sanctions")) == ["9", "7", "8"]


def test_excerpt_marks_original_text(conn: Connection) -> None:
    """Matched words are marked in the original spelling, accents and tashkeel kept."""
    [result] = search(conn, "evoque caesar")
    assert to_marked_text(result.excerpt) == "The Court **évoqué** the **Caesar** Act."
    assert to_html(result.title) == "ICJ rules on the <b>Caesar</b> Act"
    [arabic] = search(conn, "الاسد")
    assert "**الأسَد**" in to_marked_text(arabic.excerpt)
    [prefixed] = search(conn, "tortur* feed:icj")
    assert to_marked_text(prefixed.excerpt).startswith("**Tortures** in detention")


def test_unknown_feed_or_topic_is_refused(conn: Connection) -> None:
    """A typo in feed: or topic: gets a reason, not an empty answer."""
    with pytest.raises(QueryError, match="unknown feed 'icc'"):
        search(conn, "feed:icc x")
    with pytest.raises(QueryError, match="unknown topic"):
        search(conn, "topic:nope")


def test_paging(conn: Connection) -> None:
    """offset and limit page through the same order."""
    everything = keys(search(conn, "-nothing"))
    query = parse_query("-nothing", now=NOW)
    pages = [keys(run_search(conn, query, config(), limit=2, offset=start)) for start in (0, 2, 4)]
    assert [key for page in pages for key in page] == everything


def test_prune_keeps_the_seen_set(conn: Connection) -> None:
    """Pruning forgets old text (not searchable) but every item stays seen."""
    before = item_rows.count_items(conn)
    with transaction(conn):
        removed = archive.prune(conn, before=NOW - 7 * DAY)
    assert removed == 2
    assert keys(search(conn, "tortur*")) == []
    assert item_rows.count_items(conn) == before
    assert item_rows.known_keys(conn, "icj", ["2"]) == {"2"}
    assert conn.execute("SELECT count(*) FROM archive_index").fetchone()[0] == 4


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    """A database from before the archive gains it; its items stay, new ones are searchable."""
    old = sqlite3.connect(tmp_path / "vigil.db")
    for statement in db_module._statements(db_module.MIGRATIONS[0]):
        old.execute(statement)
    old.execute("INSERT INTO items (feed_id, item_key, first_seen_at) VALUES ('icj', 'old', 1)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    conn = connect(tmp_path)
    assert item_rows.known_keys(conn, "icj", ["old"]) == {"old"}
    store(conn, STATEMENTS[:1])
    assert keys(search(conn, "caesar")) == ["1"]


def test_long_fields_are_capped(tmp_path: Path, database: str) -> None:
    """A huge entry is archived up to MAX_FIELD characters and still found."""
    conn = connect(tmp_path)
    store(conn, [("icj", "big", "Big", "word " * 30_000 + "needle", 1, [])])
    stored = conn.execute("SELECT length(summary) FROM archive").fetchone()[0]
    assert stored == archive.MAX_FIELD
    assert keys(search(conn, "word")) == ["big"]


def test_body_text_skips_repeated_parts() -> None:
    """A summary repeated at the head of the content is indexed once."""
    assert archive.body_text("Head.", "Head. And more.") == "Head. And more."
    assert archive.body_text("One.", "", "Two.") == "One.\nTwo."


_PIECES = ["Caesar", "césar", "Act", "act's", " ", " ", "-", "; ", ", ", "/", "«", "»", "\n", "x"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=10),
    st.sampled_from(["Caesar Act", "césar act", "caesar-act", "act", "« Caesar act »", "cae*"]),
)
def test_a_search_agrees_with_an_alert(words: list[str], keyword: str) -> None:
    """A quoted search finds a statement exactly when the same keyword would alert on it.

    (One documented difference: punctuation a query puts between words may be any punctuation
    in the statement, where a keyword needs that same character: see the next test.)
    """
    _agrees(connect_memory(), "".join(words), keyword)


def _agrees(conn: Connection, text: str, keyword: str) -> None:
    store(conn, [("icj", "k", text, "", 1, [])])
    alert = bool(Matcher.compile([_Topic("t", (keyword,))]).match(text, "", ""))
    # The keyword as a quoted search (one already in quotes or guillemets is typed as it is).
    quoted = keyword if keyword.startswith("«") else f'"{keyword.rstrip("*")}"'
    found = bool(search(conn, quoted + ("*" if keyword.endswith("*") else "")))
    assert found == alert, (text, keyword)


@pytest.fixture
def pg_conn(pg_url: str) -> Iterator[Connection]:
    """A migrated PostgreSQL state in a schema of this test's own."""
    conn = connect_postgres(pg_url)
    try:
        yield conn
    finally:
        conn.close()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=10),
    st.sampled_from(["Caesar Act", "césar act", "caesar-act", "act", "« Caesar act »", "cae*"]),
)
def test_a_search_agrees_with_an_alert_on_postgresql(
    pg_conn: Connection, words: list[str], keyword: str
) -> None:
    """The same on PostgreSQL: its tsvector splits the index text where FTS5 does."""
    with transaction(pg_conn):
        for table in ("archive_index", "archive", "items"):
            pg_conn.execute(f"DELETE FROM {table}")
    _agrees(pg_conn, "".join(words), keyword)


@dataclass(frozen=True)
class _Topic:
    """The smallest TopicSpec: one keyword list."""

    id: str
    keywords: tuple[str, ...]
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def connect_memory() -> Connection:
    """A migrated state database in memory (for property tests that need many)."""
    conn = SqliteConnection(sqlite3.connect(":memory:", isolation_level=None), ":memory:")
    for script in db_module.MIGRATIONS:
        for statement in db_module._statements(script):
            conn.execute(statement)
    return conn


def test_punctuation_inside_a_query_needs_punctuation_there(conn: Connection) -> None:
    """A/HRC/52 finds A/HRC/52 and A.HRC.52 (any punctuation), never "a hrc 52"."""
    store(conn, [("icj", "dots", "A.HRC.52", "", 1, []), ("icj", "plain", "a hrc 52", "", 1, [])])
    assert sorted(keys(search(conn, "A/HRC/52"))) == ["2", "dots"]
    assert keys(search(conn, '"a hrc 52"')) == ["plain"]


async def test_the_scheduler_prunes_text_older_than_keep(tmp_path: Path, database: str) -> None:
    """settings.keep: the service's tick forgets archived text past it; the seen set stays."""
    text = make_config({"icj": "http://127.0.0.1:9/a", "ohchr": "http://127.0.0.1:9/b"})
    cfg = parse_config(text.replace("settings:\n", "settings:\n  keep: 7d\n", 1))
    assert cfg.settings.keep == 7 * DAY
    db = connect(tmp_path)
    store(db, STATEMENTS)
    runtime = Runtime.build(cfg, console=True)
    poller = Poller(db, Fetcher(fetch_policy(cfg)), lambda: runtime, clock=lambda: NOW)
    scheduler = PollScheduler(db, poller, lambda: runtime, clock=lambda: NOW)
    try:
        await scheduler.tick()
    finally:
        await scheduler.stop()
        await poller.fetcher.aclose()
        poller.close()
    assert archive.count(db) == 4
    assert item_rows.count_items(db) == len(STATEMENTS)
    assert keys(search(db, "tortur*")) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [("12h", "settings.keep: "), ("3651d", "settings.keep: "), ("365", "has no unit")],
)
def test_keep_is_validated(value: str, problem: str) -> None:
    """settings.keep is a duration from 1d to 3650d, refused with its key path otherwise."""
    text = make_config({"icj": "http://a.test/1"})
    with pytest.raises(ConfigError) as error:
        parse_config(text.replace("settings:\n", f"settings:\n  keep: {value}\n", 1))
    assert problem in str(error.value.problems[0])
