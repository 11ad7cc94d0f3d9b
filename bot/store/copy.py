"""Copying a SQLite state into an empty PostgreSQL database (`vigil migrate --to URL`).

Rules:
- The target must be empty: no tables in its schema. Anything else is refused before a row is
  written, so a second run cannot merge two histories or overwrite a live deployment's state.
- The target schema is created by the same migrations as always; then every table both sides
  have is copied in one transaction, parents before children (foreign keys), columns matched
  by name (an FTS5 table's hidden rowid too: the archive index keeps the item ids, and
  PostgreSQL computes its tsvector from the copied text). Tables only SQLite has (FTS5's own
  shadow tables) are named in the result, not copied.
- Identity columns continue after the highest copied id. Row counts are compared per table
  after the commit; a difference is an error. The SQLite file is only read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.store.backend import Connection, SqliteConnection

_BATCH = 1000


class CopyError(Exception):
    """The copy was refused or did not verify; the message says why."""


@dataclass
class CopyReport:
    counts: dict[str, int] = field(default_factory=dict)  # table → rows copied (verified)
    skipped: list[str] = field(default_factory=list)  # tables the target does not have


def refuse_non_empty(target: Connection) -> None:
    tables = target.user_tables()
    version = target.schema_version()
    if tables or version:
        shown = ", ".join(tables[:5]) + (" …" if len(tables) > 5 else "")
        raise CopyError(
            f"the target {target.where} is not empty (schema version {version}; tables: "
            f"{shown or 'none'}); migrate copies into an empty database only — create a new "
            "database or schema, or drop this one if its contents are not needed"
        )


def _columns(conn: Connection, table: str) -> list[str]:
    if isinstance(conn, SqliteConnection):
        return [str(r[1]) for r in conn.raw.execute(f'PRAGMA table_info("{table}")')]
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [str(r[0]) for r in rows]


def _parents(source: SqliteConnection, table: str) -> set[str]:
    return {str(r[2]) for r in source.raw.execute(f'PRAGMA foreign_key_list("{table}")')}


def _ordered(source: SqliteConnection, tables: Sequence[str]) -> list[str]:
    """Parents before children, so foreign keys hold at every insert."""
    done: list[str] = []
    pending = list(tables)
    while pending:
        ready = [t for t in pending if not (_parents(source, t) - {t}) & set(pending)]
        if not ready:
            raise CopyError(f"tables refer to each other in a circle: {', '.join(pending)}")
        for table in ready:
            done.append(table)
            pending.remove(table)
    return done


def _batches(rows: Iterator[Any]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(row))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_state(source: SqliteConnection, target: Connection) -> CopyReport:
    """Copies every shared table; the target must be freshly migrated and otherwise empty."""
    report = CopyReport()
    wanted = set(target.user_tables())
    tables = []
    for table in source.user_tables():
        if table in wanted:
            tables.append(table)
        else:
            report.skipped.append(table)
    order = _ordered(source, tables)
    target.execute("BEGIN")
    try:
        for table in order:
            wanted_columns = set(_columns(target, table))
            found = _columns(source, table)
            if "rowid" in wanted_columns and "rowid" not in found:
                found = ["rowid", *found]  # an FTS5 table's key is its hidden rowid
            columns = [c for c in found if c in wanted_columns]
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            rows = source.raw.execute(f"SELECT {names} FROM {table}")  # noqa: S608
            for batch in _batches(iter(rows)):
                target.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                    batch,
                )
        _continue_identities(target)
    except BaseException:
        target.execute("ROLLBACK")
        raise
    target.execute("COMMIT")
    for table in order:
        query = f"SELECT count(*) FROM {table}"  # noqa: S608
        expected = int(source.execute(query).fetchone()[0])
        copied = int(target.execute(query).fetchone()[0])
        if copied != expected:
            raise CopyError(f"{table}: {expected} rows in SQLite but {copied} in the target")
        report.counts[table] = copied
    return report


def _continue_identities(target: Connection) -> None:
    rows = target.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in rows:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), "  # noqa: S608
            f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)",
            (table, column),
        )
