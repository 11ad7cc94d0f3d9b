"""Near-duplicate statements across sources: fingerprints, candidates, and who copied whom.

Rules this module enforces:
- Every new item's sampled shingles (:func:`bot.match.copies.sample`) are kept for
  :data:`WINDOW` and a little more, indexed by hash, so a later item finds earlier ones
  of OTHER feeds published within 72 hours that share at least two of them (candidates only;
  the pipeline verifies each with :func:`bot.match.copies.similarity`).
- ``copies`` records that an item is a copy of an original (always the first of its group: a
  copy of a copy points to the original), written in the poller's transaction.
- An outbox row remembers the Telegram message id it was sent as and, in ``also``, the other
  sources of its statement; a row already sent when a source is added gets ``edit_pending``
  and the delivery worker edits the message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.archive import body_text
from bot.store.backend import Connection

WINDOW = 72 * 3600.0
KEEP = 7 * 86_400.0  # fingerprints older than this are never a candidate's
MAX_CANDIDATES = 5
PRUNE_BATCH = 5000
_DATE = "coalesce(i.published_at, i.first_seen_at)"


@dataclass(frozen=True, slots=True)
class Stored:
    """An archived statement as the comparison needs it."""

    item_id: int
    feed_id: str
    text: str  # title and body, as fingerprinted
    statement_key: str


def add_fingerprint(conn: Connection, item_id: int, hashes: Iterable[int], now: float) -> None:
    """One statement whatever the number of hashes (a JSON array): `executemany` sent one per
    hash, which on PostgreSQL was most of a cold poll's database time (bench row 14), and a
    fixed text is parsed and prepared once."""
    conn.execute(
        "INSERT INTO fingerprints (hash, item_id, seen_at) "
        "SELECT CAST(value AS BIGINT), ?, ? FROM json_each(?)",
        (item_id, now, json.dumps([int(h) for h in hashes])),
    )


def candidates(
    conn: Connection, hashes: Iterable[int], *, feed_id: str, published: float
) -> list[int]:
    """Items of other feeds, published within WINDOW of ``published``, sharing ≥ 2 samples."""
    values = list(hashes)[:200]
    if len(values) < 2:
        return []
    marks = ",".join("?" * len(values))
    rows = conn.execute(
        "SELECT f.item_id, count(*) AS shared FROM fingerprints f "  # noqa: S608
        f"JOIN items i ON i.id = f.item_id WHERE f.hash IN ({marks}) AND i.feed_id != ? "
        f"AND {_DATE} BETWEEN ? AND ? GROUP BY f.item_id HAVING count(*) >= 2 "
        "ORDER BY shared DESC, f.item_id LIMIT ?",
        (*values, feed_id, published - WINDOW, published + WINDOW, MAX_CANDIDATES),
    )
    return [int(r[0]) for r in rows]


def _key(feed_id: str, item_key: str, link: str | None) -> str:
    # The same rule as bot.pipeline.poller.statement_key, read back from the items row.
    return "link:" + link if link else f"item:{feed_id}:{item_key}"


def stored(conn: Connection, item_id: int) -> Stored | None:
    """An archived item's text and statement key (None when its text was pruned)."""
    row = conn.execute(
        "SELECT i.feed_id, i.item_key, i.link, i.title, a.summary, a.content FROM items i "
        "JOIN archive a ON a.item_id = i.id WHERE i.id = ?",
        (item_id,),
    ).fetchone()
    if row is None:
        return None
    text = row[3] + "\n" + body_text(row[4], row[5])
    return Stored(item_id, row[0], text, _key(row[0], row[1], row[2]))


def recent_texts(conn: Connection, feed_id: str, limit: int = 20) -> list[tuple[int, str]]:
    """A feed's latest archived statements (id, title and body): its boilerplate is learned here."""
    rows = conn.execute(
        "SELECT i.id, i.title, a.summary, a.content FROM items i JOIN archive a "
        "ON a.item_id = i.id WHERE i.feed_id = ? ORDER BY i.id DESC LIMIT ?",
        (feed_id, limit),
    )
    return [(int(r[0]), r[1] + "\n" + body_text(r[2], r[3])) for r in rows]


def key_of(conn: Connection, item_id: int) -> str | None:
    """An item's statement key (what its outbox rows carry), from the seen set alone."""
    row = conn.execute(
        "SELECT feed_id, item_key, link FROM items WHERE id = ?", (item_id,)
    ).fetchone()
    return _key(row[0], row[1], row[2]) if row else None


def original_of(conn: Connection, item_id: int) -> int:
    row = conn.execute("SELECT original_id FROM copies WHERE item_id = ?", (item_id,)).fetchone()
    return int(row[0]) if row else item_id


def record_copy(conn: Connection, item_id: int, original_id: int, similarity: float) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO copies (item_id, original_id, similarity) VALUES (?, ?, ?)",
        (item_id, original_id, similarity),
    )


@dataclass(frozen=True, slots=True)
class Member:
    """One published copy of a statement (the original included)."""

    item_id: int
    feed_id: str
    link: str | None


def groups(conn: Connection, item_ids: Iterable[int]) -> dict[int, list[Member]]:
    """For each item, every copy of its statement (original first), itself included."""
    out: dict[int, list[Member]] = {}
    for item_id in dict.fromkeys(item_ids):
        original = original_of(conn, item_id)
        rows = conn.execute(
            "SELECT i.id, i.feed_id, i.link FROM items i WHERE i.id = ? "
            "UNION ALL SELECT i.id, i.feed_id, i.link FROM copies c JOIN items i "
            "ON i.id = c.item_id WHERE c.original_id = ? ORDER BY 1",
            (original, original),
        )
        out[item_id] = [Member(int(r[0]), r[1], r[2]) for r in rows]
    return out


def add_source(
    conn: Connection,
    chat_id: str,
    statement_key: str,
    source: str,
    link: str | None,
    now: float,
) -> bool:
    """Adds a source to the chat's row for this statement; True when there was such a row.

    A row already sent gets ``edit_pending`` (the worker edits the message); a row still
    waiting simply goes out with the source in it.
    """
    row = conn.execute(
        "SELECT id, also, state FROM outbox WHERE chat_id = ? AND statement_key = ?",
        (chat_id, statement_key),
    ).fetchone()
    if row is None:
        return False
    also = json.loads(row[1]) if row[1] else []
    if [source, link] in also:
        return True
    also.append([source, link])
    sent = row[2] == "sent"
    conn.execute(
        "UPDATE outbox SET also = ?, edit_pending = ?, next_attempt_at = "
        "CASE WHEN ? THEN ? ELSE next_attempt_at END WHERE id = ?",
        (json.dumps(also, ensure_ascii=False), 1 if sent else 0, sent, now, row[0]),
    )
    return True


def prune(conn: Connection, before: float, limit: int = PRUNE_BATCH) -> int:
    """Forgets up to ``limit`` fingerprints stored before ``before``; returns how many."""
    # By item, not rowid (PostgreSQL has none): a batch is at most `limit` items' hashes.
    cursor = conn.execute(
        "DELETE FROM fingerprints WHERE seen_at < ? AND item_id IN "
        "(SELECT item_id FROM fingerprints WHERE seen_at < ? LIMIT ?)",
        (before, before, limit),
    )
    return cursor.rowcount
