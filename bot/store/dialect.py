"""SQL written once, for SQLite, translated to PostgreSQL: the common subset the store speaks.

The store modules write SQLite's SQL with `?` placeholders. On PostgreSQL each statement passes
through `to_postgres` once (the result is cached per connection). What it translates:

- `?` → `%s`, and a literal `%` → `%%` (psycopg formats every statement it binds);
- `BEGIN IMMEDIATE|DEFERRED|EXCLUSIVE` → `BEGIN`;
- `INSERT OR IGNORE INTO` → `INSERT INTO … ON CONFLICT DO NOTHING`;
- `INSERT OR REPLACE INTO t (cols)` / `REPLACE INTO` → `… ON CONFLICT (primary key) DO UPDATE`
  setting every other inserted column (the primary key comes from the catalog);
- in DDL: `INTEGER PRIMARY KEY [AUTOINCREMENT]` → an identity column, `INTEGER` → `BIGINT`
  (Telegram ids outgrow 32 bits), `REAL` → `DOUBLE PRECISION` (PostgreSQL's REAL is 4 bytes:
  a timestamp would lose its seconds), `BLOB` → `BYTEA`, `WITHOUT ROWID` and `STRICT` dropped;
- `json_each(x)` → `json_array_elements_text((x)::json)` (both name their column `value`);
- `LIKE` → `ILIKE` (SQLite's LIKE ignores ASCII case), `ifnull(` → `coalesce(`;
- `a IS b` / `a IS NOT b` (NULL-safe comparisons of any values in SQLite) → `IS [NOT] DISTINCT
  FROM`; `IS NULL`, `IS NOT NULL`, `IS TRUE`… stay.

- `CREATE VIRTUAL TABLE t USING fts5 (a, b, options)` → a plain table `t (rowid, a, b)`, and the
  FTS5 setting `INSERT INTO t (t, rank) …` → nothing: the archive is written the same way on
  both; PostgreSQL's word index over it is its own (migration 8: a generated tsvector and a GIN
  index), searched with `@@` in `bot.store.archive`; `WHERE 1` → `WHERE TRUE`.

What it refuses, naming the statement, so a developer learns it from the first test on
PostgreSQL instead of from a replica in production: `UPDATE OR IGNORE`/`OR REPLACE`, `PRAGMA`,
`MATCH`, `sqlite_master`. Write those in the common subset (`… AND NOT EXISTS (…)`) or ask the
connection's `dialect` and branch in the store module. A migration statement that is PostgreSQL's
alone starts with `bot.store.migrations.POSTGRESQL_ONLY` (SQLite skips it; it is still translated
here, so it avoids `?`, `IS`, `LIKE` and the other rewritten forms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["UnsupportedSql", "to_postgres"]


class UnsupportedSql(ValueError):
    """A statement uses SQLite SQL that has no PostgreSQL translation here."""


_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_BEGIN = re.compile(r"^\s*BEGIN\s+(?:IMMEDIATE|DEFERRED|EXCLUSIVE)\b", re.IGNORECASE)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_OR_REPLACE = re.compile(
    r"\b(?:INSERT\s+OR\s+REPLACE|REPLACE)\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE
)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_DDL = re.compile(r"^\s*(?:CREATE|ALTER)\s+TABLE\b", re.IGNORECASE)
_IDENTITY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(?:\s+AUTOINCREMENT)?\b", re.IGNORECASE)
_TYPES = (
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\)\s*(?:WITHOUT\s+ROWID|STRICT)(?:\s*,\s*(?:WITHOUT\s+ROWID|STRICT))*\s*$"), ")"),
)
_JSON_EACH = re.compile(r"\bjson_each\s*\(((?:[^()]|\([^()]*\))*)\)", re.IGNORECASE)
_FTS_TABLE = re.compile(
    r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+USING\s+fts5\s*\((.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_FTS_CONFIG = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(\s*\1\s*,\s*rank\s*\)", re.IGNORECASE)
_WHERE_ONE = re.compile(r"\bWHERE\s+1\b(?!\s*[=<>!])", re.IGNORECASE)
_LIKE = re.compile(r"(?<!I)\bLIKE\b", re.IGNORECASE)
_IFNULL = re.compile(r"\bifnull\s*\(", re.IGNORECASE)
_KEYWORDS = r"(?:NULL|TRUE|FALSE|UNKNOWN|DISTINCT|NOT)\b"
_IS_NOT = re.compile(rf"\bIS\s+NOT\s+(?!{_KEYWORDS})", re.IGNORECASE)
_IS = re.compile(rf"\bIS\s+(?!{_KEYWORDS})", re.IGNORECASE)
_REFUSED = (
    (re.compile(r"\bUPDATE\s+OR\s+(?:IGNORE|REPLACE)\b", re.IGNORECASE), "UPDATE OR IGNORE"),
    (re.compile(r"^\s*PRAGMA\b", re.IGNORECASE), "PRAGMA"),
    (re.compile(r"\b\w+\s+MATCH\b", re.IGNORECASE), "full-text MATCH (SQLite FTS5)"),
    (re.compile(r"\bsqlite_(?:master|schema)\b", re.IGNORECASE), "sqlite_master"),
)
_MARK = "\x00"  # stands for a masked literal while the code around it is rewritten


def to_postgres(sql: str, primary_key: Callable[[str], Sequence[str]] | None = None) -> str:
    """The PostgreSQL text of one SQLite statement; raises UnsupportedSql naming what is wrong.

    `primary_key(table)` is asked only for `INSERT OR REPLACE`.
    """
    literals: list[str] = []

    def mask(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        return _MARK

    code = _LITERAL.sub(mask, sql)
    for pattern, name in _REFUSED:
        if pattern.search(code):
            raise UnsupportedSql(f"{name} has no PostgreSQL translation: {_short(sql)}")
    code = _BEGIN.sub("BEGIN", code)
    fts = _FTS_TABLE.match(code)
    if fts:
        code = _fts_stand_in(fts.group(1), fts.group(2))
    elif _FTS_CONFIG.match(code):
        code = "SELECT 1"  # an FTS5 setting (rank, …): nothing to set without FTS5
    if fts or code == "SELECT 1":
        literals = [] if _MARK not in code else literals  # the options' literals went away
    code = _WHERE_ONE.sub("WHERE TRUE", code)
    if _OR_IGNORE.search(code):
        code = _append_conflict(_OR_IGNORE.sub("INSERT INTO", code), "ON CONFLICT DO NOTHING")
    replace = _OR_REPLACE.search(code)
    if replace:
        code = _replace(code, replace, primary_key, sql)
    if _DDL.match(code):
        code = _IDENTITY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", code)
        for pattern, repl in _TYPES:
            code = pattern.sub(repl, code)
    code = _JSON_EACH.sub(r"json_array_elements_text((\1)::json)", code)
    code = _LIKE.sub("ILIKE", code)
    code = _IFNULL.sub("coalesce(", code)
    # SQLite's `a IS b` / `a IS NOT b` compare any values, NULL-safe; PostgreSQL's take only
    # NULL, TRUE, FALSE or UNKNOWN on the right.
    code = _IS_NOT.sub("IS DISTINCT FROM ", code)
    code = _IS.sub("IS NOT DISTINCT FROM ", code)
    code = code.replace("%", "%%").replace("?", "%s")
    parts = code.split(_MARK)
    out = [parts[0]]
    for literal, rest in zip(literals, parts[1:], strict=True):
        out.append(literal.replace("%", "%%"))
        out.append(rest)
    return "".join(out)


def _fts_stand_in(table: str, spec: str) -> str:
    """An FTS5 table as a plain one: `rowid` and its text columns (options dropped), so writes
    work; searching it with MATCH is refused (see the module docstring)."""
    columns = [c.split()[0] for c in spec.split(",") if c.strip() and "=" not in c]
    texts = "".join(f", {c} TEXT" for c in columns)
    return f"CREATE TABLE {table} (rowid BIGINT PRIMARY KEY{texts})"


def _append_conflict(code: str, clause: str) -> str:
    returning = _RETURNING.search(code)
    if returning:
        head, tail = code[: returning.start()].rstrip(), code[returning.start() :]
        return f"{head} {clause} {tail}"
    return f"{code.rstrip().rstrip(';').rstrip()} {clause}"


def _replace(
    code: str,
    match: re.Match[str],
    primary_key: Callable[[str], Sequence[str]] | None,
    sql: str,
) -> str:
    table = match.group(1)
    columns = [c.strip() for c in match.group(2).split(",") if c.strip()]
    keys = list(primary_key(table)) if primary_key is not None else []
    if not keys:
        raise UnsupportedSql(f"INSERT OR REPLACE into {table} needs a primary key: {_short(sql)}")
    code = code[: match.start()] + f"INSERT INTO {table} ({match.group(2)})" + code[match.end() :]
    others = [c for c in columns if c.lower() not in {k.lower() for k in keys}]
    if others:
        updates = ", ".join(f"{c} = excluded.{c}" for c in others)
        clause = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    else:
        clause = f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
    return _append_conflict(code, clause)


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 120 else text[:117] + "..."
