"""Page sources read without servers: listings, automatic mode, links, charsets, bounds, states.

Pure functions over bytes (RELIABILITY section P in docs/reliability.md). The real pages of
../shared/pages-corpus are used when that folder exists; every case also has a synthetic form.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import ErrorKind, PageSpec
from bot.sources.charset import decode_html
from bot.sources.dates import parse_date
from bot.sources.drift import layout_change, link_template
from bot.sources.identity import canonical_link
from bot.sources.page import read_page
from bot.sources.read import read_source
from tests.pages.listings import SITE, TITLES, card_grid, chrome, drupal_views, wordpress_archive

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "pages-corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/pages-corpus is absent")
VERMONT = "https://www.vermontjudiciary.org/opinions-decisions"
PAGE_URL = f"{SITE}/en/press-releases"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def read(body: str | bytes, spec: PageSpec | None = None, url: str = PAGE_URL, **kw: object):
    data = body.encode() if isinstance(body, str) else body
    return read_page(data, spec or PageSpec(), url=url, now=NOW, **kw)  # type: ignore[arg-type]


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


# ------------------------------------------------------------------ the real Vermont listings


@needs_corpus
@pytest.mark.parametrize("year", ["drupal8-listing-2018", "drupal9-listing-2023"])
@pytest.mark.parametrize(
    "spec",
    [PageSpec(), PageSpec(items="article.views-row", date="time@datetime")],
    ids=["auto", "selectors"],
)
def test_vermont_listing_gives_exactly_the_expected_entries(year: str, spec: PageSpec) -> None:
    """Both Vermont pages give every expected (link, date) and nothing else, in both modes."""
    expected = json.loads((CORPUS / f"vermontjudiciary-{year}.expected.json").read_text())
    parsed = read(corpus(f"vermontjudiciary-{year}.html"), spec, url=VERMONT)
    assert parsed.ok and parsed.kind == "page"
    got = {(item.link, item.published.date().isoformat()) for item in parsed.items}  # type: ignore[union-attr]
    assert got == {(row["download_urls"], row["case_dates"]) for row in expected}
    assert len(parsed.items) == len(expected)
    if spec.items is None:
        assert parsed.selector == "article.media-document.views-row"
        page = corpus(f"vermontjudiciary-{year}.html")
        pinned = read(page, PageSpec(items=parsed.selector), url=VERMONT)
        assert [i.key for i in pinned.items] == [i.key for i in parsed.items]


@needs_corpus
def test_vermont_2018_rule_on_2023_page_is_no_entries() -> None:
    """A 2018-era rule (direct PDF links) on the 2023 page: no_entries naming the rule."""
    spec = PageSpec(items="article.views-row", link='a[href$=".pdf"]')
    parsed = read(corpus("vermontjudiciary-drupal9-listing-2023.html"), spec, url=VERMONT)
    assert parsed.error_kind is ErrorKind.NO_ENTRIES
    assert "article.views-row" in (parsed.error or "") and "25 rows" in (parsed.error or "")


@needs_corpus
def test_vermont_2018_to_2023_is_a_layout_change() -> None:
    """Every 2023 entry is new and its link left the 2018 shape: layout_change says so."""
    old = read(corpus("vermontjudiciary-drupal8-listing-2018.html"), url=VERMONT)
    new = read(corpus("vermontjudiciary-drupal9-listing-2023.html"), url=VERMONT)
    reason = layout_change(new.items, new.items, [canonical_link(i.link or "") for i in old.items])
    assert reason and "25 of 25 entries are new" in reason
    assert "vermontjudiciary.org/media/*" in reason


@needs_corpus
def test_vermont_reordered_rows_give_the_same_identities() -> None:
    """Shuffling the rows of a real page changes no identity (identity is never a position)."""
    text = corpus("vermontjudiciary-drupal9-listing-2023.html").decode()
    rows = re.findall(r"<article class=\"views-row.*?</article>", text, re.S)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    start, end = text.index(rows[0]), text.index(rows[-1]) + len(rows[-1])
    page = text[:start] + "\n".join(shuffled) + text[end:]
    assert {i.key for i in read(page, url=VERMONT).items} == {
        i.key for i in read(text, url=VERMONT).items
    }


@needs_corpus
def test_akamai_block_page_is_blocked_not_empty() -> None:
    """The real Akamai 'Access Denied' body is blocked, whether read as a page or a feed."""
    body = corpus("supremecourt-akamai-access-denied.html")
    assert read(body).error_kind is ErrorKind.BLOCKED
    assert read_source(body, url=PAGE_URL).error_kind is ErrorKind.BLOCKED


@needs_corpus
def test_arabic_page_re_encoded_windows_1256_decodes() -> None:
    """Al Bayan re-encoded to windows-1256, with a late <meta> or no declaration, reads right."""
    text = corpus("albayan-ae-arabic-article.html").decode()
    bare = re.sub(r"<meta[^>]*charset[^>]*>", "", text, flags=re.I)
    late = bare.replace("</head>", '<meta charset="windows-1256"></head>')
    assert late.index("windows-1256") > 1024
    for page, guessed in ((late, False), (bare, True)):
        decoded = decode_html(page.encode("cp1256", "replace"), {"content-type": "text/html"})
        assert "القائم بأعمال السفارة الأفغانية" in decoded.text
        assert decoded.encoding == "cp1256"
        assert decoded.guessed is guessed and bool(decoded.warning) is guessed  # reported


@needs_corpus
@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        (
            "beirutobserver-arabic-wordpress-article.html",
            "https://www.beirutobserver.com/2020/11/x/",
            "https://www.beirutobserver.com/feed/",
        ),
        (
            "albayan-ae-arabic-article.html",
            "https://www.albayan.ae/one-world/arabs/2020-06-03-1.3876088",
            "https://www.albayan.ae/cmlink/",
        ),
    ],
)
def test_corpus_pages_advertise_their_feeds(name: str, url: str, expected: str) -> None:
    """Autodiscovery on real pages: WordPress /feed/, Al Bayan's relative /cmlink/ feeds."""
    parsed = read_source(corpus(name), url=url, headers={"content-type": "text/html"})
    assert parsed.error_kind is ErrorKind.NOT_A_FEED
    assert parsed.feeds_found and parsed.feeds_found[0].startswith(expected)
    if "albayan" in name:  # its RSS links are all relative /cmlink/ ones, resolved
        assert len(parsed.feeds_found) == 10 and all(
            url.startswith(expected) for url in parsed.feeds_found
        )
    else:  # the site feed first, its comments feed after
        assert parsed.feeds_found[1].endswith("/feed/") and "comment" not in parsed.feeds_found[0]


@needs_corpus
def test_jis_page_advertises_no_feed_and_says_what_to_do() -> None:
    """JIS has only a wp-json link: no feed, an error naming `page:` and the WordPress guess."""
    parsed = read_source(
        corpus("jis-gov-jm-government-news-article.html"),
        url="https://jis.gov.jm/x/",
        headers={"content-type": "text/html"},
    )
    assert parsed.error_kind is ErrorKind.NOT_A_FEED and not parsed.feeds_found
    assert "add `page:`" in (parsed.error or "")
    assert "https://jis.gov.jm/feed/ may be its feed" in (parsed.error or "")


# ------------------------------------------------------------------ automatic mode, synthetic


@pytest.mark.parametrize(
    ("builder", "selector"),
    [
        (drupal_views, "div.views-row"),
        (wordpress_archive, "article.post"),
        (card_grid, "div.col-md-4"),
    ],
    ids=["drupal-views", "wordpress-archive", "card-grid"],
)
def test_automatic_mode_finds_every_entry_and_nothing_else(builder, selector: str) -> None:  # type: ignore[no-untyped-def]
    """Drupal Views, WordPress archives and card grids: exactly the entries, in page order."""
    page, links = builder()
    parsed = read(page)
    assert parsed.ok, parsed.error
    assert [item.link for item in parsed.items] == links
    assert all(
        item.title in {*TITLES} or item.title.rsplit(" (", 1)[0] in TITLES for item in parsed.items
    )
    assert parsed.selector is not None and parsed.selector.startswith(selector)
    pinned = read(page, PageSpec(items=parsed.selector))
    assert [item.link for item in pinned.items] == links
    reasons = {why for _, why in parsed.dropped}
    assert {"in the page header", "in a sidebar", "in the page footer"} <= reasons
    assert {"off-site (twitter.com)", "not a web link (javascript:)"} <= reasons


def test_automatic_mode_reads_dates_from_time_and_text() -> None:
    """Dates come from <time datetime> (Drupal, WordPress) or dd.mm.yyyy text (EEAS cards)."""
    drupal = read(drupal_views(3)[0])
    assert drupal.items[0].published == datetime(2024, 1, 10, 9, tzinfo=UTC)
    wordpress = read(wordpress_archive(2)[0], url=SITE + "/news/")
    assert wordpress.items[0].published == datetime(2024, 3, 1, 8, tzinfo=UTC)
    cards = read(card_grid(2)[0])
    assert cards.items[1].published == datetime(2026, 3, 21, tzinfo=UTC)


def test_manual_selectors_read_every_field() -> None:
    """items/link/title/date/summary/link_pattern as written; summary only when asked."""
    page, links = drupal_views(4)
    spec = PageSpec(
        items="div.views-row",
        link="h3 a",
        title="h3",
        date="time@datetime",
        summary=".teaser",
        link_pattern=r"^/en/press-releases/\d{4}/\d{2}/",
    )
    parsed = read(page, spec)
    assert [item.link for item in parsed.items] == links
    first = parsed.items[0]
    assert first.title == TITLES[0] + " (0)"
    assert first.summary == "Geneva. The teaser text of statement 0 on Syria."
    assert first.published == datetime(2024, 1, 10, 9, tzinfo=UTC)
    assert read(page, PageSpec(items="div.views-row")).items[0].summary == ""
    xpath = read(page, PageSpec(items="xpath://div[contains(@class,'views-row')]", date="time"))
    assert [item.link for item in xpath.items] == links


def test_link_pattern_keeps_only_matching_links() -> None:
    """A row whose links all fail link_pattern is dropped with that reason."""
    page, _ = drupal_views(3)
    parsed = read(page, PageSpec(items="div.views-row", link_pattern=r"^/fr/"))
    assert parsed.error_kind is ErrorKind.NO_ENTRIES
    assert "matching link_pattern" in (parsed.error or "")
    assert ("/en/press-releases/2024/01/statement-0", "does not match link_pattern") in (
        parsed.dropped
    )


# ------------------------------------------------------------------ identity


def test_identity_survives_reorder_featured_copy_title_edit_and_tracking() -> None:
    """Reorder, a featured copy, an edited title, tracking parameters, http/https: same keys."""
    page, _ = drupal_views(5)
    base = {item.key for item in read(page).items}
    assert base == {canonical_link(link) for link in drupal_views(5)[1]}
    edited = page.replace(TITLES[1], "A corrected title for the same statement")
    assert {item.key for item in read(edited).items} == base
    tracked = page.replace('statement-2"', 'statement-2?utm_source=x&fbclid=1#top"')
    assert {item.key for item in read(tracked).items} == base
    featured = page.replace(
        '<div class="view-content">',
        '<div class="view-content"><div class="featured">'
        '<a href="http://site.test/en/press-releases/2024/01/statement-0">'
        "Featured: the first statement again</a></div>",
    )
    items = read(featured).items
    assert len(items) == 5 and {item.key for item in items} == base


def test_relative_links_resolve_against_base_href() -> None:
    """<base href>, ../x, //host/x and whitespace inside href give correct absolute links."""
    rows = "".join(
        f'<li class="item"><a href="{href}">{title} of the day</a></li>'
        for href, title in [
            ("2024/one", "First headline"),
            ("../two", "Second headline"),
            ("//site.test/abs/three", "Third headline"),
            ("  /four\n/x  ", "Fourth headline"),
        ]
    )
    page = chrome(f'<ul class="list">{rows}</ul>').replace(
        "<head>", '<head><base href="https://site.test/news/section/">'
    )
    links = [item.link for item in read(page, url="https://site.test/other/").items]
    assert links == [
        "https://site.test/news/section/2024/one",
        "https://site.test/news/two",
        "https://site.test/abs/three",
        "https://site.test/four/x",
    ]


def test_bad_scheme_links_are_dropped_with_reasons() -> None:
    """javascript:, mailto:, data: and bare # links never become items, each with a reason."""
    rows = "".join(
        f'<li><a href="{href}">A headline that looks real {n}</a></li>'
        for n, href in enumerate(
            ["javascript:void(0)", "mailto:a@b.c", "data:text/html,hi", "#", "/real/1", "/real/2"]
        )
    )
    parsed = read(chrome(f"<ul>{rows}</ul>"))
    assert [item.link for item in parsed.items] == [SITE + "/real/1", SITE + "/real/2"]
    reasons = dict(parsed.dropped)
    assert reasons["javascript:void(0)"] == "not a web link (javascript:)"
    assert reasons["mailto:a@b.c"] == "not a web link (mailto:)"
    assert reasons["data:text/html,hi"] == "not a web link (data:)"
    assert reasons["#"] == "an anchor within the page"


# ------------------------------------------------------------------ states


def test_cloudflare_challenge_with_200_is_blocked() -> None:
    """A 200 carrying a Cloudflare challenge (title or header) is blocked, never no_entries."""
    body = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
    assert read(body).error_kind is ErrorKind.BLOCKED
    page, _ = drupal_views(3)
    headers = {"cf-mitigated": "challenge"}
    assert read(page, headers=headers).error_kind is ErrorKind.BLOCKED


def test_app_shell_needs_javascript() -> None:
    """An empty #root with a <noscript> asking for JavaScript is needs_javascript."""
    body = (
        "<html><head><title>Press</title></head><body><noscript>You need to enable JavaScript "
        'to run this app.</noscript><div id="root"></div><script src="/app.js"></script>'
        "</body></html>"
    )
    parsed = read(body)
    assert parsed.error_kind is ErrorKind.NEEDS_JAVASCRIPT
    assert "JavaScript" in (parsed.error or "")


def test_page_that_says_it_is_empty_is_ok_with_no_items() -> None:
    """A Drupal view-empty block: ok, nothing; without it the same page is no_entries."""
    empty = chrome('<div class="view"><div class="view-empty">No press releases found.</div></div>')
    parsed = read(empty, PageSpec(items="div.views-row"))
    assert parsed.ok and parsed.items == ()
    bare = chrome('<div class="view"><p>Welcome to the press room of the office.</p></div>')
    assert read(bare, PageSpec(items="div.views-row")).error_kind is ErrorKind.NO_ENTRIES
    assert read(bare).error_kind is ErrorKind.NO_ENTRIES


# ------------------------------------------------------------------ charsets and bounds


def test_utf8_labelled_iso_8859_1_reads_as_utf8() -> None:
    """UTF-8 bytes with a lying charset=iso-8859-1 header decode as UTF-8."""
    page, _ = drupal_views(6)
    parsed = read(page.encode(), headers={"content-type": "text/html; charset=iso-8859-1"})
    assert any(TITLES[5] in item.title for item in parsed.items)


def test_windows_1256_without_declaration_is_guessed_and_reported() -> None:
    """Arabic windows-1256 bytes with no header and no meta: decoded by a reported guess."""
    rows = "".join(
        f'<li><a href="/ar/news/{n}">بيان حول اتفاقية مناهضة التعذيب في سوريا رقم {n}</a></li>'
        for n in range(4)
    )
    page = f"<html><head><title>أخبار</title></head><body><ul>{rows}</ul></body></html>"
    parsed = read(page.encode("cp1256"), url=SITE + "/ar/news")
    assert len(parsed.items) == 4 and "مناهضة التعذيب" in parsed.items[0].title
    assert any("guessed" in w for w in parsed.warnings)


def test_nesting_100000_deep_is_bounded() -> None:
    """100,000 nested divs parse in bounded time and end in a state, never a crash."""
    body = "<html><body>" + "<div>" * 100_000 + "<a href='/x/1'>A headline deep down</a>"
    started = time.process_time()
    parsed = read(body + "</div>" * 100_000 + "</body></html>")
    assert parsed.error_kind in (ErrorKind.NO_ENTRIES, None)
    assert time.process_time() - started < 30  # a sanity fence, not a timing threshold


def test_listing_of_50000_rows_is_capped_and_reported() -> None:
    """50,000 rows: the first 2,000 become items and the cap is reported, in both modes."""
    rows = "".join(
        f'<li class="row"><a href="/news/{n}">Statement number {n} of the day</a></li>'
        for n in range(50_000)
    )
    page = chrome(f'<ul class="list">{rows}</ul>')
    for spec in (PageSpec(), PageSpec(items="li.row")):
        parsed = read(page, spec)
        assert len(parsed.items) == 2_000
        assert any("only the first 2000" in w for w in parsed.warnings)


def test_ten_megabyte_page_of_links_is_bounded() -> None:
    """About 10 MB of links: links examined are capped (reported), the read completes."""
    link = '<p><a href="/l/{n}">A link with a rather long and descriptive headline {n}</a></p>'
    page = chrome("".join(link.format(n=n) for n in range(120_000)))
    assert len(page) > 9_000_000
    parsed = read(page)
    assert any("more than 20000 links" in w for w in parsed.warnings)
    assert len(parsed.items) <= 2_000


# ------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26.03.2026", datetime(2026, 3, 26, tzinfo=UTC)),
        ("17-12-2024 - 13:17", datetime(2024, 12, 17, 13, 17, tzinfo=UTC)),
        ("2020-06-03T03:01+0400", datetime(2020, 6, 2, 23, 1, tzinfo=UTC)),
        ("١٢ مارس ٢٠٢٤", datetime(2024, 3, 12, tzinfo=UTC)),
        ("12 تموز 2024", datetime(2024, 7, 12, tzinfo=UTC)),
        ("5 mars 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("March 5, 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2099-01-01", None),
        ("no date here", None),
    ],
)
def test_listing_dates(text: str, expected: datetime | None) -> None:
    """Listing dates in the forms PAGES.md names; a future or missing date is no date."""
    assert parse_date(text, NOW) == expected


def test_link_templates() -> None:
    """Templates generalise numbers and the last segment, keep query names."""
    assert link_template("https://www.x.org/sites/files/op17-133.pdf") == "x.org/sites/files/*.pdf"
    assert link_template("https://x.org/en/press-releases/2024/05/slug") == (
        "x.org/en/press-releases/{n}/{n}/*"
    )
    assert link_template("https://x.org/news.aspx?id=3&lang=en") == "x.org/*.aspx?id&lang"


def test_burst_of_new_entries_in_the_old_shape_is_not_a_layout_change() -> None:
    """Many genuinely new entries with links of the known shape pass."""
    page, links = drupal_views(8)
    items = read(page).items
    assert layout_change(items, items[:6], [canonical_link(links[7])]) is None
    assert layout_change(items, items[:2], ["https://other.test/x/1"]) is None  # few new


@pytest.mark.parametrize("charset", ["utf-8", "windows-1252"])
def test_xhtml_page_with_an_xml_declaration_is_read(charset: str) -> None:
    """An XHTML listing that starts with <?xml … encoding=…?> gives the same entries as without."""
    titles = ["Déclaration sur la Syrie", "Caesar Act: new designations", "Torture in detention"]
    html, _ = drupal_views(3, titles=titles)
    html = html.replace('<meta charset="utf-8">', f'<meta charset="{charset}">')
    plain = read_page(html.encode(charset, "xmlcharrefreplace"), PageSpec(), url=f"{SITE}/news")
    declared = f'<?xml version="1.0" encoding="{charset}"?>\n{html}'
    xhtml = read_page(declared.encode(charset, "xmlcharrefreplace"), PageSpec(), url=f"{SITE}/news")
    assert plain.ok and [i.title.rsplit(" (", 1)[0] for i in plain.items] == titles
    assert xhtml.ok, xhtml.error
    assert [(i.link, i.title) for i in xhtml.items] == [(i.link, i.title) for i in plain.items]
