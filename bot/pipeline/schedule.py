"""When a feed is polled next. Pure arithmetic on seconds, tested without a clock.

- After a success: the feed's interval, stretched to the feed's own `<ttl>` when that is longer
  (the publisher asks not to be polled more often), plus up to `jitter` of the interval so that
  feeds added together drift apart instead of hitting their hosts in lock-step.
- After a failure: the interval doubled per consecutive error, capped at `max_backoff`
  (Miniflux-style), and never sooner than a server's Retry-After, which is itself clamped to
  [interval, 24 h] so a garbage or hostile value neither hammers nor silences a feed (B14).
"""

from __future__ import annotations

import random

DAY = 86_400.0


def next_after_success(
    now: float,
    interval: float,
    *,
    ttl_minutes: int | None = None,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    base = max(interval, float(ttl_minutes or 0) * 60.0)
    spread = (rng or random).uniform(0.0, jitter) * interval
    return now + base + spread


def backoff_delay(interval: float, consecutive_errors: int, max_backoff: float) -> float:
    """interval × 2^(errors−1), capped; the first failure waits one interval."""
    exponent = max(0, min(consecutive_errors - 1, 30))
    return min(interval * (2.0**exponent), max(max_backoff, interval))


def clamp_retry_after(retry_after: float | None, interval: float) -> float | None:
    if retry_after is None or retry_after != retry_after or retry_after < 0:
        return None
    return min(max(retry_after, interval), DAY)


def next_after_failure(
    now: float,
    interval: float,
    *,
    consecutive_errors: int,
    max_backoff: float,
    retry_after: float | None = None,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    delay = backoff_delay(interval, consecutive_errors, max_backoff)
    asked = clamp_retry_after(retry_after, interval)
    if asked is not None:
        delay = max(delay, asked)
    spread = (rng or random).uniform(0.0, jitter) * min(delay, interval)
    return now + delay + spread
