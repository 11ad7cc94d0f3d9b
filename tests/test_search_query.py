"""The search grammar: table-driven cases, and a fuzz proving no input reaches FTS5 or
PostgreSQL's tsquery unparsed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.search.query import MAX_QUERY, Query, QueryError, Term, parse_query

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()


def parse(text: str) -> Query:
    """Parses at a fixed time, in UTC."""
    return parse_query(text, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caesar act", '("caesar") AND ("act")'),
        ("Caesar ACT", '("caesar") AND ("act")'),
        ('"convention against torture"', '("convention against torture")'),
        ("“Convention contre la torture”", '("convention contre la torture")'),
        ("«détention arbitraire»", '("detention arbitraire")'),
        ("tortur*", '("tortur"*)'),
        ('"caesar ac"*', '("caesar ac"*)'),
        ("assad OR asad", '("assad" OR "asad")'),
        ("syria assad OR asad", '("syria") AND ("assad" OR "asad")'),
        ("syria or asad", '("syria") AND ("or") AND ("asad")'),
        ("syria -torture", '(("syria")) NOT ("torture")'),
        ('syria -"peace talks"', '(("syria")) NOT ("peace talks")'),
        ("syria –torture", '(("syria")) NOT ("torture")'),
        ("A/HRC/52", '("a \ue000 hrc \ue000 52")'),
        ("2.0.8", '("2 \ue000 0 \ue000 8")'),
        ("al-Assad's", '("al assad s")'),
        ("(caesar)", '("caesar")'),
        ("évoqué", '("evoque")'),
        ("AND", '("and")'),
        ("NOT near", '("not") AND ("near")'),
        ('"caesar act', '("caesar act")'),
        ("caesar / act", '("caesar") AND ("act")'),
        ("col:umn", '("col \ue000 umn")'),
        ("^caesar", '("caesar")'),
    ],
)
def test_compiles_to_quoted_fts5(text: str, expected: str) -> None:
    """Each form of the grammar compiles to quoted runs of words and operators only."""
    assert parse(text).match_expression() == expected


def test_arabic_first_word_takes_attached_prefixes() -> None:
    """An Arabic word matches with و, ف, ب, ل, ك, لل attached; spelling variants fold."""
    expressions = {parse(t).match_expression() for t in ("الأسد", "الاسد", "الأسَد", "الـأسد")}
    assert len(expressions) == 1
    expression = expressions.pop()
    assert expression is not None
    for form in ("الاسد", "والاسد", "بالاسد", "للاسد", "وللاسد", "فالاسد"):
        assert f'"{form}"' in expression
    phrase = parse('"المحكمة الجنائية"').match_expression()
    assert phrase is not None and '"والمحكمه الجناييه"' in phrase


@pytest.mark.parametrize(
    ("text", "feeds", "topics", "since", "until"),
    [
        ("feed:ohchr", ("ohchr",), (), None, None),
        ("feed:OHCHR feed:icj x", ("ohchr", "icj"), (), None, None),
        ("topic:caesar", (), ("caesar",), None, None),
        ("since:2026-03-01", (), (), datetime(2026, 3, 1, tzinfo=UTC), None),
        ("until:2026-03-31", (), (), None, datetime(2026, 4, 1, tzinfo=UTC)),
        ("since:7d", (), (), datetime(2026, 5, 25, 12, tzinfo=UTC), None),
        ("SINCE:12h", (), (), datetime(2026, 6, 1, tzinfo=UTC), None),
    ],
)
def test_filters(
    text: str,
    feeds: tuple[str, ...],
    topics: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """feed:, topic:, since: and until: become filters, not words."""
    query = parse(text)
    assert query.feeds == feeds
    assert query.topics == topics
    assert query.since == (since.timestamp() if since else None)
    assert query.until == (until.timestamp() if until else None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "nothing to search for"),
        ("   / —  ", "nothing to search for"),
        ("OR caesar", "OR must stand between"),
        ("caesar OR", "OR must stand between"),
        ("caesar OR OR act", "OR must stand between"),
        ("caesar OR -act", "OR must stand between"),
        ("caesar OR feed:icj", "OR must stand between"),
        ("a*", "at least 2 letters"),
        ("since:", "needs a date"),
        ("since:yesterday", "wants a date like 2026-03-01"),
        ("since:2026-02-30", "not a real date"),
        ("since:2026-03-02 until:2026-03-01", "since: must come before until:"),
        ("feed:no/such", "is not a feed id"),
        ("-feed:icj caesar", "a filter cannot be excluded"),
        ("x " * 13, "at most 12 words"),
        ("x" * (MAX_QUERY + 1), f"at most {MAX_QUERY} characters"),
    ],
)
def test_unreadable_queries_say_why(text: str, reason: str) -> None:
    """A query that cannot be read raises QueryError naming the problem."""
    with pytest.raises(QueryError, match=reason):
        parse(text)


def test_exclusion_alone_is_a_query() -> None:
    """`-torture` alone lists the statements without it (newest first), not an error."""
    query = parse("-torture")
    assert query.match_expression() is None
    assert query.exclusion_expression() == '("torture")'


def test_terms_and_explain() -> None:
    """The positive terms are what excerpts mark; explain shows the normalized query."""
    query = parse('Évoqué "Caesar Act" tortur* -Libye feed:icj')
    assert query.terms == (Term(("evoque",)), Term(("caesar", "act")), Term(("tortur",), True))
    assert query.explain() == 'evoque "caesar act" tortur* -libye feed:icj'


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    """An FTS5 table like the archive's, with a few rows."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='unicode61')")
    conn.execute("INSERT INTO t VALUES ('caesar act', 'a hrc 52 2 0 8 torture')")
    return conn


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_no_input_reaches_fts5_unparsed(fts: sqlite3.Connection, text: str) -> None:
    """Any text either raises QueryError or compiles to an expression FTS5 accepts."""
    try:
        query = parse(text)
    except QueryError:
        return
    for expression in (query.match_expression(), query.exclusion_expression()):
        if expression is not None:
            fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ['"', "-", "OR", "*", "(", ")", "AND", "NOT", "NEAR", ":", "^", "a", "bb", " ", "/"]
        ),
        max_size=12,
    )
)
def test_operator_soup_never_breaks_fts5(fts: sqlite3.Connection, parts: list[str]) -> None:
    """Strings made of FTS5's own operators and punctuation are parsed, never passed through."""
    text = " ".join(parts)
    try:
        query = parse(text)
    except QueryError:
        return
    expression = query.match_expression() or query.exclusion_expression()
    if expression is not None:
        fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caesar act", "('caesar') & ('act')"),
        ('"convention against torture"', "(('convention' <-> 'against' <-> 'torture'))"),
        ("tortur*", "('tortur':*)"),
        ('"caesar ac"*', "(('caesar' <-> 'ac':*))"),
        ("syria assad OR asad", "('syria') & ('assad' | 'asad')"),
        ("syria -torture", "(('syria')) & !('torture')"),
        ("A/HRC/52", "(('a' <-> '\ue000' <-> 'hrc' <-> '\ue000' <-> '52'))"),
        ("al-Assad's", "(('al' <-> 'assad' <-> 's'))"),
        ("a'b\\c", "(('a' <-> 'b' <-> '\ue000' <-> 'c'))"),
        ("NOT & | ! <->", "('not')"),
    ],
)
def test_compiles_to_quoted_tsquery(text: str, expected: str) -> None:
    """The same query as a PostgreSQL tsquery: quoted lexemes and operators only."""
    assert parse(text).tsquery() == expected


def test_exclusion_alone_as_tsquery() -> None:
    """`-torture` alone: no positive tsquery, the exclusion one on its own."""
    query = parse('-torture -"peace talks"')
    assert query.tsquery() is None
    assert query.exclusion_tsquery() == "('torture' | ('peace' <-> 'talks'))"


@pytest.fixture
def tsq(pg_url: str) -> Iterator[object]:
    """A PostgreSQL table with a tsvector like the archive's (psycopg itself: no translation)."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (doc tsvector)")
        conn.execute(
            "INSERT INTO t VALUES ('caesar:1A act:2A a:3B hrc:5B 52:7B torture:8B'::tsvector)"
        )
        yield conn


def _runs_on_postgresql(conn: object, query: Query) -> None:
    for expression in (query.tsquery(), query.exclusion_tsquery()):
        if expression is not None:
            conn.execute(  # type: ignore[attr-defined]
                "SELECT count(*) FROM t WHERE doc @@ CAST(%s AS tsquery)", (expression,)
            ).fetchone()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_no_input_reaches_postgresql_unparsed(tsq: object, text: str) -> None:
    """Any text either raises QueryError or compiles to a tsquery PostgreSQL accepts."""
    try:
        query = parse(text)
    except QueryError:
        return
    _runs_on_postgresql(tsq, query)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            ["'", "\\", "&", "|", "!", "<->", "<2>", ":*", ":A", "(", ")", "OR", '"', "-", "a"]
        ),
        max_size=12,
    )
)
def test_operator_soup_never_breaks_postgresql(tsq: object, parts: list[str]) -> None:
    """Strings made of tsquery's own operators, quotes and backslashes are parsed, never
    passed through."""
    for joiner in (" ", ""):
        try:
            query = parse(joiner.join(parts))
        except QueryError:
            continue
        _runs_on_postgresql(tsq, query)
