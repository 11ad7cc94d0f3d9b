"""Telegram's published sending limits, as a pacer that says when a chat may receive next.

From the Bot FAQ ("My bot is hitting limits"): about one message per second in a chat, no more
than 20 messages per minute in a group or channel, and about 30 messages per second overall.
python-telegram-bot's AIORateLimiter has no per-private-chat limit (API-NOTES §1.9), so Vigil
keeps its own. Time is `time.monotonic()`, injectable, so a wall-clock jump changes nothing.

The overall rate is two rules together:

- Spacing on a fixed grid: each send books the next slot one interval after its own slot, not
  after the moment it actually started. A worker that wakes a few milliseconds late (timer
  granularity, the outbox query) therefore does not push every later slot back by that much;
  it may catch up by up to one interval (``OVERALL_CREDIT``). A send later than that (or the
  first after an idle spell) restarts the grid from itself, so being idle earns no burst.
  Counting every slot from the actual start instead cost 9 % of the rate in the fan-out bench
  (27.3 of 30 messages/s: the worker starts each send about 3.5 ms after its slot).
- A window: never more than N sends in any N intervals (N = the rate rounded down, so 30 in any
  second at 30/s). The catch-up credit can bring two sends closer than one interval, but never
  puts N + 1 sends in a window — the bound Telegram (and the test server) enforce.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

PER_CHAT_INTERVAL = 1.05  # a little over 1 s: the server measures arrivals, not our sends
GROUP_WINDOW = 60.0
GROUP_MAX = 20
OVERALL_CREDIT = 1.0  # in overall intervals: how far a late send may catch up on the grid


def is_group(chat_id: str) -> bool:
    """Negative ids are groups, supergroups and channels; `@name` is a public channel/group."""
    return chat_id.startswith(("-", "@"))


class Pacer:
    def __init__(
        self,
        overall_per_second: float,
        *,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        group_max: int = GROUP_MAX,
        group_window: float = GROUP_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.overall_interval = 1.0 / overall_per_second
        self.overall_credit = OVERALL_CREDIT * self.overall_interval
        self.window_max = max(1, math.floor(overall_per_second))
        self.window = self.window_max * self.overall_interval
        self.per_chat_interval = per_chat_interval
        self.group_max = group_max
        self.group_window = group_window
        self.clock = clock
        self._next_overall = 0.0
        self._overall_sends: deque[float] = deque(maxlen=self.window_max)
        self._next_chat: dict[str, float] = {}
        self._sent_at: dict[str, float] = {}  # when each chat's last send actually started
        self._group_sends: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def chat_ready_at(self, chat_id: str) -> float:
        """Earliest monotonic time this chat may receive a message (ignoring the overall rate)."""
        ready = max(self._next_chat.get(chat_id, 0.0), self._paused_until.get(chat_id, 0.0))
        window = self._group_sends.get(chat_id)
        if window is not None and len(window) >= self.group_max:
            ready = max(ready, window[0] + self.group_window)
        return ready

    def overall_ready_at(self) -> float:
        """Earliest monotonic time any chat may receive a message (the overall rate)."""
        sends = self._overall_sends
        if len(sends) >= self.window_max:
            return max(self._next_overall, sends[0] + self.window)
        return self._next_overall

    def record(self, chat_id: str) -> None:
        """Counts a send that is starting now."""
        now = self.clock()
        self._sent_at[chat_id] = now
        self._record_at(chat_id, now)

    def settle(self, chat_id: str) -> float:
        """Seconds a reserved send must still wait so it starts a full per-chat interval after
        the chat's previous send actually started.

        Slots are booked ahead (`reserve`); when one send is reached late (a busy event loop)
        and the next on time, the two would arrive closer than the interval, and Telegram
        measures arrivals. `sending` then marks the start."""
        last = self._sent_at.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.per_chat_interval - self.clock())

    def sending(self, chat_id: str) -> None:
        """A reserved send starts now (what `settle` measures from)."""
        self._sent_at[chat_id] = self.clock()

    def reserve(self, chat_id: str, max_wait: float) -> float | None:
        """Books the earliest allowed slot for a send; returns the wait, or None if > max_wait.

        Used for command replies, which share these limits with alerts: one pacer for both
        keeps an alert and a reply to the same chat from drawing a 429 together.
        """
        now = self.clock()
        slot = max(now, self.overall_ready_at(), self.chat_ready_at(chat_id))
        if slot - now > max_wait:
            return None
        self._record_at(chat_id, slot)
        return slot - now

    def _record_at(self, chat_id: str, at: float) -> None:
        # The overall budget is spent at the overall slot, not at the chat's booked slot: a reply
        # booked two seconds ahead for one chat must not hold every other chat for two seconds.
        overall = max(self.clock(), self.overall_ready_at())
        # On the grid while the send is at most OVERALL_CREDIT late; after an idle spell (or a
        # longer delay) the grid restarts from this send, so idleness earns no burst.
        late = overall - self._next_overall
        base = self._next_overall if late <= self.overall_credit else overall
        self._next_overall = base + self.overall_interval
        self._overall_sends.append(overall)
        self._next_chat[chat_id] = at + self.per_chat_interval
        if is_group(chat_id):
            window = self._group_sends.setdefault(chat_id, deque())
            window.append(at)
            while window and window[0] <= at - self.group_window:
                window.popleft()
            while len(window) > self.group_max:
                window.popleft()

    def pause(self, chat_id: str, seconds: float) -> None:
        """Telegram said 429 retry_after for this chat: hold it that long."""
        self._paused_until[chat_id] = max(
            self._paused_until.get(chat_id, 0.0), self.clock() + seconds
        )

    def forget_idle(self) -> None:
        """Drops bookkeeping of chats that are free again, so memory tracks active chats only."""
        now = self.clock()
        for table in (self._next_chat, self._paused_until):
            for chat in [c for c, t in table.items() if t <= now]:
                del table[chat]
        for chat in [
            c for c, w in self._group_sends.items() if not w or w[-1] <= now - self.group_window
        ]:
            del self._group_sends[chat]
