"""The config in force and the matchers compiled from it, swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.match.topics import Matcher


@dataclass
class Runtime:
    """The config in force and what is compiled from it; swapped whole on reload."""

    config: Config
    matcher: Matcher
    console: bool  # no token: every matched statement goes to the terminal
    tz: tzinfo = UTC
    track_matchers: dict[frozenset[tuple[str, str]], tuple[Matcher, dict[str, tuple[str, ...]]]] = (
        field(default_factory=dict)
    )

    @classmethod
    def build(cls, config: Config, *, console: bool) -> Runtime:
        return cls(
            config=config,
            matcher=Matcher.compile(config.topics),
            console=console,
            tz=ZoneInfo(config.settings.timezone),
        )


@dataclass(frozen=True, slots=True)
class Phrase:
    """A personal phrase shaped as a topic so the same matcher compiles it."""

    id: str
    keywords: tuple[str, ...]
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
