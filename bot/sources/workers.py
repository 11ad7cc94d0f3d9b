"""Parsing in child processes, for bursts of bodies (a cold cycle, a restart after an outage).

feedparser is pure Python, so threads parse one feed at a time under the GIL, and on a cold cycle
(hundreds of new bodies) parsing is most of the CPU. Child processes parse on the other cores.
They are Vigil's own minimal interpreters (``python -P -c`` importing only this module, not a
re-run of the main script as multiprocessing's spawn does), one request at a time each, so a
worker that hangs past the deadline or dies costs exactly one feed: it is killed and replaced.
The body goes down a pipe and the ParsedFeed comes back pickled; both ends are this code.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from bot.model import ErrorKind, PageSpec, ParsedFeed
from bot.sources.read import read_source

_REQUEST = struct.Struct("!QQ")  # length of the pickled (headers, url, page, discover), of the body
_ANSWER = struct.Struct("!Q")  # length of the pickled ParsedFeed
_MAX_ANSWER = 1 << 31  # a larger answer is a corrupt stream, not a feed
_WORKER_CODE = "from bot.sources.workers import serve_worker; serve_worker()"


def serve_worker() -> None:
    """The child's loop: read a request from stdin, answer on stdout, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker stops
    warnings.simplefilter("ignore")
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the pipe
    while True:
        header = requests.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return
        meta_size, body_size = _REQUEST.unpack(header)
        meta = requests.read(meta_size)
        body = requests.read(body_size)
        if len(meta) < meta_size or len(body) < body_size:
            return  # the parent went away mid-request
        headers, url, page, discover = pickle.loads(meta)  # noqa: S301 - from our parent only
        parsed = read_source(body, headers=headers, url=url, page=page, discover=discover)
        data = pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL)
        answers.write(_ANSWER.pack(len(data)))
        answers.write(data)
        answers.flush()


def processes_available() -> bool:
    """Child processes pay off with a second core, on POSIX pipes, from a normal interpreter."""
    return os.name == "posix" and (os.cpu_count() or 1) >= 2 and bool(sys.executable)


class _WorkerGone(Exception):
    """The worker died, closed its pipe or answered garbage."""


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder holding `bot`
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-P", "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin.fileno()
        self.answers = self.process.stdout.fileno()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.answers, selectors.EVENT_READ)

    def parse(
        self,
        body: bytes,
        headers: dict[str, str],
        url: str,
        deadline: float,
        options: tuple[PageSpec | None, bool],
    ) -> ParsedFeed:
        """Raises TimeoutError past ``deadline`` (monotonic) and _WorkerGone on a dead worker."""
        meta = pickle.dumps((headers, url, *options), pickle.HIGHEST_PROTOCOL)
        try:
            for chunk in (_REQUEST.pack(len(meta), len(body)), meta, body):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.requests, view) :]
        except OSError as exc:  # BrokenPipeError: it died
            raise _WorkerGone(str(exc)) from None
        (size,) = _ANSWER.unpack(self._read(_ANSWER.size, deadline))
        if size > _MAX_ANSWER:
            raise _WorkerGone("answer too large")
        parsed = pickle.loads(self._read(size, deadline))  # noqa: S301 - from our own child
        if not isinstance(parsed, ParsedFeed):
            raise _WorkerGone("answer is not a ParsedFeed")
        return parsed

    def _read(self, size: int, deadline: float) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        done = 0
        while done < size:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise TimeoutError
            try:
                count = os.readv(self.answers, [view[done:]])
            except OSError as exc:  # not expected: EOF is how a dead worker shows
                raise _WorkerGone(str(exc)) from None
            if count == 0:
                raise _WorkerGone(f"exit code {self.process.poll()}")
            done += count
        return buffer

    def stop(self) -> None:
        self.selector.close()
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class ParserProcesses:
    """``read_source`` in child processes, started on demand; blocking and thread-safe.

    Each call takes an idle worker (or starts one) for the time of one parse, so the callers'
    thread pool bounds how many workers exist. A parse past its deadline kills its worker; a
    worker that dies costs that one feed. :meth:`shrink` stops the idle workers (their memory
    goes back to the system), :meth:`close` stops them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    @property
    def started(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def parse(
        self,
        body: bytes,
        *,
        headers: Mapping[str, str],
        url: str,
        timeout: float,
        page: PageSpec | None = None,
        discover: bool = True,
    ) -> ParsedFeed:
        """What ``read_source`` returns, or a PARSE error if the worker timed out or died."""
        deadline = time.monotonic() + timeout
        try:
            worker = self._take()
        except OSError as exc:
            error = f"parser process not started: {type(exc).__name__}: {exc}"[:300]
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=error)
        try:
            parsed = worker.parse(body, dict(headers), url, deadline, (page, discover))
        except TimeoutError:
            self._give_back(worker, keep=False)
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parsing took over {timeout:.0f}s")
        except _WorkerGone as exc:
            self._give_back(worker, keep=False)
            return ParsedFeed(error_kind=ErrorKind.PARSE, error=f"parser process died ({exc})")
        except BaseException:
            self._give_back(worker, keep=False)
            raise
        self._give_back(worker, keep=True)
        return parsed

    def shrink(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Only killed here: its caller's thread sees the pipe close, reports the feed and
            # closes the pipes itself (closing them under its feet could hand their numbers
            # to another file while it still reads).
            worker.process.kill()

    def _take(self) -> _Worker:
        dead: list[_Worker] = []
        with self._lock:
            if self._closed:
                raise OSError("parser processes closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is not None:
                    dead.append(worker)  # killed while idle (the OOM killer, an operator)
                    continue
                self._busy.add(worker)
                break
            else:
                worker = None
        for gone in dead:
            gone.stop()
        if worker is not None:
            return worker
        worker = _Worker()  # outside the lock: starting takes a moment
        with self._lock:
            accepted = not self._closed
            if accepted:
                self._busy.add(worker)
        if not accepted:
            worker.stop()
            raise OSError("parser processes closed")
        return worker

    def _give_back(self, worker: _Worker, *, keep: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if keep and not self._closed:
                self._idle.append(worker)
                return
        worker.stop()
