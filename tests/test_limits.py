"""The sending pacer against an injected monotonic clock."""

from __future__ import annotations

import pytest

from bot.deliver.limits import Pacer, is_group


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_private_chat_one_per_second() -> None:
    """After a send, the same private chat waits about a second; others do not."""
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    pacer.record("42")
    assert pacer.chat_ready_at("42") >= 101.0
    assert pacer.chat_ready_at("43") == 0.0


def test_overall_rate_spaces_sends() -> None:
    """At 25/s overall, the next send may start 40 ms after the previous one."""
    clock = Clock()
    pacer = Pacer(25, clock=clock)
    pacer.record("1")
    assert abs(pacer.overall_ready_at() - 100.04) < 1e-9


def test_group_twenty_per_minute() -> None:
    """The 21st message to a group within a minute must wait for the window to slide."""
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    for _ in range(20):
        clock.now += 1.1
        pacer.record("-100123")
    first = 100.0 + 1.1
    assert pacer.chat_ready_at("-100123") >= first + 60.0
    assert is_group("@channel") and is_group("-5") and not is_group("5")


def test_pause_after_429() -> None:
    """A 429 pauses that chat for retry_after seconds."""
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    pacer.pause("7", 30.0)
    assert pacer.chat_ready_at("7") == 130.0
    clock.now = 200.0
    pacer.forget_idle()
    assert pacer.chat_ready_at("7") == 0.0


def test_reserve_books_slots_for_replies() -> None:
    """Replies reserve future slots: 1 s apart per chat, 20/min per group, None past max_wait."""
    clock = Clock()
    pacer = Pacer(1000, clock=clock)
    delays = [pacer.reserve("777", 30) for _ in range(3)]
    assert delays == pytest.approx([0.0, 1.05, 2.1])
    group = [pacer.reserve("-100", 120) for _ in range(21)]
    assert group[19] == pytest.approx(19 * 1.05, abs=0.01)
    assert group[20] == pytest.approx(60.0, abs=0.01)
    assert pacer.reserve("-100", 30) is None


def test_reserved_reply_delays_the_next_alert() -> None:
    """One pacer for replies and alerts: an alert waits for a reply just booked to that chat."""
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    assert pacer.reserve("777", 30) == 0.0
    assert pacer.chat_ready_at("777") >= clock.now + 1.0
