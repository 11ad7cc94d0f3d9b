"""Turn feed markup into the plain text a reader sees, so matching and rendering never meet HTML.

Rules enforced here:

- Tags are removed and entities decoded; inline markup does not split a word
  (``<b>C</b>aesar`` is "Caesar"), while block elements and ``<br>`` end a line.
- The contents of ``script``, ``style``, ``noscript`` and ``template`` are dropped; attribute values
  (``href``, ``alt``, ``title``) are never text.
- Whitespace runs collapse to one space, lines are stripped, and blank lines disappear, so blocks
  are separated by exactly one newline.
- Control characters other than newline and tab, lone surrogates, the byte-order mark and the
  bidirectional embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069) are removed:
  Telegram rejects some of them, and the bidi controls can make a message display text in an order
  that misrepresents it. Arabic still displays correctly without them (the Unicode bidi algorithm
  needs no explicit controls), and the harmless marks U+200E/U+200F are kept.
- Nothing here raises, and the work is linear in the input: the stdlib parser is quadratic on some
  broken markup (a run of ``<a`` with no ``>`` took 46 s for 200 KB on Python 3.11.7), so a ``<``
  that cannot start a complete tag is escaped before the parser sees it.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["clean_text", "html_to_text"]

# Elements whose boundaries separate words the way a browser lays them out on separate lines.
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# Replaced elements sit between words without being words.
_SPACE_TAGS = frozenset({"img", "input", "video", "audio", "iframe", "embed", "object"})
# Their contents are code or inert markup, never shown as text.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})

# Characters removed from every text: C0/C1 controls except \t and \n, DEL, lone surrogates,
# the BOM / zero-width no-break space, and the bidi embedding, override and isolate controls.
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\u202a-\u202e\u2066-\u2069]",
)
_SPACES = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")

# Pre-parse rewrites that keep HTMLParser linear (see the module docstring).
_CDATA_MARKERS = re.compile(r"<!\[CDATA\[|\]\]>")
_CONDITIONAL_MARKERS = re.compile(r"<!\[[^<>\[\]]*\]>")
_INCOMPLETE_TAG_OPEN = re.compile(r"<(?![^<>]*>)")
_ANY_TAG = re.compile(r"<[^<>]*>")


def clean_text(s: str) -> str:
    """Normalise a plain-text field so it matches and displays like the HTML-derived ones."""
    if _UNWANTED.search(s) is not None:
        s = _UNWANTED.sub("", s)
    # The same as collapsing ``\s+`` and stripping (the regex's \s is str.isspace), faster.
    return " ".join(s.split())


def html_to_text(html_text: str) -> str:
    """Return the text a reader of ``html_text`` would see, one line per block."""
    prepared = _prepare(html_text)
    extractor = _TextExtractor()
    try:
        extractor.feed(prepared)
        extractor.close()
        raw = extractor.text()
    except Exception:  # broken markup must degrade, never fail a feed
        raw = html.unescape(_ANY_TAG.sub("\n", prepared))
    return _normalise_lines(raw)


def _prepare(s: str) -> str:
    s = _UNWANTED.sub("", s)
    s = _CDATA_MARKERS.sub("", s)
    s = _CONDITIONAL_MARKERS.sub("", s)
    s = s.replace("<![", "&lt;![")
    return _INCOMPLETE_TAG_OPEN.sub("&lt;", s)


def _normalise_lines(raw: str) -> str:
    raw = _UNWANTED.sub("", raw)
    lines = (_SPACES.sub(" ", line).strip() for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


class _TextExtractor(HTMLParser):
    """Collects character data, with block boundaries as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skip_depth = 0

    def text(self) -> str:
        return "".join(self._parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")
        elif tag in _SPACE_TAGS:
            self._parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth == 0:
            # Source newlines are layout of the markup, not of the text: only blocks break lines.
            self._parts.append(_ANY_SPACE.sub(" ", data))
