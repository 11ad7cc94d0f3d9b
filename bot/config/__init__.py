"""Configuration: feeds.yaml read, validated and frozen into one :class:`Config`, built once.

The stage owns: the YAML tree that keeps line numbers (`yamltree`), typed reads that collect
problems instead of raising (`checker`), the rules of each section (`validate` for the file,
settings and telegram; `entries` for topics, feeds and channels; `urls` for URLs and patterns),
the frozen values (`model`) and durations and sizes as people write them (`durations`).

Rules: every problem is reported at once as ``feeds.yaml:LINE: key.path: what is wrong``; a
config that loads never fails later (keywords are compiled by the matcher's own grammar); the
config holds no secrets. Callers import from this package, not from its modules.
"""

from bot.config.durations import format_duration, format_size, parse_duration, parse_size
from bot.config.model import (
    DEFAULT_USER_AGENT,
    Channel,
    Config,
    Feed,
    FirstRun,
    Settings,
    TelegramSettings,
    Topic,
)
from bot.config.validate import MAX_FILE_BYTES, load_config, parse_config
from bot.config.yamltree import ConfigError, Problem

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_FILE_BYTES",
    "Channel",
    "Config",
    "ConfigError",
    "Feed",
    "FirstRun",
    "Problem",
    "Settings",
    "TelegramSettings",
    "Topic",
    "format_duration",
    "format_size",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
]
