"""The `vigil` command line: run, once, check, match, search, probe, rebaseline, status, health,
migrate.

Exit codes follow SPEC: `check` 2 on an invalid feeds.yaml; `once` 1 when a feed failed;
`match` 1 when nothing matched; `search` 1 with no result, 2 for an unreadable query; `health` 1
with the reason. Errors that stop a command before it starts (a locked or unreadable state
directory, an unreadable token file) exit 2 with one line saying what is wrong and where.
Nothing happens at import time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import Config, ConfigError, load_config
from bot.logs import setup_logging
from bot.secrets import TokenError, token_from_env
from bot.store.db import StateError, database_secrets

log = logging.getLogger("vigil.cli")


def _env_path(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        # SUPPRESS: a subcommand's absent option must not erase one given before it.
        default=argparse.SUPPRESS,
        help="feeds.yaml to use (default: $VIGIL_CONFIG or ./feeds.yaml)",
    )
    common.add_argument(
        "--state",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="state directory holding vigil.db (default: $VIGIL_STATE_DIR or ./state)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log at DEBUG"
    )
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil watches official feeds and alerts Telegram chats when a new "
        "statement mentions a tracked topic.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"vigil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "run",
        parents=[common],
        help="the service: poll on schedule, deliver, answer Telegram commands",
        description="Runs until SIGTERM/SIGINT. SIGHUP or an edit of feeds.yaml reloads it; an "
        "invalid edit is refused and the running configuration stays. Without "
        "TELEGRAM_BOT_TOKEN, alerts are printed to the terminal.",
    )
    once = sub.add_parser(
        "once",
        parents=[common],
        help="poll every (or the named) feed once, deliver, exit (1 if a feed failed)",
        description="One poll of every feed (or those named with --feed), then delivery of "
        "what matched, then exit. Exit status 1 when any feed failed.",
    )
    once.add_argument("--feed", action="append", default=[], metavar="ID", help="only this feed")
    once.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; change no state"
    )
    once.add_argument("--json", action="store_true", help="one JSON object per alert")

    check = sub.add_parser(
        "check",
        parents=[common],
        help="validate feeds.yaml (exit 2 when invalid)",
        description="Validates feeds.yaml and prints a summary. Each problem is printed as "
        "feeds.yaml:LINE: key.path: what is wrong; the exit status is then 2.",
    )
    check.add_argument("path", nargs="?", help="file to check (default: --config)")

    match = sub.add_parser(
        "match",
        parents=[common],
        help="show which topics match a text and why (exit 1 when none)",
        description="Tests topics against a text, a file (a feed, an HTML page or plain text) "
        "or a URL, and shows each matching keyword and where it was found.",
    )
    match.add_argument("text", nargs="?", help="text to test")
    match.add_argument("--file", metavar="F", help="read the text (or a feed) from a file")
    match.add_argument("--url", metavar="URL", help="fetch a feed or page and test its items")
    match.add_argument("--topic", action="append", default=[], metavar="ID", help="only topic")
    match.add_argument("--json", action="store_true", help="one JSON object per match")

    probe = sub.add_parser(
        "probe",
        parents=[common],
        help="fetch a source once and show what Vigil reads from it (writes nothing)",
        description="Fetches a configured source (by id) or any URL once and prints the kind "
        "found (feed, discovered feed, page, channel), each entry with its link, title, date "
        "and identity, the links dropped and why, the selector automatic mode inferred, and "
        "the state a poll would record. Exit 1 when that state is not ok or empty.",
    )
    probe.add_argument("source", metavar="ID|URL", help="a feed id of feeds.yaml, or a URL")
    probe.add_argument("--json", action="store_true", help="one JSON object")
    rebaseline = sub.add_parser(
        "rebaseline",
        parents=[common],
        help="accept a page source's new layout: its next poll alerts nothing",
        description="After a layout_changed hold: the source's next poll remembers the "
        "entries on its page without alerting; later polls alert as usual.",
    )
    rebaseline.add_argument("feed", metavar="ID", help="the feed id")
    migrate = sub.add_parser(
        "migrate",
        parents=[common],
        help="copy the SQLite state into an empty PostgreSQL database",
        description="Copies seen items, the outbox, chats, subscriptions, tracked phrases, "
        "mutes, feed health and runtime rows from --state into an empty PostgreSQL database, "
        "then compares the row counts. Refuses a target that holds any table. Stop `vigil "
        "run` first; the SQLite file is left as it was.",
    )
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://USER:PASSWORD@HOST/DATABASE"
    )

    search = sub.add_parser(
        "search",
        parents=[common],
        help="search the archive of statements read (exit 1 when none, 2 for a bad query)",
        description="Searches every statement Vigil has read (kept for settings.keep). Grammar: "
        'words, "phrases", -excluded, OR, prefix*, since:DATE, until:DATE, feed:ID, topic:ID '
        "(README, Searching the archive). Best matches first.",
    )
    search.add_argument("query", nargs="+", help="the query (quote it for the shell)")
    search.add_argument("--feed", action="append", default=[], metavar="ID", help="only feed")
    search.add_argument("--topic", action="append", default=[], metavar="ID", help="only topic")
    search.add_argument("--since", metavar="DATE", help="from this day (2026-03-01) or span (7d)")
    search.add_argument("--until", metavar="DATE", help="up to the end of this day")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (20)")
    search.add_argument("--json", action="store_true", help="one JSON object per result")

    status = sub.add_parser(
        "status",
        parents=[common],
        help="per-feed health and the outbox backlog",
        description="Shows, per feed, the last success, the last error, items seen, alerts "
        "sent and the next poll, then the outbox backlog.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per line")
    sub.add_parser(
        "health",
        parents=[common],
        help="exit 0 when the running service is healthy, 1 with the reason otherwise",
        description="Reads the state database: the scheduler's heartbeat must be recent, the "
        "database writable, and the outbox moving. Used by the container HEALTHCHECK.",
    )
    return parser


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    config = getattr(args, "config", None) or _env_path("VIGIL_CONFIG", "feeds.yaml")
    state = getattr(args, "state", None) or _env_path("VIGIL_STATE_DIR", "state")
    return Path(config), Path(state)


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s); nothing was started", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # RetryAfter warns on every 429 unless PTB returns timedeltas (API-NOTES §1.1).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    config_path, state_dir = _paths(args)
    try:
        token = token_from_env()
    except TokenError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        fmt=_env_path("VIGIL_LOG_FORMAT", "text"),
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        secrets=((token.reveal(),) if token else ()) + database_secrets(getattr(args, "to", "")),
    )
    # Each command imports only what it needs: `vigil status` or `health` (run by the container's
    # HEALTHCHECK every 30 s) need not load the pipeline, PTB, trafilatura or pypdf.
    try:
        if args.command == "check":
            from bot.commands.check import check

            return check(Path(args.path) if args.path else config_path)
        if args.command == "migrate":
            from bot.commands.migrate import migrate

            return migrate(state_dir, args.to)
        config = _load(config_path)
        if config is None:
            return 2
        if args.command == "match":
            from bot.commands.match import match

            return match(config, args)
        if args.command == "search":
            from bot.commands.search import search

            return search(config, state_dir, args)
        if args.command == "status":
            from bot.commands.status import status

            return status(config, state_dir, as_json=args.json)
        if args.command == "probe":
            from bot.commands.probe import probe

            return probe(config, state_dir, args)
        if args.command == "rebaseline":
            from bot.commands.rebaseline import rebaseline

            return rebaseline(config, state_dir, args.feed)
        if args.command == "health":
            from bot.commands.status import health

            return health(config, state_dir)
        if args.command == "once":
            from bot.commands.once import once

            return asyncio.run(once(config, state_dir, token, args))
        from bot.commands.run import run

        return asyncio.run(run(config_path, state_dir, token, config))
    except StateError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
