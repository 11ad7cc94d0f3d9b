"""Small feed builders for tests: RSS 2.0, Atom 1.0 and RSS 1.0 (RDF) documents as bytes.

Items are dicts with any of ``title``, ``link``, ``guid``, ``description``, ``pubDate`` (an
RFC 822 date for RSS; Atom and RDF take it verbatim as ``updated`` / ``dc:date``). Every value is
XML-escaped, so a test can put hostile text in a field and know it arrives as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

Item = Mapping[str, str]


def _element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


def rss(
    items: Iterable[Item], *, title: str = "Test feed", link: str = "http://example.test/"
) -> bytes:
    """An RSS 2.0 channel with the given items."""
    entries = []
    for item in items:
        guid = item.get("guid")
        guid_xml = "" if guid is None else f'<guid isPermaLink="false">{escape(guid)}</guid>'
        entries.append(
            "<item>"
            + _element("title", item.get("title"))
            + _element("link", item.get("link"))
            + guid_xml
            + _element("description", item.get("description"))
            + _element("pubDate", item.get("pubDate"))
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        + _element("title", title)
        + _element("link", link)
        + "<description>test</description>"
        + "".join(entries)
        + "</channel></rss>\n"
    ).encode()


def atom(
    items: Iterable[Item], *, title: str = "Test feed", link: str = "http://example.test/"
) -> bytes:
    """An Atom 1.0 feed with the given items (``guid`` becomes ``id``, ``description`` summary)."""
    entries = []
    for item in items:
        link_xml = "" if item.get("link") is None else f"<link href={quoteattr(item['link'])}/>"
        entries.append(
            "<entry>"
            + _element("title", item.get("title"))
            + link_xml
            + _element("id", item.get("guid"))
            + _element("summary", item.get("description"))
            + _element("updated", item.get("pubDate"))
            + "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        + _element("title", title)
        + f"<link href={quoteattr(link)}/>"
        + _element("id", link)
        + "".join(entries)
        + "</feed>\n"
    ).encode()


def rdf(
    items: Iterable[Item], *, title: str = "Test feed", link: str = "http://example.test/"
) -> bytes:
    """An RSS 1.0 (RDF) document with the given items (``guid`` becomes ``rdf:about``)."""
    listed = list(items)
    entries = []
    for item in listed:
        about = item.get("guid") or item.get("link") or ""
        entries.append(
            f"<item rdf:about={quoteattr(about)}>"
            + _element("title", item.get("title"))
            + _element("link", item.get("link"))
            + _element("description", item.get("description"))
            + _element("dc:date", item.get("pubDate"))
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel rdf:about={quoteattr(link)}>"
        + _element("title", title)
        + _element("link", link)
        + "<description>test</description></channel>"
        + "".join(entries)
        + "</rdf:RDF>\n"
    ).encode()
