"""`/search` through the real PTB client and the Bot API test server: pages, buttons, access;
each Telegram test with the state in SQLite and in PostgreSQL (the `database` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import Item
from bot.store import archive
from bot.store import items as item_rows
from bot.store.db import transaction
from bot.telegram.keyboards import Press
from bot.telegram.searching import MAX_OFFSET, callback_data, parse_page
from tests.servers.botapi import BotApiServer
from tests.test_telegram_commands import (
    GROUP,
    USER,
    LiveHost,
    button_texts,
    make_host,
    reply_to,
    running,
    wait_for_calls,
)


def archive_statements(host: LiveHost, count: int) -> None:
    """Archives ``count`` statements mentioning torture (statement 0 newest), like the poller."""
    conn = host.conn
    with transaction(conn):
        for n in range(count):
            published = datetime(2026, 3, 28 - n % 27, tzinfo=UTC)
            item = Item(
                f"k{n}",
                f"Statement {n} on torture",
                f"https://x.test/{n}",
                f"Le Comité a évoqué la torture ({n}).",
                "",
                published,
            )
            item_id = item_rows.insert_item(
                conn, "icj", item, link_key=item.link, topics=["cat"], now=published.timestamp()
            )
            assert item_id is not None
            archive.add(conn, item_id, item, now=published.timestamp())


@pytest.mark.usefixtures("database")
async def test_search_pages_with_more_button(tmp_path: Path, botapi: BotApiServer) -> None:
    """Five results a page with bold original words; More edits the message to the next page."""
    host = make_host(tmp_path)
    archive_statements(host, 7)
    async with running(botapi, host):
        first = await reply_to(botapi, "/search evoque torture")
        assert first.parse_mode == "HTML"
        assert "results 1–5" in first.text
        assert "Le Comité a <b>évoqué</b> la <b>torture</b> (0)." in first.params["text"]
        assert button_texts(first) == ["More ›"]
        data = first.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        assert len(data.encode()) <= 64
        botapi.callback(data, message_id=first.message_id)
        [edit] = await wait_for_calls(botapi, "editMessageText")
    assert "results 6–7" in edit.params["text"]
    markup = edit.params["reply_markup"]
    assert [b["text"] for row in markup["inline_keyboard"] for b in row] == ["‹ Back"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/search", "Usage: /search WORDS"),
        ("/search OR", "Cannot read that search: OR must stand between two words or phrases"),
        ("/search x feed:nope", "Cannot read that search: unknown feed"),
        ("/search A/HRC/52 -torture", "Nothing in the archive matches"),
        ('/search "unbalanced', "Nothing in the archive matches <code>unbalanced</code>"),
    ],
)
@pytest.mark.usefixtures("database")
async def test_search_explains_unreadable_and_empty(
    tmp_path: Path, botapi: BotApiServer, text: str, says: str
) -> None:
    """Bad queries get the reason and are not saved; no match shows what was looked for."""
    host = make_host(tmp_path)
    archive_statements(host, 1)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        saved = host.conn.execute("SELECT count(*) FROM searches").fetchone()[0]
    assert says in reply.params["text"]
    assert saved == (0 if "Cannot read" in says or text == "/search" else 1)


@pytest.mark.usefixtures("database")
async def test_search_in_a_group_needs_an_admin(tmp_path: Path, botapi: BotApiServer) -> None:
    """In a group, /search is for its administrators, as subscribing is."""
    host = make_host(tmp_path)
    archive_statements(host, 1)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/search torture", chat_type="group", chat_id=GROUP)
    assert "administrators" in reply.text


@pytest.mark.usefixtures("database")
async def test_another_chats_search_button_is_refused(tmp_path: Path, botapi: BotApiServer) -> None:
    """A press naming a search made in another chat shows nothing of it (forged data, F9)."""
    host = make_host(tmp_path)
    archive_statements(host, 7)
    async with running(botapi, host):
        await reply_to(botapi, "/search torture")
        botapi.callback(callback_data(1, 5), user_id=USER + 1)
        [answer] = await wait_for_calls(botapi, "answerCallbackQuery")
    assert answer.params["text"] == "This search has expired; send /search again."
    assert not [c for c in botapi.calls if c.method == "editMessageText"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("find:1:0", Press("find", search_id=1, offset=0)),
        ("find:12:5", Press("find", search_id=12, offset=5)),
        (f"find:1:{MAX_OFFSET}", Press("find", search_id=1, offset=MAX_OFFSET)),
        (f"find:1:{MAX_OFFSET + 1}", None),
        ("find:0:5", None),
        ("find:1:05", None),
        ("find:1:-5", None),
        ("find:1", None),
        ("find:x:1", None),
        ("find:1:1:1", None),
        (None, None),
    ],
)
def test_parse_page(data: str | None, expected: Press | None) -> None:
    """Only exact page data parses; everything else is an out-of-date button."""
    assert parse_page(data) == expected


@pytest.mark.usefixtures("database")
async def test_search_answers_in_french_and_arabic(tmp_path: Path, botapi: BotApiServer) -> None:
    """The header, dates (CLDR month names), buttons and "nothing found" follow the chat's
    language; in Arabic each line reads right to left with the query and titles isolated."""
    host = make_host(tmp_path)
    archive_statements(host, 7)
    async with running(botapi, host):
        fr = {"language_code": "fr", "user_id": 991, "chat_id": 991}
        page = await reply_to(botapi, "/search torture", **fr)
        assert page.text.startswith("<b>Recherche</b> <code>torture</code> · résultats 1 à 5\n")
        assert "<i>icj · 28 mars 2026</i>" in page.text
        assert button_texts(page) == ["Suivants ›"]
        none = await reply_to(botapi, "/search nowhere", **fr)
        assert none.text == "Rien dans les archives ne correspond à <code>nowhere</code>."

        ar = {"language_code": "ar", "user_id": 992, "chat_id": 992}
        page = await reply_to(botapi, "/search torture", **ar)
        lines = page.text.split("\n")
        query = "\u2068<code>torture</code>\u2069"
        assert lines[0] == f"\u200f<b>بحث</b> {query} · النتائج من 1 إلى 5"
        assert (
            lines[2]
            == '\u200f1. \u2068<a href="https://x.test/0">Statement 0 on <b>torture</b></a>\u2069'
        )
        assert lines[3] == "\u200f<i>\u2068icj\u2069 · 28 مارس 2026</i>"
        assert button_texts(page) == ["المزيد ‹"]
        none = await reply_to(botapi, "/search nowhere", **ar)
        assert none.text == "\u200fلا يوجد في الأرشيف ما يطابق \u2068<code>nowhere</code>\u2069."


def iso(text: str) -> str:
    """A value isolated inside a right-to-left sentence (FSI … PDI)."""
    return f"\u2068{text}\u2069"


BAD_QUERIES = (
    "/search x feed:nope",
    "/search OR torture",
    "/search torture since:2026-02-30",
    "/search <b>torture</b> feed:<i>x</i>",
)
SEARCH_REASONS = {
    "fr": tuple(
        "Impossible de lire cette recherche : " + reason
        for reason in (
            "source inconnue : <code>nope</code> ; les sources sont : "
            "<code>icj</code>, <code>ohchr</code>",
            "OR doit se trouver entre deux mots ou expressions",
            "<code>since:2026-02-30</code> n’est pas une date qui existe",
            "<code>feed:&lt;i&gt;x&lt;/i&gt;</code> n’est pas un identifiant de source "
            "(voir /topics ou feeds.yaml)",
        )
    ),
    "nl": tuple(
        "Deze zoekopdracht is niet te lezen: " + reason
        for reason in (
            "onbekende bron <code>nope</code>; de bronnen zijn: "
            "<code>icj</code>, <code>ohchr</code>",
            "OR moet tussen twee woorden of woordgroepen staan",
            "<code>since:2026-02-30</code> is geen bestaande datum",
            "<code>feed:&lt;i&gt;x&lt;/i&gt;</code> is geen bron-id (zie /topics of feeds.yaml)",
        )
    ),
    "ar": tuple(
        "\u200fتعذّرت قراءة هذا البحث: " + iso(reason)
        for reason in (
            "مصدر غير معروف: "
            + iso("<code>nope</code>")
            + "؛ المصادر هي: "
            + iso(iso("<code>icj</code>") + "، " + iso("<code>ohchr</code>")),
            "يجب أن تقع OR بين كلمتين أو عبارتين",
            iso("<code>since:2026-02-30</code>") + " ليس تاريخًا صحيحًا",
            iso("<code>feed:&lt;i&gt;x&lt;/i&gt;</code>")
            + " ليس معرّف مصدر (راجع /topics أو feeds.yaml)",
        )
    ),
}


@pytest.mark.parametrize("lang", sorted(SEARCH_REASONS))
@pytest.mark.usefixtures("database")
async def test_an_unreadable_search_gets_the_reason_in_the_chats_language(
    tmp_path: Path, botapi: BotApiServer, lang: str
) -> None:
    """A French, Dutch or Arabic chat sending an unknown feed:, OR first, an impossible since:
    date or markup gets the parser's reason in its language, the user's text escaped in <code>."""
    host = make_host(tmp_path)
    archive_statements(host, 1)
    chat = {"language_code": lang, "user_id": 993, "chat_id": 993}
    async with running(botapi, host):
        replies = [await reply_to(botapi, text, **chat) for text in BAD_QUERIES]
    assert tuple(reply.text for reply in replies) == SEARCH_REASONS[lang]
    assert all(reply.parse_mode == "HTML" for reply in replies)
