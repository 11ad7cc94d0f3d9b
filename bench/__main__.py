"""`python -m bench`: every target of the performance issue, measured, in one table.

Sizes: ``--smoke`` (seconds; the test suite's check that the bench runs), the default (a few
minutes), ``--full`` (the issue's sizes). The servers run in a process of their own
(:mod:`bench.server`); Vigil runs as `vigil once` / `vigil run` processes or, where start-up
would dominate, in this process. Each figure is a ratio against a baseline measured in the same
run, or a target the issue fixes in absolute terms (MB/s, MB, seconds over the interval). The
table is printed and written as Markdown to ``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import delivery, fulltext, listing, memory, pagecycle, polling, replicas
from bench.matching import matching_row
from bench.search_bench import search_row
from bench.server import BenchServers
from bench.table import Row, machine, markdown, plain
from tests.servers import postgres

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"


@dataclass(frozen=True)
class Sizes:
    name: str
    feeds: int
    keywords: int
    megabytes: float
    naive_megabytes: float
    subscribers: int
    latency_items: int  # 0: the latency row is skipped (it needs two real minutes)
    memory_feeds: int
    fulltext_sources: int = 4  # sources × 5 articles in the full-text cycle
    pdf_sources: int = 1  # sources × 5 PDFs of 50 pages in the full-text memory row
    search_statements: int = 2_000  # stored statements in the archive search row
    page_sources: int = 20  # unchanged page sources in the warm page cycle
    memory_pages: int = 10  # page sources beside the feeds in the memory row


SIZES = {
    "smoke": Sizes("smoke", 20, 200, 0.3, 0.1, 20, 0, 20, 4, 1, 2_000, 20, 10),
    "default": Sizes("default", 200, 2000, 5.0, 0.5, 200, 10, 100, 24, 4, 50_000, 300, 100),
    "full": Sizes("full", 1000, 2000, 50.0, 2.0, 2000, 50, 1000, 100, 10, 200_000, 300, 300),
}
SECTIONS = (
    "polling",
    "pages",
    "matching",
    "fanout",
    "latency",
    "memory",
    "fulltext",
    "listing",
    "search",
    "replicas",
)


def _run(sizes: Sizes, sections: tuple[str, ...], workdir: Path) -> list[Row]:
    rows: list[Row] = []
    with BenchServers() as servers:
        result = None
        if "polling" in sections:
            _say(f"poll cycles over {sizes.feeds} feeds")
            result = polling.measure(servers, sizes.feeds, workdir)
            rows += [polling.cold_row(result), polling.warm_row(result)]
        if "pages" in sections:
            _say(f"warm cycle over {sizes.page_sources} unchanged page sources")
            rows.append(pagecycle.warm_pages_row(servers, sizes.page_sources, workdir))
        if "matching" in sections:
            _say(f"matching {sizes.keywords} keywords over {sizes.megabytes} MB")
            rows.append(matching_row(sizes.keywords, sizes.megabytes, sizes.naive_megabytes))
        if "fanout" in sections:
            _say(f"fan-out to {sizes.subscribers} subscribers")
            rows.append(delivery.fanout_row(servers, sizes.subscribers, workdir))
        if "latency" in sections:
            if sizes.latency_items:
                _say(f"latency of {sizes.latency_items} items (about 2-3 minutes)")
                rows.append(delivery.latency_row(servers, sizes.latency_items, workdir))
            else:
                rows.append(
                    Row("latency", f"skipped at {sizes.name} size (needs 2 minutes)", "—", None)
                )
        if "memory" in sections:
            _say(
                f"memory of `vigil run` with {sizes.memory_feeds} feeds "
                f"and {sizes.memory_pages} page sources"
            )
            rows.append(
                memory.memory_row(servers, sizes.memory_feeds, workdir, pages=sizes.memory_pages)
            )
        if result is not None:
            rows.append(polling.scale_row(result))
            rows.append(polling.skip_row(result))
        if "fulltext" in sections:
            _say(f"full text: extraction, {sizes.fulltext_sources} sources × 5 articles, PDFs")
            rounds = 1 if sizes.name == "smoke" else 5
            rows.append(fulltext.extraction_row(rounds))
            rows.append(fulltext.cycle_row(sizes.fulltext_sources, workdir))
            rows.append(fulltext.memory_row(sizes.pdf_sources, workdir))
        if "listing" in sections:
            _say("listing extraction")
            rows.append(listing.listing_row())
        if "replicas" in sections:
            _say(
                f"PostgreSQL against SQLite ({sizes.feeds} feeds), two replicas ({sizes.feeds * 2})"
            )
            rows += replicas.rows(servers, sizes.feeds, workdir)
    if "search" in sections:
        _say(f"archive search over {sizes.search_statements:,} statements")
        rows.append(search_row(sizes.search_statements))
        _say(f"archive search on PostgreSQL over {sizes.search_statements:,} statements")
        rows.append(_search_on_postgres(sizes.search_statements))
    return rows


def _search_on_postgres(statements: int) -> Row:
    """The search row on a PostgreSQL cluster started for it (Debian's binaries)."""
    if postgres.bindir() is None:
        return Row(
            "archive search on PostgreSQL", "skipped: no PostgreSQL server binary", "—", None
        )
    directory = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-search-"))
    try:
        return search_row(statements, postgres.start(directory, durable=True))
    finally:
        postgres.stop(directory, "immediate")
        shutil.rmtree(directory, ignore_errors=True)


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the issue's sizes (tens of minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown table path")
    args = parser.parse_args(argv)
    sizes = SIZES["full" if args.full else "smoke" if args.smoke else "default"]
    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        del os.environ[name]  # loopback only: feedparser's urllib would honour a proxy
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as workdir:
        rows = _run(sizes, tuple(args.only or SECTIONS), Path(workdir))
    header = (
        f"Vigil benchmark ({sizes.name} sizes, {time.strftime('%Y-%m-%d')}, "
        f"{time.monotonic() - started:.0f} s) on {machine()}"
    )
    print(plain(rows, header))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown(rows, header), encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
