"""Accepting a page source's new layout: the one decision and write behind `vigil rebaseline`,
Telegram's /rebaseline and the "Accept the new layout" button under the admin notice.

Rules: the write is :func:`bot.store.feeds.ask_rebaseline` (the next read of the feed remembers
its entries without alerting); which outcome a request has is decided by :func:`judge`, a pure
function of what feeds.yaml names and the feed's row, so the command line and the bot cannot
drift apart. Each front end words the outcome itself (plain English on the command line, the
admin's language in Telegram). A button acts only while the feed is still held for a layout
change (``held_only``): a stale button, or a second press, changes nothing and says why.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bot.model import ErrorKind
from bot.store import feeds as feed_rows
from bot.store.backend import Connection
from bot.store.db import transaction


class Verdict(enum.Enum):
    """What a re-baseline request came to."""

    UNKNOWN = "unknown"  # feeds.yaml names no such feed (nothing written)
    NEVER_POLLED = "never_polled"  # marked, so its first poll is a baseline whatever first_run says
    ALREADY = "already"  # a re-baseline is already waiting for the next poll (nothing written)
    NOT_HELD = "not_held"  # a button for a feed no longer held (nothing written)
    MARKED = "marked"  # the next poll remembers the entries without alerting


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The verdict, and when the poll that acts on it is due (None: unknown or no row)."""

    verdict: Verdict
    next_poll_at: float | None = None


def is_held(row: feed_rows.FeedRow) -> bool:
    """The feed's last poll was held for a layout change and nothing succeeded since."""
    return row.consecutive_errors > 0 and row.last_error_kind == str(ErrorKind.LAYOUT_CHANGED)


def judge(
    configured: Collection[str],
    feed_id: str,
    row: feed_rows.FeedRow | None,
    *,
    held_only: bool = False,
) -> Verdict:
    """The outcome of accepting ``feed_id``'s layout now (pure; see the module docstring)."""
    if feed_id not in configured:
        return Verdict.UNKNOWN
    if row is None or not row.baselined:
        return Verdict.NEVER_POLLED
    if row.rebaseline:
        return Verdict.ALREADY
    if held_only and not is_held(row):
        return Verdict.NOT_HELD
    return Verdict.MARKED


def accept_layout(
    conn: Connection, configured: Mapping[str, str], feed_id: str, *, held_only: bool = False
) -> Acceptance:
    """Judges and, when the verdict asks for it, marks the row; one transaction.

    ``configured`` maps each feeds.yaml id to its URL: a feed this state has no row for yet
    gets one, marked, so its first poll is a baseline even under ``first_run: all``.
    """
    with transaction(conn):
        row = feed_rows.get_feed(conn, feed_id) if feed_id in configured else None
        verdict = judge(configured, feed_id, row, held_only=held_only)
        if verdict is Verdict.NEVER_POLLED and row is None:
            feed_rows.sync_feeds(conn, {feed_id: configured[feed_id]})
        if verdict in (Verdict.MARKED, Verdict.NEVER_POLLED):
            feed_rows.ask_rebaseline(conn, feed_id)
    return Acceptance(verdict, row.next_poll_at if row else None)
