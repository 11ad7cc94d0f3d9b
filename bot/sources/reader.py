"""Reading a fetched body into items off the event loop: threads, and child processes in bursts.

Rules:
- Parsing runs in a worker thread with a deadline, so a 10 MB feed never stalls the event loop,
  the Telegram handlers or the scheduler (RELIABILITY A19, D12, D13). At most `parse_workers`
  bodies are parsed at once (D14); the deadline counts from the start of the parse, not from the
  wait for a free worker.
- When more than PROCESS_BURST bodies wait for parsing at once (a cold cycle, a restart after a
  long outage), the workers hand them to child processes (:class:`ParserProcesses`):
  feedparser is pure Python, so threads parse one feed at a time under the GIL, and on a 2-core
  machine this cut a cold `vigil once` over 1,000 feeds from 12.5 s to about 7.5 s (bench/). The
  children stop PROCESS_LINGER seconds after the last burst, so a steady service keeps no extra
  processes. A child past the deadline is killed (a thread could only be abandoned); a child that
  dies costs that one feed.
- ``read`` never raises: a crash or a timeout is a PARSE error for that one body.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

from bot.model import ErrorKind, FetchResult, PageSpec, ParsedFeed
from bot.sources.read import read_source
from bot.sources.workers import ParserProcesses, processes_available

log = logging.getLogger("vigil.poll")

PARSE_DEADLINE = 60.0
PROCESS_BURST = 8  # bodies waiting or being parsed in one reader before child processes help
PROCESS_LINGER = 60.0  # seconds after the last burst before the child processes stop


class FeedReader:
    """Parses fetched bodies for one poller, within the worker and deadline bounds above."""

    def __init__(self, parse_workers: int = 2, parse_processes: bool | None = None) -> None:
        """``parse_processes``: None parses in child processes during bursts only (when
        :func:`processes_available`), True always, False never."""
        # Few workers bound the memory of parsing several large feeds at once (RELIABILITY D14).
        self._executor = ThreadPoolExecutor(max_workers=parse_workers, thread_name_prefix="parse")
        self._parse_slots = asyncio.Semaphore(parse_workers)
        self._parse_waiting = 0  # parses requested and not finished
        self._always_processes = parse_processes is True
        use = parse_processes is True or (parse_processes is None and processes_available())
        self.processes = ParserProcesses() if use else None
        self._burst_at = -math.inf
        self._shrink_handle: asyncio.TimerHandle | None = None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._shrink_handle is not None:
            self._shrink_handle.cancel()
        if self.processes is not None:
            self.processes.close()

    async def read(
        self, result: FetchResult, *, page: PageSpec | None = None, discover: bool = True
    ) -> ParsedFeed:
        """The body read as the source it is (:func:`bot.sources.read.read_source`)."""
        self._parse_waiting += 1
        try:
            async with self._parse_slots:
                return await self._parse_now(result, page, discover)
        finally:
            self._parse_waiting -= 1

    async def _parse_now(
        self, result: FetchResult, page: PageSpec | None, discover: bool
    ) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        processes = self.processes if self._burst() else None
        if processes is not None:
            job = functools.partial(
                processes.parse,
                result.body,
                headers=result.headers,
                url=result.final_url,
                timeout=PARSE_DEADLINE,
                page=page,
                discover=discover,
            )
            fence = PARSE_DEADLINE + 10.0  # the worker is killed at PARSE_DEADLINE already
        else:
            job = functools.partial(
                read_source,
                result.body,
                headers=result.headers,
                url=result.final_url,
                page=page,
                discover=discover,
            )
            fence = PARSE_DEADLINE
        future = loop.run_in_executor(self._executor, job)
        try:
            async with asyncio.timeout(fence):
                return await future
        except TimeoutError:
            return ParsedFeed(
                error_kind=ErrorKind.PARSE, error=f"parsing took over {PARSE_DEADLINE:.0f}s"
            )
        except Exception as exc:  # read_source promises not to raise; this is the last fence
            log.exception("parser crashed", extra={"url": result.url})
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parser crashed: {exc!r}"[:300])
        finally:
            if processes is not None:
                self._schedule_shrink(loop)

    def _burst(self) -> bool:
        """Whether this parse goes to a child process (see the module rules)."""
        if self.processes is None:
            return False
        if self._always_processes:
            return True
        now = time.monotonic()
        if self._parse_waiting > PROCESS_BURST:
            self._burst_at = now
        return now - self._burst_at <= PROCESS_LINGER

    def _schedule_shrink(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._shrink_handle is not None:
            self._shrink_handle.cancel()
        self._shrink_handle = loop.call_later(PROCESS_LINGER + 1.0, self._shrink)

    def _shrink(self) -> None:
        self._shrink_handle = None
        if self.processes is not None and not self._burst():
            self.processes.shrink()
