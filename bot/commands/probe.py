"""`vigil probe ID|URL`: fetch a source once and show what Vigil makes of it; writes nothing.

It reads exactly as a poll does (:func:`bot.pipeline.intake.take_in`, without validators or the
unchanged-body skip), and prints the kind found (feed, discovered feed, page, channel), every
entry with its link, title, date and identity, the links dropped and why, the selector the
automatic mode inferred, and the state a poll would record — `layout_changed` included when a
state database exists to compare with (read only). An HTML page that advertises no feed is
also read in automatic mode, to show what `page:` would give. `vigil match --url` reads its
URL with :func:`read_url` too.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.commands.output import json_line
from bot.config import Config, Feed
from bot.fetch import Fetcher
from bot.model import ErrorKind, Item, PageSpec, ParsedFeed
from bot.pipeline.intake import Intake, take_in
from bot.service.app import fetch_policy
from bot.sources.drift import layout_change
from bot.sources.page import read_page
from bot.sources.reader import FeedReader
from bot.store import items as item_rows
from bot.store.db import StateError, connect


def source_for(config: Config, target: str) -> Feed | None:
    """The configured source with this id or URL, else an ad-hoc source for a URL."""
    for feed in config.feeds:
        if target in (feed.id, feed.url):
            return feed
    if target.startswith(("http://", "https://")):
        return Feed(id="probe", name=target, url=target)
    return None


async def read_url(config: Config, feed: Feed) -> Intake:
    """One fetch and read of a source, as a poll would do it (no validators, no state)."""
    reader = FeedReader(parse_workers=1, parse_processes=False)
    try:
        async with Fetcher(fetch_policy(config)) as fetcher:
            return await take_in(fetcher, reader, feed, None, use_validators=False)
    finally:
        reader.close()


def probe(config: Config, state_dir: Path, args: argparse.Namespace) -> int:
    feed = source_for(config, args.source)
    if feed is None:
        known = ", ".join(f.id for f in config.feeds)
        print(f"vigil probe: {args.source!r} is neither a feed id ({known}) nor an http(s) URL")
        return 2
    intake = asyncio.run(read_url(config, feed))
    parsed = intake.parsed
    state, error = _state(intake, feed, state_dir, config.settings.database_url)
    guess = None
    if parsed is not None and parsed.error_kind is ErrorKind.NOT_A_FEED and intake.result.body:
        guess = read_page(intake.result.body, PageSpec(), url=intake.result.final_url)
    report = _report(feed, intake, state, error, guess)
    if args.json:
        print(json_line(report))
    else:
        _print(report)
    return 0 if state in ("ok", "empty") else 1


def _state(
    intake: Intake, feed: Feed, state_dir: Path, url: str | None = None
) -> tuple[str, str | None]:
    parsed = intake.parsed
    if intake.error_kind is not None:
        return str(intake.error_kind), intake.error
    if parsed is None:
        return "ok", None
    if parsed.kind == "page" and feed.id != "probe":
        moved = _layout(feed.id, parsed, state_dir, url)
        if moved:
            return str(ErrorKind.LAYOUT_CHANGED), moved
    return ("ok" if parsed.items else "empty"), None


def _layout(feed_id: str, parsed: ParsedFeed, state_dir: Path, url: str | None) -> str | None:
    try:
        conn = connect(state_dir, create=False, url=url)
    except StateError:
        return None
    try:
        known = item_rows.known_keys(conn, feed_id, [item.key for item in parsed.items])
        fresh = [item for item in parsed.items if item.key not in known]
        return layout_change(parsed.items, fresh, item_rows.recent_links(conn, feed_id))
    finally:
        conn.close()


def _entry(item: Item) -> dict[str, object]:
    return {
        "link": item.link,
        "title": item.title,
        "date": item.published.isoformat() if item.published else None,
        "identity": item.key,
        "summary": item.summary[:300] or None,
    }


def _report(
    feed: Feed, intake: Intake, state: str, error: str | None, guess: ParsedFeed | None
) -> dict[str, object]:
    parsed = intake.parsed or ParsedFeed()
    report: dict[str, object] = {
        "source": feed.id,
        "url": feed.url,
        "final_url": intake.result.final_url or intake.result.url,
        "status": intake.result.status,
        "kind": parsed.kind if intake.parsed is not None else None,
        "discovered_feed": intake.source_url,
        "state": state,
        "error": error,
        "selector": parsed.selector,
        "entries": [_entry(item) for item in parsed.items],
        "dropped": [{"link": link, "why": why} for link, why in parsed.dropped],
        "warnings": list(parsed.warnings),
    }
    if guess is not None and guess.items:
        report["as_page"] = {
            "selector": guess.selector,
            "entries": [_entry(item) for item in guess.items],
        }
    return report


def _print(report: dict[str, object]) -> None:
    print(f"source:   {report['source']} ({report['url']})")
    kind = report["kind"] or "unknown"
    if report["discovered_feed"]:
        kind = f"discovered feed: {report['discovered_feed']}"
    print(f"kind:     {kind}")
    line = f"state:    {report['state']}"
    print(line + (f": {report['error']}" if report["error"] else ""))
    if report["selector"]:
        print(f"inferred selector: {report['selector']}   (pin it with page.items)")
    entries = report["entries"]
    assert isinstance(entries, list)
    print(f"entries ({len(entries)}):")
    for entry in entries:
        _print_entry(entry)
    dropped = report["dropped"]
    assert isinstance(dropped, list)
    if dropped:
        print(f"links dropped ({len(dropped)}):")
        for drop in dropped:
            print(f"  - {drop['link']}: {drop['why']}")
    for warning in report["warnings"]:  # type: ignore[attr-defined]
        print(f"warning: {warning}")
    guess = report.get("as_page")
    if isinstance(guess, dict):
        found = guess["entries"]
        print(
            f"read as a page (automatic mode, selector {guess['selector']}), it would give "
            f"{len(found)} entries; add `page:` to the source to use them:"
        )
        for entry in found[:10]:
            _print_entry(entry)


def _print_entry(entry: dict[str, object]) -> None:
    print(f"  - {entry['title'] or '(no title)'}")
    print(f"    link: {entry['link']}")
    print(f"    date: {entry['date'] or 'none (first seen time will be used)'}")
    print(f"    identity: {entry['identity']}")
