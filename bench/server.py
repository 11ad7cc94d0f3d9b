"""The bench's servers, in a process of their own: feeds on several loopback hosts and a Bot API.

Why a separate process: the feed server answering a thousand requests in the measured process
would compete with Vigil for the GIL and make Vigil look slower than it is. The parent drives it
over a small JSON control API on 127.0.0.1 (:class:`BenchServers` wraps it).

Rules:

- Feeds are spread round-robin over ``hosts`` loopback addresses (127.0.0.2, 127.0.0.3, …), one
  listening socket each, so Vigil's per-host limit (default 2) applies per address as it would on
  the internet, and the overall limit is what bounds a cycle.
- A delay can be added to every feed answer, standing in for the round trip and server time of
  a real publisher (loopback has neither).
- Listing pages (``/p/N.html``, Drupal Views pages of 20 entries whose links stay on their
  host) are sent without validators, as many government sites send them: an unchanged page is
  the same 200 body every time.
- Every feed answers conditional GETs (strong ETag of the body, Last-Modified) unless
  conditional answers are switched off, which imitates the many publishers that ignore them.
- The server counts what it answered (status codes) and the bytes it exchanged: request line and
  headers in, status line, headers and body out (no TCP/IP overhead).
- Publications scheduled by the parent record the server's monotonic time at which the new body
  became visible; the Bot API server (same process, same clock) records each message's arrival,
  so latency is measured on one clock.
- Generated text is deterministic and contains no topic keyword unless a feed is told to carry
  one, so every alert in a run is one the bench asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Self

import httpx
from aiohttp import web

from tests.pages.listings import drupal_views
from tests.servers.botapi import BotApiServer
from tests.servers.feedgen import rss


def _words(text: str) -> list[str]:
    return text.split()


TOKEN = "123456789:AAbench-token-for-vigil-benchmarks-0123"
START_TIMEOUT = 30.0

_EN = _words(
    "the ministry said on monday that the delegation met officials to discuss regional "
    "cooperation trade energy water and education reforms announced during the annual session "
    "of parliament while observers welcomed progress report published yesterday"
)
_FR = _words(
    "le ministère a annoncé lundi que la délégation a rencontré des responsables pour évoquer "
    "la coopération régionale le commerce énergie eau et les réformes éducation présentées lors "
    "de la session annuelle du parlement tandis que les observateurs ont salué le rapport"
)
_AR = _words(
    "أعلنت الوزارة يوم الاثنين أن الوفد التقى مسؤولين لبحث التعاون الإقليمي والتجارة والطاقة "
    "والمياه وإصلاحات التعليم التي أعلنت خلال الدورة السنوية للبرلمان ورحب المراقبون بالتقرير"
)


def _sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(8, 18))).capitalize() + "."


def item_fields(feed: int, number: int, *, extra: str = "") -> dict[str, str]:
    """One statement of about 600 bytes, in one of three languages chosen by its number."""
    rng = random.Random(feed * 100_003 + number)
    words = (_EN, _FR, _AR)[(feed + number) % 3]
    title = _sentence(rng, words)[:90] + (f" {extra}" if extra else "")
    body = " ".join(_sentence(rng, words) for _ in range(4))
    published = formatdate(1_700_000_000 + feed * 7 + number * 3600, usegmt=True)
    return {
        "title": title,
        "link": f"https://gov.example/{feed}/statements/{number}",
        "guid": f"f{feed}-n{number}",
        "description": f"<p>{body}</p>" + (f"<p>{extra}</p>" if extra else ""),
        "pubDate": published,
    }


@dataclass
class _Feed:
    items: list[dict[str, str]]
    body: bytes = b""
    etag: str = ""
    modified: str = ""
    next_number: int = 0

    def publish(self) -> None:
        self.body = rss(reversed(self.items), title="Bench feed", link="https://gov.example/")
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"'
        self.modified = formatdate(time.time(), usegmt=True)


@dataclass
class _Counters:
    statuses: dict[int, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    bytes_by_status: dict[int, int] = field(default_factory=dict)


def _header_bytes(headers: Any) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items())


class BenchServer:
    """Feeds, counters, scheduled publications and a Bot API server on one event loop."""

    def __init__(self, hosts: int) -> None:
        self.hosts = [f"127.0.0.{2 + n}" for n in range(hosts)]
        self.ports: dict[str, int] = {}
        self.feeds: list[_Feed] = []
        self.pages: list[bytes] = []
        self.conditional = True
        self.delay = 0.0
        self.counters = _Counters()
        self.published: dict[str, float] = {}
        self.botapi: BotApiServer | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        feed_app = web.Application()
        feed_app.router.add_get("/f/{number}.xml", self._feed)
        feed_app.router.add_get("/p/{number}.html", self._page)
        runner = web.AppRunner(feed_app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        for host in self.hosts:
            site = web.TCPSite(runner, host, 0)
            await site.start()
            server = site._server  # aiohttp keeps the bound socket here only
            assert server is not None and isinstance(server, asyncio.Server)
            self.ports[host] = int(server.sockets[0].getsockname()[1])
        control = web.Application()
        control.router.add_post("/ctl/{action}", self._control)
        control_runner = web.AppRunner(control, access_log=None)
        await control_runner.setup()
        self._runners.append(control_runner)
        site = web.TCPSite(control_runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None and isinstance(site._server, asyncio.Server)
        return int(site._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.botapi is not None:
            await self.botapi.stop()
        for runner in self._runners:
            await runner.cleanup()

    def page_url(self, number: int) -> str:
        host = self.hosts[number % len(self.hosts)]
        return f"http://{host}:{self.ports[host]}/p/{number}.html"

    def url(self, number: int) -> str:
        host = self.hosts[number % len(self.hosts)]
        return f"http://{host}:{self.ports[host]}/f/{number}.xml"

    async def _feed(self, request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        if self.delay:
            await asyncio.sleep(self.delay)
        feed = self.feeds[number] if 0 <= number < len(self.feeds) else None
        body = b""
        if feed is None:
            response = web.Response(status=404, text="not found\n")
        elif self.conditional and request.headers.get("If-None-Match") == feed.etag:
            response = web.Response(
                status=304, headers={"ETag": feed.etag, "Last-Modified": feed.modified}
            )
        else:
            headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
            if self.conditional:
                headers |= {"ETag": feed.etag, "Last-Modified": feed.modified}
            body = feed.body
            response = web.Response(status=200, body=body, headers=headers)
        self._count(request, response, len(body))
        return response

    async def _page(self, request: web.Request) -> web.Response:
        """A listing page, sent without validators as many government sites do."""
        number = int(request.match_info["number"])
        if self.delay:
            await asyncio.sleep(self.delay)
        if not 0 <= number < len(self.pages):
            response = web.Response(status=404, text="not found\n")
        else:
            headers = {"Content-Type": "text/html; charset=utf-8"}
            response = web.Response(status=200, body=self.pages[number], headers=headers)
        self._count(request, response, len(self.pages[number]) if response.status == 200 else 0)
        return response

    def _count(self, request: web.Request, response: web.Response, body: int) -> None:
        counters = self.counters
        status = response.status
        counters.statuses[status] = counters.statuses.get(status, 0) + 1
        counters.bytes_in += len(request.method) + len(request.path_qs) + 12
        counters.bytes_in += _header_bytes(request.headers)
        out = 17 + _header_bytes(response.headers) + 80 + body
        counters.bytes_out += out  # 80: Date, Server, Content-Length added by aiohttp
        counters.bytes_by_status[status] = counters.bytes_by_status.get(status, 0) + out

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        params: dict[str, Any] = await request.json() if request.can_read_body else {}
        handler = getattr(self, f"_ctl_{action}", None)
        if handler is None:
            return web.json_response({"error": f"unknown action {action}"}, status=404)
        result = await handler(params)
        return web.json_response(result)

    async def _ctl_feeds(self, params: dict[str, Any]) -> dict[str, Any]:
        count, per_feed = int(params["count"]), int(params.get("items", 20))
        extra = str(params.get("extra", ""))
        self.feeds = []
        for number in range(count):
            items = [
                item_fields(number, n, extra=extra if n == per_feed - 1 else "")
                for n in range(per_feed)
            ]
            feed = _Feed(items=items, next_number=per_feed)
            feed.publish()
            self.feeds.append(feed)
        self.conditional = True
        return {"urls": [self.url(n) for n in range(count)]}

    async def _ctl_pages(self, params: dict[str, Any]) -> dict[str, Any]:
        """``count`` Drupal Views listing pages of ``rows`` entries each (links on their host)."""
        count, rows = int(params["count"]), int(params.get("rows", 20))
        self.pages = [
            drupal_views(
                rows, titles=[f"Statement {n} of the office on item {r}" for r in range(rows)]
            )[0].encode()
            for n in range(count)
        ]
        return {"urls": [self.page_url(n) for n in range(count)]}

    async def _ctl_delay(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every feed answer waits this long: the network and server time of a real publisher."""
        self.delay = float(params["seconds"])
        return {}

    async def _ctl_conditional(self, params: dict[str, Any]) -> dict[str, Any]:
        self.conditional = bool(params["on"])
        return {}

    def _add_item(self, number: int, extra: str = "") -> None:
        feed = self.feeds[number]
        feed.items.append(item_fields(number, feed.next_number, extra=extra))
        feed.next_number += 1
        del feed.items[: max(0, len(feed.items) - 20)]
        feed.publish()

    async def _ctl_touch(self, params: dict[str, Any]) -> dict[str, Any]:
        for number in range(len(self.feeds)):
            self._add_item(number)
        return {}

    async def _ctl_schedule(self, params: dict[str, Any]) -> dict[str, Any]:
        """Publishes, after each delay, an item carrying ``text`` and a marker to one feed."""
        text = str(params["text"])
        for number, delay, marker in params["publications"]:
            task = asyncio.create_task(self._publish_later(int(number), float(delay), marker, text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return {}

    async def _publish_later(self, number: int, delay: float, marker: str, text: str) -> None:
        await asyncio.sleep(delay)
        self._add_item(number, extra=f"{text} {marker}")
        self.published[marker] = time.monotonic()

    async def _ctl_stats(self, params: dict[str, Any]) -> dict[str, Any]:
        c = self.counters
        result: dict[str, Any] = {
            "statuses": {str(k): v for k, v in c.statuses.items()},
            "bytes_in": c.bytes_in,
            "bytes_out": c.bytes_out,
            "bytes_by_status": {str(k): v for k, v in c.bytes_by_status.items()},
            "published": dict(self.published),
        }
        if self.botapi is not None:
            result["messages"] = [
                {"chat_id": m.chat_id, "text": m.text, "at": m.at} for m in self.botapi.messages
            ]
            result["count_429"] = self.botapi.count_429
        return result

    async def _ctl_reset(self, params: dict[str, Any]) -> dict[str, Any]:
        self.counters = _Counters()
        self.published.clear()
        return {}

    async def _ctl_botapi(self, params: dict[str, Any]) -> dict[str, Any]:
        """A fresh Bot API server enforcing ``overall_per_second`` (the previous one stops)."""
        if self.botapi is not None:
            await self.botapi.stop()
        self.botapi = BotApiServer(TOKEN, overall_per_second=float(params["overall_per_second"]))
        await self.botapi.start()
        return {"root": self.botapi.root, "token": TOKEN}


async def _serve(hosts: int) -> None:
    server = BenchServer(hosts)
    port = await server.start()
    print(json.dumps({"control": port}), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    try:
        await done.wait()
    finally:
        await server.stop()


class BenchServers:
    """The server process, started on enter and stopped on exit; methods are its control API."""

    def __init__(self, hosts: int = 8) -> None:
        self.hosts = hosts
        self._process: subprocess.Popen[str] | None = None
        self._client = httpx.Client(trust_env=False, timeout=120.0)
        self._base = ""

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", "--hosts", str(self.hosts)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the bench server process did not start")
        self._base = f"http://127.0.0.1:{json.loads(line)['control']}/ctl/"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        response = self._client.post(self._base + action, json=params)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def feeds(self, count: int, *, items: int = 20, extra: str = "") -> list[str]:
        urls: list[str] = self.call("feeds", count=count, items=items, extra=extra)["urls"]
        return urls

    def pages(self, count: int, *, rows: int = 20) -> list[str]:
        urls: list[str] = self.call("pages", count=count, rows=rows)["urls"]
        return urls

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def reset(self) -> None:
        self.call("reset")

    def botapi(self, overall_per_second: float) -> tuple[str, str]:
        answer = self.call("botapi", overall_per_second=overall_per_second)
        return str(answer["root"]), str(answer["token"])


def main() -> None:
    parser = argparse.ArgumentParser(description="Bench feed + Bot API servers (control on stdout)")
    parser.add_argument("--hosts", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(_serve(args.hosts))


if __name__ == "__main__":
    main()
