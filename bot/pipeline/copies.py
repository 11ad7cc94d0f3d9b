"""Finding, for a new statement, the earlier statement of another source it is a copy of.

Rules: every new item is fingerprinted (its sampled shingles stored, :mod:`bot.store.copies`);
an item that will alert is compared with the candidates the index offers — other feeds, within
72 hours — using :func:`bot.match.copies.similarity`, boilerplate learned from both feeds' latest
20 archived statements. The first candidate at or above the threshold wins, and its group's
original (never a copy) is the one returned. Every comparison is logged at DEBUG with its score,
so the threshold can be checked against real feeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.match.copies import THRESHOLD, boilerplate, sample, shingles, similarity
from bot.model import Item
from bot.store import copies as copy_rows
from bot.store.archive import MAX_FIELD, body_text
from bot.store.db import Connection

log = logging.getLogger("vigil.copies")


@dataclass(frozen=True, slots=True)
class Original:
    """The statement a new item copies, and how alike they are."""

    item_id: int
    statement_key: str
    similarity: float


def item_text(item: Item) -> str:
    """What is fingerprinted: the title and the archived body, as the archive keeps them."""
    return item.title[:500] + "\n" + body_text(item.summary[:MAX_FIELD], item.content[:MAX_FIELD])


class CopyFinder:
    """One poll's fingerprints and comparisons (shingles computed once per item)."""

    def __init__(self, conn: Connection, known: dict[str, frozenset[int]] | None = None) -> None:
        """``known``: shingles already computed off the event loop, by item key."""
        self.conn = conn
        self._shingles: dict[str, frozenset[int]] = dict(known or {})

    def shingles_of(self, item: Item) -> frozenset[int]:
        found = self._shingles.get(item.key)
        if found is None:
            found = self._shingles[item.key] = shingles(item_text(item))
        return found

    def remember(self, item_id: int, item: Item, now: float) -> None:
        """Stores the item's fingerprint (inside the poller's transaction)."""
        copy_rows.add_fingerprint(self.conn, item_id, sample(self.shingles_of(item)), now)

    def original(self, feed_id: str, item: Item, published: float) -> Original | None:
        own = self.shingles_of(item)
        found = copy_rows.candidates(self.conn, sample(own), feed_id=feed_id, published=published)
        for candidate_id in found:
            candidate = copy_rows.stored(self.conn, candidate_id)
            if candidate is None:
                continue
            history = [
                shingles(text)
                for item_id, text in copy_rows.recent_texts(self.conn, feed_id)
                + copy_rows.recent_texts(self.conn, candidate.feed_id)
                if item_id != candidate_id
            ]
            score = similarity(own, shingles(candidate.text), boilerplate(history))
            log.debug(
                "near-duplicate check %.3f",
                score,
                extra={"feed_id": feed_id, "item_key": item.key, "count": candidate_id},
            )
            if score >= THRESHOLD:
                first = copy_rows.original_of(self.conn, candidate_id)
                key = copy_rows.key_of(self.conn, first) or candidate.statement_key
                return Original(first, key, score)
        return None
