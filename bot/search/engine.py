"""Running a parsed query against the archive: the one path `vigil search` and `/search` share.

Rules: feed and topic ids in a query must be configured now (a typo gets "unknown feed", not
an empty answer); results come best first (the title weighted 10x: FTS5's bm25 on SQLite,
ts_rank on PostgreSQL; then the newer statement), or newest first when the query has only
filters and exclusions; each result carries its title and an excerpt with the matched words
marked, cut from the original text. A statement published by several sources (near-duplicates)
is one result, listing the other sources; a page may then hold fewer results than asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.i18n import N_, Given, Names
from bot.search.excerpt import Piece, excerpt, find_spans, mark
from bot.search.query import Query, QueryError
from bot.store import archive
from bot.store import copies as copy_rows
from bot.store.db import Connection

__all__ = ["Result", "check_names", "run_search"]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Result:
    """One statement found, ready to show."""

    found: archive.Found
    source: str  # the feed's configured name (its id when the feed was removed since)
    title: tuple[Piece, ...]
    excerpt: tuple[Piece, ...]
    # The statement's other copies (feed id, link), near-duplicates from other sources.
    also: tuple[tuple[str, str | None], ...] = ()


def check_names(query: Query, config: Config) -> None:
    """Raises QueryError for a feed or topic id that is not configured."""
    feeds = {f.id for f in config.feeds}
    topics = {t.id for t in config.topics}
    for feed_id in query.feeds:
        if feed_id not in feeds:
            raise QueryError(
                N_("unknown feed {feed}; feeds are: {known}"),
                feed=Given(feed_id),
                known=Names(*sorted(feeds)[:10]),
            )
    for topic_id in query.topics:
        if topic_id not in topics:
            raise QueryError(
                N_("unknown topic {topic}; topics are: {known}"),
                topic=Given(topic_id),
                known=Names(*sorted(topics)[:10]),
            )


def run_search(
    conn: Connection, query: Query, config: Config, *, limit: int, offset: int = 0
) -> list[Result]:
    """The results from ``offset`` on, at most ``limit`` (QueryError for unknown ids)."""
    check_names(query, config)
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(N_("the limit must be between {low} and {high}"), low=1, high=MAX_LIMIT)
    names = {f.id: f.name for f in config.feeds}
    match, tsquery = query.match_expression(), query.tsquery()
    exclude, ts_exclude = query.exclusion_expression(), query.exclusion_tsquery()
    found = archive.search(
        conn,
        match=archive.Words(match, tsquery) if match and tsquery else None,
        exclude=archive.Words(exclude, ts_exclude) if exclude and ts_exclude else None,
        filters=archive.Filters(query.feeds, query.topics, query.since, query.until),
        limit=limit,
        offset=max(0, offset),
    )
    terms = query.terms
    members = copy_rows.groups(conn, [row.item_id for row in found])
    shown: set[int] = set()
    results = []
    for row in found:
        group = members[row.item_id]
        if group[0].item_id in shown:
            continue  # one row per statement: a copy of one already listed is folded into it
        shown.add(group[0].item_id)
        results.append(
            Result(
                found=row,
                source=names.get(row.feed_id, row.feed_id),
                title=tuple(mark(row.title, find_spans(row.title, terms))),
                excerpt=tuple(excerpt(row.body, terms)) if row.body else (),
                also=tuple((m.feed_id, m.link) for m in group if m.item_id != row.item_id),
            )
        )
    return results
