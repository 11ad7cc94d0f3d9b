"""PostgreSQL's values and rows made to read like sqlite3's, for `bot.store.postgres`.

- `Number`: numeric (a `sum()`) loads as an int when whole, else a float, never a Decimal;
- `BoolAsInt`: a Python bool is written as 0/1, as sqlite3 does;
- `row_factory`: rows index by position and by column name (`Row`, like sqlite3.Row), the
  row class built once per column list.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.rows import RowMaker


class Number(Loader):
    """numeric → int when whole, else float: `sum()` and friends read like SQLite's."""

    def load(self, data: Buffer) -> Any:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class BoolAsInt(Dumper):
    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> Buffer:
        return b"1" if obj else b"0"


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, as sqlite3.Row is."""

    _index: dict[str, int] = {}  # noqa: RUF012 - replaced per column list by _row_class

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"_index": {n: i for i, n in enumerate(names)}})


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Any]:
    # Read from the result itself: `description` builds a Column object per column per query.
    result = cursor.pgresult
    count = result.nfields if result is not None else 0
    names = tuple((result.fname(i) or b"").decode() for i in range(count)) if result else ()
    cls = _row_class(names)
    return lambda values: cls(values)
