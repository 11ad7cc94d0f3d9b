"""What one poll did, for the scheduler, the metrics, the admin notices and `vigil once`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import ErrorKind, Item, Outcome
from bot.store.outbox import Delivery


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    """One statement to deliver, with every chat it goes to (for `once --json` and dry runs)."""

    feed_id: str
    item: Item
    topics: tuple[str, ...]
    chats: tuple[str, ...]
    statement_key: str
    text_html: str  # the first chat's copy (for `once --json` and dry runs)
    text_plain: str
    matched_in: tuple[str, ...] = ()  # title, summary, content, full_text, pdf
    deliveries: tuple[Delivery, ...] = ()  # every chat's copy, in its language, and how to send


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: str
    outcome: Outcome
    error_kind: ErrorKind | None = None
    error: str | None = None
    new_items: int = 0
    alerts: tuple[PlannedAlert, ...] = ()
    next_poll_at: float = 0.0
    status: int | None = None
    elapsed: float = 0.0
    baselined: int = 0
