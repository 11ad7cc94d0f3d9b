"""The statement in an article page: its main text, without the page around it.

Rules:

- The extractor is trafilatura, chosen by measurement on the corpus ground truth (README
  "Full text"): with ``favor_recall`` and comments left out it kept every body segment and
  dropped every boilerplate segment of the Arabic, German and English pages, where the default
  mode let sidebars, photo captions and "related news" through. Comments are readers', never
  the statement, so they are never included.
- When the extractor returns little (under :data:`MIN_EXTRACTED` characters, or nothing: short
  statements are short), the page's visible text is used when it has any: the whole page minus
  what is never the statement — scripts, styles, navigation, headers, footers, sidebars, forms,
  comment sections and "related" blocks (by element, ARIA role, or class/id name).
- A page whose only content is a password form is a login wall, said as such, not a statement.
- PDF attachments (``.pdf`` path, query ignored) linked outside navigation, headers, footers and
  sidebars are returned, first ones first, so the caller can read the signed statement too.
- Text is one paragraph per line. Pure CPU, never raises: a page that cannot be parsed gives
  empty text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from bot.sources.charset import decode_html
from bot.sources.text import clean_text

__all__ = ["MIN_EXTRACTED", "Article", "extract_article", "is_pdf_url", "visible_text"]

log = logging.getLogger("vigil.article")

MIN_EXTRACTED = 250  # trafilatura's own MIN_EXTRACTED_SIZE
MAX_ATTACHMENTS = 1

_NEVER_TEXT = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "select",
    "menu",
)
_NEVER_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_BOILERPLATE_NAME = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|sidebar|side-bar|breadcrumbs?|related|comments?|share|"
    r"social|cookies?|footer|header|banner|widget|teaser|newsletter|subscribe)(?:$|[\s_-])",
    re.IGNORECASE,
)
_BLOCKS = frozenset(
    {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "section", "article"}
    | {"blockquote", "pre", "td", "th", "dd", "dt", "table", "ul", "ol", "main", "figcaption"}
)


@dataclass(frozen=True, slots=True)
class Article:
    """What an article page says, and how that was found."""

    text: str  # one paragraph per line
    method: str  # "extractor", "visible", or "none"
    attachments: tuple[str, ...] = ()  # absolute URLs of linked PDFs
    login_wall: bool = False
    encoding: str = "utf-8"
    encoding_guessed: bool = False


def is_pdf_url(url: str) -> bool:
    """A ``.pdf`` path, whatever the query (``…/pm.pdf?__blob=publicationFile&v=5``)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return path.lower().endswith(".pdf")


def extract_article(body: bytes, headers: Mapping[str, str], url: str) -> Article:
    """The main text of an HTML page (see the module rules); never raises."""
    decoded = decode_html(body, headers)
    source = decoded.text
    try:
        tree = lxml.html.document_fromstring(source)
    except (etree.ParserError, ValueError):
        return Article("", "none", encoding=decoded.encoding, encoding_guessed=decoded.guessed)
    try:
        import trafilatura  # 0.1 s to import: loaded on the first article, not by every command

        extracted = trafilatura.extract(
            source,
            url=url or None,
            favor_recall=True,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
    except Exception as exc:  # the extractor's failure is a fallback, never a lost item
        log.debug("extractor failed: %r", exc, extra={"url": url})
        extracted = None
    text = _lines(extracted or "")
    method = "extractor" if text else "none"
    attachments = _attachments(tree, url)
    wall = bool(tree.xpath("//input[translate(@type,'PASWORD','pasword')='password']"))
    if len(text) < MIN_EXTRACTED:
        # Below that size trafilatura falls back to a baseline that keeps menus and footers;
        # the visible text has them removed, so it wins whenever it has anything.
        visible = visible_text(tree)
        if visible:
            text, method = visible, "visible"
    login_wall = wall and len(text) < MIN_EXTRACTED
    if login_wall:
        text, method = "", "none"
    return Article(
        text,
        method if text else "none",
        attachments,
        login_wall,
        decoded.encoding,
        decoded.guessed,
    )


def _lines(text: str) -> str:
    lines = (clean_text(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _is_boilerplate(element: etree._Element) -> bool:
    if not isinstance(element.tag, str):
        return True  # comments and processing instructions
    if element.tag in _NEVER_TEXT:
        return True
    if (element.get("role") or "").lower() in _NEVER_ROLES:
        return True
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    return bool(names.strip()) and _BOILERPLATE_NAME.search(names) is not None


def visible_text(tree: lxml.html.HtmlElement) -> str:
    """The page's text minus what is never the statement (see the module rules)."""
    body = tree.find("body")
    root = body if body is not None else tree
    parts: list[str] = []
    _walk(root, parts)
    return _lines("".join(parts))


def _walk(element: etree._Element, parts: list[str]) -> None:
    # Iterative, so a page nested 100,000 deep cannot exhaust the stack.
    stack: list[tuple[etree._Element, bool]] = [(element, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.tag in _BLOCKS:
                parts.append("\n")
            if node.tail:
                parts.append(node.tail)
            continue
        if node is not element and _is_boilerplate(node):
            if node.tail:
                parts.append(node.tail)
            continue
        if isinstance(node.tag, str) and node.tag in _BLOCKS:
            parts.append("\n")
        if node.text:
            parts.append(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))


def _inside_boilerplate(element: etree._Element) -> bool:
    parent = element.getparent()
    while parent is not None:
        if _is_boilerplate(parent):
            return True
        parent = parent.getparent()
    return False


def _attachments(tree: lxml.html.HtmlElement, url: str) -> tuple[str, ...]:
    found: list[str] = []
    for link in tree.iterfind(".//a[@href]"):
        href = (link.get("href") or "").strip()
        if not href or not is_pdf_url(href) or _inside_boilerplate(link):
            continue
        absolute = urljoin(url, href) if url else href
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in found:
            found.append(absolute)
        if len(found) >= MAX_ATTACHMENTS:
            break
    return tuple(found)
