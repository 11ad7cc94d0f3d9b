"""An HTML body decoded and parsed: the one way page sources turn bytes into an lxml tree.

Rules (PAGES.md §3.5, WHATWG order, Miniflux's UTF-8 rule):
- Encoding: a BOM wins; bytes that are valid UTF-8 are UTF-8 whatever the header says (servers
  label UTF-8 pages ISO-8859-1); then the header's charset; then a ``<meta charset>`` or
  ``http-equiv`` declaration anywhere in the first 64 KB (late declarations exist); then a
  statistical guess (charset_normalizer), reported as a warning; then windows-1252.
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
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.html
from charset_normalizer import from_bytes
from lxml import etree

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE | re.DOTALL
)
_PRESCAN = 64 * 1024
_MARKUP = re.compile(rb"<script.*?</script>|<style.*?</style>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(rb"\s+")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
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
# Labels that mean something else in practice (WHATWG encoding standard).
_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "us-ascii": "windows-1252"}


@dataclass(frozen=True)
class HtmlDoc:
    """A parsed page: its root element, the URL links resolve against, and what was guessed."""

    root: Any  # lxml.html.HtmlElement
    base_url: str
    encoding: str
    warnings: tuple[str, ...]
    text_length: int  # characters of decoded text, for "is this page normal" decisions


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str, list[str]]:
    """The body as text, the encoding used, and warnings about guesses."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name, []
    try:
        return body.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    declared = _HEADER_CHARSET.search(content_type or "")
    if declared:
        label = _codec(declared.group(1))
        if label and label != "utf-8":
            return body.decode(label, errors="replace"), label, []
    meta = _META_CHARSET.search(body[:_PRESCAN])
    if meta:
        label = _codec(meta.group(1).decode("ascii", "replace"))
        if label and label != "utf-8":
            return body.decode(label, errors="replace"), label, []
    guess = _guess(body)
    if guess:
        return body.decode(guess, errors="replace"), guess, [f"no usable charset; guessed {guess}"]
    return (
        body.decode("windows-1252", errors="replace"),
        "windows-1252",
        ["no usable charset; read as windows-1252"],
    )


def parse_html(body: bytes, url: str, headers: dict[str, str] | None = None) -> HtmlDoc | None:
    """The parsed page, or None when nothing parseable is there."""
    text, encoding, warnings = decode_html(body, (headers or {}).get("content-type", ""))
    text = text.replace("\x00", "")
    if not text.strip():
        return None
    try:
        if encoding == "utf-8" and not body.startswith(codecs.BOM_UTF8) and b"\x00" not in body:
            # lxml refuses text that starts with an XML declaration naming an encoding: the
            # text path keeps that outcome.
            source: str | bytes = body if not text.startswith("<?xml") else text
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
    return HtmlDoc(root, base_url, encoding, tuple(warnings), len(text))


def _codec(label: str) -> str | None:
    name = label.strip().lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name.replace("_", "-")
    except LookupError:
        return None


def _guess(body: bytes) -> str | None:
    # The guess reads the text between the tags: markup is ASCII and drowns the signal (an
    # Arabic page re-encoded to windows-1256 is guessed mac-latin2 with its markup kept).
    text = _MARKUP.sub(b" ", body[: 1024 * 1024])
    best = from_bytes(_SPACES.sub(b" ", text)[:_PRESCAN]).best()
    return None if best is None else _codec(best.encoding)
