"""Poll timing: intervals, TTL, jitter, back-off and Retry-After clamping."""

from __future__ import annotations

import random

import pytest

from bot.pipeline.schedule import (
    DAY,
    backoff_delay,
    clamp_retry_after,
    next_after_failure,
    next_after_success,
)


def test_success_waits_one_interval_plus_bounded_jitter() -> None:
    """Jitter spreads feeds over at most the configured fraction of the interval."""
    rng = random.Random(1)
    values = [next_after_success(1000.0, 600.0, jitter=0.1, rng=rng) for _ in range(200)]
    assert all(1600.0 <= v <= 1660.0 for v in values)
    assert max(values) - min(values) > 30  # it really spreads


def test_feed_ttl_longer_than_interval_is_honoured() -> None:
    """A publisher's <ttl> of 60 minutes stretches a 10-minute interval."""
    assert next_after_success(0.0, 600.0, ttl_minutes=60, jitter=0.0) == 3600.0
    assert next_after_success(0.0, 600.0, ttl_minutes=1, jitter=0.0) == 600.0


@pytest.mark.parametrize(
    ("errors", "expected"),
    [(1, 600.0), (2, 1200.0), (3, 2400.0), (6, 19200.0), (7, 21600.0), (50, 21600.0)],
    ids=["first", "second", "third", "sixth", "capped", "huge"],
)
def test_backoff_doubles_and_caps(errors: int, expected: float) -> None:
    """Back-off doubles per consecutive error and stops at max_backoff (6 h here)."""
    assert backoff_delay(600.0, errors, 6 * 3600.0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120.0, 600.0),
        (7200.0, 7200.0),
        (-5.0, None),
        (999_999_999.0, DAY),
        (None, None),
        (float("nan"), None),
    ],
    ids=["short-raised-to-interval", "honoured", "negative", "huge-capped", "absent", "nan"],
)
def test_retry_after_is_clamped(value: float | None, expected: float | None) -> None:
    """Retry-After is clamped to [interval, 24 h]; garbage is ignored (RELIABILITY B14)."""
    assert clamp_retry_after(value, 600.0) == expected


def test_failure_honours_retry_after_over_backoff() -> None:
    """A server asking for 2 h gets 2 h even on the first failure."""
    at = next_after_failure(
        0.0, 600.0, consecutive_errors=1, max_backoff=21600.0, retry_after=7200.0, jitter=0.0
    )
    assert at == 7200.0
