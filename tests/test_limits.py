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


def test_a_reply_sent_late_pushes_the_next_one_back() -> None:
    """Booked 1.05 s apart, but the first went 0.4 s late: the second waits until 1.05 s after
    it (the server measures arrivals), and an on-time pair needs no extra wait."""
    clock = Clock()
    pacer = Pacer(1000, clock=clock)
    start = clock.now
    assert pacer.reserve("777", 30) == 0.0
    assert pacer.reserve("777", 30) == pytest.approx(1.05)
    clock.now = start + 0.4  # the first reply's task ran late
    assert pacer.settle("777") == 0.0
    pacer.sending("777")
    clock.now = start + 1.05  # the second reply's booked slot, on time
    assert pacer.settle("777") == pytest.approx(0.4)
    clock.now = start + 1.45
    assert pacer.settle("777") == 0.0
    pacer.sending("777")
    clock.now = start + 2.5
    assert pacer.settle("777") == 0.0
    assert pacer.settle("778") == 0.0  # another chat is not held


def test_reserved_reply_delays_the_next_alert() -> None:
    """One pacer for replies and alerts: an alert waits for a reply just booked to that chat."""
    clock = Clock()
    pacer = Pacer(30, clock=clock)
    assert pacer.reserve("777", 30) == 0.0
    assert pacer.chat_ready_at("777") >= clock.now + 1.0


def test_late_send_keeps_the_overall_grid() -> None:
    """A send that starts a little after its slot does not push every later slot back."""
    clock = Clock()
    pacer = Pacer(25, clock=clock)
    pacer.record("1")
    assert pacer.overall_ready_at() == pytest.approx(100.04)
    clock.now = 100.045  # 5 ms late
    pacer.record("2")
    assert pacer.overall_ready_at() == pytest.approx(100.08)


def test_idle_earns_no_burst() -> None:
    """After an idle spell (or a send later than one interval), the grid restarts from it."""
    clock = Clock()
    pacer = Pacer(25, clock=clock)
    pacer.record("1")
    clock.now = 105.0
    pacer.record("2")
    assert pacer.overall_ready_at() == pytest.approx(105.04)
    clock.now = 105.04 + 0.05  # more than one interval late
    pacer.record("3")
    assert pacer.overall_ready_at() == pytest.approx(105.13)


@pytest.mark.parametrize(("rate", "share"), [(30.0, 0.95), (25.0, 0.95), (2.5, 0.8)])
def test_catch_up_never_exceeds_the_window(rate: float, share: float) -> None:
    """A worker late by up to 90 % of an interval on each send (a third on average, simulated
    clock) keeps close to the nominal rate — counting slots from the actual starts would give
    1 / 1.325 = 75 % of it — and never puts more than floor(rate) sends in floor(rate)/rate s.
    At low rates that window is a few sends long and leaves less room to catch up."""
    clock = Clock()
    pacer = Pacer(rate, clock=clock)
    interval = 1.0 / rate
    lateness = [0.0, 0.9, 0.1, 0.5, 0.0, 0.0, 0.8, 0.3]
    starts = []
    for n in range(600):
        clock.now = max(clock.now, pacer.overall_ready_at()) + lateness[n % 8] * interval
        pacer.record(str(n))  # distinct chats: only the overall rate applies
        starts.append(clock.now)
    most = pacer.window_max
    for first, last in zip(starts, starts[most:], strict=False):
        assert last - first >= most * interval - 1e-9
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert achieved >= share * rate
