"""When an alert reaches a chat: at once, held for its digest, or after its quiet hours (pure).

Rules:
- A chat's digest, quiet hours and time zone come from feeds.yaml when the chat is a configured
  channel that sets them, else from what the chat chose (`/digest`, `/quiet`, `/timezone`),
  else: no digest, no quiet hours, `settings.timezone`.
- An alert for an urgent topic (``urgent: true``) goes out at once, whatever the chat chose.
- With a digest the alert is held for it; otherwise, inside quiet hours, its first attempt waits
  for their end (deferred, never dropped); otherwise it goes at once.
- `/mute` is not here: a muted chat is not routed at all (bot.route.chats).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from bot.config import Config
from bot.config.delivery import DigestSpec, QuietSpec, parse_digest, parse_quiet, quiet_until

__all__ = ["Delivery", "delivery_for", "is_urgent", "timing"]

NOW = "now"
HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one chat receives, resolved."""

    digest: DigestSpec | None
    quiet: QuietSpec | None
    timezone: str

    @property
    def tz(self) -> tzinfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _stored(text: str, parse: object) -> object:
    """A stored setting, parsed; one that no longer parses counts as not set."""
    if not text:
        return None
    try:
        return parse(text)  # type: ignore[operator]
    except ValueError:
        return None


def delivery_for(config: Config, chat_id: str, digest: str, quiet: str, timezone: str) -> Delivery:
    """The chat's delivery: the channel's feeds.yaml keys first, then the chat's own choices."""
    channel = next((c for c in config.channels if c.chat == chat_id), None)
    own_digest = _stored(digest, parse_digest)
    own_quiet = _stored(quiet, parse_quiet)
    chosen_digest = channel.digest if channel and channel.digest else own_digest
    chosen_quiet = channel.quiet if channel and channel.quiet else own_quiet
    zone = (channel.timezone if channel else None) or timezone or config.settings.timezone
    return Delivery(
        chosen_digest if isinstance(chosen_digest, DigestSpec) else None,
        chosen_quiet if isinstance(chosen_quiet, QuietSpec) else None,
        zone,
    )


def is_urgent(config: Config, topic_ids: Sequence[str]) -> bool:
    """Whether any of these topics is marked ``urgent: true``."""
    urgent = {t.id for t in config.topics if t.urgent}
    return any(t in urgent for t in topic_ids)


def timing(delivery: Delivery, urgent: bool, now: float) -> tuple[str, float]:
    """(NOW or HOLD, earliest first attempt) for one alert to one chat."""
    if urgent:
        return NOW, now
    if delivery.digest is not None:
        return HOLD, now
    until = quiet_until(delivery.quiet, now, delivery.tz)
    return NOW, now if until is None else until
