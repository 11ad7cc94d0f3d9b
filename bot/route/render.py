"""Render one matched item as a Telegram alert: HTML parse mode, plus the same text without markup.

Rules enforced here (SPEC "An alert is one message…", API-NOTES.md section 2.5):

- The only tags are ``b``, ``i`` and ``a href`` (http/https links only); they are written by this
  module. Every feed- or config-derived string goes through :func:`html.escape`, so ``<``, ``>``
  and ``&`` in a title show literally and can never open a tag.
- Truncation happens on raw text before escaping, at code points, never inside a combining
  sequence (a base character keeps its marks, ZWJ sequences and variation selectors), preferring
  a word boundary; an escaped entity or a tag is therefore never cut.
- The message shows at most ``max_chars`` characters after Telegram parses the HTML (Telegram
  counts code points of the visible text; the href of a link does not count). Parts are capped
  first (title 512, excerpt about 300); if the result is still too long, the caps shrink, and as
  a last resort the message becomes escaped plain text cut to ``max_chars``.
- ``plain`` carries the same content with no markup and no escaping, the link written out; it is
  used by the console sender and as the fallback after Telegram "can't parse entities". It obeys
  the same length limit.
- Control characters, lone surrogates and the bidi embedding/override/isolate controls
  (U+202A-U+202E, U+2066-U+2069) are removed from every string shown, so a feed cannot reorder
  the text of an alert; the excerpt is cut on the original text first so hit offsets stay valid.
- Layout: bold title; source and publication time ("28 Nov 2026 14:05 UTC" in the configured
  zone, or "date unknown", never "now"); matched topics; an excerpt around the first hit in the
  summary, content, article text or PDF text (in that order) with every hit inside it in bold;
  the link.
- The frame (labels, month names, the link text) is in the chat's language (``tr``); the title
  and excerpt stay in the statement's own language. In a right-to-left language each frame line
  starts with a RIGHT-TO-LEFT MARK and the names set into it are isolated (:mod:`bot.i18n`),
  while the title and excerpt lines keep the direction of their own first letter.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser

from bot.i18n import N_, Tr, translator
from bot.model import Field, Hit, Item, TopicMatch

__all__ = ["Rendered", "render_alert", "visible_length"]

MAX_MESSAGE_CHARS = 4096  # sendMessage text: "1-4096 characters after entities parsing"
TITLE_CHARS = 512
EXCERPT_CHARS = 300
FEED_NAME_CHARS = 128
TOPICS_CHARS = 512
MAX_LINK_CHARS = 2048  # longer links are dropped rather than cut: a cut link leads elsewhere
LINK_TEXT = N_("Read the statement")
# The fixed words of an alert, in one place so every feature that adds a line says it the same
# way in every language. ALSO_PUBLISHED_BY is the label of the line that grouped near-duplicate
# statements add (issue 13); it is translated here so that line arrives in all four languages.
TOPICS_LABEL = N_("Topics: {topics}")
ALSO_PUBLISHED_BY = N_("Also published by: {sources}")
UNTITLED = N_("(untitled)")
DATE_UNKNOWN = N_("date unknown")
ELLIPSIS = "…"
# How far a cut may move to land on a word boundary instead of inside a word.
WORD_SLACK = 30

_UNSHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_ZWJ = "\u200d"


@dataclass(frozen=True, slots=True)
class Rendered:
    """An alert in Telegram HTML and the same alert as plain text."""

    html: str
    plain: str


@dataclass(frozen=True, slots=True)
class _Caps:
    title: int
    excerpt: int
    feed_name: int
    topics: int


def render_alert(
    item: Item,
    *,
    feed_name: str,
    topic_names: Sequence[str],
    matches: Sequence[TopicMatch],
    tz: tzinfo = UTC,
    max_chars: int = MAX_MESSAGE_CHARS,
    full_text: str = "",
    pdf: str = "",
    tr: Tr | None = None,
) -> Rendered:
    """Build the alert for one item; both versions fit in ``max_chars`` visible characters.

    ``full_text`` and ``pdf``: the text of the item's page and PDF, when they were read; the
    excerpt then comes from the spot that matched there. ``tr`` speaks the chat's language.
    """
    tr = tr or translator(None)
    max_chars = max(1, max_chars)
    bodies = {
        Field.SUMMARY: item.summary,
        Field.CONTENT: item.content,
        Field.FULL_TEXT: full_text,
        Field.PDF: pdf,
    }
    link = _shown_link(item.link)
    caps = _Caps(TITLE_CHARS, EXCERPT_CHARS, FEED_NAME_CHARS, TOPICS_CHARS)
    for _ in range(12):
        rendered = _render(item, bodies, feed_name, topic_names, matches, tz, link, caps, tr)
        if visible_length(rendered.html) <= max_chars and len(rendered.plain) <= max_chars:
            return rendered
        caps = _Caps(caps.title // 2, caps.excerpt // 2, caps.feed_name // 2, caps.topics // 2)
        if link is not None and len(link) + len(tr(LINK_TEXT)) + 2 > max_chars // 2:
            link = None
    # A limit too small for the layout: the message is the plain text, cut, with no markup.
    plain = _truncate(
        _render(item, bodies, feed_name, topic_names, matches, tz, None, caps, tr).plain, max_chars
    )
    return Rendered(html=html.escape(plain, quote=False), plain=plain)


def visible_length(html_text: str) -> int:
    """Count the code points Telegram displays for ``html_text``: tags removed, entities decoded."""
    counter = _VisibleCounter()
    counter.feed(html_text)
    counter.close()
    return counter.length


class _VisibleCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.length = 0

    def handle_data(self, data: str) -> None:
        self.length += len(data)


def _render(
    item: Item,
    bodies: dict[Field, str],
    feed_name: str,
    topic_names: Sequence[str],
    matches: Sequence[TopicMatch],
    tz: tzinfo,
    link: str | None,
    caps: _Caps,
    tr: Tr,
) -> Rendered:
    title = _truncate(_shown(item.title), caps.title) or tr(UNTITLED)
    source = _truncate(_shown(feed_name), caps.feed_name)
    when = _format_time(item.published, tz, tr)
    topics = _truncate(tr.join(_shown(name) for name in topic_names), caps.topics)
    excerpt = _excerpt(bodies, matches, caps.excerpt)
    frame = tr.lines  # a frame line reads right to left in a right-to-left language
    link_text = tr(LINK_TEXT)

    html_lines = [f"<b>{_esc(title)}</b>", frame(f"{tr.value(_esc(source))} · {_esc(when)}")]
    plain_lines = [title, frame(f"{tr.value(source)} · {when}")]
    if topics:
        html_lines.append(frame(tr(TOPICS_LABEL, topics=_esc(topics))))
        plain_lines.append(frame(tr(TOPICS_LABEL, topics=topics)))
    if excerpt:
        html_lines += ["", "".join(f"<b>{_esc(t)}</b>" if bold else _esc(t) for t, bold in excerpt)]
        plain_lines += ["", "".join(t for t, _ in excerpt)]
    if link is not None:
        html_lines += ["", frame(f'<a href="{html.escape(link, quote=True)}">{link_text}</a>')]
        plain_lines += ["", frame(f"{link_text}: {tr.value(link)}")]
    return Rendered(html="\n".join(html_lines), plain="\n".join(plain_lines))


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _shown(text: str) -> str:
    """One line of displayable text: unshown characters removed, whitespace collapsed."""
    return _WHITESPACE.sub(" ", _UNSHOWN.sub("", text)).strip()


def _shown_link(link: str | None) -> str | None:
    if not link or len(link) > MAX_LINK_CHARS:
        return None
    if _UNSHOWN.search(link) or _WHITESPACE.search(link):
        return None
    scheme, sep, _ = link.partition(":")
    return link if sep and scheme.lower() in ("http", "https") else None


def _format_time(moment: datetime | None, tz: tzinfo, tr: Tr) -> str:
    if moment is None:
        return tr(DATE_UNKNOWN)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # model contract: published is UTC
    local = moment.astimezone(tz)
    zone = local.tzname() or "UTC"
    return f"{tr.date(local.date())} {local:%H:%M} {tr.value(zone)}"


def _excerpt(
    texts: dict[Field, str], matches: Sequence[TopicMatch], cap: int
) -> list[tuple[str, bool]]:
    """Pieces of the excerpt with their bold flag, cut around the first hit in the body text."""
    if cap <= 0:
        return []
    hits = [hit for hit in _all_hits(matches) if hit.field in texts]
    valid = [h for h in hits if 0 <= h.start < h.end <= len(texts[h.field])]
    order = {field: index for index, field in enumerate(texts)}
    if valid:
        first = min(valid, key=lambda h: (order[h.field], h.start, h.end))
        text = texts[first.field]
        start, end = _window(text, first, cap)
        spans = _merge(
            (max(h.start, start), min(h.end, end))
            for h in valid
            if h.field == first.field and h.start < end and h.end > start
        )
    else:
        # Only the title matched: the title is already shown whole, so open the body instead.
        text = texts[Field.SUMMARY] or texts[Field.CONTENT]
        if not text:
            return []
        start, end = 0, _cut_end(text, min(len(text), cap), 0)
        spans = []

    # The ellipsis sits against the words it stands next to.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    pieces: list[tuple[str, bool]] = []
    if start > 0:
        pieces.append((ELLIPSIS, False))
    pos = start
    for span_start, span_end in spans:
        pieces.append((text[pos:span_start], False))
        pieces.append((text[span_start:span_end], True))
        pos = span_end
    pieces.append((text[pos:end], False))
    if end < len(text):
        pieces.append((ELLIPSIS, False))
    cleaned = [(_WHITESPACE.sub(" ", _UNSHOWN.sub("", piece)), bold) for piece, bold in pieces]
    cleaned = [(piece, bold) for piece, bold in cleaned if piece and (piece.strip() or not bold)]
    return _strip_edges(cleaned)


def _all_hits(matches: Sequence[TopicMatch]) -> Iterable[Hit]:
    for match in matches:
        yield from match.hits
        if match.context is not None:
            yield match.context


def _window(text: str, hit: Hit, cap: int) -> tuple[int, int]:
    """A span of about ``cap`` characters holding ``hit``, with a third of it before the hit."""
    hit_end = min(hit.end, hit.start + cap)
    start = max(0, hit.start - cap // 3)
    end = min(len(text), start + cap)
    if end - start < cap:
        start = max(0, end - cap)
    end = max(end, hit_end)
    start = _cut_start(text, start, hit.start)
    end = _cut_end(text, end, hit_end)
    return start, end


def _cut_start(text: str, start: int, limit: int) -> int:
    """Move a start cut forward to a word start (never past ``limit``) and off combining marks."""
    if 0 < start < len(text) and not text[start - 1].isspace() and not text[start].isspace():
        for pos in range(start, min(limit, start + WORD_SLACK)):
            if text[pos].isspace():
                start = pos + 1
                break
    while 0 < start < limit and _continues_cluster(text, start):
        start += 1
    return start


def _cut_end(text: str, end: int, limit: int) -> int:
    """Move an end cut back to a word end (never before ``limit``) and off a cluster's middle."""
    if 0 < end < len(text) and not text[end - 1].isspace() and not text[end].isspace():
        for pos in range(end - 1, max(limit, end - WORD_SLACK) - 1, -1):
            if text[pos].isspace():
                end = pos
                break
    while limit < end < len(text) and _continues_cluster(text, end):
        end -= 1
    return end


def _continues_cluster(text: str, pos: int) -> bool:
    """Whether a cut before ``text[pos]`` would split a user-perceived character."""
    char = text[pos]
    if char == _ZWJ or text[pos - 1] == _ZWJ:
        return True
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Mc", "Me"):
        return True
    code = ord(char)
    if _is_regional_indicator(char) and _is_regional_indicator(text[pos - 1]):
        # Flags are pairs of regional indicators: count the run to see whether pos is mid-pair.
        run = pos
        while run > 0 and _is_regional_indicator(text[run - 1]):
            run -= 1
        return (pos - run) % 2 == 1
    # Variation selectors, emoji skin-tone modifiers and emoji tag characters.
    return (
        0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _strip_edges(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    if pieces:
        first, bold = pieces[0]
        pieces[0] = (first.lstrip(), bold)
        last, bold = pieces[-1]
        pieces[-1] = (last.rstrip(), bold)
    return [(piece, bold) for piece, bold in pieces if piece]


def _truncate(text: str, cap: int) -> str:
    """Cut raw text to at most ``cap`` code points, ending with an ellipsis when cut."""
    if len(text) <= cap:
        return text
    if cap <= 1:
        return ELLIPSIS[:cap]
    end = _cut_end(text, cap - 1, 0)
    if end == 0:
        end = cap - 1  # one unbreakable cluster longer than the cap: cut it at a code point
    return text[:end].rstrip() + ELLIPSIS
