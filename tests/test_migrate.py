"""`vigil migrate --to postgresql://…`: a SQLite state copied whole into an empty PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from bot.model import ErrorKind, Item
from bot.store import feeds as feed_rows
from bot.store import items as item_rows
from bot.store import outbox, subs
from bot.store import runtime as runtime_rows
from bot.store.db import StateLock, connect_postgres, connect_sqlite, transaction
from tests.conftest import vigil_cmd
from tests.servers import postgres

TABLES = ("feeds", "items", "outbox", "chats", "subscriptions", "tracks", "runtime")


def _fill(state: Path) -> None:
    """A state with a row of every kind: health, seen items, pending and sent alerts, users."""
    conn = connect_sqlite(state, create=True)
    with transaction(conn):
        feed_rows.sync_feeds(conn, {"mfa": "https://a.example/rss", "icj": "https://b.example/"})
        feed_rows.record_success(
            conn, "mfa", now=100.5, next_poll_at=700.25, etag='"e1"', last_modified=None
        )
        feed_rows.record_failure(
            conn, "icj", now=101.0, next_poll_at=900.0, kind=ErrorKind.TIMEOUT, message="slow"
        )
        for n in range(30):
            item = Item(
                key=f"k{n}", title=f"S {n}", link=f"https://a.example/{n}", summary="", content=""
            )
            row_id = item_rows.insert_item(
                conn, "mfa", item, link_key=item.link, topics=["cat"] if n % 3 == 0 else [], now=n
            )
            assert row_id is not None
            if n % 3 == 0:
                outbox.enqueue(
                    conn,
                    item_id=row_id,
                    deliveries=[
                        outbox.Delivery(c, f"<b>Statement {n}</b>", f"Statement {n}", thread_id=t)
                        for c, t in (("100", None), ("-200", 7))
                    ],
                    statement_key=f"s{n}",
                    topics=["cat"],
                    now=n,
                )
        for row in outbox.due(conn, now=10_000)[:5]:
            outbox.mark_sent(conn, row.id, now=50.0)
        subs.ensure_chat(conn, "100", "private", "Ana", now=1.0)
        subs.ensure_chat(conn, "-200", "group", "Team", now=2.0)
        subs.subscribe(conn, "100", ["cat", "caesar"], now=3.0)
        subs.subscribe(conn, "-200", ["cat"], now=3.0)
        subs.track(conn, "100", "sednaya", now=4.0)
        subs.set_mute(conn, "-200", 99_999.0)
        runtime_rows.put(conn, "telegram_offset", "42")
    conn.close()


def _migrate(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`vigil migrate --to URL` as a subprocess, its output as text."""
    return subprocess.run(
        vigil_cmd("migrate", "--to", url),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _dump(conn: object, table: str) -> list[tuple[object, ...]]:
    rows = conn.execute(f"SELECT * FROM {table}").fetchall()  # type: ignore[attr-defined]
    return sorted((tuple(r) for r in rows), key=repr)


def test_migrate_copies_everything_and_verifies(
    tmp_path: Path, pg_url: str, vigil_env: dict[str, str]
) -> None:
    """Every table arrives row for row; ids continue after the copy; the file is untouched."""
    state = tmp_path / "state"
    _fill(state)
    before = (state / "vigil.db").stat().st_mtime_ns
    done = _migrate(pg_url, vigil_env)
    assert done.returncode == 0, done.stderr
    assert "items: 30 rows copied and verified" in done.stdout
    assert "outbox: 20 rows copied and verified" in done.stdout
    assert postgres.PASSWORD not in done.stdout + done.stderr
    assert "***" in done.stdout
    assert (state / "vigil.db").stat().st_mtime_ns == before

    source = connect_sqlite(state, create=False)
    target = connect_postgres(pg_url)
    for table in TABLES:
        assert _dump(target, table) == _dump(source, table), table
    with transaction(target):  # identities continue after the highest copied id
        item = Item(key="new", title="After the move", link=None, summary="", content="")
        new_id = item_rows.insert_item(target, "mfa", item, link_key=None, topics=[], now=1e9)
    assert new_id == 31
    assert subs.load_audience(target, now=5.0).muted == frozenset({"-200"})
    source.close()
    target.close()


def test_migrate_refuses_a_non_empty_target(
    tmp_path: Path, pg_url: str, vigil_env: dict[str, str]
) -> None:
    """A second run (or another program's tables) is refused before anything is written."""
    _fill(tmp_path / "state")
    first = _migrate(pg_url, vigil_env)
    assert first.returncode == 0
    again = _migrate(pg_url, vigil_env)
    assert again.returncode == 2
    assert "is not empty" in again.stderr
    assert "copies into an empty database only" in again.stderr
    assert postgres.PASSWORD not in again.stderr
    with psycopg.connect(pg_url) as admin:
        assert admin.execute("SELECT count(*) FROM items").fetchone() == (30,)


def test_migrate_refuses_foreign_tables(
    tmp_path: Path, pg_url: str, vigil_env: dict[str, str]
) -> None:
    """Another program's tables in the target schema: refused, untouched."""
    _fill(tmp_path / "state")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE invoices (id int)")
    done = _migrate(pg_url, vigil_env)
    assert done.returncode == 2
    assert "tables: invoices" in done.stderr


def test_migrate_needs_the_state_unlocked_and_present(
    tmp_path: Path, pg_url: str, vigil_env: dict[str, str]
) -> None:
    """A running `vigil run` holds the lock: refused; no state at all: said so."""
    missing = _migrate(pg_url, vigil_env)
    assert missing.returncode == 2
    assert "no state database" in missing.stderr
    _fill(tmp_path / "state")
    with StateLock(tmp_path / "state"):
        locked = _migrate(pg_url, vigil_env)
    assert locked.returncode == 2
    assert "already using the state directory" in locked.stderr


def test_migrate_bad_target_urls(tmp_path: Path, pg_url: str, vigil_env: dict[str, str]) -> None:
    """A URL that is not PostgreSQL's, or a refused password: exit 2, password never shown."""
    _fill(tmp_path / "state")
    for url, expected in (
        ("mysql://root:Sekr1t-x@db/vigil", "not a PostgreSQL URL"),
        (pg_url.replace(postgres.PASSWORD, "Sekr1t-x"), "password authentication failed"),
    ):
        done = _migrate(url, vigil_env)
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Sekr1t-x" not in done.stdout + done.stderr
