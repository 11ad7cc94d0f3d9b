"""Seen items: identity and dedup are database facts.

An item is new exactly when `(feed_id, item_key)` is not in the table; insertion and the outbox
rows for its alerts are written in one transaction by the pipeline, so an item is never marked
seen without its alerts being queued (RELIABILITY §4.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.model import Item
from bot.store import copies as copy_rows
from bot.store.backend import Connection

_CHUNK = 500  # bound parameters per statement, well under SQLite's limit


@dataclass(frozen=True, slots=True)
class RecentMatch:
    feed_id: str
    title: str
    link: str | None
    published_at: float | None
    first_seen_at: float
    topics: tuple[str, ...]
    # The statement's other copies (feed id, link): near-duplicates from other sources.
    also: tuple[tuple[str, str | None], ...] = ()


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _existing(conn: Connection, column: str, feed_id: str, values: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(values):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {column} FROM items WHERE feed_id = ? AND {column} IN ({marks})",  # noqa: S608
            (feed_id, *chunk),
        )
        found.update(r[0] for r in rows)
    return found


def known_keys(conn: Connection, feed_id: str, keys: Sequence[str]) -> set[str]:
    return _existing(conn, "item_key", feed_id, keys)


def known_links(conn: Connection, feed_id: str, links: Sequence[str]) -> set[str]:
    """Links this feed already published under another key (GUID churn, RELIABILITY A9)."""
    return _existing(conn, "link", feed_id, links)


def recent_links(conn: Connection, feed_id: str, limit: int = 200) -> list[str]:
    """The normalised links of the feed's latest items, newest first (the layout's reference)."""
    rows = conn.execute(
        "SELECT link FROM items WHERE feed_id = ? AND link IS NOT NULL ORDER BY id DESC LIMIT ?",
        (feed_id, limit),
    )
    return [r[0] for r in rows]


def insert_item(
    conn: Connection,
    feed_id: str,
    item: Item,
    *,
    link_key: str | None,
    topics: Sequence[str],
    now: float,
) -> int | None:
    """Inserts an item; returns its row id, or None when it was already known."""
    published = item.published.timestamp() if item.published else None
    topics_json = json.dumps(list(topics)) if topics else ""
    row = conn.execute(
        "INSERT INTO items (feed_id, item_key, link, title, published_at, first_seen_at, topics) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id, item_key) DO NOTHING RETURNING id",
        (feed_id, item.key, link_key, item.title[:500], published, now, topics_json),
    ).fetchone()
    return int(row[0]) if row else None


@dataclass(frozen=True, slots=True)
class NewItem:
    """One item of a poll to insert: its normalised link and the topics it matched."""

    item: Item
    link_key: str | None
    topics: Sequence[str] = ()


_COLUMNS = 7  # bound values per row in `insert_items`


def insert_items(
    conn: Connection, feed_id: str, new: Sequence[NewItem], *, now: float
) -> dict[str, int]:
    """Inserts a poll's items in as few statements as the parameter limit allows; returns the
    row id of each item inserted, by key (an item already known is left out).

    One statement for a feed's usual batch where `insert_item` took one each: on PostgreSQL each
    of those waited for its id (a round trip per item inside the poll's transaction).
    """
    ids: dict[str, int] = {}
    per = _CHUNK // _COLUMNS
    for start in range(0, len(new), per):
        chunk = new[start : start + per]
        values: list[object] = []
        for entry in chunk:
            item = entry.item
            published = item.published.timestamp() if item.published else None
            topics_json = json.dumps(list(entry.topics)) if entry.topics else ""
            values += [feed_id, item.key, entry.link_key, item.title[:500], published, now]
            values.append(topics_json)
        marks = ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        rows = conn.execute(
            "INSERT INTO items (feed_id, item_key, link, title, published_at, first_seen_at, "  # noqa: S608
            f"topics) VALUES {marks} ON CONFLICT (feed_id, item_key) DO NOTHING "
            "RETURNING item_key, id",
            values,
        ).fetchall()
        ids.update((str(r[0]), int(r[1])) for r in rows)
    return ids


def recent_matches(
    conn: Connection, *, topic_id: str | None = None, limit: int = 10
) -> list[RecentMatch]:
    """The latest matched statements, newest first (for `/recent`): one row per statement, a
    copy shown through its original (when that matched too) with the other sources."""
    query = (
        "SELECT * FROM items WHERE topics != '' AND NOT EXISTS (SELECT 1 FROM copies c "
        "JOIN items o ON o.id = c.original_id WHERE c.item_id = items.id AND o.topics != '') "
    )
    params: list[object] = []
    if topic_id is not None:
        query += "AND EXISTS (SELECT 1 FROM json_each(items.topics) WHERE value = ?) "
        params.append(topic_id)
    query += "ORDER BY first_seen_at DESC, id DESC LIMIT ?"
    params.append(limit)
    rows = conn.execute(query, params).fetchall()
    members = copy_rows.groups(conn, [int(r["id"]) for r in rows])
    return [
        RecentMatch(
            feed_id=r["feed_id"],
            title=r["title"],
            link=r["link"],
            published_at=r["published_at"],
            first_seen_at=r["first_seen_at"],
            topics=tuple(json.loads(r["topics"])),
            also=tuple((m.feed_id, m.link) for m in members[int(r["id"])] if m.item_id != r["id"]),
        )
        for r in rows
    ]


def count_items(conn: Connection, feed_id: str | None = None) -> int:
    if feed_id is None:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    return int(
        conn.execute("SELECT count(*) FROM items WHERE feed_id = ?", (feed_id,)).fetchone()[0]
    )
