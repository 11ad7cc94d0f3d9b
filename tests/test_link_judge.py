"""The page reader's shortcuts (link judge, canonical link, clean text, dates) give exactly what the
general path gives."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.dates import _general, parse_date
from bot.sources.identity import _canonical_link, canonical_link
from bot.sources.links import LinkJudge
from bot.sources.text import _UNWANTED, clean_text
from tests.pages.listings import SITE, card_grid, drupal_views, wordpress_archive

PIECES = ("/", "a", "b", ";", "?", "#", "=", "&", ".", "..", "%20", ":", "@", "~", "//", "é", "^")


def _by_urljoin(base: str, raw: str) -> tuple[str | None, str | None]:
    try:
        absolute = urljoin(base, raw)
        parts = urlsplit(absolute)
    except ValueError:
        return None, "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"not a web link ({parts.scheme or 'no scheme'})"
    return absolute.split("#", 1)[0], None


@pytest.mark.parametrize(
    "base",
    ["https://www.vermontjudiciary.org/opinions-decisions", "http://Site.test:8080/a/b?q"],
)
def test_absolute_links_on_the_base_origin_resolve_as_urljoin_does(base: str) -> None:
    """Absolute links on the page's origin, odd characters included (";", an empty "?", dots)."""
    judge = LinkJudge(base, base)
    origin = base.split("/", 3)[:3]
    prefix = "/".join(origin)
    chance = random.Random(11)
    for _ in range(5_000):
        rest = "/" + "".join(chance.choice(PIECES) for _ in range(chance.randint(0, 6)))
        for raw in (prefix + rest, "HTTPS" + prefix[prefix.index(":") :] + rest):
            assert judge.resolve(raw) == _by_urljoin(base, raw), raw


@pytest.mark.parametrize("base", ["https://site.test/list", "http://site.test:8080/a/b;p?q#f", ""])
def test_absolute_links_elsewhere_resolve_as_urljoin_does(base: str) -> None:
    """Absolute links to other hosts, ports and schemes (social, partner sites), odd or not."""
    judge = LinkJudge(base, base)
    chance = random.Random(14)
    origins = ("https://x.org", "http://X.org:81", "https://a-b.c.test", "HTTP://x.org", "https://")
    for _ in range(5_000):
        rest = "".join(chance.choice(PIECES) for _ in range(chance.randint(0, 6)))
        for raw in (chance.choice(origins) + rest, chance.choice(origins) + "/" + rest):
            assert judge.resolve(raw) == _by_urljoin(base, raw), raw


@pytest.mark.parametrize(
    "base",
    [
        "https://www.vermontjudiciary.org/opinions-decisions",
        "http://Site.test:8080/a/b;p?q#f",
        "https://site.test",
        "https://site.test/a/",
    ],
)
def test_query_only_and_spaced_links_resolve_as_urljoin_does(base: str) -> None:
    """Pager links ("?page=2"), fragments after them and whitespace of every kind in an href."""
    judge = LinkJudge(base, base)
    chance = random.Random(12)
    spaces = (" ", "\t", "\n", "\xa0", "\u2003", "\x1f", "\u3000")
    for _ in range(5_000):
        rest = "".join(chance.choice(PIECES + spaces) for _ in range(chance.randint(0, 6)))
        for raw in ("?" + rest, " ?" + rest.strip(), "#" + rest):
            bare = re.sub(r"\s+", "", raw)
            expected = _by_urljoin(base, bare) if bare.startswith("?") else (None, "")
            if bare.startswith("#"):
                expected = (None, "an anchor within the page")
            assert judge.resolve(raw) == expected, raw
        spaced = "\n" + rest + "\t"  # whitespace goes before any other rule
        assert judge.resolve(spaced) == LinkJudge(base, base).resolve(re.sub(r"\s+", "", spaced))


def test_site_verdict_is_per_href_but_navigation_per_element() -> None:
    """One href inside and outside a nav: judged on-site once, refused only inside the nav."""
    root = lxml.html.document_fromstring(
        '<body><nav><a href="https://s.test/p">menu</a></nav>'
        '<main><a href="https://s.test/p">entry</a><a href="https://other.test/p">x</a></main>'
        "</body>"
    )
    judge = LinkJudge("https://s.test/list", "https://s.test/list")
    nav, entry, other = root.iter("a")
    assert judge.judge(nav) == (None, "in navigation")
    assert judge.judge(entry) == ("https://s.test/p", None)
    assert judge.judge(other) == (None, "off-site (other.test)")


URL_PIECES = ("/", "a", "B", ".", "-", "_", "~", ";", ":", "@", "%2f", "%41", "?", "&", "=", "#")


def test_canonical_link_shortcut_equals_the_general_path() -> None:
    """Simple links (lower-case host, no query or escape) take a shortcut with the same result."""
    chance = random.Random(13)
    hosts = ("site.test", "www.Site.test", "a-b.example.org", "site.test:443", "site.test:80")
    for _ in range(5_000):
        path = "".join(chance.choice(URL_PIECES) for _ in range(chance.randint(0, 8)))
        for url in (
            f"{chance.choice(('http', 'https', 'HTTP'))}://{chance.choice(hosts)}{path}",
            f"https://site.test/{path}",
        ):
            assert canonical_link(url) == _canonical_link(url), url


@given(st.text(alphabet=st.characters(), max_size=40))
def test_clean_text_collapses_like_the_whitespace_regex(text: str) -> None:
    """clean_text's split/join equals removing unwanted characters, collapsing \\s+, stripping."""
    assert clean_text(text) == re.sub(r"\s+", " ", _UNWANTED.sub("", text)).strip()


@given(
    st.builds(
        "{}-{}-{}{}{}:{}:{}{}".format,
        st.sampled_from(["2023", "1989", "2999", "٢٠٢٣", "0000"]),
        st.sampled_from(["01", "10", "12", "13", "00", "1"]),
        st.sampled_from(["01", "27", "31", "30", "00"]),
        st.sampled_from(["T", "t", " "]),
        st.sampled_from(["00", "10", "23", "24"]),
        st.sampled_from(["00", "59", "60"]),
        st.sampled_from(["00", "59", "60", "99"]),
        st.sampled_from(["Z", "+00:00", "+02:00", "", "z", " Z"]),
    )
)
def test_plain_utc_dates_read_as_the_general_path_reads_them(text: str) -> None:
    """``2023-10-27T10:00:00Z`` and its impossible neighbours: the shortcut changes nothing."""
    now = datetime(2026, 12, 5, tzinfo=UTC)
    general = _general(text)
    if general is not None and (general.year < 1990 or general > now + timedelta(days=2)):
        general = None
    assert parse_date(text, now) == general
    assert repr(parse_date(text, now)) == repr(general)


@pytest.mark.parametrize("builder", [drupal_views, wordpress_archive, card_grid])
def test_links_of_a_navigation_block_marked_at_once_match_their_own_walk(builder) -> None:  # type: ignore[no-untyped-def]
    """Judging a page's links in order (navigation blocks marked as found) gives, for every
    link, what a fresh judge that walks up from that link alone gives."""
    page, _ = builder(6)
    nested = page.replace("<footer", '<article><footer class="x"><a href="/in">in</a></footer>')
    for text in (page, nested):
        root = lxml.html.document_fromstring(text)
        shared = LinkJudge(SITE + "/list", SITE + "/list")
        for anchor in root.iter("a"):
            alone = LinkJudge(SITE + "/list", SITE + "/list").judge(anchor)
            assert shared.judge(anchor) == alone, anchor.get("href")
