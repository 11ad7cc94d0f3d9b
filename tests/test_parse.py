"""parse_feed and its helpers: formats, hostile and broken bodies, keys, dates and charsets."""

from __future__ import annotations

import os
import socket
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import ErrorKind, ParsedFeed
from bot.sources.feed import parse_feed
from bot.sources.identity import item_key, normalize_link
from bot.sources.read import read_source
from bot.sources.workers import ParserProcesses
from bot.sources.xmldoc import strip_dtd

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEED_URL = "https://ministry.example/feed.xml"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}
MB = 1024 * 1024


def rss(
    items: str, *, prolog: str = '<?xml version="1.0" encoding="utf-8"?>', channel: str = ""
) -> str:
    return (
        f'{prolog}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Ministry &amp; Co</title>{channel}{items}</channel></rss>"
    )


def parsed(body: bytes | str, **kwargs: Any) -> ParsedFeed:
    data = body.encode("utf-8") if isinstance(body, str) else body
    kwargs.setdefault("headers", RSS_HEADERS)
    kwargs.setdefault("url", FEED_URL)
    kwargs.setdefault("now", NOW)
    return parse_feed(data, **kwargs)


def test_rss20_fields() -> None:
    """An RSS 2.0 item yields key, plain title, text summary, content, link, UTC date and author."""
    body = rss(
        """<item>
          <guid isPermaLink="false"> stmt-1 </guid>
          <title>Sanctions &amp; arms: a &lt; b</title>
          <link>https://ministry.example/news/1</link>
          <description><![CDATA[<p>First <b>para</b>graph.</p><p>Second.</p>]]></description>
          <content:encoded><![CDATA[<div>Full text<script>x()</script></div>]]></content:encoded>
          <pubDate>Tue, 10 Jun 2025 14:00:00 +0200</pubDate>
          <author>press@ministry.example (Press Office)</author>
        </item>""",
        channel="<ttl>90</ttl>",
    )
    feed = parsed(body)
    assert feed.ok
    assert feed.title == "Ministry & Co"
    assert feed.ttl_minutes == 90
    assert feed.warnings == ()
    (item,) = feed.items
    assert item.key == "stmt-1"
    assert item.title == "Sanctions & arms: a < b"
    assert item.summary == "First paragraph.\nSecond."
    assert item.content == "Full text"
    assert item.link == "https://ministry.example/news/1"
    assert item.published == datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
    assert item.author is not None
    assert "Press Office" in item.author


def test_atom_html_title_and_xml_base() -> None:
    """Atom type=html titles become text, type=text ones stay literal, xml:base resolves links."""
    body = """<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://court.example/news/">
      <title>Court</title>
      <entry>
        <id>urn:court:1</id>
        <title type="html">&lt;b&gt;C&lt;/b&gt;aesar &amp;amp; co</title>
        <link href="judgments/1"/>
        <summary type="text">a &lt; b &amp; c</summary>
        <updated>2024-01-02T03:04:05+02:00</updated>
      </entry>
    </feed>"""
    feed = parsed(body, headers={"content-type": "application/atom+xml"})
    (item,) = feed.items
    assert item.key == "urn:court:1"
    assert item.title == "Caesar & co"
    assert item.summary == "a < b & c"
    assert item.link == "https://court.example/news/judgments/1"
    assert item.published == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_rdf_feed() -> None:
    """RSS 1.0 (RDF) items parse, keyed by their rdf:about."""
    body = """<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
      <channel rdf:about="https://un.example/"><title>UN</title></channel>
      <item rdf:about="https://un.example/1"><title>Resolution</title>
        <link>https://un.example/1</link><description>Text</description></item>
    </rdf:RDF>"""
    feed = parsed(body)
    assert feed.ok
    assert feed.title == "UN"
    assert [(i.key, i.title, i.summary) for i in feed.items] == [
        ("https://un.example/1", "Resolution", "Text")
    ]


def test_truncated_document_keeps_complete_items() -> None:
    """A body cut mid-item keeps the complete items and drops the last, possibly partial, one."""
    body = rss(
        '<item><guid isPermaLink="false">a</guid><title>One</title></item>'
        '<item><guid isPermaLink="false">b</guid><title>Two</title></item>'
        '<item><guid isPermaLink="false">c</guid><title>Thr'
    )
    body = body[: body.index("Thr") + 3]
    feed = parsed(body)
    assert feed.ok
    assert [i.key for i in feed.items] == ["a", "b"]
    assert feed.skipped == 1
    assert any("truncated" in w for w in feed.warnings)


def test_bozo_feed_with_usable_entries_is_ok() -> None:
    """An unescaped ampersand makes the feed not well-formed, but its entries are still used."""
    body = rss('<item><guid isPermaLink="false">a</guid><title>Fish & chips</title></item>')
    feed = parsed(body)
    assert feed.ok
    assert [i.title for i in feed.items] == ["Fish & chips"]
    assert any("not well-formed" in w for w in feed.warnings)


REFUSED = [
    (b"", {}, ErrorKind.EMPTY, "empty body", "empty"),
    (b" \r\n\t ", {}, ErrorKind.EMPTY, "empty body", "whitespace"),
    (b"\xef\xbb\xbf\n", {}, ErrorKind.EMPTY, "empty body", "bom-only"),
    (
        b"<!DOCTYPE html><html><head><title>Log in</title></head><body><p>Hi</p></body></html>",
        {"content-type": "text/html; charset=utf-8"},
        ErrorKind.NOT_A_FEED,
        "not a feed (looks like an HTML page)",
        "html-page",
    ),
    (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        {"content-type": "application/feed+json"},
        ErrorKind.NOT_A_FEED,
        "not a feed (looks like JSON; JSON Feed is not supported)",
        "json-feed",
    ),
    (
        b"<?xml version='1.0'?><catalog><book>x</book></catalog>",
        {},
        ErrorKind.NOT_A_FEED,
        "not a feed (no RSS, Atom or RDF document found)",
        "other-xml",
    ),
    (b"just some words", {}, ErrorKind.NOT_A_FEED, None, "plain-text"),
]


@pytest.mark.parametrize(
    ("body", "headers", "kind", "message"),
    [r[:4] for r in REFUSED],
    ids=[r[4] for r in REFUSED],
)
def test_unusable_bodies_are_classified(
    body: bytes, headers: dict[str, str], kind: ErrorKind, message: str | None
) -> None:
    """Empty bodies, HTML pages and other documents become an error kind, not an exception."""
    feed = parse_feed(body, headers=headers, url=FEED_URL)
    assert feed.error_kind is kind
    assert feed.items == ()
    if message is not None:
        assert feed.error == message


def test_parser_exception_becomes_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever feedparser raises (A18) is reported as a PARSE error for that feed only."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(feedparser, "parse", explode)
    feed = parsed(rss("<item><title>x</title></item>"))
    assert feed.error_kind is ErrorKind.PARSE
    assert feed.error is not None
    assert "RuntimeError: boom" in feed.error


def test_cdata_that_once_crashed_feedparser() -> None:
    """The CDATA from feedparser#378 neither raises nor loses the item."""
    feed = parsed(
        rss("<item><title>x</title><description><![CDATA[<!h<!h<!h<]]></description></item>")
    )
    assert feed.ok
    assert len(feed.items) == 1


# --- DTD and entity attacks (RELIABILITY A1-A3) -------------------------------------------------

LAUGHS = ['<!ENTITY lol0 "lol">'] + [
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
]


def billion_laughs(*, same_line: bool) -> bytes:
    sep = "" if same_line else "\n"
    subset = sep.join(LAUGHS)
    prolog = f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}{subset}{sep}]>{sep}'
    return rss(
        '<item><guid isPermaLink="false">g</guid><title>&lol9;</title></item>', prolog=prolog
    ).encode()


def quadratic_blowup(*, same_line: bool) -> bytes:
    sep = "" if same_line else "\n"
    prolog = (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}<!ENTITY x "{"a" * 20_000}">{sep}]>{sep}'
    )
    title = "&x;" * 20_000
    return rss(
        f'<item><guid isPermaLink="false">g</guid><title>{title}</title></item>', prolog=prolog
    ).encode()


ATTACKS = [
    (billion_laughs(same_line=True), "billion-laughs-same-line"),
    (billion_laughs(same_line=False), "billion-laughs-own-lines"),
    (quadratic_blowup(same_line=True), "quadratic-same-line"),
    (quadratic_blowup(same_line=False), "quadratic-own-lines"),
]


@pytest.mark.parametrize("body", [a[0] for a in ATTACKS], ids=[a[1] for a in ATTACKS])
def test_entity_amplification_is_refused_cheaply(body: bytes) -> None:
    """Entity bombs are refused as DTD without expansion, within 50 MB (unmitigated: >1 GB)."""
    tracemalloc.start()
    started = time.process_time()
    try:
        feed = parsed(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.process_time() - started
    assert feed.error_kind is ErrorKind.DTD
    assert feed.error == "rejected: DTD entity declarations"
    assert peak < 50 * MB
    assert elapsed < 5.0  # generous deadline; the unmitigated quadratic case takes ~9 s


def test_xxe_file_entity_never_read(tmp_path: Path) -> None:
    """An external entity naming a local file contributes nothing to the result."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    prolog = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    body = rss(
        '<item><guid isPermaLink="false">g</guid><title>x&xxe;y</title></item>', prolog=prolog
    )
    feed = parsed(body)
    assert "TOP-SECRET-VALUE" not in repr(feed)
    assert feed.error_kind is ErrorKind.DTD


def test_external_dtd_never_fetched() -> None:
    """A DOCTYPE pointing at an external DTD causes no outbound connection."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        prolog = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "http://127.0.0.1:{port}/evil.dtd">\n'
        )
        feed = parsed(
            rss('<item><guid isPermaLink="false">g</guid><title>ok</title></item>', prolog=prolog)
        )
        with pytest.raises(BlockingIOError):
            server.accept()
    assert feed.ok
    assert [i.title for i in feed.items] == ["ok"]


def test_harmless_entity_subset_parses_with_warning() -> None:
    """An internal subset that only redeclares an HTML entity is stripped, parsed and reported."""
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n'
    feed = parsed(
        rss('<item><guid isPermaLink="false">g</guid><title>a&nbsp;b</title></item>', prolog=prolog)
    )
    assert feed.ok
    assert [i.title for i in feed.items] == ["a b"]
    assert any("DTD entity declarations" in w for w in feed.warnings)


STRIP_CASES = [
    (b"<rss/>", b"<rss/>", False, "nothing-to-strip"),
    (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x">]><r/>',
        b'<?xml version="1.0"?><r/>',
        True,
        "same-line",
    ),
    (b'<!DOCTYPE r [\n  <!ENTITY a "x">\n]>\n<r/>', b"\n<r/>", True, "own-lines"),
    (b'<!DOCTYPE r [<!ENTITY a "]>">]><r/>', b"<r/>", True, "bracket-inside-quotes"),
    (b"<!DOCTYPE r [<!-- ]> -->]><r/>", b"<r/>", True, "bracket-inside-comment"),
    (b'<r><!ENTITY a "x"></r>', b"<r></r>", True, "entity-outside-doctype"),
    (b'<!doctype r [<!entity a "x">]><r/>', b"<r/>", True, "lowercase"),
    (b'<!DOCTYPE rss SYSTEM "http://x.example/rss.dtd"><rss/>', b"<rss/>", False, "external-only"),
    (
        b"<r><![CDATA[<!ENTITY a 'x'>]]></r>",
        b"<r><![CDATA[<!ENTITY a 'x'>]]></r>",
        False,
        "cdata-kept",
    ),
    (b"<!-- <!ENTITY a 'x'> --><r/>", b"<!-- <!ENTITY a 'x'> --><r/>", False, "comment-kept"),
    (b'<!DOCTYPE r [<!ENTITY a "unterminated', b"", True, "unterminated"),
]


@pytest.mark.parametrize(
    ("body", "expected", "removed"), [c[:3] for c in STRIP_CASES], ids=[c[3] for c in STRIP_CASES]
)
def test_strip_dtd(body: bytes, expected: bytes, removed: bool) -> None:
    """DOCTYPE subsets and ENTITY declarations go wherever they are; quoted markup stays."""
    assert strip_dtd(body) == (expected, removed)


# --- keys (A7, A8) ------------------------------------------------------------------------------


def test_shared_guid_items_get_distinct_order_independent_keys() -> None:
    """Items sharing one GUID get distinct keys that do not depend on their order (A8)."""
    entries = [
        f'<item><guid isPermaLink="false">same</guid><title>T{i}</title>'
        f"<link>https://ministry.example/{i}</link></item>"
        for i in range(3)
    ]
    forward = parsed(rss("".join(entries)))
    backward = parsed(rss("".join(reversed(entries))))
    keys = [i.key for i in forward.items]
    assert len(set(keys)) == 3
    assert all(k.startswith("same#") for k in keys)
    assert set(keys) == {i.key for i in backward.items}


def test_exact_duplicate_entries_dropped() -> None:
    """A repeated identical entry is delivered once and reported."""
    entry = '<item><guid isPermaLink="false">g</guid><title>T</title><link>https://m.example/1</link></item>'
    feed = parsed(rss(entry * 2))
    assert len(feed.items) == 1
    assert any("duplicate" in w for w in feed.warnings)


ENCLOSURE_A = '<item><enclosure url="https://m.example/a.pdf" length="1" type="x/y"/></item>'
ENCLOSURE_B = '<item><enclosure url="https://m.example/b.pdf" length="1" type="x/y"/></item>'


def test_entries_without_identity() -> None:
    """No guid/link falls back to a content hash; an entry with nothing usable is skipped (A7)."""
    usable = "<item><title>Only a title</title></item>" + ENCLOSURE_A + ENCLOSURE_B
    feed = parsed(rss(usable + "<item><category>nothing</category></item>"))
    assert feed.skipped == 1
    keys = [i.key for i in feed.items]
    assert len(keys) == 3
    assert all(k.startswith("h:") for k in keys)
    assert len(set(keys)) == 3
    assert keys == [i.key for i in parsed(rss(usable)).items]


KEY_CASES = [
    ({"id": "  urn:x  ", "link": "https://a.example/"}, "urn:x", "guid-stripped"),
    (
        {"id": "", "link": "HTTPS://A.example:443/p/?utm_source=x&a=1#top"},
        "https://a.example/p/?a=1",
        "link",
    ),
    ({"title": "t", "summary": "s"}, "h:", "hash"),
    ({"category": "x"}, None, "nothing"),
    ({"id": "g" * 600}, "k:", "long-guid-hashed"),
    ({"id": 7, "link": None, "title": None}, None, "wrong-types"),
]


@pytest.mark.parametrize(
    ("entry", "expected"), [c[:2] for c in KEY_CASES], ids=[c[2] for c in KEY_CASES]
)
def test_item_key(entry: dict[str, Any], expected: str | None) -> None:
    """GUID, then normalised link, then a content hash; never a date, never over 512 chars."""
    key = item_key(entry)
    if expected is None or expected.endswith(":"):
        assert (key is None) == (expected is None)
        if key is not None:
            assert expected is not None
            assert key.startswith(expected)
            assert len(key) <= 512
    else:
        assert key == expected


def test_item_key_ignores_dates() -> None:
    """Two copies of an entry that differ only in date share a key."""
    base = {"title": "t", "summary": "s"}
    assert item_key({**base, "published": "Mon, 01 Jan 2024"}) == item_key(base)


LINK_CASES = [
    ("HTTP://Example.COM:80/a/b/", "http://example.com/a/b/", "lowercase-default-port-slash-kept"),
    ("https://example.com:443/x#frag", "https://example.com/x", "https-port-fragment"),
    ("https://example.com:8443/x", "https://example.com:8443/x", "other-port-kept"),
    ("https://e.com/p?utm_source=a&id=3&UTM_medium=b", "https://e.com/p?id=3", "utm-removed"),
    ("https://e.com/p?utm_source=a", "https://e.com/p", "only-utm"),
    ("https://User@E.com/P", "https://User@e.com/P", "userinfo-and-path-case-kept"),
    ("  https://e.com/a  ", "https://e.com/a", "stripped"),
    ("http://[::1]:80/x", "http://[::1]/x", "ipv6"),
    ("http://[::1/x", "http://[::1/x", "invalid-unchanged"),
]


@pytest.mark.parametrize(
    ("url", "expected"), [c[:2] for c in LINK_CASES], ids=[c[2] for c in LINK_CASES]
)
def test_normalize_link(url: str, expected: str) -> None:
    """Links differing only in case, default port, fragment or tracking share one form."""
    assert normalize_link(url) == expected


LINKS = [
    ("https://m.example/a", "https://m.example/a", "https"),
    ("http://m.example/a", "http://m.example/a", "http"),
    ("javascript:alert(1)", None, "javascript"),
    ("tg://resolve?domain=x", None, "tg"),
    ("ftp://m.example/a", None, "ftp"),
]


@pytest.mark.parametrize(("link", "expected"), [c[:2] for c in LINKS], ids=[c[2] for c in LINKS])
def test_only_http_links_kept(link: str, expected: str | None) -> None:
    """Only http and https links reach an item (A14)."""
    feed = parsed(
        rss(f'<item><guid isPermaLink="false">g</guid><title>t</title><link>{link}</link></item>')
    )
    assert feed.items[0].link == expected


# --- dates (A16) --------------------------------------------------------------------------------

DATES = [
    ("", None, "missing"),
    ("<pubDate>not a date</pubDate>", None, "garbage"),
    ("<pubDate>Thu, 01 Jan 2099 00:00:00 GMT</pubDate>", None, "far-future"),
    ("<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>", None, "epoch"),
    ("<pubDate>0001-01-01T00:00:00Z</pubDate>", None, "year-one"),
    (
        "<pubDate>Tue, 10 Jun 2025 14:00:00 +0200</pubDate>",
        datetime(2025, 6, 10, 12, 0, tzinfo=UTC),
        "offset",
    ),
    (
        "<pubDate>Tue, 10 Jun 2025 14:00:00 EST</pubDate>",
        datetime(2025, 6, 10, 19, 0, tzinfo=UTC),
        "est",
    ),
    (
        "<pubDate>Sat, 29 Nov 2026 12:00:00 GMT</pubDate>",
        datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        "tomorrow",
    ),
    ("<pubDate>Wed, 02 Dec 2026 12:00:00 GMT</pubDate>", None, "four-days-ahead"),
    (
        "<dc:date>2025-06-10T08:00:00</dc:date>",
        datetime(2025, 6, 10, 8, 0, tzinfo=UTC),
        "naive-iso",
    ),
]


@pytest.mark.parametrize(
    ("date_xml", "expected"), [c[:2] for c in DATES], ids=[c[2] for c in DATES]
)
def test_published_dates(date_xml: str, expected: datetime | None) -> None:
    """Dates become UTC-aware; missing, garbage and absurd ones become None, never "now"."""
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel><title>t</title><item><guid isPermaLink="false">g</guid><title>x</title>'
        f"{date_xml}</item></channel></rss>"
    )
    (item,) = parsed(body).items
    assert item.published == expected


def test_atom_updated_only_date_used() -> None:
    """An Atom entry with only <updated> uses it, without a DeprecationWarning escaping."""
    body = """<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>u:1</id><title>x</title><updated>2025-03-04T05:06:07Z</updated></entry></feed>"""
    (item,) = parsed(body).items
    assert item.published == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


# --- charsets (A17) -----------------------------------------------------------------------------

ITEM_E = '<item><guid isPermaLink="false">g</guid><title>Décision été</title></item>'
CHARSETS = [
    (rss(ITEM_E).encode("latin-1"), RSS_HEADERS, "Décision été", True, "latin1-declared-utf8"),
    (b"\xef\xbb\xbf" + rss(ITEM_E).encode(), RSS_HEADERS, "Décision été", False, "utf8-bom"),
    (
        rss(ITEM_E, prolog='<?xml version="1.0" encoding="utf-16"?>').encode("utf-16"),
        {"content-type": "application/xml"},
        "Décision été",
        False,
        "utf16-bom",
    ),
    (
        rss(ITEM_E, prolog='<?xml version="1.0" encoding="utf-16"?>').encode("utf-16-le"),
        {},
        "Décision été",
        False,
        "utf16-no-bom",
    ),
    (
        rss(ITEM_E, prolog='<?xml version="1.0" encoding="windows-1252"?>').encode("cp1252"),
        {"content-type": "text/xml"},
        "Décision été",
        False,
        "declared-cp1252",
    ),
    (
        rss(ITEM_E).encode(),
        {"content-type": "text/xml; charset=iso-8859-1"},
        "Décision été",
        False,
        "utf8-wrong-header",
    ),
    (
        rss(
            '<item><guid isPermaLink="false">g</guid><title>De\x00ci\x07sion\x1b</title></item>'
        ).encode(),
        RSS_HEADERS,
        "Decision",
        True,
        "nul-and-controls",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "title", "warned"), [c[:4] for c in CHARSETS], ids=[c[4] for c in CHARSETS]
)
def test_charsets(body: bytes, headers: dict[str, str], title: str, warned: bool) -> None:
    """Wrong, missing or wide charsets and stray control bytes still give the right text."""
    feed = parse_feed(body, headers=headers, url=FEED_URL, now=NOW)
    assert feed.ok, feed.error
    assert [i.title for i in feed.items] == [title]
    assert bool(feed.warnings) == warned


# --- caps ---------------------------------------------------------------------------------------


def test_field_and_item_caps() -> None:
    """Fields are cut at max_field_chars and only the first max_items entries are used."""
    items = "".join(
        f'<item><guid isPermaLink="false">{i}</guid><title>{"t" * 500}</title>'
        f"<description>{'word ' * 500}</description></item>"
        for i in range(5)
    )
    feed = parsed(rss(items), max_field_chars=100, max_items=3)
    assert [i.key for i in feed.items] == ["0", "1", "2"]
    assert all(len(i.title) == 100 and len(i.summary) <= 100 for i in feed.items)
    assert any("only the first 3" in w for w in feed.warnings)


def test_ttl_capped_and_validated() -> None:
    """RSS <ttl> is minutes, capped at one week; nonsense is ignored."""
    assert parsed(rss("", channel="<ttl>999999</ttl>")).ttl_minutes == 7 * 24 * 60
    assert parsed(rss("", channel="<ttl>soon</ttl>")).ttl_minutes is None
    assert parsed(rss("", channel="<ttl>-5</ttl>")).ttl_minutes is None
    assert parsed(rss("")).ttl_minutes is None


# --- fuzz (A22) ---------------------------------------------------------------------------------

FRAGMENTS = [
    "<rss version='2.0'>",
    "<channel>",
    "<item>",
    "</item>",
    "<title>",
    "</title>",
    "<guid>",
    "</guid>",
    "<link>",
    "</link>",
    "<description>",
    "</description>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&lol;",
    "<!DOCTYPE r [",
    "<!ENTITY lol 'x'>",
    "]>",
    "<",
    ">",
    "&",
    "text",
    "\x00",
    "é",
    "<feed xmlns='http://www.w3.org/2005/Atom'>",
    "<entry>",
    "</entry>",
    "<id>",
    "</id>",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.binary(max_size=20))
def test_parse_never_raises(fragments: list[str], tail: bytes) -> None:
    """Random feed-like bytes always yield a ParsedFeed, never an exception (A22)."""
    feed = parse_feed("".join(fragments).encode() + tail, url=FEED_URL)
    assert isinstance(feed, ParsedFeed)
    for item in feed.items:
        assert item.key
        assert "\x00" not in item.title + item.summary + item.content


# --- Parsing in child processes (bench: cold cycles) ----------------------------------------------


def many_items(count: int) -> bytes:
    entries = "".join(
        f"<item><guid>g{n}</guid><title>Statement {n}</title>"
        f"<description>{'Paragraph text. ' * 40}</description></item>"
        for n in range(count)
    )
    return rss(entries).encode()


@pytest.fixture
def processes() -> Any:
    pool = ParserProcesses()
    yield pool
    pool.close()


def test_child_process_parse_equals_parse_feed(processes: ParserProcesses) -> None:
    """The same bodies give the same result in a child process, DTD stripping included."""

    bodies = [
        rss("<item><guid>g1</guid><title>One &amp; two</title></item>").encode(),
        billion_laughs(same_line=True),
        b"",
        b"<html><body>not a feed</body></html>",
    ]
    for body in bodies:
        here = read_source(body, headers=RSS_HEADERS, url=FEED_URL)
        there = processes.parse(body, headers=RSS_HEADERS, url=FEED_URL, timeout=30)
        assert there == here
    assert processes.started == 1  # one request at a time reuses one worker


def test_child_past_deadline_is_killed_and_replaced(processes: ParserProcesses) -> None:
    """A parse past its deadline reports PARSE and kills its worker; the next parse works."""
    body = many_items(3_000)
    late = processes.parse(body, headers=RSS_HEADERS, url=FEED_URL, timeout=0.05)
    assert late.error_kind is ErrorKind.PARSE
    assert late.error == "parsing took over 0s"
    assert processes.started == 0
    again = processes.parse(body, headers=RSS_HEADERS, url=FEED_URL, timeout=60)
    assert again.ok and len(again.items) == 2_000


def test_child_that_dies_costs_one_feed(processes: ParserProcesses) -> None:
    """A worker killed mid-parse fails that feed only; one killed while idle is replaced."""
    body = many_items(3_000)
    result: list[ParsedFeed] = []
    parsing = threading.Thread(
        target=lambda: result.append(
            processes.parse(body, headers=RSS_HEADERS, url=FEED_URL, timeout=60)
        )
    )
    parsing.start()
    deadline = time.monotonic() + 30
    while not processes._busy and time.monotonic() < deadline:
        time.sleep(0.01)
    (worker,) = processes._busy
    os.kill(worker.process.pid, 9)
    parsing.join(30)
    assert result[0].error_kind is ErrorKind.PARSE
    assert (result[0].error or "").startswith("parser process died")
    small = rss("<item><guid>g1</guid><title>One</title></item>").encode()
    assert processes.parse(small, headers=RSS_HEADERS, url=FEED_URL, timeout=30).ok
    (idle,) = processes._idle
    os.kill(idle.process.pid, 9)
    idle.process.wait()
    assert processes.parse(small, headers=RSS_HEADERS, url=FEED_URL, timeout=30).ok


def test_close_stops_every_child(processes: ParserProcesses) -> None:
    """close() leaves no child behind, and later calls report instead of starting one."""
    small = rss("<item><guid>g1</guid><title>One</title></item>").encode()
    assert processes.parse(small, headers=RSS_HEADERS, url=FEED_URL, timeout=30).ok
    (worker,) = processes._idle
    processes.close()
    assert worker.process.returncode is not None
    after = processes.parse(small, headers=RSS_HEADERS, url=FEED_URL, timeout=30)
    assert after.error_kind is ErrorKind.PARSE and processes.started == 0
