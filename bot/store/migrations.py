"""The schema, as migrations: each entry upgrades from version i to i + 1 (0 is an empty file).

Written in SQLite's SQL; `bot.store.dialect` translates each statement for PostgreSQL, so one
list serves both. A statement whose first line is :data:`POSTGRESQL_ONLY` is PostgreSQL's own
(what SQLite has no counterpart for, such as its full-text index) and is skipped on SQLite.
Append one self-contained entry per change and raise SCHEMA_VERSION.
"""

from __future__ import annotations

SCHEMA_VERSION = 8
POSTGRESQL_ONLY = "-- postgresql only"

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
    # Several replicas on one PostgreSQL (issue 15): feed claims with leases, and who is alive.
    """
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until REAL;
    CREATE TABLE replicas (
        replica_id TEXT PRIMARY KEY,
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        heartbeat REAL NOT NULL,
        leader INTEGER NOT NULL DEFAULT 0,
        config_hash TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT ''
    );
    """,
    # 8 (issue 15): word search on PostgreSQL. SQLite's FTS5 index needs nothing (migration 5).
    # On PostgreSQL `archive_index` is a plain table holding the same normalized text; it gains
    # a tsvector of it, generated on every write (so add, reindex and prune need nothing more;
    # the ALTER computes it for the rows already there), and a GIN index. The tsvector is built
    # here rather than by to_tsvector: PostgreSQL's parser would split words by the server's
    # locale and read `2.0.8` or `a-b` as units of their own, where FTS5's `unicode61` splits the
    # index text only at the soft separators `bot.search.tokens` leaves in it (space, hyphen,
    # apostrophe, double quote): every other character there is a word character or BREAK. So
    # the words are cut at exactly those, kept as they are (no stemming, no stop words), title
    # words weighted A at positions 1…n, body words B from n + 2 on (a phrase never spans the
    # two, as FTS5 columns). PostgreSQL's own limits apply: positions stop at 16,383, a word
    # keeps its first 256 positions, and a "word" over 2,047 bytes is left out.
    """
    -- postgresql only
    CREATE FUNCTION vigil_search_doc(title TEXT, body TEXT) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $doc$
    SELECT coalesce(string_agg(
        '''' || replace(w.word, '\\', '\\\\') || ''':' || least(w.pos, 16383) || w.weight,
        ' '
    ), '')::tsvector
    FROM (
        SELECT t.word, t.pos, 'A' AS weight
        FROM regexp_split_to_table(coalesce(title, ''), '[- ''"]+')
            WITH ORDINALITY AS t (word, pos)
        UNION ALL
        SELECT b.word, b.pos + 1 + (
            SELECT count(*) FROM regexp_split_to_table(coalesce(title, ''), '[- ''"]+')
        ), 'B'
        FROM regexp_split_to_table(coalesce(body, ''), '[- ''"]+')
            WITH ORDINALITY AS b (word, pos)
    ) AS w
    WHERE w.word <> '' AND octet_length(w.word) < 2048
    $doc$;
    -- postgresql only
    ALTER TABLE archive_index ADD COLUMN doc tsvector
        GENERATED ALWAYS AS (vigil_search_doc(title, body)) STORED;
    -- postgresql only
    CREATE INDEX archive_index_doc ON archive_index USING gin (doc)
    """,
)
