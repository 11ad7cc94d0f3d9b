"""Chats, topic subscriptions, personal tracked phrases and mutes — what Telegram users set.

A chat that blocked the bot or vanished is marked inactive, never deleted: when it comes back
and subscribes again the flag is cleared (RELIABILITY F10). A chat keeps its interface language
(NULL until chosen: the language of the user who first stored it, then /lang), whether alerts
show a link preview and whether they arrive silently. A subscription or phrase remembers the
forum topic (thread) it was made in; making it again from another topic moves it there.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.store.backend import Connection


@dataclass(frozen=True, slots=True)
class Audience:
    """Who wants what, read once per poll for routing."""

    subscribers: dict[str, frozenset[str]]  # topic id → active chat ids
    tracks: dict[str, tuple[str, ...]]  # chat id → phrases
    muted: frozenset[str]
    prefs: dict[str, ChatPrefs] = field(default_factory=dict)  # chats that set anything
    threads: dict[tuple[str, str], int] = field(default_factory=dict)  # (chat, topic) → thread
    track_threads: dict[str, int] = field(default_factory=dict)  # chat → thread of its phrases


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """What a chat chose: interface language (None: not yet), link previews, silent alerts."""

    language: str | None = None
    preview: bool = False
    silent: bool = False


def ensure_chat(
    conn: Connection,
    chat_id: str,
    kind: str,
    title: str,
    now: float,
    lang: str | None = None,
) -> None:
    """Stores or revives the chat; ``lang`` is kept only when the chat has none yet."""
    conn.execute(
        "INSERT INTO chats (chat_id, kind, title, created_at, lang) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET kind = excluded.kind, title = excluded.title, "
        "active = 1, deactivated_reason = NULL, lang = coalesce(chats.lang, excluded.lang)",
        (chat_id, kind, title[:200], now, lang),
    )


def prefs_of(conn: Connection, chat_id: str) -> ChatPrefs | None:
    row = conn.execute(
        "SELECT lang, preview, silent FROM chats WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return None if row is None else ChatPrefs(row[0], bool(row[1]), bool(row[2]))


def set_language(conn: Connection, chat_id: str, lang: str) -> None:
    conn.execute("UPDATE chats SET lang = ? WHERE chat_id = ?", (lang, chat_id))


def set_switch(conn: Connection, chat_id: str, setting: str, on: bool) -> None:
    """Turns ``preview`` or ``silent`` on or off for the chat."""
    column = {"preview": "preview", "silent": "silent"}[setting]
    conn.execute(
        f"UPDATE chats SET {column} = ? WHERE chat_id = ?",  # noqa: S608 (a fixed column name)
        (int(on), chat_id),
    )


def subscribe(
    conn: Connection,
    chat_id: str,
    topic_ids: Iterable[str],
    now: float,
    thread_id: int | None = None,
) -> int:
    """Subscribes in ``thread_id``; returns how many were new or moved to this thread."""
    count = 0
    for topic_id in topic_ids:
        cursor = conn.execute(
            "INSERT INTO subscriptions (chat_id, topic_id, created_at, thread_id) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, topic_id) DO UPDATE "
            "SET thread_id = excluded.thread_id "
            "WHERE subscriptions.thread_id IS NOT excluded.thread_id",
            (chat_id, topic_id, now, thread_id),
        )
        count += cursor.rowcount
    return count


def forget_thread(conn: Connection, chat_id: str, thread_id: int) -> int:
    """A deleted forum topic: removes what was bound to it; returns how many rows."""
    removed = 0
    for table in ("subscriptions", "tracks"):
        removed += conn.execute(
            f"DELETE FROM {table} WHERE chat_id = ? AND thread_id = ?",  # noqa: S608
            (chat_id, thread_id),
        ).rowcount
    return removed


def unsubscribe(conn: Connection, chat_id: str, topic_ids: Iterable[str] | None) -> int:
    """Removes the given subscriptions, or all of the chat's when topic_ids is None."""
    if topic_ids is None:
        return conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)).rowcount
    return sum(
        conn.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND topic_id = ?", (chat_id, t)
        ).rowcount
        for t in topic_ids
    )


def subscriptions_of(conn: Connection, chat_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT topic_id FROM subscriptions WHERE chat_id = ? ORDER BY topic_id", (chat_id,)
    )
    return [r[0] for r in rows]


def track(
    conn: Connection, chat_id: str, phrase: str, now: float, thread_id: int | None = None
) -> bool:
    cursor = conn.execute(
        "INSERT INTO tracks (chat_id, phrase, created_at, thread_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (chat_id, phrase, now, thread_id),
    )
    return cursor.rowcount > 0


def untrack(conn: Connection, chat_id: str, phrase: str) -> bool:
    cursor = conn.execute("DELETE FROM tracks WHERE chat_id = ? AND phrase = ?", (chat_id, phrase))
    return cursor.rowcount > 0


def tracks_of(conn: Connection, chat_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT phrase FROM tracks WHERE chat_id = ? ORDER BY created_at, phrase", (chat_id,)
    )
    return [r[0] for r in rows]


_TRACKS = (
    "SELECT tracks.chat_id, phrase FROM tracks LEFT JOIN chats USING (chat_id) "
    "WHERE coalesce(chats.active, 1) = 1 ORDER BY tracks.chat_id, tracks.created_at"
)


def all_tracks(conn: Connection) -> dict[str, tuple[str, ...]]:
    return _tracks(conn.execute(_TRACKS).fetchall())


def _tracks(rows: list[Any]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for chat_id, phrase in rows:
        out.setdefault(chat_id, []).append(phrase)
    return {k: tuple(v) for k, v in out.items()}


def set_mute(conn: Connection, chat_id: str, until: float | None) -> None:
    conn.execute("UPDATE chats SET muted_until = ? WHERE chat_id = ?", (until, chat_id))


def muted_until(conn: Connection, chat_id: str) -> float | None:
    row = conn.execute("SELECT muted_until FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def deactivate(conn: Connection, chat_id: str, reason: str) -> None:
    """The chat is gone for the bot (blocked, kicked, deleted): stop routing to it."""
    conn.execute(
        "INSERT INTO chats (chat_id, created_at, active, deactivated_reason) "
        "VALUES (?, ?, 0, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET active = 0, "
        "deactivated_reason = excluded.deactivated_reason",
        (chat_id, int(time.time()), reason[:200]),
    )
    conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
    conn.execute("DELETE FROM tracks WHERE chat_id = ?", (chat_id,))


def move_chat(conn: Connection, old_chat_id: str, new_chat_id: str) -> None:
    """Follows a group → supergroup migration: the new id inherits everything."""
    for table, column in (("subscriptions", "topic_id"), ("tracks", "phrase")):
        conn.execute(
            f"UPDATE {table} SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {table} AS o WHERE o.chat_id = ? AND o.{column} = {table}.{column})",
            (new_chat_id, old_chat_id, new_chat_id),
        )
        conn.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old_chat_id,))  # noqa: S608
    conn.execute(
        "UPDATE chats SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM chats AS o WHERE o.chat_id = ?)",
        (new_chat_id, old_chat_id, new_chat_id),
    )


def load_audience(conn: Connection, now: float) -> Audience:
    """Who receives what right now; its five reads go out together (`Connection.batch`)."""
    subscribers: dict[str, set[str]] = {}
    threads: dict[tuple[str, str], int] = {}
    with conn.batch():
        rows = conn.execute(
            "SELECT s.topic_id, s.chat_id, s.thread_id FROM subscriptions s "
            "LEFT JOIN chats c USING (chat_id) WHERE coalesce(c.active, 1) = 1"
        )
        thread_rows = conn.execute(
            "SELECT chat_id, max(thread_id) FROM tracks WHERE thread_id IS NOT NULL "
            "GROUP BY chat_id"
        )
        pref_rows = conn.execute(
            "SELECT chat_id, lang, preview, silent FROM chats WHERE active = 1 "
            "AND (lang IS NOT NULL OR preview != 0 OR silent != 0)"
        )
        muted_rows = conn.execute(
            "SELECT chat_id FROM chats WHERE muted_until IS NOT NULL AND muted_until > ?", (now,)
        )
        track_rows = conn.execute(_TRACKS)
        for topic_id, chat_id, thread_id in rows.fetchall():
            subscribers.setdefault(topic_id, set()).add(chat_id)
            if thread_id is not None:
                threads[(chat_id, topic_id)] = int(thread_id)
        track_threads = {str(chat): int(thread) for chat, thread in thread_rows.fetchall()}
        prefs = {
            str(chat): ChatPrefs(lang, bool(preview), bool(silent))
            for chat, lang, preview, silent in pref_rows.fetchall()
        }
        muted = frozenset(r[0] for r in muted_rows.fetchall())
        tracks = _tracks(track_rows.fetchall())
    return Audience(
        subscribers={k: frozenset(v) for k, v in subscribers.items()},
        tracks=tracks,
        muted=muted,
        prefs=prefs,
        threads=threads,
        track_threads=track_threads,
    )


def count_chats(conn: Connection) -> tuple[int, int]:
    """(active chats with at least one subscription or phrase, inactive chats)."""
    active = conn.execute(
        "SELECT count(DISTINCT chat_id) FROM (SELECT chat_id FROM subscriptions "
        "UNION SELECT chat_id FROM tracks) AS c"
    ).fetchone()[0]
    inactive = conn.execute("SELECT count(*) FROM chats WHERE active = 0").fetchone()[0]
    return int(active), int(inactive)
