"""`vigil search`: the archive, best matches first; exit 0 with results, 1 with none, 2 unreadable.

The options --feed, --topic, --since and --until are the query's own filters written as options;
they are added to the query text and read by the same grammar (:mod:`bot.search.query`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.commands.output import iso, json_line
from bot.config import Config
from bot.search.engine import run_search
from bot.search.excerpt import to_marked_text
from bot.search.query import QueryError, parse_query
from bot.store.db import connect

_BOLD, _PLAIN = "\033[1m", "\033[0m"


def query_text(args: argparse.Namespace) -> str:
    """The query words and the option filters, as one query in the grammar."""
    parts = [" ".join(args.query)]
    parts += [f"feed:{v}" for v in args.feed] + [f"topic:{v}" for v in args.topic]
    parts += [f"since:{args.since}"] if args.since else []
    parts += [f"until:{args.until}"] if args.until else []
    return " ".join(p for p in parts if p)


def search(config: Config, state_dir: Path, args: argparse.Namespace) -> int:
    tz = ZoneInfo(config.settings.timezone)
    text = query_text(args)
    try:
        query = parse_query(text, now=time.time(), tz=tz)
    except QueryError as exc:
        print(f"vigil search: cannot read the query: {exc}", file=sys.stderr)
        return 2
    conn = connect(state_dir, create=False, url=config.settings.database_url)
    try:
        results = run_search(conn, query, config, limit=args.limit)
    except QueryError as exc:
        print(f"vigil search: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    if not results:
        print(f"no statement in the archive matches: {query.explain()}", file=sys.stderr)
        return 1
    bold = (_BOLD, _PLAIN) if sys.stdout.isatty() and not args.json else ("**", "**")
    for number, result in enumerate(results, 1):
        row = result.found
        if args.json:
            record = {
                "feed": row.feed_id,
                "item_id": row.item_id,
                "title": row.title,
                "link": row.link,
                "published": iso(row.published_at),
                "topics": list(row.topics),
                "source": result.source,
                "also": [{"feed": feed, "link": link} for feed, link in result.also],
                "excerpt": to_marked_text(result.excerpt),
            }
            print(json_line(record))
            continue
        date = time.strftime("%Y-%m-%d", time.gmtime(row.published_at))
        print(f"{number}. {to_marked_text(result.title, *bold) or '(untitled)'}")
        print(f"   {result.source} · {date} · {row.link or 'no link'}")
        if result.excerpt:
            print(f"   {to_marked_text(result.excerpt, *bold)}")
        if result.also:
            others = " · ".join(f"{feed} {link or ''}".strip() for feed, link in result.also)
            print(f"   also published by: {others}")
    return 0
