"""The CPU-heavy part of storing new items, done in a worker thread before the store.

Normalizing an item's text for the search index and shingling it for near-duplicate detection
cost about 0.2 ms per KB; a poll bringing 2,000 new items would hold the event loop for about a
second if it ran inside the store's transaction. :func:`prepare` runs in ``asyncio.to_thread``
(the loop keeps answering, as for parsing) and the transaction only inserts what it computed.
Pure: items in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.match.copies import shingles
from bot.model import Item
from bot.pipeline.copies import item_text
from bot.store.archive import MAX_FIELD, body_text, index_text

__all__ = ["Prepared", "prepare"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the store needs of one new item: its index text and its shingles."""

    title_index: str
    body_index: str
    shingles: frozenset[int]


def prepare(items: Iterable[Item]) -> dict[str, Prepared]:
    """Index text and shingles for each item, by item key."""
    return {
        item.key: Prepared(
            index_text(item.title[:500]),
            index_text(body_text(item.summary[:MAX_FIELD], item.content[:MAX_FIELD])),
            shingles(item_text(item)),
        )
        for item in items
    }
