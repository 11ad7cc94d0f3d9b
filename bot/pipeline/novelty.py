"""Which of a poll's items are new, and which of those may alert.

Pure decisions the poller applies: one item per key; a feed's first poll follows `first_run`
(`baseline` remembers everything silently, `latest: N` alerts the newest N, `all` alerts all);
a re-baseline (`vigil rebaseline`) is a first poll in `baseline` mode; an item whose link the
feed already published under another key (GUID churn, RELIABILITY A9) never alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import Config
from bot.model import Item


def dedupe_keys(items: Sequence[Item]) -> list[Item]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            out.append(item)
    return out


def eligible(
    fresh: Sequence[Item],
    first_poll: bool,
    config: Config,
    links: dict[str, str],
    churned: set[str],
    *,
    rebaseline: bool = False,
) -> set[str]:
    """Keys of the new items that may alert (the rest are only remembered)."""
    if rebaseline:
        return set()
    candidates = [item for item in fresh if links.get(item.key) not in churned]
    if not first_poll:
        return {item.key for item in candidates}
    first_run = config.settings.first_run
    if first_run.mode == "all":
        return {item.key for item in candidates}
    if first_run.mode == "latest":
        newest = sorted(
            enumerate(candidates),
            key=lambda pair: (
                pair[1].published or datetime.min.replace(tzinfo=UTC),
                -pair[0],
            ),
            reverse=True,
        )
        return {item.key for _, item in newest[: first_run.latest]}
    return set()
