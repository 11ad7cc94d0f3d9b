"""A public Telegram channel's web preview (``https://t.me/s/NAME``) read into items.

Rules: recognised by URL shape (host ``t.me`` or ``telegram.me``, path ``/s/NAME``) or by the
preview's own markup (``tgme_widget_message``), so a local copy reads the same as the real one.
Each post (``data-post="NAME/ID"``) is an item whose identity and link are
``https://t.me/NAME/ID``, whose title is the first line of its text (at most TITLE_CHARS) and
whose summary is the whole text; its date is the post's ``<time datetime>``. A channel page
without posts (a private channel, or one with the preview turned off, is answered with the
``tgme_page`` landing page) is a clear error, never an empty success.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import lxml.html

from bot.model import ErrorKind, Item, ParsedFeed
from bot.sources.dates import parse_date
from bot.sources.htmldoc import parse_html
from bot.sources.identity import canonical_link, cap_key
from bot.sources.text import clean_text, html_to_text

TITLE_CHARS = 200
MAX_POSTS = 500
_HOSTS = frozenset({"t.me", "telegram.me", "www.t.me", "www.telegram.me"})
_CHANNEL_PATH = re.compile(r"/s/([A-Za-z0-9_]{4,64})/?")
_POST = re.compile(r"([A-Za-z0-9_]{4,64})/(\d{1,12})")
_MARKERS = (b"tgme_widget_message", b"tgme_channel_info", b'class="tgme_page')


def channel_name(url: str) -> str | None:
    """The channel of a ``https://t.me/s/NAME`` URL, or None for any other URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _CHANNEL_PATH.fullmatch(parts.path)
    if (parts.hostname or "").lower() in _HOSTS and match:
        return match.group(1)
    return None


def looks_like_channel(body: bytes, url: str) -> bool:
    """Whether the body is a Telegram page: by the URL's shape or by its markup."""
    head = body[:200_000]
    return channel_name(url) is not None or any(marker in head for marker in _MARKERS)


def read_channel(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    now: datetime | None = None,
) -> ParsedFeed:
    """Items of a channel preview, or a clear error when the channel has none to show."""
    try:
        return _read(body, headers or {}, url, now or datetime.now(UTC))
    except Exception as exc:  # a bug must cost one source, not the cycle
        return ParsedFeed(
            error_kind=ErrorKind.PARSE,
            error=f"channel reader failed: {exc!r}"[:300],
            kind="channel",
        )


def _read(body: bytes, headers: Mapping[str, str], url: str, now: datetime) -> ParsedFeed:
    doc = parse_html(body, url, {k.lower(): v for k, v in headers.items()})
    name = channel_name(url) or "this channel"
    if doc is None:
        return ParsedFeed(error_kind=ErrorKind.EMPTY, error="empty page", kind="channel")
    title = clean_text(
        " ".join(
            n.text_content() for n in doc.root.find_class("tgme_channel_info_header_title")[:1]
        )
    )
    items: list[Item] = []
    seen: set[str] = set()
    warnings: list[str] = []
    posts = doc.root.find_class("tgme_widget_message")
    for post in posts:
        match = _POST.fullmatch((post.get("data-post") or "").strip())
        if not match:
            continue
        link = f"https://t.me/{match.group(1)}/{match.group(2)}"
        key = cap_key(canonical_link(link))
        if key in seen:
            continue
        seen.add(key)
        if len(items) >= MAX_POSTS:
            warnings.append(f"more than {MAX_POSTS} posts; the rest were not read")
            break
        items.append(_post_item(post, key, link, now))
    if items:
        return ParsedFeed(items=tuple(items), title=title, kind="channel", warnings=tuple(warnings))
    if posts or doc.root.find_class("tgme_channel_info"):
        return ParsedFeed(title=title, kind="channel")  # a public channel with no posts yet
    return ParsedFeed(
        error_kind=ErrorKind.NO_ENTRIES,
        error=f"{name} has no public web preview (t.me/s/ shows no posts): the channel is "
        "private, does not exist, or turned the preview off",
        kind="channel",
    )


def _post_item(post: object, key: str, link: str, now: datetime) -> Item:
    texts = post.find_class("tgme_widget_message_text")  # type: ignore[attr-defined]
    text = html_to_text(lxml.html.tostring(texts[0], encoding="unicode")) if texts else ""
    first_line = text.split("\n", 1)[0] if text else ""
    title = first_line if len(first_line) <= TITLE_CHARS else first_line[: TITLE_CHARS - 1] + "…"
    published = None
    for stamp in post.iter("time"):  # type: ignore[attr-defined]
        published = parse_date(stamp.get("datetime"), now)
        if published is not None:
            break
    return Item(
        key=key, title=title, link=link, summary=text[:20_000], content="", published=published
    )
