"""The outbox: every alert is a row before it is a message.

Rows are written in the transaction that records their item, so a crash between matching and
sending loses nothing. A row is `pending` until the sender reports the outcome; it becomes `sent`,
`failed` (permanent: Telegram refused it for good) or `dropped` (its chat blocked the bot or
vanished). `UNIQUE (chat_id, statement_key)` makes "one message per chat per statement" a fact of
the database: several topics, two feeds with the same canonical link, or a restart cannot queue
it twice. The only duplicate left is a message in flight when the process died (SPEC).

A chat with a digest gets its alerts `held`; the digest job turns them into one digest row (or a
few, split at Telegram's limit) and marks them `digested` in the same transaction. Quiet hours
only move a `pending` row's first attempt to their end: deferred, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.backend import Connection

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
DROPPED = "dropped"
HELD = "held"  # waiting for the chat's next digest (never sent on its own)
DIGESTED = "digested"  # went out inside a digest (the digest is a row of its own)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: str
    item_id: int
    statement_key: str
    topics: str
    text_html: str
    text_plain: str
    attempts: int
    next_attempt_at: float
    created_at: float
    thread_id: int | None = None
    silent: bool = False
    preview_url: str | None = None

    state: str = PENDING  # SENT: the row is due for an edit (its statement gained a source)
    message_id: int | None = None
    also: str = ""  # JSON [[source, link], ...]: other sources of the statement
    language: str = "en"  # the interface language the text was rendered in


@dataclass(frozen=True, slots=True)
class Delivery:
    """One chat's copy of an alert: its text (in the chat's language) and how to send it."""

    chat_id: str
    text_html: str
    text_plain: str
    thread_id: int | None = None  # the forum topic; None is the chat itself ("General")
    silent: bool = False
    preview_url: str | None = None  # the link to preview; None sends no preview
    language: str = "en"  # the interface language of the text (an edit speaks it too)


def enqueue(
    conn: Connection,
    *,
    item_id: int,
    deliveries: Iterable[Delivery],
    statement_key: str,
    topics: Iterable[str],
    now: float,
    state: str = PENDING,
    not_before: float | None = None,
) -> list[str]:
    """Queues one alert per chat; returns the chats that did not have this statement yet.

    ``state`` is PENDING or HELD (for a digest); ``not_before`` defers the first attempt (quiet
    hours).
    """
    topic_list = ",".join(topics)
    queued: list[str] = []
    first_attempt = now if not_before is None else max(now, not_before)
    for d in deliveries:
        cursor = conn.execute(
            "INSERT INTO outbox (item_id, chat_id, statement_key, topics, text_html, text_plain, "
            "state, next_attempt_at, created_at, thread_id, silent, preview_url, language) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (chat_id, statement_key) DO NOTHING",
            (
                item_id,
                d.chat_id,
                statement_key,
                topic_list,
                d.text_html,
                d.text_plain,
                state,
                first_attempt,
                now,
                d.thread_id,
                int(d.silent),
                d.preview_url,
                d.language,
            ),
        )
        if cursor.rowcount:
            queued.append(d.chat_id)
    return queued


_WORK = "(state = 'pending' OR (state = 'sent' AND edit_pending = 1))"


def due(conn: Connection, now: float, limit: int = 500) -> list[OutboxRow]:
    """Rows to send (or, already sent, to edit) whose time has come, oldest first; bounded."""
    rows = conn.execute(
        "SELECT id, chat_id, item_id, statement_key, topics, text_html, text_plain, attempts, "  # noqa: S608
        "next_attempt_at, created_at, thread_id, silent, preview_url, state, message_id, also, "
        "language "
        f"FROM outbox WHERE {_WORK} AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    )
    return [
        OutboxRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            bool(r[11]),
            r[12],
            r[13],
            r[14],
            r[15],
            r[16],
        )
        for r in rows
    ]


def next_due_at(conn: Connection) -> float | None:
    row = conn.execute(f"SELECT min(next_attempt_at) FROM outbox WHERE {_WORK}").fetchone()  # noqa: S608
    return float(row[0]) if row and row[0] is not None else None


def mark_sent(
    conn: Connection,
    row_id: int,
    now: float,
    note: str | None = None,
    *,
    message_id: int | None = None,
    also_sent: str = "",
) -> None:
    """The row went out (as ``message_id``, with the sources ``also_sent``); a source added
    while it was on its way leaves an edit pending."""
    conn.execute(
        "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = ?, "
        "message_id = coalesce(?, message_id), "
        "edit_pending = CASE WHEN also != ? THEN 1 ELSE 0 END WHERE id = ?",
        (now, note, message_id, also_sent, row_id),
    )


def edit_done(conn: Connection, row_id: int, also_shown: str, note: str | None) -> None:
    """The message now shows ``also_shown`` (or cannot be edited: ``note``)."""
    conn.execute(
        "UPDATE outbox SET edit_pending = CASE WHEN also != ? AND CAST(? AS TEXT) IS NULL "
        "THEN 1 ELSE 0 END, last_error = coalesce(?, "
        "last_error) WHERE id = ?",
        (also_shown, note, note, row_id),
    )


def edit_later(conn: Connection, row_id: int, at: float, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
        (at, error[:500], row_id),
    )


def mark_retry(conn: Connection, row_id: int, next_attempt_at: float, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
        "WHERE id = ?",
        (next_attempt_at, error[:500], row_id),
    )


def mark_failed(conn: Connection, row_id: int, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
        (error[:500], row_id),
    )


def drop_thread(conn: Connection, chat_id: str, thread_id: int, reason: str) -> int:
    """Drops the pending rows for a deleted forum topic; returns how many."""
    cursor = conn.execute(
        "UPDATE outbox SET state = 'dropped', last_error = ? "
        "WHERE chat_id = ? AND thread_id = ? AND state = 'pending'",
        (reason[:500], chat_id, thread_id),
    )
    return cursor.rowcount


def drop_chat(conn: Connection, chat_id: str, reason: str) -> int:
    """Drops a gone chat's pending rows; returns how many."""
    cursor = conn.execute(
        "UPDATE outbox SET state = 'dropped', last_error = ? "
        "WHERE chat_id = ? AND state = 'pending'",
        (reason[:500], chat_id),
    )
    return cursor.rowcount


def move_chat(conn: Connection, old_chat_id: str, new_chat_id: str) -> None:
    """Re-addresses pending rows after a group became a supergroup (ChatMigrated)."""
    conn.execute(
        "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND state = 'pending' AND NOT EXISTS "
        "(SELECT 1 FROM outbox AS o "
        "WHERE o.chat_id = ? AND o.statement_key = outbox.statement_key)",
        (new_chat_id, old_chat_id, new_chat_id),
    )


def shift_pending(conn: Connection, seconds: float) -> int:
    """Moves every pending row's next attempt by `seconds` (the clock jumped); returns count."""
    cursor = conn.execute(
        "UPDATE outbox SET next_attempt_at = next_attempt_at + ? WHERE state = 'pending'",
        (seconds,),
    )
    return cursor.rowcount


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """An alert waiting for a digest, with what the digest shows of its statement."""

    row_id: int
    item_id: int
    feed_id: str
    title: str
    link: str | None
    topics: tuple[str, ...]
    created_at: float
    thread_id: int | None = None  # the forum topic the alert would have gone to


def held(conn: Connection, chat_id: str) -> list[HeldAlert]:
    rows = conn.execute(
        "SELECT o.id, o.item_id, i.feed_id, i.title, i.link, o.topics, o.created_at, o.thread_id "
        "FROM outbox o JOIN items i ON i.id = o.item_id "
        "WHERE o.chat_id = ? AND o.state = 'held' ORDER BY o.id",
        (chat_id,),
    )
    return [
        HeldAlert(r[0], r[1], r[2], r[3], r[4], tuple(t for t in r[5].split(",") if t), r[6], r[7])
        for r in rows
    ]


def mark_digested(conn: Connection, row_ids: Iterable[int], digest_key: str) -> None:
    conn.executemany(
        "UPDATE outbox SET state = 'digested', last_error = ? WHERE id = ? AND state = 'held'",
        [(digest_key, row_id) for row_id in row_ids],
    )


def release_held(conn: Connection, chat_id: str, now: float) -> int:
    """Held rows become ordinary pending alerts (the chat turned its digest off)."""
    cursor = conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ? "
        "WHERE chat_id = ? AND state = 'held'",
        (now, chat_id),
    )
    return cursor.rowcount


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_created_at: float | None
    sent: int
    failed: int
    dropped: int


def backlog(conn: Connection) -> Backlog:
    counts = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    oldest = conn.execute("SELECT min(created_at) FROM outbox WHERE state = 'pending'").fetchone()[
        0
    ]
    return Backlog(
        pending=int(counts.get(PENDING, 0)),
        oldest_created_at=float(oldest) if oldest is not None else None,
        sent=int(counts.get(SENT, 0)),
        failed=int(counts.get(FAILED, 0)),
        dropped=int(counts.get(DROPPED, 0)),
    )


def sent_count(conn: Connection, feed_id: str) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM outbox JOIN items ON items.id = outbox.item_id "
            "WHERE items.feed_id = ? AND outbox.state = 'sent'",
            (feed_id,),
        ).fetchone()[0]
    )
