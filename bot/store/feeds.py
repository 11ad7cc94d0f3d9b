"""Per-feed rows: validators, the schedule, health and counters.

The schedule lives here (next_poll_at, consecutive_errors), not in APScheduler's memory, so a
restart keeps it. Rows are keyed by the feed id of feeds.yaml; a changed URL resets validators
(another server's ETag means nothing) but keeps the seen items, so nothing is resent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.model import ErrorKind
from bot.store.backend import Connection

_CHUNK = 500  # feed ids per claim statement, well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class FeedRow:
    feed_id: str
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    baselined: bool
    next_poll_at: float
    last_poll_at: float | None
    last_success_at: float | None
    last_error_at: float | None
    last_error_kind: str | None
    last_error: str | None
    consecutive_errors: int
    polls: int
    failures: int
    items_seen: int
    alerts_queued: int
    body_hash: str | None = None
    source_url: str | None = None  # the feed the configured page advertises, polled instead
    rebaseline: bool = False


def _row(row: Any) -> FeedRow:
    return FeedRow(
        feed_id=row["feed_id"],
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        baselined=bool(row["baselined"]),
        next_poll_at=row["next_poll_at"],
        last_poll_at=row["last_poll_at"],
        last_success_at=row["last_success_at"],
        last_error_at=row["last_error_at"],
        last_error_kind=row["last_error_kind"],
        last_error=row["last_error"],
        consecutive_errors=row["consecutive_errors"],
        polls=row["polls"],
        failures=row["failures"],
        items_seen=row["items_seen"],
        alerts_queued=row["alerts_queued"],
        body_hash=row["body_hash"],
        source_url=row["source_url"],
        rebaseline=bool(row["rebaseline"]),
    )


def sync_feeds(conn: Connection, feeds: dict[str, str]) -> None:
    """Creates rows for new feed ids; a changed URL drops the old validators."""
    for feed_id, url in feeds.items():
        conn.execute(
            "INSERT INTO feeds (feed_id, url) VALUES (?, ?) "
            "ON CONFLICT (feed_id) DO UPDATE SET url = excluded.url, etag = NULL, "
            "last_modified = NULL, body_hash = NULL, source_url = NULL "
            "WHERE feeds.url != excluded.url",
            (feed_id, url),
        )


def get_feed(conn: Connection, feed_id: str) -> FeedRow | None:
    row = conn.execute("SELECT * FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
    return _row(row) if row else None


def all_feeds(conn: Connection) -> list[FeedRow]:
    return [_row(r) for r in conn.execute("SELECT * FROM feeds ORDER BY feed_id")]


def due_feeds(conn: Connection, now: float, horizon: float) -> list[str]:
    """Feed ids whose poll is due — or absurdly far ahead, which means the wall clock went back.

    A row scheduled more than `horizon` seconds ahead cannot have come from any interval or
    back-off Vigil computes, so it is polled now instead of stalling (RELIABILITY D10).
    """
    rows = conn.execute(
        "SELECT feed_id FROM feeds WHERE next_poll_at <= ? OR next_poll_at > ? "
        "ORDER BY next_poll_at",
        (now, now + horizon),
    )
    return [r[0] for r in rows]


def claim_due(
    conn: Connection, owner: str, *, now: float, horizon: float, lease: float, limit: int = 200
) -> list[FeedRow]:
    """Claims due feeds for `owner` until `now + lease`; returns their rows, soonest due first.

    Due as in `due_feeds`; a feed leased by another owner is skipped until its lease ends (the
    owner died mid-poll, or is still polling). On PostgreSQL the rows are locked with SKIP LOCKED,
    so replicas claiming at the same moment never wait for, nor take, each other's feeds. One
    statement for the whole batch, atomic without a transaction, and it returns the rows the
    polls need (validators, counters), so a poll does not read its row again. On SQLite the
    state lock already makes this process the only poller, so nothing is written: a full disk or
    a locked file fails the poll's own write, as it always did (RELIABILITY D5, D6).
    """
    if conn.dialect != "postgresql":
        rows = conn.execute(
            "SELECT * FROM feeds WHERE next_poll_at <= ? OR next_poll_at > ? "
            "ORDER BY next_poll_at, feed_id",
            (now, now + horizon),
        )
        return [_row(r) for r in rows]
    query = (
        "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE feed_id IN (SELECT feed_id "
        "FROM feeds WHERE (next_poll_at <= ? OR next_poll_at > ?) AND (lease_until IS NULL OR "
        "lease_until < ? OR lease_owner = ?) ORDER BY next_poll_at LIMIT ? "
        "FOR UPDATE SKIP LOCKED) RETURNING *"
    )
    params = (owner, now + lease, now, now + horizon, now, owner, limit)
    claimed = [_row(r) for r in conn.execute(query, params).fetchall()]
    return sorted(claimed, key=lambda r: (r.next_poll_at, r.feed_id))


def claim(
    conn: Connection, owner: str, feed_ids: Sequence[str], *, now: float, lease: float
) -> list[FeedRow]:
    """Claims the named feeds for `owner` whether due or not (`vigil once`); returns their rows.

    A feed another owner holds a live lease on (a replica polling it right now) is left out: that
    poll is this one, so each poll still happens once. One statement per 500 feeds, SKIP LOCKED
    as in `claim_due`. On SQLite (one process) it reads the rows and writes nothing.
    """
    claimed: list[FeedRow] = []
    for start in range(0, len(feed_ids), _CHUNK):
        chunk = list(feed_ids[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        if conn.dialect != "postgresql":
            query = f"SELECT * FROM feeds WHERE feed_id IN ({marks})"  # noqa: S608
            claimed += [_row(r) for r in conn.execute(query, chunk)]
            continue
        query = (
            "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE feed_id IN (SELECT feed_id "  # noqa: S608
            f"FROM feeds WHERE feed_id IN ({marks}) AND (lease_until IS NULL OR lease_until < ? "
            "OR lease_owner = ?) FOR UPDATE SKIP LOCKED) RETURNING *"
        )
        params = (owner, now + lease, *chunk, now, owner)
        claimed += [_row(r) for r in conn.execute(query, params).fetchall()]
    return claimed


def release(conn: Connection, feed_id: str, owner: str) -> None:
    """Ends `owner`'s lease on the feed (its poll is over; next_poll_at says when the next is)."""
    if conn.dialect != "postgresql":
        return  # SQLite never leased it (see claim_due)
    conn.execute(
        "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
        "WHERE feed_id = ? AND lease_owner = ?",
        (feed_id, owner),
    )


def release_all(conn: Connection, owner: str) -> None:
    """Ends every lease `owner` still holds (the end of a `vigil once`)."""
    if conn.dialect != "postgresql":
        return
    conn.execute(
        "UPDATE feeds SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (owner,)
    )


def record_success(
    conn: Connection,
    feed_id: str,
    *,
    now: float,
    next_poll_at: float,
    etag: str | None,
    last_modified: str | None,
    title: str | None = None,
    new_items: int = 0,
    alerts: int = 0,
    baselined: bool = True,
    body_hash: str | None = None,
    source_url: str | None = None,
    read: bool = False,
    owner: str | None = None,
) -> None:
    """A good poll; ``read`` (the body was read into items) also ends a pending re-baseline.

    ``body_hash`` and ``source_url`` replace the stored ones only when given. ``owner``: the
    claim this poll ran under ends in the same statement (`release` without a round trip); None
    leaves any lease as it is. The CASEs read the row as it was before the statement, on SQLite
    and PostgreSQL alike.
    """
    conn.execute(
        "UPDATE feeds SET etag = ?, last_modified = ?, title = coalesce(?, title), "
        "baselined = CASE WHEN ? = 1 THEN 1 ELSE baselined END, next_poll_at = ?, "
        "last_poll_at = ?, last_success_at = ?, "
        "consecutive_errors = 0, polls = polls + 1, items_seen = items_seen + ?, "
        "alerts_queued = alerts_queued + ?, body_hash = coalesce(?, body_hash), "
        "source_url = coalesce(?, source_url), rebaseline = rebaseline * (1 - ?), "
        "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END, "
        "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END WHERE feed_id = ?",
        (
            etag,
            last_modified,
            title,
            int(baselined),
            next_poll_at,
            now,
            now,
            new_items,
            alerts,
            body_hash,
            source_url,
            int(read),
            owner,
            owner,
            feed_id,
        ),
    )


def forget_source(conn: Connection, feed_id: str) -> None:
    """The advertised feed stopped working: the next poll looks at the page again."""
    conn.execute(
        "UPDATE feeds SET source_url = NULL, etag = NULL, last_modified = NULL, "
        "body_hash = NULL WHERE feed_id = ?",
        (feed_id,),
    )


def ask_rebaseline(conn: Connection, feed_id: str) -> bool:
    """The next read of the feed remembers its entries without alerting; False: no such row."""
    return (
        conn.execute("UPDATE feeds SET rebaseline = 1 WHERE feed_id = ?", (feed_id,)).rowcount > 0
    )


def record_failure(
    conn: Connection,
    feed_id: str,
    *,
    now: float,
    next_poll_at: float,
    kind: ErrorKind,
    message: str,
    owner: str | None = None,
) -> int:
    """Counts a failed poll; returns the new number of consecutive errors. ``owner``: as in
    `record_success`."""
    conn.execute(
        "UPDATE feeds SET next_poll_at = ?, last_poll_at = ?, last_error_at = ?, "
        "last_error_kind = ?, last_error = ?, consecutive_errors = consecutive_errors + 1, "
        "polls = polls + 1, failures = failures + 1, "
        "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END, "
        "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END WHERE feed_id = ?",
        (next_poll_at, now, now, str(kind), message[:500], owner, owner, feed_id),
    )
    row = conn.execute(
        "SELECT consecutive_errors FROM feeds WHERE feed_id = ?", (feed_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def reschedule(conn: Connection, feed_id: str, next_poll_at: float) -> None:
    conn.execute("UPDATE feeds SET next_poll_at = ? WHERE feed_id = ?", (next_poll_at, feed_id))


def shift_schedule(conn: Connection, seconds: float) -> int:
    """Moves every feed's next poll by `seconds` (the wall clock jumped); returns count."""
    return conn.execute("UPDATE feeds SET next_poll_at = next_poll_at + ?", (seconds,)).rowcount
