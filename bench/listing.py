"""Listing extraction (row 13): reading a listing page into items against a bare lxml parse.

The pages: the real listings of ``../shared/pages-corpus`` when that folder exists (the two
Vermont Judiciary pages, read in automatic mode and with selectors) and the test suite's
synthetic Drupal Views, WordPress archive and card-grid pages (automatic mode). For each page,
the median of several runs of :func:`bot.sources.page.read_page` (decode, parse, the whole
extraction) against the median of ``lxml.html.document_fromstring`` on the same bytes (the
floor: any reader must at least parse). The row gives the median per-page ratio and the entries
per second of the whole set.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import lxml.html

from bench.table import Row
from bot.model import PageSpec
from bot.sources.page import read_page
from tests.pages.listings import card_grid, drupal_views, wordpress_archive

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "pages-corpus"
RUNS = 15
VERMONT = "https://www.vermontjudiciary.org/opinions-decisions"


def _pages() -> list[tuple[str, bytes, PageSpec, str]]:
    pages = [
        ("drupal-views", drupal_views(20)[0].encode(), PageSpec(), "https://site.test/x"),
        ("wordpress", wordpress_archive(10)[0].encode(), PageSpec(), "https://site.test/x"),
        ("card-grid", card_grid(12)[0].encode(), PageSpec(), "https://site.test/x"),
    ]
    for year in ("drupal8-listing-2018", "drupal9-listing-2023"):
        path = CORPUS / f"vermontjudiciary-{year}.html"
        if path.is_file():
            body = path.read_bytes()
            pages.append((f"vermont-{year}-auto", body, PageSpec(), VERMONT))
            spec = PageSpec(items="article.views-row", date="time@datetime")
            pages.append((f"vermont-{year}-selectors", body, spec, VERMONT))
    return pages


def _median(job: object) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        job()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def listing_row() -> Row:
    ratios = []
    entries = 0
    spent = 0.0
    for _, body, spec, url in _pages():
        floor = _median(lambda body=body: lxml.html.document_fromstring(body))
        read = _median(lambda body=body, spec=spec, url=url: read_page(body, spec, url=url))
        count = len(read_page(body, spec, url=url).items)
        if not count:
            raise RuntimeError("a bench listing gave no entries")
        ratios.append(read / floor)
        entries += count
        spent += read
    ratio = statistics.median(ratios)
    pages = len(ratios)
    return Row(
        what=f"listing extraction, {pages} pages ({'with' if pages > 3 else 'without'} corpus)",
        measured=(
            f"median {ratio:.2f}× a bare lxml parse per page (worst {max(ratios):.2f}×); "
            f"{entries / spent:,.0f} entries/s, {spent / pages * 1000:.1f} ms per page"
        ),
        target="≤ 3× the lxml parse",
        met=ratio <= 3.0,
    )
