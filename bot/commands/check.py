"""`vigil check`: validates feeds.yaml and compiles its topics, printing every problem at once."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import ConfigError, load_config
from bot.match.topics import Matcher


def check(path: Path) -> int:
    try:
        config = load_config(path)
        Matcher.compile(config.topics)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{path}: invalid ({len(exc.problems)} problem(s))", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{path.name}: topics: {exc}")
        return 2
    print(f"{path}: valid")
    print(f"  feeds:    {len(config.feeds)} ({', '.join(f.id for f in config.feeds)})")
    print(f"  topics:   {len(config.topics)} ({', '.join(t.id for t in config.topics)})")
    print(f"  channels: {len(config.channels)}")
    keywords = sum(len(t.keywords) for t in config.topics)
    print(f"  keywords: {keywords}")
    return 0
