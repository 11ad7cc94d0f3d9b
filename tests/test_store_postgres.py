"""PostgreSQL as the state: schema versions, refusals, bad URLs and passwords, a lost server.

Runs against the real server `.ci/run` (or the test session) started; each test has a schema of
its own. The shared store behaviour runs on both databases in tests/test_store.py.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest

from bot.store import runtime as runtime_rows
from bot.store.db import (
    SCHEMA_VERSION,
    DatabaseError,
    StateError,
    connect,
    connect_postgres,
    database_url,
    transaction,
)
from tests.conftest import with_schema
from tests.servers import postgres


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def test_fresh_schema_gets_version_table(pg_url: str) -> None:
    """A new PostgreSQL state records its version in vigil_schema, beside Vigil's tables."""
    conn = connect_postgres(pg_url)
    assert conn.dialect == "postgresql"
    assert conn.schema_version() == SCHEMA_VERSION
    assert {"feeds", "items", "outbox", "chats", "runtime"} <= set(conn.user_tables())
    with _admin(pg_url) as admin:
        assert admin.execute("SELECT version FROM vigil_schema").fetchone() == (SCHEMA_VERSION,)
        kind = admin.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'feeds' "
            "AND column_name = 'next_poll_at'"
        ).fetchone()
    assert kind == ("double precision",)  # not 4-byte REAL: timestamps keep their seconds
    conn.close()
    again = connect_postgres(pg_url)  # reopening an up-to-date schema changes nothing
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_env_url_wins_over_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """VIGIL_DATABASE_URL beats settings.database_url; neither means SQLite."""
    monkeypatch.delenv("VIGIL_DATABASE_URL", raising=False)
    assert database_url(None) is None
    assert database_url("postgresql://db/a") == "postgresql://db/a"
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql://db/b")
    assert database_url("postgresql://db/a") == "postgresql://db/b"


def test_newer_schema_is_refused_and_left_alone(pg_url: str) -> None:
    """A database restored from a newer Vigil's backup stops this one; nothing is changed."""
    connect_postgres(pg_url).close()
    with _admin(pg_url) as admin:
        admin.execute("UPDATE vigil_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StateError, match="newer than this Vigil"):
        connect_postgres(pg_url)
    with _admin(pg_url) as admin:
        assert admin.execute("SELECT version FROM vigil_schema").fetchone() == (SCHEMA_VERSION + 1,)


def test_foreign_tables_are_refused(pg_url: str) -> None:
    """Another program's tables in the schema are not mistaken for an empty Vigil database."""
    with _admin(pg_url) as admin:
        admin.execute("CREATE TABLE something (x int)")
    with pytest.raises(StateError, match="not Vigil's database"):
        connect_postgres(pg_url)


def test_read_only_commands_do_not_create_state(pg_url: str) -> None:
    """`vigil status` on an empty database says there is no state, and creates none."""
    with pytest.raises(StateError, match="no state database"):
        connect_postgres(pg_url, create=False)
    with _admin(pg_url) as admin:
        count = admin.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    assert count == (0,)


@pytest.mark.parametrize(
    "url", ["mysql://u:hunter2secret@db/x", "hunter2secret", "sqlite:///tmp/x.db"]
)
def test_wrong_url_is_refused_without_printing_the_password(url: str) -> None:
    """A URL that is not PostgreSQL's is named as such; its password never appears."""
    with pytest.raises(StateError, match="not a PostgreSQL URL") as caught:
        connect_postgres(url)
    assert "hunter2secret" not in str(caught.value)


def test_refused_password_is_clear_and_masked(pg_url: str) -> None:
    """The server refusing the password is said in words; the password is not printed."""
    bad = pg_url.replace(postgres.PASSWORD, "wrong-Pa55word")
    with pytest.raises(StateError, match="password authentication failed") as caught:
        connect_postgres(bad)
    assert "wrong-Pa55word" not in str(caught.value)
    assert "***" in str(caught.value)


def test_unreachable_server_is_named() -> None:
    """Nothing listening: the error names the host and port, not a traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://vigil:s3cr3t-pw@127.0.0.1:{port}/vigil?connect_timeout=2"
    with pytest.raises(StateError, match=f"127.0.0.1:{port}") as caught:
        connect_postgres(url)
    assert "s3cr3t-pw" not in str(caught.value)


def test_values_read_back_like_sqlite(pg_url: str) -> None:
    """Sums are ints (not Decimal), bools are stored as 0/1, rows index by name and position."""
    conn = connect_postgres(pg_url)
    conn.execute("INSERT INTO feeds (feed_id, url, baselined) VALUES (?, ?, ?)", ("a", "u", True))
    conn.execute("INSERT INTO feeds (feed_id, url, polls) VALUES (?, ?, ?)", ("b", "u", 5))
    row = conn.execute("SELECT sum(polls) AS total, max(baselined) AS b FROM feeds").fetchone()
    assert row["total"] == 5 and type(row[0]) is int
    assert row["b"] == 1
    assert conn.execute("UPDATE feeds SET polls = 0").fetchone() is None
    conn.close()


def _terminate(url: str, pid: int) -> None:
    with _admin(url) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_lost_session_is_reopened_and_loses_nothing(pg_url: str) -> None:
    """A session killed by the server: the transaction in flight fails whole, the next works."""
    conn = connect_postgres(pg_url)
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with transaction(conn):
        runtime_rows.put(conn, "kept", "1")

    def killed_midway() -> None:
        with transaction(conn):
            runtime_rows.put(conn, "lost", "1")
            _terminate(pg_url, pid)
            runtime_rows.put(conn, "lost2", "1")

    with pytest.raises(DatabaseError):
        killed_midway()
    with transaction(conn):  # re-opened on the next statement
        runtime_rows.put(conn, "after", "1")
    assert runtime_rows.get(conn, "kept") == "1"
    assert runtime_rows.get(conn, "after") == "1"
    assert runtime_rows.get(conn, "lost") is None
    conn.close()


def test_server_gone_then_back(tmp_path: Path) -> None:
    """The server stops mid-run: statements fail (never hang), then work once it is back."""
    if postgres.bindir() is None:
        pytest.skip("no PostgreSQL server binary on this machine")
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="vigil-pg-gone-"))
    try:
        url = postgres.start(directory)
        conn = connect(tmp_path, url=url)
        with transaction(conn):
            runtime_rows.put(conn, "before", "1")
        postgres.stop(directory, "fast")  # the test cluster runs without fsync: no crash here
        for _ in range(2):
            with pytest.raises(DatabaseError):
                runtime_rows.put(conn, "during", "1")
        postgres.restart(directory)
        conn._retry_at = 0.0  # type: ignore[attr-defined]  # skip the back-off wait
        with transaction(conn):
            runtime_rows.put(conn, "after", "1")
        assert runtime_rows.get(conn, "before") == "1"
        assert runtime_rows.get(conn, "during") is None
        conn.close()
    finally:
        postgres.stop(directory, "immediate")
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


def test_schema_urls_isolate_deployments(pg_url: str) -> None:
    """Two search_paths on one database are two separate states (tests rely on it too)."""
    base = os.environ[postgres.ENV]
    other = with_schema(base, "t_other_" + os.urandom(4).hex())
    schema = other.rsplit("%3D", 1)[1]
    with _admin(base) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        first, second = connect_postgres(pg_url), connect_postgres(other)
        runtime_rows.put(first, "where", "first")
        assert runtime_rows.get(second, "where") is None
        first.close()
        second.close()
    finally:
        with _admin(base) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_failed_statement_in_a_transaction_rolls_it_back_whole(pg_url: str) -> None:
    """A constraint failing inside a transaction (seen only at COMMIT: statements are
    pipelined) undoes the whole transaction, and the next one works."""
    conn = connect_postgres(pg_url)

    def duplicate_chat() -> None:
        with transaction(conn):
            runtime_rows.put(conn, "half", "1")
            conn.execute("INSERT INTO chats (chat_id, created_at) VALUES (?, ?)", ("1", 1.0))
            conn.execute("INSERT INTO chats (chat_id, created_at) VALUES (?, ?)", ("1", 2.0))

    with pytest.raises(DatabaseError, match="duplicate key"):
        duplicate_chat()
    with transaction(conn):
        runtime_rows.put(conn, "after", "1")
    assert runtime_rows.get(conn, "half") is None
    assert runtime_rows.get(conn, "after") == "1"
    assert conn.execute("SELECT count(*) FROM chats").fetchone()[0] == 0
    conn.close()
