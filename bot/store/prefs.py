"""How each chat receives: its digest, quiet hours and time zone, and its digest schedule.

Rules: the settings are stored as the text the user gave, already validated by
:mod:`bot.config.delivery` (an empty string is "not set"); the next digest time of each chat
with a digest lives in ``digests``, so a restart resumes the schedule and a missed period is
caught up with one digest, not one per period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.backend import Connection


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    digest: str = ""
    quiet: str = ""
    timezone: str = ""


_FIELDS = ("digest", "quiet", "timezone")


def load(conn: Connection, chat_ids: Iterable[str]) -> dict[str, ChatPrefs]:
    """The stored settings of these chats (chats without any are left out)."""
    out: dict[str, ChatPrefs] = {}
    ids = list(dict.fromkeys(chat_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT chat_id, digest, quiet, timezone FROM chats "  # noqa: S608
            f"WHERE chat_id IN ({marks}) AND (digest != '' OR quiet != '' OR timezone != '')",
            chunk,
        )
        out.update({r[0]: ChatPrefs(r[1], r[2], r[3]) for r in rows})
    return out


def with_digest(conn: Connection) -> dict[str, ChatPrefs]:
    """Every active chat that chose a digest."""
    rows = conn.execute(
        "SELECT chat_id, digest, quiet, timezone FROM chats WHERE digest != '' AND active = 1"
    )
    return {r[0]: ChatPrefs(r[1], r[2], r[3]) for r in rows}


def get(conn: Connection, chat_id: str) -> ChatPrefs:
    return load(conn, [chat_id]).get(chat_id, ChatPrefs())


def put(conn: Connection, chat_id: str, field: str, value: str) -> None:
    """Sets one of digest, quiet, timezone (the chat row must exist: subs.ensure_chat)."""
    if field not in _FIELDS:
        raise ValueError(field)
    conn.execute(f"UPDATE chats SET {field} = ? WHERE chat_id = ?", (value, chat_id))  # noqa: S608


def scheduled(conn: Connection) -> dict[str, float]:
    """Each chat's next digest time."""
    return {r[0]: float(r[1]) for r in conn.execute("SELECT chat_id, next_at FROM digests")}


def schedule(conn: Connection, chat_id: str, next_at: float | None) -> None:
    """Sets (or with None removes) a chat's next digest time."""
    if next_at is None:
        conn.execute("DELETE FROM digests WHERE chat_id = ?", (chat_id,))
        return
    conn.execute(
        "INSERT INTO digests (chat_id, next_at) VALUES (?, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET next_at = excluded.next_at",
        (chat_id, next_at),
    )
