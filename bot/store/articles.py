"""Items waiting for their page's text: a durable queue, decided exactly once.

Rules:
- A row is written in the same transaction as its item, so an item that waits for its text is
  never lost to a crash or a kill -9: it waits in the database until it is decided.
- A row is decided (``state = 'done'``) in the same transaction as the item's text and the
  outbox rows of its alerts, so it can neither alert twice nor be marked done without them.
- The item is kept as JSON (title, summary, content, link, date), since `items` keeps only what
  dedup and `/recent` need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.model import Item
from bot.store.backend import Connection

PENDING = "pending"
DONE = "done"


@dataclass(frozen=True, slots=True)
class Waiting:
    """An item waiting for its page's text."""

    item_id: int
    feed_id: str
    url: str
    item: Item
    attempts: int
    first_seen_at: float


def _item_json(item: Item) -> str:
    return json.dumps(
        {
            "key": item.key,
            "title": item.title,
            "link": item.link,
            "summary": item.summary,
            "content": item.content,
            "published": item.published.isoformat() if item.published else None,
            "author": item.author,
        },
        ensure_ascii=False,
    )


def _item_from(text: str) -> Item:
    data = json.loads(text)
    published = data.get("published")
    return Item(
        key=data["key"],
        title=data["title"],
        link=data["link"],
        summary=data["summary"],
        content=data["content"],
        published=datetime.fromisoformat(published) if published else None,
        author=data.get("author"),
    )


def enqueue(
    conn: Connection, *, item_id: int, feed_id: str, url: str, item: Item, now: float
) -> None:
    conn.execute(
        "INSERT INTO article_queue (item_id, feed_id, url, item, first_seen_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO NOTHING",
        (item_id, feed_id, url, _item_json(item), now, now),
    )


def due(conn: Connection, feed_id: str, now: float, limit: int) -> list[Waiting]:
    """The feed's waiting items whose turn has come, oldest first, at most ``limit``."""
    rows = conn.execute(
        "SELECT * FROM article_queue WHERE feed_id = ? AND state = ? AND next_attempt_at <= ? "
        "ORDER BY first_seen_at, item_id LIMIT ?",
        (feed_id, PENDING, now, limit),
    )
    return [
        Waiting(
            item_id=r["item_id"],
            feed_id=r["feed_id"],
            url=r["url"],
            item=_item_from(r["item"]),
            attempts=r["attempts"],
            first_seen_at=r["first_seen_at"],
        )
        for r in rows
    ]


def retry_later(
    conn: Connection, item_id: int, *, attempts: int, next_at: float, error: str
) -> None:
    conn.execute(
        "UPDATE article_queue SET attempts = ?, next_attempt_at = ?, last_error = ? "
        "WHERE item_id = ? AND state = ?",
        (attempts, next_at, error[:500], item_id, PENDING),
    )


def decide(
    conn: Connection,
    item_id: int,
    *,
    outcome: str,
    error: str | None,
    full_text: str,
    pdf_text: str,
    topics: Sequence[str],
    now: float,
) -> bool:
    """Marks the row done and stores the text with the item; False when it was decided already."""
    changed = conn.execute(
        "UPDATE article_queue SET state = ?, outcome = ?, last_error = ?, decided_at = ? "
        "WHERE item_id = ? AND state = ?",
        (DONE, outcome, error[:500] if error else None, now, item_id, PENDING),
    ).rowcount
    if not changed:
        return False
    conn.execute(
        "UPDATE items SET full_text = ?, pdf_text = ?, topics = ? WHERE id = ?",
        (full_text, pdf_text, json.dumps(list(topics)) if topics else "", item_id),
    )
    return True


def record_error(conn: Connection, feed_id: str, message: str, now: float) -> None:
    conn.execute(
        "UPDATE feeds SET last_article_error = ?, last_article_error_at = ? WHERE feed_id = ?",
        (message[:500], now, feed_id),
    )


def awaiting(conn: Connection) -> dict[str, int]:
    """Per feed, how many items wait for their text."""
    rows = conn.execute(
        "SELECT feed_id, count(*) FROM article_queue WHERE state = ? GROUP BY feed_id", (PENDING,)
    )
    return {r[0]: int(r[1]) for r in rows}


def last_errors(conn: Connection) -> dict[str, tuple[str, float]]:
    rows = conn.execute(
        "SELECT feed_id, last_article_error, last_article_error_at FROM feeds "
        "WHERE last_article_error IS NOT NULL"
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def stored_text(conn: Connection, item_id: int) -> tuple[str, str]:
    row = conn.execute("SELECT full_text, pdf_text FROM items WHERE id = ?", (item_id,)).fetchone()
    return (row[0], row[1]) if row else ("", "")
