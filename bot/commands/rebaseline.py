"""`vigil rebaseline ID`: accept a page source's new layout; its next read alerts nothing.

After a ``layout_changed`` hold, the admin checks the source (`vigil probe ID`), fixes ``page:``
if needed, and runs this: the next poll remembers every entry on the page without alerting,
like a first poll in ``baseline`` mode, and later polls alert normally. It only marks the
feed's row (one small SQLite write, safe beside a running `vigil run`, which picks it up on
the source's next poll); the poll does the rest. The decision and the write are
:func:`bot.store.rebaseline.accept_layout`, shared with Telegram's /rebaseline.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Config
from bot.store.db import connect
from bot.store.rebaseline import Verdict, accept_layout


def rebaseline(config: Config, state_dir: Path, feed_id: str) -> int:
    configured = {f.id: f.url for f in config.feeds}
    if feed_id not in configured:
        print(f"vigil rebaseline: unknown feed {feed_id!r}", file=sys.stderr)
        return 2
    conn = connect(state_dir, create=False, url=config.settings.database_url)
    try:
        accepted = accept_layout(conn, configured, feed_id)
    finally:
        conn.close()
    if accepted.verdict is Verdict.NEVER_POLLED:
        print(f"vigil rebaseline: {feed_id} was never polled; its first poll is a baseline")
        return 0
    already = " (already asked)" if accepted.verdict is Verdict.ALREADY else ""
    print(
        f"{feed_id}: its next poll remembers the entries on the page without alerting{already} "
        "(run `vigil once --feed " + feed_id + "` to do it now, or let `vigil run` do it)"
    )
    return 0
