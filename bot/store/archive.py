"""The archive: the text of every item Vigil reads, kept searchable for `settings.keep`.

Rules this module enforces:
- Each new item gets an ``archive`` row (its original summary and content; title, link, date
  and topics stay on its ``items`` row) and an ``archive_index`` row (rowid = item id) written
  in the pipeline's one transaction, so what was alerted is always searchable. On SQLite
  ``archive_index`` is an FTS5 table; on PostgreSQL a plain table whose generated ``doc``
  column is a tsvector of the same text, split into the same words (migration 8 says how), with
  a GIN index: the same writes index both, and a word search means the same on both.
- The index holds text normalized by :func:`bot.match.normalize.normalize`, the matcher's own
  normalizer: SQLite's tokenizers fold neither Arabic spelling nor tashkeel (tashkeel even
  splits words; ../shared/NEXT.md §1.2, measured), and indexing what the matcher compares makes
  a search agree with an alert. The tokenizer then only splits words (``unicode61``, no
  diacritic folding of its own) and the original text stays here for excerpts.
- The index stores its own copy of the normalized text (a regular FTS5 table, not a contentless
  one): a row is deleted by its rowid alone, so pruning never depends on re-normalizing the text
  exactly as it was indexed.
- Pruning deletes archive and index rows whose item was first read more than `keep` ago, in
  small batches; it never touches ``items``, the seen set that stops old items being re-sent.
- Fields are capped at :data:`MAX_FIELD` characters: a page-long feed entry is searchable
  without one item growing the database by megabytes.
- MATCH strings come only from :meth:`bot.search.query.Query.match_expression`, tsquery texts
  only from :meth:`bot.search.query.Query.tsquery`; both are bound, never formatted into SQL.
- Ranking: best first, then newer. SQLite ranks with bm25 (title 10x); PostgreSQL with
  ``ts_rank`` over the weighted tsvector (title words weight A = 1.0, body B = 0.1: 10x too)
  and the length penalty 1 + log(words). bm25 also weighs a word's rarity in the archive and
  ts_rank does not, so the same query finds the same statements on both, and the order of close
  ranks can differ (``caesar OR weather``: bm25 puts the rarer word's statements first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.match.normalize import normalize
from bot.model import Item
from bot.search.tokens import index_form
from bot.store.backend import Connection

MAX_FIELD = 50_000
PRUNE_BATCH = 500
RANK_WINDOW = 2000  # matches ranked per query: the newest ones (search() says why)
_DATE = "coalesce(i.published_at, i.first_seen_at)"


@dataclass(frozen=True, slots=True)
class Found:
    """One archived statement as a search returns it."""

    item_id: int
    feed_id: str
    title: str
    link: str | None
    published_at: float  # the feed's date, else when Vigil first read it
    topics: tuple[str, ...]
    summary: str
    content: str
    full_text: str = ""  # read from the item's page (issue 12's full text), when it was
    pdf_text: str = ""

    @property
    def body(self) -> str:
        return body_text(self.summary, self.content, self.full_text, self.pdf_text)


@dataclass(frozen=True, slots=True)
class Words:
    """A word query in each database's own syntax, both built from one parsed query."""

    fts5: str  # an FTS5 MATCH expression (SQLite)
    tsquery: str  # a tsquery text, read by the ::tsquery cast (PostgreSQL)


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows a search besides its words; ``until`` is exclusive."""

    feeds: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None


def body_text(*parts: str) -> str:
    """The searchable body: the non-empty parts, a part already inside another left out.

    Feeds often repeat the summary at the head of the content; indexing it twice would only
    double its weight. (Issue 12's extracted full text is one more part here.)
    """
    kept: list[str] = []
    for part in (p.strip() for p in parts):
        if not part or any(part in other for other in kept):
            continue
        kept = [other for other in kept if other not in part]
        kept.append(part)
    return "\n".join(kept)


def index_text(text: str) -> str:
    """What the index holds for a field: normalized, punctuation runs marked as breaks."""
    return index_form(normalize(text))


def add(
    conn: Connection,
    item_id: int,
    item: Item,
    *,
    now: float,
    indexed: tuple[str, str] | None = None,
) -> None:
    """Archives and indexes one new item (inside the caller's transaction).

    ``indexed`` is its (title, body) already through :func:`index_text`, computed off the event
    loop (bot.pipeline.prepare); without it they are computed here.
    """
    summary = item.summary[:MAX_FIELD]
    content = item.content[:MAX_FIELD]
    if indexed is None:
        indexed = (index_text(item.title[:500]), index_text(body_text(summary, content)))
    conn.execute(
        "INSERT OR REPLACE INTO archive (item_id, summary, content, stored_at) VALUES (?, ?, ?, ?)",
        (item_id, summary, content, now),
    )
    conn.execute("DELETE FROM archive_index WHERE rowid = ?", (item_id,))
    conn.execute(
        "INSERT INTO archive_index (rowid, title, body) VALUES (?, ?, ?)", (item_id, *indexed)
    )


def reindex(conn: Connection, item_id: int) -> bool:
    """Indexes an archived item again with the full text read from its page or PDF since.

    False when the item has no archive row (read before the archive existed, or pruned).
    """
    row = conn.execute(
        "SELECT i.title, a.summary, a.content, i.full_text, i.pdf_text FROM items i "
        "JOIN archive a ON a.item_id = i.id WHERE i.id = ?",
        (item_id,),
    ).fetchone()
    if row is None:
        return False
    body = body_text(row[1], row[2], row[3][:MAX_FIELD], row[4][:MAX_FIELD])
    conn.execute("DELETE FROM archive_index WHERE rowid = ?", (item_id,))
    conn.execute(
        "INSERT INTO archive_index (rowid, title, body) VALUES (?, ?, ?)",
        (item_id, index_text(row[0]), index_text(body)),
    )
    return True


def prune(conn: Connection, *, before: float, limit: int = PRUNE_BATCH) -> int:
    """Forgets the text of up to ``limit`` items first read before ``before``; returns how many."""
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT item_id FROM archive WHERE stored_at < ? ORDER BY stored_at LIMIT ?",
            (before, limit),
        )
    ]
    for item_id in ids:
        conn.execute("DELETE FROM archive_index WHERE rowid = ?", (item_id,))
        conn.execute("DELETE FROM archive WHERE item_id = ?", (item_id,))
    return len(ids)


def count(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM archive").fetchone()[0])


def _where(filters: Filters) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if filters.feeds:
        clauses.append(f"i.feed_id IN ({','.join('?' * len(filters.feeds))})")
        params.extend(filters.feeds)
    if filters.topics:
        marks = ",".join("?" * len(filters.topics))
        # Only placeholders are formatted in; the values are bound.
        topic_in = "EXISTS (SELECT 1 FROM json_each(nullif(i.topics, '')) WHERE value IN ({}))"
        clauses.append(topic_in.format(marks))
        params.extend(filters.topics)
    if filters.since is not None:
        clauses.append(f"{_DATE} >= ?")
        params.append(filters.since)
    if filters.until is not None:
        clauses.append(f"{_DATE} < ?")
        params.append(filters.until)
    return clauses, params


_COLUMNS = (
    f"i.id, i.feed_id, i.title, i.link, {_DATE} AS at, i.topics, a.summary, a.content, "
    "i.full_text, i.pdf_text FROM items i JOIN archive a ON a.item_id = i.id"
)


def search(
    conn: Connection,
    *,
    match: Words | None,
    exclude: Words | None,
    filters: Filters,
    limit: int,
    offset: int = 0,
) -> list[Found]:
    """Archived statements: by rank then date for ``match`` (among its newest RANK_WINDOW
    matches), else newest first.

    ``exclude`` is used only without ``match`` (with one, it is already part of it).
    """
    clauses, params = _where(filters)
    where = "".join(" AND " + clause for clause in clauses)
    postgres = conn.dialect == "postgresql"
    if match is not None:
        # bm25 costs about 1.3 ms per 1,000 matching rows here, so ranking every match of a
        # very common word would take ~70 ms at 200,000 statements: only the newest
        # RANK_WINDOW matches (FTS5 walks rowids newest first, the filters applied on the way)
        # are ranked. Below the window this is exactly "rank, then date" over all matches.
        # PostgreSQL ranks the same window (_pg_window), with ts_rank.
        # Only placeholders and fixed SQL are formatted into these statements.
        if postgres:
            window = _pg_window(conn, match.tsquery, where, params)
            sql = _PG_RANKED
            params = [match.tsquery, window, window, limit, offset]
        else:
            sql = _RANKED.format(where=where)
            params = [match.fts5, *params, RANK_WINDOW, limit, offset]
    else:
        if exclude is not None:
            excluded = (
                "SELECT rowid FROM archive_index WHERE doc @@ CAST(? AS tsquery)"
                if postgres
                else "SELECT rowid FROM archive_index WHERE archive_index MATCH ?"
            )
            where += f" AND i.id NOT IN ({excluded})"
            params.append(exclude.tsquery if postgres else exclude.fts5)
        sql = f"SELECT {_COLUMNS} WHERE 1{where} ORDER BY at DESC, i.id DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
    return [
        Found(
            item_id=int(r[0]),
            feed_id=r[1],
            title=r[2],
            link=r[3],
            published_at=float(r[4]),
            topics=tuple(json.loads(r[5])) if r[5] else (),
            summary=r[6],
            content=r[7],
            full_text=(r[8] or "")[:MAX_FIELD],
            pdf_text=(r[9] or "")[:MAX_FIELD],
        )
        for r in conn.execute(sql, params)
    ]


# {where} receives only the filters' fixed SQL and placeholders (see _where).
_RANKED = (
    "SELECT i.id, i.feed_id, i.title, i.link, "  # noqa: S608
    f"{_DATE} AS at, i.topics, a.summary, a.content, i.full_text, i.pdf_text FROM ("
    "SELECT f.rowid AS id, f.rank AS score FROM archive_index f "
    "JOIN items i ON i.id = f.rowid WHERE archive_index MATCH ?{where} "
    "ORDER BY f.rowid DESC LIMIT ?"
    ") x JOIN items i ON i.id = x.id JOIN archive a ON a.item_id = i.id "
    "ORDER BY x.score, at DESC, i.id DESC LIMIT ? OFFSET ?"
)
# ts_rank's weights are {D, C, B, A}: body words (B) count a tenth of title words (A); its
# normalization 1 divides by 1 + log(words in the statement), a length penalty as bm25 has.
# The page is ranked and cut on the index rows alone; only its rows' texts are then read.
_PG_RANKED = (
    "SELECT i.id, i.feed_id, i.title, i.link, "  # noqa: S608
    f"{_DATE} AS at, i.topics, a.summary, a.content, i.full_text, i.pdf_text FROM ("
    "SELECT f.rowid AS id, "
    "ts_rank('{0.1, 0.1, 0.1, 1.0}', f.doc, CAST(? AS tsquery), 1) AS score, "
    f"{_DATE} AS at FROM archive_index f JOIN items i ON i.id = f.rowid "
    "WHERE f.rowid = ANY(?) AND i.id = ANY(?) "  # both: each table read by its key
    "ORDER BY score DESC, at DESC, f.rowid DESC LIMIT ? OFFSET ?"
    ") x JOIN items i ON i.id = x.id JOIN archive a ON a.item_id = i.id "
    "ORDER BY x.score DESC, at DESC, i.id DESC"
)
PG_FIRST_SPAN = 8 * RANK_WINDOW  # rows walked first, newest first
PG_MAX_WALK = 64 * RANK_WINDOW  # rows walked at most; past that the GIN index lists the matches


def _pg_window(conn: Connection, tsquery: str, where: str, params: list[object]) -> list[int]:
    """The ids of the newest RANK_WINDOW matches, as FTS5 finds them walking rowids down.

    A GIN index yields matches in no order, and PostgreSQL's estimate of how many rows a query
    matches can be far off (an Arabic word's 15 prefixed forms OR-ed: 7,000 guessed, 105 real),
    so its own plan for "the newest 2,000 matches" either visits every match of a common word
    or walks every row for a rare one (bench: 490 ms p95 at 200,000 statements). So: the newest
    PG_FIRST_SPAN rows are walked newest first (the key's order), which fills the window for
    any word in one statement in eight; when they hold fewer, the span that should hold the
    window at the density seen is walked once more, if that is at most PG_MAX_WALK rows;
    otherwise (a rare word: few matches) the GIN index lists every match and the newest are
    kept. Each way gives the same ids as one search over everything, since every row left out
    is older than every row kept.
    """
    top = conn.execute("SELECT max(rowid) FROM archive_index").fetchone()[0]
    if top is None:
        return []
    top = int(top)
    join = " JOIN items i ON i.id = f.rowid" if where else ""
    # Only the filters' fixed SQL and placeholders are formatted in (_where).
    matches = f"SELECT f.rowid FROM archive_index f{join} WHERE f.doc @@ CAST(? AS tsquery)"  # noqa: S608
    newest = f"{matches} AND f.rowid > ?{where} ORDER BY f.rowid DESC LIMIT ?"
    span = PG_FIRST_SPAN
    while True:
        ids = [int(r[0]) for r in conn.execute(newest, [tsquery, top - span, *params, RANK_WINDOW])]
        if len(ids) >= RANK_WINDOW or span >= top:
            return ids
        wanted = span * RANK_WINDOW * 5 // (4 * len(ids)) if ids else PG_MAX_WALK + 1
        if span > PG_FIRST_SPAN or wanted > PG_MAX_WALK:
            break
        span = wanted
    every = f"WITH m AS MATERIALIZED ({matches}{where}) SELECT rowid FROM m "  # noqa: S608
    every += "ORDER BY rowid DESC LIMIT ?"
    return [int(r[0]) for r in conn.execute(every, [tsquery, *params, RANK_WINDOW])]


def save_search(conn: Connection, chat_id: str, query: str, now: float) -> int:
    """Keeps a Telegram search server-side (buttons carry only its id); forgets old ones."""
    conn.execute("DELETE FROM searches WHERE created_at < ?", (now - 7 * 86_400.0,))
    row = conn.execute(
        "INSERT INTO searches (chat_id, query, created_at) VALUES (?, ?, ?) RETURNING id",
        (chat_id, query, now),
    ).fetchone()
    return int(row[0])


def saved_search(conn: Connection, search_id: int, chat_id: str) -> str | None:
    """The query of a saved search, only for the chat that made it."""
    row = conn.execute(
        "SELECT query FROM searches WHERE id = ? AND chat_id = ?", (search_id, chat_id)
    ).fetchone()
    return str(row[0]) if row else None
