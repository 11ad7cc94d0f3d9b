"""An HTML body decoded and parsed: the one way page sources turn bytes into an lxml tree.

Rules:
- Encoding: :func:`bot.sources.charset.decode_html`, the decoder article pages use too; a guess
  is reported as a warning.
- The parser gets text, never bytes with a declaration that could contradict our choice.
- libxml2 keeps its nesting bound (256 levels; deeper content is dropped, never recursed into)
  and ``huge_tree`` stays off: a 100,000-deep page parses in microseconds.
- ``base_url`` is the final URL joined with ``<base href>`` when the page has one.
- Speed (bench row 9): a UTF-8 body is parsed from its bytes by a parser told the encoding (the
  same tree as parsing the decoded text, without the copy), and every element is a plain
  ``HtmlElement`` (no per-element Python class lookup; no reader uses form elements).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from bot.sources.charset import decode_html

# A parser whose elements need no Python call to pick their class (lxml.html's default parser
# calls one per element proxy); lxml parsers may be shared between threads, as lxml.html's is.
_LOOKUP = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)
_TEXT_PARSER = lxml.html.HTMLParser()
_TEXT_PARSER.set_element_class_lookup(_LOOKUP)
_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")  # the declared charset is ignored
_UTF8_PARSER.set_element_class_lookup(_LOOKUP)


@dataclass(frozen=True)
class HtmlDoc:
    """A parsed page: its root element, the URL links resolve against, and what was guessed."""

    root: Any  # lxml.html.HtmlElement
    base_url: str
    encoding: str
    warnings: tuple[str, ...]
    text_length: int  # characters of decoded text, for "is this page normal" decisions


def parse_html(body: bytes, url: str, headers: dict[str, str] | None = None) -> HtmlDoc | None:
    """The parsed page, or None when nothing parseable is there."""
    decoded = decode_html(body, headers)
    encoding = decoded.encoding
    warnings = (decoded.warning,) if decoded.warning else ()
    text = decoded.text.replace("\x00", "")
    if not text or text.isspace():  # as ``not text.strip()``, without copying the page
        return None
    try:
        if text.startswith("<?xml"):
            # An XHTML page: lxml refuses text that starts with a declaration naming an
            # encoding (the text is decoded already), so the declaration goes.
            text = text[text.find("?>") + 2 :] if "?>" in text else text
        if encoding == "utf-8" and not body.startswith(codecs.BOM_UTF8) and b"\x00" not in body:
            source: str | bytes = body
        else:
            source = text
        parser = _UTF8_PARSER if isinstance(source, bytes) else _TEXT_PARSER
        root = lxml.html.document_fromstring(source, parser=parser)
    except (etree.ParserError, ValueError):
        return None
    base_url = url
    for base in root.iterfind(".//base[@href]"):
        href = (base.get("href") or "").strip()
        if href:
            base_url = urljoin(url, href)
        break
    return HtmlDoc(root, base_url, encoding, warnings, len(text))
