"""The state database: schema, refusals, the single-process lock, dedup and the outbox.

Every test runs twice, on SQLite and on PostgreSQL (the `database` fixture sets
VIGIL_DATABASE_URL to a fresh schema); tests about the SQLite file itself are marked
`sqlite_only`.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.model import Item
from bot.store import copies, outbox, subs
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store.db import (
    MIGRATIONS,
    SCHEMA_VERSION,
    LockedError,
    StateError,
    StateLock,
    connect,
    transaction,
)

pytestmark = pytest.mark.usefixtures("database")


def _item(key: str, link: str | None = None) -> Item:
    return Item(key=key, title=f"title {key}", link=link, summary="", content="")


@pytest.mark.sqlite_only
def test_fresh_database_gets_current_schema_and_wal(tmp_path: Path) -> None:
    """A new state directory gets the current schema version in WAL mode."""
    conn = connect(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.sqlite_only
def test_newer_schema_is_refused_not_recreated(tmp_path: Path) -> None:
    """A database from a newer Vigil stops this one and stays untouched (RELIABILITY D7)."""
    newer = connect(tmp_path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()  # checkpointed now, not whenever the garbage collector gets to it
    before = (tmp_path / "vigil.db").read_bytes()
    with pytest.raises(StateError, match="newer than this Vigil"):
        connect(tmp_path)
    assert (tmp_path / "vigil.db").read_bytes() == before


@pytest.mark.sqlite_only
def test_corrupt_database_is_refused(tmp_path: Path) -> None:
    """Garbage in vigil.db gives a clear error and the file is kept for inspection."""
    (tmp_path / "vigil.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="unreadable"):
        connect(tmp_path)
    assert (tmp_path / "vigil.db").read_bytes().startswith(b"this is not")


@pytest.mark.sqlite_only
def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Another program's SQLite file is not mistaken for an empty Vigil database."""
    other = sqlite3.connect(tmp_path / "vigil.db")
    other.execute("CREATE TABLE something (x)")
    other.commit()
    other.close()
    with pytest.raises(StateError, match="not Vigil's database"):
        connect(tmp_path)


def test_status_without_database_says_so(tmp_path: Path) -> None:
    """Read-only commands do not create a database where there is none."""
    with pytest.raises(StateError, match="no state database"):
        connect(tmp_path / "missing", create=False)


@pytest.mark.sqlite_only
def test_lock_refuses_second_process(tmp_path: Path) -> None:
    """While one process holds the state lock, another one is refused with a clear message."""
    with StateLock(tmp_path):
        code = (
            "import sys\nfrom bot.store.db import StateLock, LockedError\n"
            f"try:\n    StateLock({str(tmp_path)!r}).acquire()\nexcept LockedError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert done.returncode == 3
        assert "already using the state directory" in done.stdout
    StateLock(tmp_path).acquire()  # free again once released


@pytest.mark.sqlite_only
def test_lock_in_same_process_is_exclusive(tmp_path: Path) -> None:
    """Two lock objects on one directory: the second fails (flock is per open file)."""
    first = StateLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(LockedError):
            StateLock(tmp_path).acquire()
    finally:
        first.release()


def test_items_are_unique_per_feed_and_key(tmp_path: Path) -> None:
    """Inserting a known (feed, key) returns None; the same key in another feed is new."""
    conn = connect(tmp_path)
    with transaction(conn):
        assert item_rows.insert_item(conn, "a", _item("k"), link_key=None, topics=(), now=1)
        assert item_rows.insert_item(conn, "a", _item("k"), link_key=None, topics=(), now=2) is None
        assert item_rows.insert_item(conn, "b", _item("k"), link_key=None, topics=(), now=3)
    assert item_rows.known_keys(conn, "a", ["k", "x"]) == {"k"}


def test_known_keys_handles_more_than_one_chunk(tmp_path: Path) -> None:
    """Thousands of keys are looked up in bounded statements."""
    conn = connect(tmp_path)
    keys = [f"k{i}" for i in range(1500)]
    with transaction(conn):
        for key in keys[::2]:
            item_rows.insert_item(conn, "a", _item(key), link_key=None, topics=(), now=1)
    assert item_rows.known_keys(conn, "a", keys) == set(keys[::2])


def test_outbox_one_row_per_chat_and_statement(tmp_path: Path) -> None:
    """The same statement queued twice for a chat yields one row (SPEC: once per chat)."""
    conn = connect(tmp_path)
    with transaction(conn):
        item_id = item_rows.insert_item(
            conn, "a", _item("k"), link_key=None, topics=("cat",), now=1
        )
        assert item_id is not None
        first = outbox.enqueue(
            conn,
            item_id=item_id,
            deliveries=[outbox.Delivery(c, "<b>x</b>", "x") for c in ["1", "2"]],
            statement_key="s",
            topics=["cat"],
            now=1,
        )
        second = outbox.enqueue(
            conn,
            item_id=item_id,
            deliveries=[outbox.Delivery(c, "<b>x</b>", "x") for c in ["2", "3"]],
            statement_key="s",
            topics=["caesar"],
            now=1,
        )
    assert first == ["1", "2"]
    assert second == ["3"]
    assert outbox.backlog(conn).pending == 3


def test_outbox_due_respects_next_attempt(tmp_path: Path) -> None:
    """A row scheduled later is not due now; next_due_at reports it."""
    conn = connect(tmp_path)
    with transaction(conn):
        item_id = item_rows.insert_item(conn, "a", _item("k"), link_key=None, topics=(), now=1)
        assert item_id is not None
        outbox.enqueue(
            conn,
            item_id=item_id,
            deliveries=[outbox.Delivery(c, "x", "x") for c in ["1"]],
            statement_key="s",
            topics=[],
            now=10,
        )
        row = outbox.due(conn, 10)[0]
        outbox.mark_retry(conn, row.id, 50, "later")
    assert outbox.due(conn, 20) == []
    assert outbox.next_due_at(conn) == 50


def test_gone_chat_is_deactivated_and_comes_back(tmp_path: Path) -> None:
    """A blocked chat loses its subscriptions; subscribing again reactivates it (F10)."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, "7", "private", "Ann", 1)
        subs.subscribe(conn, "7", ["cat"], 1)
        subs.deactivate(conn, "7", "blocked")
    assert subs.load_audience(conn, 2).subscribers == {}
    with transaction(conn):
        subs.ensure_chat(conn, "7", "private", "Ann", 3)
        subs.subscribe(conn, "7", ["cat"], 3)
    assert subs.load_audience(conn, 4).subscribers == {"cat": frozenset({"7"})}


def test_feed_rows_keep_schedule_and_reset_validators_on_url_change(tmp_path: Path) -> None:
    """A changed URL drops the old ETag but keeps the row (and so the seen items)."""
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"a": "http://x/1"})
        feed_rows.record_success(
            conn, "a", now=1, next_poll_at=100, etag='"e"', last_modified=None, new_items=3
        )
        feed_rows.sync_feeds(conn, {"a": "http://x/1"})
    row = feed_rows.get_feed(conn, "a")
    assert row is not None and row.etag == '"e"' and row.next_poll_at == 100
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"a": "http://x/2"})
    row = feed_rows.get_feed(conn, "a")
    assert row is not None and row.etag is None and row.items_seen == 3


def test_due_feeds_catches_clock_going_back(tmp_path: Path) -> None:
    """A poll scheduled absurdly far ahead (clock went back) counts as due (D10)."""
    conn = connect(tmp_path)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"a": "u", "b": "u", "c": "u"})
        feed_rows.reschedule(conn, "a", 50)
        feed_rows.reschedule(conn, "b", 500)
        feed_rows.reschedule(conn, "c", 10_000_000)
    assert feed_rows.due_feeds(conn, 100, horizon=86_400) == ["a", "c"]


@pytest.mark.sqlite_only
def test_version_1_database_gains_languages_threads_and_options(tmp_path: Path) -> None:
    """A database from before issue 14 is migrated in place; its chats and rows are kept."""
    old = sqlite3.connect(tmp_path / "vigil.db")
    old.executescript(MIGRATIONS[0])
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO chats (chat_id, created_at) VALUES ('7', 1)")
    old.execute("INSERT INTO subscriptions (chat_id, topic_id, created_at) VALUES ('7', 'cat', 1)")
    old.execute("INSERT INTO items (feed_id, item_key, first_seen_at) VALUES ('a', 'k', 1)")
    old.execute(
        "INSERT INTO outbox (item_id, chat_id, statement_key, topics, text_html, text_plain, "
        "next_attempt_at, created_at) VALUES (1, '7', 's', 'cat', 'x', 'x', 1, 1)"
    )
    old.commit()
    old.close()
    conn = connect(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert subs.prefs_of(conn, "7") == subs.ChatPrefs(None, preview=False, silent=False)
    (row,) = outbox.due(conn, 10)
    assert (row.thread_id, row.silent, row.preview_url) == (None, False, None)
    assert subs.load_audience(conn, 0).subscribers == {"cat": frozenset({"7"})}


def test_subscribing_again_from_another_topic_moves_the_subscription(tmp_path: Path) -> None:
    """(chat, topic) is one subscription: made in another forum topic, it moves there."""
    conn = connect(tmp_path)
    with transaction(conn):
        subs.ensure_chat(conn, "-100", "supergroup", "", 1, "ar")
        subs.ensure_chat(conn, "-100", "supergroup", "", 1, "fr")  # the first language stays
        assert subs.subscribe(conn, "-100", ["cat"], 1, thread_id=5) == 1
        assert subs.subscribe(conn, "-100", ["cat"], 1, thread_id=5) == 0
        assert subs.subscribe(conn, "-100", ["cat"], 1, thread_id=7) == 1
        assert subs.subscribe(conn, "-100", ["cat"], 1) == 1  # back to General
    audience = subs.load_audience(conn, 0)
    assert audience.threads == {}
    assert audience.prefs == {"-100": subs.ChatPrefs("ar")}


def test_fingerprints_keep_every_64_bit_hash(tmp_path: Path) -> None:
    """An item's shingle hashes go in as one statement (a JSON array) and read back exact,
    the whole signed 64-bit range included."""
    conn = connect(tmp_path)
    hashes = [2**62 + 5, -(2**63), 12, 2**63 - 1]
    with transaction(conn):
        copies.add_fingerprint(conn, 7, hashes, 1.5)
        copies.add_fingerprint(conn, 8, [], 1.5)
    rows = conn.execute("SELECT hash, item_id, seen_at FROM fingerprints ORDER BY hash").fetchall()
    assert [tuple(r) for r in rows] == [(h, 7, 1.5) for h in sorted(hashes)]
    conn.close()
