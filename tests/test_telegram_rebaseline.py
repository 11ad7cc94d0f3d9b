"""Accepting a page source's new layout from Telegram: /rebaseline ID and the notice's button.

End to end: a real listing served from 127.0.0.1 (tests/servers/feeds.py) polled by the real
poller into a real SQLite file, the real front end answering through the real PTB client against
the Bot API test server, and the real admin notices sent through that front end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import parse_config
from bot.i18n import translator
from bot.model import ErrorKind, Outcome
from bot.store import feeds as feed_rows
from bot.store import subs
from bot.store.db import connect, transaction
from bot.store.rebaseline import Acceptance, Verdict, accept_layout, judge
from bot.telegram import keyboards, replies
from bot.telegram.layout import acceptance_text
from bot.telegram.notices import AdminNotices
from bot.telegram.request import language_of
from tests.conftest import make_config
from tests.pages.listings import drupal_views
from tests.servers.botapi import BotApiServer
from tests.servers.feeds import FeedServer
from tests.test_page_sources import CAT, HTML, PageRig, listing
from tests.test_telegram_commands import (
    ADMIN,
    USER,
    Current,
    LiveHost,
    reply_to,
    running,
    wait_for_calls,
)

TELEGRAM = """
telegram:
  admins: [1001]
channels:
  - chat: "-100"
"""


def config_text(server: FeedServer, *, with_page: bool = True) -> str:
    """Page source `a` (automatic mode) on the local server, admin 1001, one channel."""
    url = server.url("/list")
    feeds = {"a": url} if with_page else {}
    text = make_config({**feeds, "b": server.url("/b.xml")}, TELEGRAM)
    return text.replace(f"url: {url}", f"url: {url}\n    page: auto")


def moved(n: int) -> bytes:
    """A listing of n rows whose links all left the old pattern (a layout change)."""
    page, _ = drupal_views(n, titles=CAT)
    return page.replace("/en/press-releases/2024/", "/node/").encode()


async def held_rig(tmp_path: Path, server: FeedServer) -> tuple[LiveHost, PageRig]:
    """A host and poller sharing one state: source `a` baselined, then held for its layout."""
    config = parse_config(config_text(server))
    host = LiveHost(connect(tmp_path / "state"), Current(config))
    rig = PageRig(host.conn, config)
    server.set("/list", listing(6), content_type=HTML)
    assert (await rig.poll()).outcome is Outcome.OK
    server.set("/list", moved(6), content_type=HTML)
    held = await rig.poll()
    assert held.error_kind is ErrorKind.LAYOUT_CHANGED
    return host, rig


def answers(server: BotApiServer) -> list[str]:
    """The texts of every answerCallbackQuery so far."""
    return [c.params.get("text", "") for c in server.calls if c.method == "answerCallbackQuery"]


async def press(server: BotApiServer, data: str, n: int, **options: Any) -> str:
    """Presses a button and returns the answer (the n-th answerCallbackQuery)."""
    server.callback(data, **options)
    await wait_for_calls(server, "answerCallbackQuery", n)
    return answers(server)[n - 1]


# ---------------------------------------------------------------- /rebaseline


async def test_admin_rebaseline_accepts_the_new_layout_then_alerts_resume(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer
) -> None:
    """/rebaseline a from an admin marks the row; the next poll of the changed listing alerts
    nothing and stores its entries; a new entry after that alerts once."""
    host, rig = await held_rig(tmp_path, feed_server)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/rebaseline a", user_id=ADMIN)
        assert rig.row().rebaseline
        assert reply.text.startswith("Accepted: the next poll of <code>a</code> (in ")
        assert "every 1m" in reply.text and "without alerting" in reply.text
        accepted = await rig.poll()
        assert accepted.outcome is Outcome.OK and accepted.alerts == ()
        assert accepted.new_items == 6 and not rig.row().rebaseline
        feed_server.set("/list", moved(7), content_type=HTML)
        after = await rig.poll()
        assert after.outcome is Outcome.OK and len(after.alerts) == 1
        again = await reply_to(botapi, "/rebaseline a", user_id=ADMIN)
        assert again.text.startswith("Accepted:")  # a command works on any known source
        await rig.close()


async def test_rebaseline_is_for_admins_only_and_listed_for_them(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer
) -> None:
    """A non-admin's /rebaseline is refused and marks nothing; /help and the admin's command
    menu list it, a user's do not."""
    host, rig = await held_rig(tmp_path, feed_server)
    async with running(botapi, host):
        refused = await reply_to(botapi, "/rebaseline a", user_id=USER)
        assert refused.text == replies.ADMIN_ONLY and not rig.row().rebaseline
        user_help = await reply_to(botapi, "/help", user_id=USER)
        admin_help = await reply_to(botapi, "/help", user_id=ADMIN)
        await rig.close()
    assert "/rebaseline" not in user_help.text and "/rebaseline ID" in admin_help.text
    menus = [c.params for c in botapi.calls if c.method == "setMyCommands"]
    admin_menu = next(m for m in menus if m.get("scope", {}).get("chat_id") == ADMIN)
    assert "rebaseline" in {c["command"] for c in admin_menu["commands"]}
    assert all(
        "rebaseline" not in {c["command"] for c in m["commands"]} for m in menus if "scope" not in m
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/rebaseline nope", "Vigil has no source <code>nope</code>; /status shows the sources"),
        ("/rebaseline <b>x</b>", "Vigil has no source <code>&lt;b&gt;x&lt;/b&gt;</code>"),
        ("/rebaseline", "Usage: /rebaseline ID — after Vigil held"),
        ("/rebaseline a b", "Usage: /rebaseline ID"),
    ],
    ids=["unknown", "markup", "missing", "two"],
)
async def test_rebaseline_bad_arguments(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer, text: str, expected: str
) -> None:
    """Unknown ids are named (escaped) and no source is listed; bad usage changes nothing."""
    host, rig = await held_rig(tmp_path, feed_server)
    async with running(botapi, host):
        reply = await reply_to(botapi, text, user_id=ADMIN)
        assert not rig.row().rebaseline
        await rig.close()
    assert reply.text.startswith(expected)
    assert "<code>a</code>" not in reply.text and "<code>b</code>" not in reply.text


@pytest.mark.parametrize("first_run", ["default", "all"])
async def test_rebaseline_of_a_source_never_polled(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer, first_run: str
) -> None:
    """A source that never polled: its first poll is a baseline, even under first_run: all."""
    text = config_text(feed_server)
    if first_run != "default":
        text = text.replace("settings:\n", f"settings:\n  first_run: {first_run}\n", 1)
    config = parse_config(text)
    assert config.settings.first_run.mode == ("baseline" if first_run == "default" else first_run)
    host = LiveHost(connect(tmp_path / "state"), Current(config))
    rig = PageRig(host.conn, config)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/rebaseline a", user_id=ADMIN)
        feed_server.set("/list", listing(3, CAT[0]), content_type=HTML)
        first = await rig.poll()
        await rig.close()
    assert reply.text == (
        "Source <code>a</code> has not been polled yet; its first poll is a baseline anyway."
    )
    assert first.outcome is Outcome.OK and first.alerts == () and first.baselined == 3


async def test_rebaseline_before_the_state_knows_the_source(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A source just added to feeds.yaml (no row yet) under first_run: all: a baseline anyway."""
    text = config_text(feed_server).replace("settings:\n", "settings:\n  first_run: all\n", 1)
    config = parse_config(text)
    conn = connect(tmp_path / "state")
    accepted = accept_layout(conn, {f.id: f.url for f in config.feeds}, "a")
    assert accepted.verdict is Verdict.NEVER_POLLED
    rig = PageRig(conn, config)
    feed_server.set("/list", listing(3, CAT[0]), content_type=HTML)
    first = await rig.poll()
    await rig.close()
    assert first.outcome is Outcome.OK and first.alerts == () and first.baselined == 3


# ---------------------------------------------------------------- the notice's button


async def test_accept_button_under_the_notice(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer
) -> None:
    """The layout notice carries the button; a non-admin's press is refused, the admin's press
    marks the feed and removes the button, a double press and a stale button change nothing
    and say why."""
    host, rig = await held_rig(tmp_path, feed_server)
    async with running(botapi, host) as frontend:
        notices = AdminNotices(
            host.conn,
            lambda chat, text, markup: frontend.send(chat, text, markup),
            lambda: (ADMIN,),
        )
        notices.observe_poll(await rig.poll())  # still held: the notice is told
        await notices.drain()
        notice = (await botapi.wait_for_messages(1, chat_id=ADMIN, timeout=15))[0]
        assert "/rebaseline a" in notice.text and "vigil rebaseline a" in notice.text
        keyboard = (notice.reply_markup or {})["inline_keyboard"]
        assert keyboard == [[{"text": "Accept the new layout", "callback_data": "rebase:a"}]]

        at = {"message_id": notice.message_id, "chat_id": ADMIN}
        refused = await press(botapi, "rebase:a", 1, user_id=USER, **at)
        assert refused == replies.ADMIN_ONLY and not rig.row().rebaseline
        done = await press(botapi, "rebase:a", 2, user_id=ADMIN, **at)
        assert done.startswith("Accepted: the next poll of a (in ") and rig.row().rebaseline
        edits = await wait_for_calls(botapi, "editMessageReplyMarkup")
        assert not edits[0].params.get("reply_markup", {}).get("inline_keyboard")
        double = await press(botapi, "rebase:a", 3, user_id=ADMIN, **at)
        assert double.startswith("Already accepted: the next poll of a")
        assert (await rig.poll()).outcome is Outcome.OK  # the silent baseline
        stale = await press(botapi, "rebase:a", 4, user_id=ADMIN, **at)
        assert stale == (
            "Source a is no longer held for a layout change; there is nothing to accept."
        )
        assert not rig.row().rebaseline
        host.runtime.config = parse_config(config_text(feed_server, with_page=False))
        removed = await press(botapi, "rebase:a", 5, user_id=ADMIN, **at)
        assert removed.startswith("Vigil has no source a;")
        forged = await press(botapi, "rebase:../A", 6, user_id=ADMIN, **at)
        assert forged == replies.OUT_OF_DATE
        await rig.close()
    assert all(len(text) <= 200 for text in answers(botapi))


async def test_french_admin_gets_french(
    tmp_path: Path, botapi: BotApiServer, feed_server: FeedServer
) -> None:
    """An admin who chose French gets the notice, its button, the press's answer and the
    /rebaseline reply in French."""
    host, rig = await held_rig(tmp_path, feed_server)
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(ADMIN), "private", "", 1.0, "fr")
    async with running(botapi, host) as frontend:
        notices = AdminNotices(
            host.conn,
            lambda chat, text, markup: frontend.send(chat, text, markup),
            lambda: (ADMIN,),
            lambda admin: language_of(host.conn, admin),
        )
        notices.observe_poll(await rig.poll())
        await notices.drain()
        notice = (await botapi.wait_for_messages(1, chat_id=ADMIN, timeout=15))[0]
        assert notice.text.startswith("Vigil : la page de la source a a changé de mise en page")
        button = (notice.reply_markup or {})["inline_keyboard"][0][0]
        assert button["text"] == "Accepter la nouvelle mise en page"
        at = {"message_id": notice.message_id, "chat_id": ADMIN}
        answer = await press(botapi, "rebase:a", 1, user_id=ADMIN, **at)
        assert answer.startswith("Acceptée : la prochaine interrogation de a (dans ")
        reply = await reply_to(botapi, "/rebaseline a", user_id=ADMIN)
        assert reply.text.startswith("Déjà acceptée : la prochaine interrogation de <code>a")
        assert "toutes les 1 min" in reply.text
        await rig.close()


# ---------------------------------------------------------------- pure parts


def row(**changes: Any) -> feed_rows.FeedRow:
    """A feed row that was baselined and is held for a layout change."""
    base: dict[str, Any] = {
        "feed_id": "a",
        "url": "https://example.org/list",
        "title": None,
        "etag": None,
        "last_modified": None,
        "baselined": True,
        "next_poll_at": 100.0,
        "last_poll_at": 40.0,
        "last_success_at": 10.0,
        "last_error_at": 40.0,
        "last_error_kind": "layout_changed",
        "last_error": "moved",
        "consecutive_errors": 2,
        "polls": 3,
        "failures": 2,
        "items_seen": 6,
        "alerts_queued": 0,
    }
    base.update(changes)
    return feed_rows.FeedRow(**base)


@pytest.mark.parametrize(
    ("configured", "state", "held_only", "verdict"),
    [
        ((), row(), False, Verdict.UNKNOWN),
        (("a",), None, False, Verdict.NEVER_POLLED),
        (("a",), row(baselined=False), True, Verdict.NEVER_POLLED),
        (("a",), row(rebaseline=True), True, Verdict.ALREADY),
        (("a",), row(), True, Verdict.MARKED),
        (("a",), row(consecutive_errors=0), True, Verdict.NOT_HELD),
        (("a",), row(last_error_kind="blocked"), True, Verdict.NOT_HELD),
        (("a",), row(consecutive_errors=0), False, Verdict.MARKED),
    ],
)
def test_judge(
    configured: tuple[str, ...],
    state: feed_rows.FeedRow | None,
    held_only: bool,
    verdict: Verdict,
) -> None:
    """The one decision the CLI, the command and the button share."""
    assert judge(configured, "a", state, held_only=held_only) is verdict


def test_acceptance_text_says_when_the_next_poll_is() -> None:
    """Due now or in a span, with the feed's interval; plain text for a button."""
    en = translator("en")
    soon = acceptance_text("a", Acceptance(Verdict.MARKED, 700.0), 100.0, 900.0, en)
    assert "(in 10m; every 15m)" in soon and "<code>a</code>" in soon
    late = acceptance_text("a", Acceptance(Verdict.MARKED, 50.0), 100.0, 60.0, en, html=False)
    assert "of a (due now; every 1m)" in late and "<" not in late
    arabic = acceptance_text("a", Acceptance(Verdict.MARKED, 700.0), 100.0, 900.0, translator("ar"))
    assert arabic.startswith("قُبل")


def test_accept_button_data_is_bounded_and_parsed_by_feed_id_syntax() -> None:
    """rebase:<feed id> fits 64 bytes at the longest id; anything else is refused."""
    longest = "a" * 32
    markup = keyboards.accept_layout_keyboard(longest, translator("en"))
    data = markup.inline_keyboard[0][0].callback_data
    assert isinstance(data, str) and len(data.encode()) <= 64
    assert keyboards.parse_press(data, []) == keyboards.Press("rebase", feed_id=longest)
    for forged in ("rebase:", "rebase:A", "rebase:a/b", "rebase:" + "a" * 33, "rebase:a\n"):
        assert keyboards.parse_press(forged, []) is None
