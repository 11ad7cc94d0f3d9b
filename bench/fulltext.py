"""Full-text rows (issue 12): extraction speed, a full-text cycle against politeness, PDF memory.

- **Extraction** — Vigil's :func:`bot.sources.article.extract_article` on the corpus pages
  (``../shared/pages-corpus`` when present, else generated article pages) against a plain lxml
  text dump of the same bytes, ms per page (median, p95); and PDF pages per second read by
  :func:`bot.sources.pdf.read_pdf_in_child` (child start, limits, layout clean-up included)
  against a bare pypdf ``extract_text`` loop over the same bytes in this process.
- **Cycle** — S sources × 5 new items, every article answer delayed 200 ms, spread over 8
  loopback hosts (``127.0.0.2``–``127.0.0.9``) by a page server in a process of its own; one
  `vigil once`-shaped poll (inline full text, ``full_text_concurrency`` 8, host gap G). The
  floor is what the politeness rules alone impose: the busiest host's items one after another,
  each answer 200 ms, G between them. CPU per article is this process's CPU over the cycle
  (PDF children included, feeds' parsing too) divided by the articles read.
- **Memory** — `vigil once` over sources whose items are 50-page PDFs; peak RSS of Vigil plus
  its children (the PDF extractors), sampled as in :mod:`bench.memory`.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import resource
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import vigil_cmd, vigil_env, write_config
from bench.memory import _ChildPeak, _status_kb
from bench.table import Row

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "pages-corpus"
HOSTS = [f"127.0.0.{n}" for n in range(2, 10)]
DELAY = 0.2
GAP = 0.2
TARGET_RATIO = 1.2
TARGET_MB = 250.0


# Extraction -------------------------------------------------------------------------------------


def _pages() -> list[bytes]:
    if CORPUS.is_dir():
        return [p.read_bytes() for p in sorted(CORPUS.glob("*.html"))]
    from tests.test_fulltext import page

    return [page(f"Paragraph {n} of a generated statement. " * 40) for n in range(10)]


def _lxml_dump(body: bytes) -> str:
    import lxml.html

    tree = lxml.html.fromstring(body)
    return str(tree.text_content())


def _timed(function: object, body: bytes, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        function(body)  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def extraction_row(rounds: int) -> Row:
    from bot.sources.article import extract_article

    pages = _pages()
    extract_article(pages[0], {}, "")  # trafilatura's first call loads its settings
    ours = [t for b in pages for t in _timed(lambda x: extract_article(x, {}, ""), b, rounds)]
    dump = [t for b in pages for t in _timed(_lxml_dump, b, rounds)]
    pdf_rate, bare_rate, pdf_pages = _pdf_rates()
    med, p95 = statistics.median(ours) * 1000, _p95(ours) * 1000
    dmed, dp95 = statistics.median(dump) * 1000, _p95(dump) * 1000
    source = "corpus" if CORPUS.is_dir() else "generated"
    return Row(
        what=f"extraction: {len(pages)} {source} pages, PDFs of {pdf_pages} pages",
        measured=(
            f"HTML {med:.1f} ms/page median, {p95:.1f} ms p95 vs lxml text dump "
            f"{dmed:.2f} / {dp95:.2f} ms ({med / dmed:.0f}× the dump); PDF {pdf_rate:.0f} "
            f"pages/s in a child vs bare pypdf dump {bare_rate:.0f} pages/s "
            f"({pdf_rate / bare_rate:.2f}×)"
        ),
        target="reported (ms/page, pages/s against the dumps)",
        met=None,
        notes=[
            "extraction: trafilatura (favor_recall, no comments) plus the visible-text fallback "
            "and PDF-link search, against lxml's text_content() of the same bytes; PDF: a fresh "
            "child per PDF (start-up, RLIMIT_AS, layout clean-up) against page.extract_text() "
            "in-process."
        ],
    )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _pdf_rates() -> tuple[float, float, int]:
    from pypdf import PdfReader

    from bot.sources.pdf import PdfLimits, read_pdf_in_child
    from tests.servers.pdfgen import make_pdf

    pages = 20
    pdfs = [
        make_pdf(
            [
                [
                    f"Press release {d}",
                    *(f"Line {n} of page {p}, about sanctions." for n in range(30)),
                ]
                for p in range(pages)
            ]
        )
        for d in range(5)
    ]
    start = time.perf_counter()
    for data in pdfs:
        result = asyncio.run(read_pdf_in_child(data, PdfLimits()))
        assert result.ok, result
    ours = len(pdfs) * pages / (time.perf_counter() - start)
    start = time.perf_counter()
    for data in pdfs:
        "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    bare = len(pdfs) * pages / (time.perf_counter() - start)
    return ours, bare, pages


# A page server on the eight loopback hosts, in its own process ----------------------------------


def _serve(ports: Any, stop: Any, sources: int, pdf_pages: int) -> None:
    from tests.servers.feeds import FeedServer, rss
    from tests.servers.pdfgen import make_pdf
    from tests.test_fulltext import page

    async def main() -> None:
        servers = [FeedServer(host=host) for host in HOSTS]
        for server in servers:
            await server.start()
        pdf = (
            make_pdf([[f"Page {p}", *(f"Line {n}." for n in range(30))] for p in range(pdf_pages)])
            if pdf_pages
            else b""
        )
        for index in range(sources):
            server = servers[index % len(servers)]
            entries = []
            for item in range(5):
                path = f"/news/{index}/{item}"
                if pdf_pages:
                    server.set(path, pdf, content_type="application/pdf", delay=DELAY)
                else:
                    server.set(
                        path,
                        page(f"Statement {index}.{item}."),
                        content_type="text/html",
                        delay=DELAY,
                    )
                entries.append(
                    {"title": f"Item {index}.{item}", "link": server.url(path), "guid": path}
                )
            server.set(f"/feed/{index}.xml", rss(entries))
        ports.put([server.port for server in servers])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for server in servers:
            await server.stop()

    asyncio.run(main())


class _Pages:
    def __init__(self, sources: int, pdf_pages: int = 0) -> None:
        context = multiprocessing.get_context("spawn")
        self.ports_queue, self.stop_event = context.Queue(), context.Event()
        self.process = context.Process(
            target=_serve, args=(self.ports_queue, self.stop_event, sources, pdf_pages), daemon=True
        )
        self.sources = sources
        self.ports: list[int] = []

    def __enter__(self) -> _Pages:
        self.process.start()
        self.ports = self.ports_queue.get(timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.process.join(10)

    def config(self, extra: str = "") -> str:
        feeds = "\n".join(
            f"  - id: s{i}\n    url: http://{HOSTS[i % len(HOSTS)]}:{self.ports[i % len(HOSTS)]}"
            f"/feed/{i}.xml"
            for i in range(self.sources)
        )
        return (
            "settings:\n  allow_private_networks: true\n  first_run: all\n  full_text: true\n"
            f"  full_text_concurrency: 8\n  full_text_host_gap: {GAP}\n  timeout: 60s\n{extra}"
            "topics:\n  cat:\n    name: CAT\n    keywords: [Convention Against Torture]\n"
            f"feeds:\n{feeds}\n"
        )


def cycle_row(sources: int, workdir: Path) -> Row:
    from bot.config import parse_config
    from bot.fetch import Fetcher
    from bot.pipeline import Poller, Runtime
    from bot.service.app import fetch_policy, fulltext_stage
    from bot.store import feeds as feed_rows
    from bot.store.db import connect, transaction

    with _Pages(sources) as pages:
        config = parse_config(pages.config())
        conn = connect(workdir / "fulltext-cycle")
        with transaction(conn):
            feed_rows.sync_feeds(conn, {f.id: f.url for f in config.feeds})
        runtime = Runtime.build(config, console=True)
        outcomes: list[str] = []

        async def run() -> float:
            stage, article_fetcher = fulltext_stage(
                conn, config, lambda: runtime, on_outcome=outcomes.append
            )
            async with Fetcher(fetch_policy(config)) as fetcher, article_fetcher:
                poller = Poller(
                    conn, fetcher, lambda: runtime, fulltext=stage, fulltext_inline=True
                )
                start = time.perf_counter()
                await asyncio.gather(*(poller.poll(feed) for feed in config.feeds))
                wall = time.perf_counter() - start
                poller.close()
            return wall

        cpu_before = _cpu()
        wall = asyncio.run(run())
        cpu = _cpu() - cpu_before
        conn.close()
    articles = len(outcomes)
    per_host = 5 * -(-sources // len(HOSTS))  # a source's items are all on its host
    floor = per_host * DELAY + (per_host - 1) * GAP
    ratio = wall / floor
    return Row(
        what=f"full-text cycle: {sources} sources × 5 new items, answers 200 ms, gap {GAP:g} s",
        measured=(
            f"wall {wall:.1f} s vs politeness floor {floor:.1f} s: {ratio:.2f}×; "
            f"{articles} articles read ({outcomes.count('text')} with text); CPU "
            f"{cpu / max(1, articles) * 1000:.1f} ms per article"
        ),
        target=f"≤ {TARGET_RATIO:g}× the floor",
        met=ratio <= TARGET_RATIO and articles == sources * 5,
        notes=[
            f"full-text cycle: {len(HOSTS)} loopback hosts, so {per_host} items on the busiest "
            "(a source's items are on its feed's host); "
            f"floor = {per_host} × 200 ms + {per_host - 1} × {GAP:g} s gap; one poll of every "
            "source with full text inline (as `vigil once`), feed polling included in the wall."
        ],
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def memory_row(sources: int, workdir: Path) -> Row:
    with _Pages(sources, pdf_pages=50) as pages:
        directory = workdir / "fulltext-memory"
        path = write_config(directory, pages.config())
        process = subprocess.Popen(
            vigil_cmd("once", path, directory / "state"),
            env=vigil_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        children = _ChildPeak(process.pid)
        own = 0.0
        while process.poll() is None:
            try:
                own = max(own, _status_kb(process.pid, "VmHWM") / 1024)
            except (OSError, RuntimeError):
                break
            time.sleep(0.1)
        process.wait()
        children.stop()
    peak = own + children.peak_kb / 1024
    return Row(
        what=f"memory: `vigil once` reading {sources * 5} PDFs of 50 pages",
        measured=(
            f"peak RSS {peak:.0f} MB = Vigil {own:.0f} MB + up to {children.most} PDF "
            f"child(ren) {children.peak_kb / 1024:.0f} MB"
        ),
        target=f"≤ {TARGET_MB:.0f} MB including children",
        met=peak <= TARGET_MB and process.returncode == 0,
        notes=[
            "memory (full text): VmHWM of `vigil once` plus the largest sum of its children's "
            "VmHWM sampled every 0.1 s (an upper bound)."
        ],
    )
