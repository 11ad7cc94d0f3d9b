"""Article extraction (pure): main text, fallback, boilerplate, encodings, login walls, PDFs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.sources.article import MIN_EXTRACTED, extract_article, is_pdf_url
from bot.sources.charset import decode_html

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "pages-corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/pages-corpus is absent")

BODY = (
    "Canada and the Netherlands take the next step in their case. "
    "The two states recall that the Convention against Torture binds Syria. "
) * 4
PAGE = f"""<!doctype html><html><head><title>Next step</title>
<script>var tracked = "Syria keyword in a script";</script></head><body>
<nav><a href="/">Home</a> <a href="/syria">Syria dossier</a></nav>
<header class="site-header">Ministry of Foreign Affairs</header>
<main><article><h1>Next step</h1><p>{BODY}</p>
<p>See the <a href="/docs/statement.pdf?v=2">signed statement</a>.</p></article></main>
<aside class="related-news"><h2>Related news</h2><a href="/x">Sanctions on Iran</a>
<a href="/annual.pdf">Annual report</a></aside>
<!-- Iran in a comment -->
<footer>© Ministry</footer></body></html>"""


def _text(html: str, headers: dict[str, str] | None = None) -> str:
    return extract_article(html.encode(), headers or {}, "https://gov.example/news/1").text


def test_main_text_without_navigation_sidebar_script_or_comment() -> None:
    """The body is the statement; nav, related news, scripts and comments are not."""
    article = extract_article(PAGE.encode(), {}, "https://gov.example/news/1")
    assert "Convention against Torture binds Syria" in article.text
    for boilerplate in ("Syria dossier", "Sanctions on Iran", "script", "Iran in a comment"):
        assert boilerplate not in article.text
    assert article.attachments == ("https://gov.example/docs/statement.pdf?v=2",)


def test_a_short_statement_falls_back_to_the_visible_text() -> None:
    """Under 250 characters the extractor gives little; the visible text still carries it."""
    html = (
        "<html><body><nav>Menu Iran</nav><div><p>Short: we condemn the attack in Idlib.</p>"
        "</div><footer>Contact</footer></body></html>"
    )
    article = extract_article(html.encode(), {}, "")
    assert "we condemn the attack in Idlib" in article.text
    assert "Iran" not in article.text and "Contact" not in article.text
    assert len(article.text) < MIN_EXTRACTED


def test_a_login_form_is_a_login_wall_not_a_statement() -> None:
    """A page that is only a password form says so and has no text to match."""
    html = (
        "<html><body><h2>Sign in</h2><form action='/login'><label>User</label>"
        "<input name=u><label>Password</label><input type=password name=p>"
        "<button>Log in</button></form></body></html>"
    )
    article = extract_article(html.encode(), {}, "")
    assert article.login_wall and article.text == ""


def test_windows_1256_without_a_charset_decodes_as_arabic() -> None:
    """An Arabic page in windows-1256 with no header or meta charset reads as Arabic."""
    sentence = "أدانت الوزارة الهجوم على المدنيين في سوريا واتفاقية مناهضة التعذيب. "
    html = f"<html><body><article><p>{sentence * 6}</p></article></body></html>"
    body = html.encode("cp1256")
    decoded = decode_html(body, {})
    assert decoded.encoding == "cp1256" and decoded.guessed
    assert "في سوريا" in extract_article(body, {}, "").text


def test_encoding_order_bom_utf8_header_meta() -> None:
    """Valid UTF-8 wins over a wrong header; a declared charset is used for other bytes."""
    assert decode_html("é Syrie".encode(), {"content-type": "text/html; charset=iso-8859-1"}) == (
        decode_html("é Syrie".encode(), {})
    )
    latin = "<meta charset='iso-8859-1'><p>Défense</p>".encode("latin-1")
    assert "Défense" in decode_html(latin, {}).text
    assert decode_html(b"\xef\xbb\xbfabc", {}).text == "abc"


def test_one_decoder_for_pages_and_articles() -> None:
    """Articles decode by the page rules: a late <meta> (40 KB in), ISO-8859-1 read as
    windows-1252 (0x80 is the euro sign), and the guess reported with a warning."""
    late = "<head>" + "<script>x()</script>" * 2_000 + '<meta charset="windows-1256"></head>'
    body = (late + "<p>سوريا</p>").encode("cp1256")
    assert body.index(b"windows-1256") > 32 * 1024
    assert decode_html(body, {}).text.endswith("<p>سوريا</p>")
    euro = decode_html(b"<p>5 \x80</p>", {"content-type": "text/html; charset=ISO-8859-1"})
    assert (euro.text, euro.encoding, euro.guessed) == ("<p>5 €</p>", "cp1252", False)
    bare = decode_html("<p>Défense</p>".encode("latin-1"), {})
    assert bare.guessed and bare.warning and bare.encoding in bare.warning


def test_pdf_urls_by_path_whatever_the_query() -> None:
    """`.pdf` paths count with a query string; `.pdf` in a query does not."""
    assert is_pdf_url("https://bka.de/pm.pdf?__blob=publicationFile&v=5")
    assert is_pdf_url("https://icj-cij.org/files/PRESS.PDF")
    assert not is_pdf_url("https://x.org/view?file=a.pdf")


def test_unparseable_markup_gives_empty_text() -> None:
    """Bytes that are not a document give empty text, never an exception."""
    assert extract_article(b"", {}, "").text == ""
    assert extract_article(b"\x00\x01\x02", {}, "").method in ("none", "visible")


@needs_corpus
def test_corpus_ground_truth() -> None:
    """EXPECTED.json: every `without` segment is absent; `with` segments are in title + text."""
    expected = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))
    kept = dropped = total_with = total_without = 0
    for name, truth in expected.items():
        if not isinstance(truth, dict) or "with" not in truth:
            continue
        article = extract_article((CORPUS / name).read_bytes(), {}, "https://example.org/a")
        text = " ".join(article.text.split())
        # The headline is matched from the feed's title; JIS's first segment is its headline.
        title = truth.get("title", truth["with"][0] if name.startswith("jis") else "")
        kept += sum(1 for s in truth["with"] if s in text or s in title)
        dropped += sum(1 for s in truth["without"] if s not in text)
        total_with += len(truth["with"])
        total_without += len(truth["without"])
    print(f"with {kept}/{total_with}, without {dropped}/{total_without}")
    assert kept == total_with and dropped == total_without


@needs_corpus
def test_un_page_body_names_syria_and_navigation_does_not_count() -> None:
    """The UN page's body mentions Syria; the BKA PDF attachment is found despite its query."""
    un = extract_article((CORPUS / "un-press-article-sgsm21947.html").read_bytes(), {}, "")
    assert "Syria remains in ruins" in un.text
    bka = extract_article(
        (CORPUS / "bka-de-government-press-release.html").read_bytes(),
        {},
        "https://www.bka.de/DE/Presse/x.html",
    )
    assert bka.attachments and is_pdf_url(bka.attachments[0])
    assert "Pressemitteilung als PDF" not in bka.text
