"""`/search` in Telegram: results a page at a time, "More" buttons, the query kept server-side.

Rules:
- The query is read by the same grammar and engine as `vigil search`
  (:mod:`bot.search.engine`); an unreadable one gets the reason, not an engine error, in the
  chat's language (the :class:`bot.i18n.Reason` the parser raised; the user's text escaped and
  cut short, :func:`bot.telegram.replies.reason_text`).
- Buttons carry ``find:<search id>:<offset>`` (at most 28 bytes, Telegram allows 64; parsed by
  :func:`bot.telegram.keyboards.parse_press`); the query itself is stored in the ``searches``
  table for the chat that asked. Anyone can send any callback data (RELIABILITY F9), so a press
  is honoured only when it parses exactly, names a search made in THIS chat, and asks for an
  offset within :data:`MAX_OFFSET`.
- A page is at most :data:`PAGE` results and stays under Telegram's 4096 characters (a long
  result moves to the next page); turning a page edits the message in place
  (:mod:`bot.telegram.buttons`).
- Every word is said in the chat's language (``req.tr``, the gettext catalogs of
  :mod:`bot.i18n`); dates use that language's month names; the query, titles and excerpts are
  set into a right-to-left reply as isolated values.
- Who may search is the gate's business (``Need.SUBSCRIBE``: in a group its administrators,
  and the configured subscription mode); rate limits are those of every command.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Config
from bot.i18n import N_, Tr
from bot.search.engine import Result, check_names, run_search
from bot.search.excerpt import to_html
from bot.search.query import QueryError, parse_query
from bot.store import archive
from bot.store.db import transaction
from bot.telegram import keyboards
from bot.telegram.host import Host
from bot.telegram.keyboards import MAX_SEARCH_OFFSET, Press
from bot.telegram.replies import also_published, echo, esc, reason_text
from bot.telegram.request import Need

PAGE = 5
MAX_OFFSET = MAX_SEARCH_OFFSET
NEED = Need.SUBSCRIBE  # as for subscriptions: in a group its administrators, and the mode
TEXT_BUDGET = 3900  # under Telegram's 4096, with room for the header
TITLE_CHARS = 200

USAGE = N_(
    "Usage: {usage} — e.g. {example1}, {example2}, {example3}. "
    "Words, {phrases}, {excluded}, OR, {prefix}, since:, until:, feed:, topic:."
)
EXPIRED = N_("This search has expired; send {search} again.")
CANNOT_READ = N_("Cannot read that search: {reason}")


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
    @property
    def tr(self) -> Tr: ...
    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None: ...


def callback_data(search_id: int, offset: int) -> str:
    return f"find:{search_id}:{offset}"


def parse_page(data: str | None) -> Press | None:
    """A "More"/"Back" press, or None when the data is not exactly one (forged or stale)."""
    from_keyboard = keyboards.parse_press(data, ())
    return from_keyboard if from_keyboard and from_keyboard.action == "find" else None


def _day(ts: float, tz: tzinfo, tr: Tr) -> str:
    return tr.date(datetime.fromtimestamp(ts, tz).date())


def usage_text(tr: Tr) -> str:
    """How to search, with examples of the grammar (kept as typed: they are commands)."""
    return tr(
        USAGE,
        usage="/search WORDS",
        example1=esc('/search "Caesar Act" since:2026-03-01'),
        example2="/search torture -Libya feed:ohchr",
        example3="/search tortur* topic:cat",
        phrases=esc('"phrases"'),
        excluded="-excluded",
        prefix="prefix*",
    )


def _result_lines(config: Config, number: int, result: Result, tz: tzinfo, tr: Tr) -> list[str]:
    row = result.found
    pieces = list(result.title)
    title = to_html(pieces) if sum(len(p.text) for p in pieces) <= TITLE_CHARS else None
    if title is None:
        title = esc(row.title[: TITLE_CHARS - 1] + "…")
    title = title or esc(tr("(untitled)"))
    link = row.link or ""
    if link.startswith(("https://", "http://")) and len(link) <= 1000:
        anchor = f'<a href="{esc(link)}">{title}</a>'
        head = f"{number}. {tr.value(anchor)}"
    else:
        head = f"{number}. {tr.value(title)}"
    source = f"{tr.value(esc(result.source))} · {esc(_day(row.published_at, tz, tr))}"
    lines = [head, f"<i>{source}</i>"]
    if result.excerpt:
        lines.append(tr.value(to_html(result.excerpt)))
    if result.also:
        lines.append(also_published(config, result.also, tr))
    return lines


def page_text(
    config: Config, query_text: str, results: Sequence[Result], offset: int, tz: tzinfo, tr: Tr
) -> tuple[str, int]:
    """The page's HTML and how many results it shows (fewer than given when they are long)."""
    query = f"<code>{echo(query_text)}</code>"
    lines: list[str] = []
    shown = 0
    for result in results[:PAGE]:
        entry = ["", *_result_lines(config, offset + shown + 1, result, tz, tr)]
        size = len(query) + sum(len(x) + 1 for x in lines + entry) + 80
        if shown and size > TEXT_BUDGET:
            break
        lines.extend(entry)
        shown += 1
    header = tr(
        "<b>Search</b> {query} · results {first}–{last}",
        query=query,
        first=offset + 1,
        last=offset + shown,
    )
    return "\n".join([header, *lines]), shown


def page_keyboard(
    search_id: int, offset: int, shown: int, more: bool, tr: Tr
) -> InlineKeyboardMarkup | None:
    buttons = []
    # The arrows point the way the page turns in the reader's direction of writing.
    back_text, more_text = ("› ", " ‹") if tr.rtl else ("‹ ", " ›")
    if offset > 0:
        back = max(0, offset - PAGE)
        buttons.append(
            InlineKeyboardButton(
                back_text + tr("Back"), callback_data=callback_data(search_id, back)
            )
        )
    if more and offset + shown <= MAX_OFFSET:
        buttons.append(
            InlineKeyboardButton(
                tr("More") + more_text, callback_data=callback_data(search_id, offset + shown)
            )
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


def _page(
    req: SearchRequest, query_text: str, search_id: int, offset: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Runs the saved query from ``offset``; raises QueryError when it cannot be read."""
    query = parse_query(query_text, now=req.now, tz=req.tz)
    results = run_search(req.host.conn, query, req.config, limit=PAGE + 1, offset=offset)
    tr = req.tr
    if not results:
        if offset:
            return tr("No more results."), None
        explained = f"<code>{echo(query.explain(), 200)}</code>"
        return tr("Nothing in the archive matches {query}.", query=explained), None
    text, shown = page_text(req.config, query_text, results, offset, req.tz, tr)
    return text, page_keyboard(search_id, offset, shown, len(results) > shown, tr)


async def cmd_search(req: SearchRequest) -> None:
    tr = req.tr
    if not req.args:
        await req.reply(usage_text(tr))
        return
    try:  # a query that cannot run (an unknown feed: or topic: too) is not saved
        check_names(parse_query(req.args, now=req.now, tz=req.tz), req.config)
    except QueryError as exc:
        await req.reply(tr(CANNOT_READ, reason=reason_text(exc, tr)))
        return
    with transaction(req.host.conn):
        search_id = archive.save_search(req.host.conn, req.chat, req.args, req.now)
    text, markup = _page(req, req.args, search_id, 0)
    await req.reply(text, markup)


def press_answer(req: SearchRequest, search_id: int) -> str:
    """The short answer to a page press: nothing, or that the search is gone."""
    if archive.saved_search(req.host.conn, search_id, req.chat) is None:
        return req.tr(EXPIRED, search="/search")
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
