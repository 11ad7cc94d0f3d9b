"""`/search` in Telegram: results a page at a time, "More" buttons, the query kept server-side.

Rules:
- The query is read by the same grammar and engine as `vigil search`
  (:mod:`bot.search.engine`); an unreadable one gets the reason, not an engine error.
- Buttons carry ``find:<search id>:<offset>`` (at most 28 bytes, Telegram allows 64; parsed by
  :func:`bot.telegram.keyboards.parse_press`); the query itself is stored in the ``searches``
  table for the chat that asked. Anyone can send any callback data (RELIABILITY F9), so a press
  is honoured only when it parses exactly, names a search made in THIS chat, and asks for an
  offset within :data:`MAX_OFFSET`.
- A page is at most :data:`PAGE` results and stays under Telegram's 4096 characters (a long
  result moves to the next page); turning a page edits the message in place
  (:mod:`bot.telegram.buttons`).
- Texts are English for now (not yet in the gettext catalogs); each reply is laid out through
  the chat's :class:`bot.i18n.Tr`.
- Who may search is the gate's business (``Need.SUBSCRIBE``: in a group its administrators,
  and the configured subscription mode); rate limits are those of every command.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Config
from bot.search.engine import Result, run_search
from bot.search.excerpt import to_html
from bot.search.query import QueryError, parse_query
from bot.store import archive
from bot.store.db import transaction
from bot.telegram import keyboards
from bot.telegram.host import Host
from bot.telegram.keyboards import MAX_SEARCH_OFFSET, Press
from bot.telegram.replies import also_published, echo, esc
from bot.telegram.request import Need

PAGE = 5
MAX_OFFSET = MAX_SEARCH_OFFSET
NEED = Need.SUBSCRIBE  # as for subscriptions: in a group its administrators, and the mode
TEXT_BUDGET = 3900  # under Telegram's 4096, with room for the header
TITLE_CHARS = 200

USAGE = (
    'Usage: /search WORDS — e.g. /search "Caesar Act" since:2026-03-01, '
    "/search torture -Libya feed:ohchr, /search tortur* topic:cat. "
    'Words, "phrases", -excluded, OR, prefix*, since:, until:, feed:, topic:.'
)
EXPIRED = "This search has expired; send /search again."


class SearchRequest(Protocol):
    """What a search needs of a command request (:class:`bot.telegram.handlers.Request`)."""

    @property
    def host(self) -> Host: ...
    @property
    def config(self) -> Config: ...
    @property
    def chat(self) -> str: ...
    @property
    def args(self) -> str: ...
    @property
    def now(self) -> float: ...
    @property
    def tz(self) -> tzinfo: ...
    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None: ...


def callback_data(search_id: int, offset: int) -> str:
    return f"find:{search_id}:{offset}"


def parse_page(data: str | None) -> Press | None:
    """A "More"/"Back" press, or None when the data is not exactly one (forged or stale)."""
    from_keyboard = keyboards.parse_press(data, ())
    return from_keyboard if from_keyboard and from_keyboard.action == "find" else None


def _day(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")


def _result_lines(config: Config, number: int, result: Result, tz: tzinfo) -> list[str]:
    row = result.found
    pieces = list(result.title)
    title = to_html(pieces) if sum(len(p.text) for p in pieces) <= TITLE_CHARS else None
    if title is None:
        title = esc(row.title[: TITLE_CHARS - 1] + "…")
    title = title or "(untitled)"
    link = row.link or ""
    if link.startswith(("https://", "http://")) and len(link) <= 1000:
        head = f'{number}. <a href="{esc(link)}">{title}</a>'
    else:
        head = f"{number}. {title}"
    lines = [head, f"<i>{esc(result.source)} · {_day(row.published_at, tz)}</i>"]
    if result.excerpt:
        lines.append(to_html(result.excerpt))
    if result.also:
        lines.append(also_published(config, result.also))
    return lines


def page_text(
    config: Config, query_text: str, results: Sequence[Result], offset: int, tz: tzinfo
) -> tuple[str, int]:
    """The page's HTML and how many results it shows (fewer than given when they are long)."""
    header = f"<b>Search</b> <code>{echo(query_text)}</code>"
    lines: list[str] = []
    shown = 0
    for result in results[:PAGE]:
        entry = ["", *_result_lines(config, offset + shown + 1, result, tz)]
        size = len(header) + sum(len(x) + 1 for x in lines + entry) + 40
        if shown and size > TEXT_BUDGET:
            break
        lines.extend(entry)
        shown += 1
    header += f" · results {offset + 1}–{offset + shown}"
    return "\n".join([header, *lines]), shown


def page_keyboard(
    search_id: int, offset: int, shown: int, more: bool
) -> InlineKeyboardMarkup | None:
    buttons = []
    if offset > 0:
        back = max(0, offset - PAGE)
        buttons.append(InlineKeyboardButton("‹ Back", callback_data=callback_data(search_id, back)))
    if more and offset + shown <= MAX_OFFSET:
        buttons.append(
            InlineKeyboardButton("More ›", callback_data=callback_data(search_id, offset + shown))
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


def _page(
    req: SearchRequest, query_text: str, search_id: int, offset: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Runs the saved query from ``offset``; raises QueryError when it cannot be read."""
    query = parse_query(query_text, now=req.now, tz=req.tz)
    results = run_search(req.host.conn, query, req.config, limit=PAGE + 1, offset=offset)
    if not results:
        if offset:
            return "No more results.", None
        return (
            f"Nothing in the archive matches <code>{echo(query.explain(), 200)}</code>.",
            None,
        )
    text, shown = page_text(req.config, query_text, results, offset, req.tz)
    return text, page_keyboard(search_id, offset, shown, len(results) > shown)


async def cmd_search(req: SearchRequest) -> None:
    if not req.args:
        await req.reply(esc(USAGE))
        return
    try:
        parse_query(req.args, now=req.now, tz=req.tz)
    except QueryError as exc:
        await req.reply(f"Cannot read that search: {echo(str(exc), 300)}")
        return
    with transaction(req.host.conn):
        search_id = archive.save_search(req.host.conn, req.chat, req.args, req.now)
    try:
        text, markup = _page(req, req.args, search_id, 0)
    except QueryError as exc:  # an unknown feed: or topic:
        await req.reply(f"Cannot read that search: {echo(str(exc), 300)}")
        return
    await req.reply(text, markup)


def press_answer(req: SearchRequest, search_id: int) -> str:
    """The short answer to a page press: nothing, or that the search is gone."""
    if archive.saved_search(req.host.conn, search_id, req.chat) is None:
        return EXPIRED
    return ""


def page_look(
    req: SearchRequest, search_id: int, offset: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The page from ``offset`` of a saved search of this chat; None when it is gone or no
    longer readable (a feed or topic removed from feeds.yaml since)."""
    query_text = archive.saved_search(req.host.conn, search_id, req.chat)
    if query_text is None:
        return None
    try:
        return _page(req, query_text, search_id, offset)
    except QueryError:
        return None
