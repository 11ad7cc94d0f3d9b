"""`vigil match`: tries the topics on a text, a file or a URL and shows where each keyword hit.

A file or URL that is not a feed is read as an article: an HTML page's main text ("in the full
text, paragraph 3") or a PDF's text layer ("in the PDF, page 2"), exactly as the full-text
stage reads them, so a topic can be tried on the statement itself.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.commands.output import json_line
from bot.commands.probe import read_url, source_for
from bot.config import Config, Feed
from bot.match.topics import Matcher
from bot.model import Field, Hit, Item, Outcome, TopicMatch
from bot.sources.article import extract_article
from bot.sources.feed import parse_feed
from bot.sources.pdf import PdfLimits, read_pdf_in_child
from bot.sources.pdflayout import page_of
from bot.sources.text import clean_text

# An item with the text of its page and PDF, when read.
Texts = tuple[Item, str, str]


def _spot(text: str, hit: Hit, width: int = 40) -> str:
    start = max(0, hit.start - width)
    end = min(len(text), hit.end + width)
    before = ("…" if start else "") + text[start : hit.start]
    after = text[hit.end : end] + ("…" if end < len(text) else "")
    return clean_text(f"{before}[{text[hit.start : hit.end]}]{after}")


def _field_text(texts: Texts, field: Field) -> str:
    item, full_text, pdf = texts
    return {
        Field.TITLE: item.title,
        Field.SUMMARY: item.summary,
        Field.CONTENT: item.content,
        Field.FULL_TEXT: full_text,
        Field.PDF: pdf,
    }[field]


def where(texts: Texts, hit: Hit) -> str:
    """Where a hit is, as a reader would look for it."""
    text = _field_text(texts, hit.field)
    if hit.field is Field.FULL_TEXT:
        return f"in the full text, paragraph {text.count(chr(10), 0, hit.start) + 1}"
    if hit.field is Field.PDF:
        return f"in the PDF, page {page_of(text, hit.start)}"
    return f"in the {hit.field}"


def _items_from_body(body: bytes, url: str, headers: dict[str, str] | None = None) -> list[Texts]:
    empty = Item(key="text", title="", link=url or None, summary="", content="")
    if body[:1024].lstrip().startswith(b"%PDF-"):
        result = asyncio.run(read_pdf_in_child(body, PdfLimits()))
        if not result.ok:
            print(f"vigil match: PDF: {result.reason} {result.detail}".rstrip(), file=sys.stderr)
        return [(empty, "", result.text)]
    parsed = parse_feed(body, headers=headers or {}, url=url)
    if parsed.ok and parsed.items:
        return [(item, "", "") for item in parsed.items]
    text = body.decode("utf-8", errors="replace")
    if "<" in text and ">" in text:
        return [(empty, extract_article(body, headers or {}, url).text, "")]
    return [
        (Item(key="text", title="", link=url or None, summary="", content=clean_text(text)), "", "")
    ]


def match(config: Config, args: argparse.Namespace) -> int:
    topics = [t for t in config.topics if not args.topic or t.id in args.topic]
    unknown = set(args.topic) - {t.id for t in config.topics}
    if unknown:
        print(f"vigil match: unknown topic(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    matcher = Matcher.compile(topics)
    sources = [s for s in (args.text, args.file, args.url) if s]
    if len(sources) != 1:
        print("vigil match: give exactly one of TEXT, --file F or --url URL", file=sys.stderr)
        return 2
    if args.text is not None:
        items: list[Texts] = [
            (Item(key="text", title="", link=None, summary="", content=args.text), "", "")
        ]
    elif args.file is not None:
        try:
            body = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"vigil match: {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        items = _items_from_body(body, "")
    else:
        source = source_for(config, args.url) or Feed(id="probe", name=args.url, url=args.url)
        intake = asyncio.run(read_url(config, source))
        fetched = intake.result
        if fetched.outcome is not Outcome.OK:
            print(f"vigil match: {args.url}: {intake.error or fetched.error}", file=sys.stderr)
            return 2
        if intake.parsed is not None and intake.parsed.items:
            # a feed, discovered feed, page or channel
            items = [(item, "", "") for item in intake.parsed.items]
        else:
            items = _items_from_body(fetched.body, fetched.final_url, fetched.headers)
    names = {t.id: t.name for t in config.topics}
    found = 0
    for texts in items:
        for tm in matcher.match_item(*texts):
            found += 1
            _print_match(texts, tm, names, as_json=args.json)
    if not found and not args.json:
        print(f"no topic matched ({len(items)} text(s) tested, {len(topics)} topic(s))")
    return 0 if found else 1


def _print_match(texts: Texts, tm: TopicMatch, names: dict[str, str], *, as_json: bool) -> None:
    item = texts[0]
    if as_json:
        print(
            json_line(
                {
                    "topic": tm.topic_id,
                    "title": item.title or None,
                    "link": item.link,
                    "hits": [
                        {
                            "keyword": h.keyword,
                            "field": str(h.field),
                            "where": where(texts, h),
                            "start": h.start,
                            "end": h.end,
                            "text": _field_text(texts, h.field)[h.start : h.end],
                        }
                        for h in tm.hits
                    ],
                    "context": tm.context.keyword if tm.context else None,
                }
            )
        )
        return
    label = f" — {item.title}" if item.title else ""
    print(f"✔ {tm.topic_id} ({names.get(tm.topic_id, tm.topic_id)}){label}")
    for hit in tm.hits:
        text = _field_text(texts, hit.field)
        print(f"    keyword {hit.keyword!r} {where(texts, hit)}: {_spot(text, hit)}")
    if tm.context is not None:
        text = _field_text(texts, tm.context.field)
        print(
            f"    context {tm.context.keyword!r} {where(texts, tm.context)}: "
            f"{_spot(text, tm.context)}"
        )
