"""`vigil match`: tries the topics on a text, a file or a URL and shows where each keyword hit."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.commands.output import json_line
from bot.config import Config
from bot.fetch import Fetcher
from bot.match.topics import Matcher
from bot.model import Field, Hit, Item, Outcome, TopicMatch
from bot.service.app import fetch_policy
from bot.sources.feed import parse_feed
from bot.sources.text import clean_text, html_to_text


def _spot(text: str, hit: Hit, width: int = 40) -> str:
    start = max(0, hit.start - width)
    end = min(len(text), hit.end + width)
    before = ("…" if start else "") + text[start : hit.start]
    after = text[hit.end : end] + ("…" if end < len(text) else "")
    return clean_text(f"{before}[{text[hit.start : hit.end]}]{after}")


def _field_text(item: Item, field: Field) -> str:
    return {Field.TITLE: item.title, Field.SUMMARY: item.summary, Field.CONTENT: item.content}[
        field
    ]


def _items_from_body(body: bytes, url: str, headers: dict[str, str] | None = None) -> list[Item]:
    parsed = parse_feed(body, headers=headers or {}, url=url)
    if parsed.ok and parsed.items:
        return list(parsed.items)
    text = body.decode("utf-8", errors="replace")
    looks_html = "<" in text and ">" in text
    plain = html_to_text(text) if looks_html else clean_text(text)
    return [Item(key="text", title="", link=url or None, summary="", content=plain)]


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
        items = [Item(key="text", title="", link=None, summary="", content=args.text)]
    elif args.file is not None:
        try:
            body = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"vigil match: {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        items = _items_from_body(body, "")
    else:
        fetched = asyncio.run(_fetch_once(config, args.url))
        if fetched.outcome is not Outcome.OK:
            print(f"vigil match: {args.url}: {fetched.error}", file=sys.stderr)
            return 2
        items = _items_from_body(fetched.body, fetched.final_url, fetched.headers)
    names = {t.id: t.name for t in config.topics}
    found = 0
    for item in items:
        for tm in matcher.match_item(item):
            found += 1
            _print_match(item, tm, names, as_json=args.json)
    if not found and not args.json:
        print(f"no topic matched ({len(items)} text(s) tested, {len(topics)} topic(s))")
    return 0 if found else 1


def _print_match(item: Item, tm: TopicMatch, names: dict[str, str], *, as_json: bool) -> None:
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
                            "start": h.start,
                            "end": h.end,
                            "text": _field_text(item, h.field)[h.start : h.end],
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
        text = _field_text(item, hit.field)
        print(f"    keyword {hit.keyword!r} in {hit.field} at {hit.start}: {_spot(text, hit)}")
    if tm.context is not None:
        text = _field_text(item, tm.context.field)
        print(
            f"    context {tm.context.keyword!r} in {tm.context.field}: {_spot(text, tm.context)}"
        )


async def _fetch_once(config: Config, url: str):  # type: ignore[no-untyped-def]
    async with Fetcher(fetch_policy(config)) as fetcher:
        return await fetcher.fetch(url)
