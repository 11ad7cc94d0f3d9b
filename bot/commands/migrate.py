"""`vigil migrate --to postgresql://…`: the SQLite state copied into an empty PostgreSQL.

The SQLite state directory is locked while it is read (stop `vigil run` first), so the copy is
one consistent moment; the file itself is left as it was, a ready fallback. The target URL's
password is never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.store.copy import CopyError, copy_state, refuse_non_empty
from bot.store.db import StateError, StateLock, connect_postgres, connect_sqlite, open_postgres


def migrate(state_dir: Path, url: str) -> int:
    with StateLock(state_dir):
        source = connect_sqlite(state_dir, create=False)
        try:
            target = open_postgres(url)
            try:
                refuse_non_empty(target)
            except CopyError as exc:
                print(f"vigil migrate: {exc}", file=sys.stderr)
                return 2
            finally:
                target.close()
            target = connect_postgres(url)
            try:
                report = copy_state(source, target)
            except CopyError as exc:
                print(f"vigil migrate: {exc}", file=sys.stderr)
                return 1
            finally:
                target.close()
        finally:
            source.close()
    for table, count in report.counts.items():
        print(f"{table}: {count} rows copied and verified")
    for table in report.skipped:
        print(f"{table}: not copied (SQLite only; rebuilt by the service where needed)")
    print(
        f"the state in {state_dir} is now in {target.where}; set VIGIL_DATABASE_URL to it "
        "and start the replicas (the SQLite file was left as it was)"
    )
    return 0


__all__ = ["StateError", "migrate"]
