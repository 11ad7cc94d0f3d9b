"""The state database: one SQLite file under the state directory, opened one way everywhere.

Rules this module enforces:
- WAL journal, `synchronous=NORMAL`, a busy timeout: a kill -9 loses at most uncommitted work and
  another reader never blocks the writer (RELIABILITY §5.5 measured integrity after SIGKILL).
- The schema carries a version. Older versions are migrated in order at open; a *newer* version
  or a file that is not a Vigil database stops Vigil with a clear message. A database is never
  silently recreated: that would baseline or resend every feed (RELIABILITY D7).
- One process writes a state directory at a time: `acquire_lock` takes an exclusive `flock`
  (RELIABILITY D9) that the kernel releases when the process dies, even by kill -9.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

DB_NAME = "vigil.db"
LOCK_NAME = "vigil.lock"

SCHEMA_VERSION = 6

# Each entry upgrades from version i to i + 1. Version 0 is an empty file.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feeds (
        feed_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        baselined INTEGER NOT NULL DEFAULT 0,
        next_poll_at REAL NOT NULL DEFAULT 0,
        last_poll_at REAL,
        last_success_at REAL,
        last_error_at REAL,
        last_error_kind TEXT,
        last_error TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        polls INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        items_seen INTEGER NOT NULL DEFAULT 0,
        alerts_queued INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id TEXT NOT NULL,
        item_key TEXT NOT NULL,
        link TEXT,
        title TEXT NOT NULL DEFAULT '',
        published_at REAL,
        first_seen_at REAL NOT NULL,
        topics TEXT NOT NULL DEFAULT '',
        UNIQUE (feed_id, item_key)
    );
    CREATE INDEX items_link ON items (feed_id, link);
    CREATE INDEX items_matched ON items (first_seen_at) WHERE topics != '';
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items (id),
        chat_id TEXT NOT NULL,
        statement_key TEXT NOT NULL,
        topics TEXT NOT NULL,
        text_html TEXT NOT NULL,
        text_plain TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL,
        last_error TEXT,
        UNIQUE (chat_id, statement_key)
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
    CREATE TABLE chats (
        chat_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'private',
        title TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        muted_until REAL,
        created_at REAL NOT NULL,
        deactivated_reason TEXT
    );
    CREATE TABLE subscriptions (
        chat_id TEXT NOT NULL,
        topic_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, topic_id)
    );
    CREATE INDEX subscriptions_topic ON subscriptions (topic_id);
    CREATE TABLE tracks (
        chat_id TEXT NOT NULL,
        phrase TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, phrase)
    );
    CREATE TABLE runtime (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # Full text (issue 12): the text read from an item's page and PDF, kept with the item so a
    # restart never refetches; the items that wait for their text, durably; the last article
    # error of each feed.
    """
    ALTER TABLE items ADD COLUMN full_text TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN pdf_text TEXT NOT NULL DEFAULT '';
    ALTER TABLE feeds ADD COLUMN last_article_error TEXT;
    ALTER TABLE feeds ADD COLUMN last_article_error_at REAL;
    CREATE TABLE article_queue (
        item_id INTEGER PRIMARY KEY REFERENCES items (id),
        feed_id TEXT NOT NULL,
        url TEXT NOT NULL,
        item TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        first_seen_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        outcome TEXT,
        decided_at REAL
    );
    CREATE INDEX article_queue_due ON article_queue (feed_id, state, next_attempt_at);
    """,
    # Issue 14: a chat's interface language and alert options; the forum topic (thread) a
    # subscription or phrase was made in; and, per queued alert, its thread, its sound and the
    # link to preview (NULL: no preview).
    """
    ALTER TABLE chats ADD COLUMN lang TEXT;
    ALTER TABLE chats ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chats ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER;
    ALTER TABLE tracks ADD COLUMN thread_id INTEGER;
    ALTER TABLE outbox ADD COLUMN thread_id INTEGER;
    ALTER TABLE outbox ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN preview_url TEXT;
    """,
    # Page sources (issue 11): the hash of the last body read (an unchanged body without
    # validators skips parsing), the feed a page advertised (polled in its place), and a
    # re-baseline asked for by `vigil rebaseline` after a layout change.
    """
    ALTER TABLE feeds ADD COLUMN body_hash TEXT;
    ALTER TABLE feeds ADD COLUMN source_url TEXT;
    ALTER TABLE feeds ADD COLUMN rebaseline INTEGER NOT NULL DEFAULT 0;
    """,
    # 5 (issue 13): the searchable archive — the original text of every item read; the FTS5
    # index holds its NORMALIZED form (bot.store.archive says why), title weighted 10x; saved
    # Telegram searches; each chat's digest, quiet hours and time zone, and digest schedule;
    # near-duplicate fingerprints and copies, and on the outbox the sent message's id and the
    # other sources of its statement (bot.store.copies).
    """
    CREATE TABLE archive (
        item_id INTEGER PRIMARY KEY REFERENCES items (id),
        summary TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '',
        stored_at REAL NOT NULL
    );
    CREATE INDEX archive_stored ON archive (stored_at);
    CREATE INDEX items_date ON items (coalesce(published_at, first_seen_at));
    CREATE VIRTUAL TABLE archive_index USING fts5 (
        title, body, tokenize = 'unicode61 remove_diacritics 0'
    );
    INSERT INTO archive_index (archive_index, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
    CREATE TABLE searches (
        id INTEGER PRIMARY KEY,
        chat_id TEXT NOT NULL,
        query TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    ALTER TABLE chats ADD COLUMN digest TEXT NOT NULL DEFAULT '';
    ALTER TABLE chats ADD COLUMN quiet TEXT NOT NULL DEFAULT '';
    ALTER TABLE chats ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
    CREATE TABLE digests (
        chat_id TEXT PRIMARY KEY,
        next_at REAL NOT NULL
    );
    CREATE INDEX outbox_held ON outbox (chat_id, id) WHERE state = 'held';
    CREATE TABLE fingerprints (
        hash INTEGER NOT NULL,
        item_id INTEGER NOT NULL,
        seen_at REAL NOT NULL
    );
    CREATE INDEX fingerprints_hash ON fingerprints (hash);
    CREATE INDEX fingerprints_seen ON fingerprints (seen_at);
    CREATE TABLE copies (
        item_id INTEGER PRIMARY KEY,
        original_id INTEGER NOT NULL,
        similarity REAL NOT NULL
    );
    CREATE INDEX copies_original ON copies (original_id);
    ALTER TABLE outbox ADD COLUMN message_id INTEGER;
    ALTER TABLE outbox ADD COLUMN also TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN edit_pending INTEGER NOT NULL DEFAULT 0;
    """,
    # 6 (issue 13 in four languages): the interface language an outbox row's text was rendered
    # in, so a later edit ("Also published by") speaks the language of the message it edits.
    """
    ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
    """,
)


class StateError(Exception):
    """The state directory or database cannot be used; the message says why and what to do."""


class LockedError(StateError):
    """Another Vigil process holds the state directory."""


def state_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / DB_NAME


def connect(state_dir: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """Opens (and migrates) the state database; raises StateError with a reason otherwise."""
    directory = Path(state_dir)
    path = directory / DB_NAME
    if not path.exists() and not create:
        raise StateError(f"no state database at {path} (run `vigil once` or `vigil run` first)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"cannot open the state database {path}: {exc}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 5000")
        # Refused files are checked before switching to WAL, which would rewrite their header.
        refuse_foreign(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            # WAL needs shared memory; network filesystems refuse it (RELIABILITY D16).
            raise StateError(
                f"the state database {path} cannot use WAL (journal_mode={mode}); "
                "put VIGIL_STATE_DIR on a local filesystem"
            )
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(
            f"the state database {path} is unreadable ({exc}); it was left untouched — "
            "restore it from a backup or move it away to start from a fresh baseline"
        ) from None
    except StateError:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """Raises StateError for a database from a newer Vigil or from another program."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {path} has schema version {version}, newer than this Vigil "
            f"understands ({SCHEMA_VERSION}); upgrade Vigil or restore an older backup"
        )
    if version == 0:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if tables:
            raise StateError(
                f"{path} holds tables but no Vigil schema version; it is not Vigil's database"
            )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Brings the schema to SCHEMA_VERSION, refusing files that are newer or not ours."""
    refuse_foreign(conn, path)
    version = schema_version(conn)
    for target in range(version, SCHEMA_VERSION):
        with transaction(conn):
            for statement in _statements(MIGRATIONS[target]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target + 1}")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (the connection is autocommit)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class StateLock:
    """An exclusive advisory lock on `<state>/vigil.lock`, held for the life of the process."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StateError(f"cannot create the lock file {self.path}: {exc}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockedError(
                f"another Vigil ({holder}) is already using the state directory "
                f"{self.path.parent}; stop it first, or give this one its own --state"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
