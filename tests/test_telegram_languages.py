"""The bot in English, French, Dutch and Arabic, end to end through the real PTB client.

A chat's language comes from the sender's Telegram ``language_code`` until the chat chooses one
with /lang (an argument or a button); it is stored with the chat. The commands menu is set per
language. Arabic replies read right to left with Latin names isolated inside them. /topics
toggles topics in place: one edit per press, never a new message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.i18n.catalog import FSI, PDI, RLM
from bot.store import subs
from bot.store.db import connect, transaction
from tests.reliability.test_users_F import many_topics_config
from tests.servers.botapi import BotApiServer
from tests.test_i18n import first_strong
from tests.test_telegram_commands import (
    GROUP,
    USER,
    Current,
    LiveHost,
    make_host,
    reply_to,
    running,
    subscriptions,
    wait_for_calls,
)


def stored_language(host: LiveHost, chat: int) -> str | None:
    """The language stored for the chat (None when the chat is not stored)."""
    prefs = subs.prefs_of(host.conn, str(chat))
    return prefs.language if prefs else None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "<b>Vigil</b> surveille les déclarations publiques de 2 sources"),
        ("nl-BE", "<b>Vigil</b> volgt de openbare verklaringen van 2 bronnen"),
        ("ar", "يتابع <b>Vigil</b> البيانات العلنية الصادرة عن مصدرين"),
        ("de", "<b>Vigil</b> watches the public statements of 2 sources"),
        (None, "<b>Vigil</b> watches the public statements of 2 sources"),
    ],
    ids=["fr", "nl-BE", "ar", "unknown-de", "none"],
)
async def test_first_contact_speaks_the_users_language(
    tmp_path: Path, botapi: BotApiServer, code: str | None, expected: str
) -> None:
    """/start answers in the sender's language_code; an unknown one gets English."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/start", language_code=code)
        assert stored_language(host, USER) is None  # /start stores nothing
    assert expected in reply.text


async def test_language_is_kept_with_the_chat(tmp_path: Path, botapi: BotApiServer) -> None:
    """A chat stored on first contact keeps that language, whatever the client says later."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        first = await reply_to(botapi, "/subscribe caesar", language_code="fr")
        later = await reply_to(botapi, "/list", language_code="en")
        assert stored_language(host, USER) == "fr"
    assert "Cette discussion suit désormais <b>Caesar Act</b>." in first.text
    assert "<b>Cette discussion suit</b>" in later.text


async def test_lang_command_switches_to_arabic(tmp_path: Path, botapi: BotApiServer) -> None:
    """/lang ar stores Arabic, answers in it, sets the chat's menu in it; later replies follow."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        switched = await reply_to(botapi, "/lang ar", language_code="en")
        listed = await reply_to(botapi, "/list")
        helped = await reply_to(botapi, "/help")
        await wait_for_calls(botapi, "setMyCommands", 7)
        menu = botapi.commands_menu(chat_id=USER)
        assert stored_language(host, USER) == "ar"
    assert "سيستخدم Vigil من الآن هذه اللغة في هذه المحادثة" in switched.text
    assert "العربية" in switched.text
    assert "<b>ما تتابعه هذه المحادثة</b>" in listed.text
    for reply in (switched, listed, helped):
        lines = [line for line in reply.text.split("\n") if line.strip()]
        assert all(line.startswith(RLM) for line in lines)
        assert {first_strong(line) for line in lines} == {"R"}
    assert f"{FSI}/subscribe TOPIC|all{PDI} — متابعة موضوع" in helped.text
    assert {"command": "lang", "description": "لغة البوت"} in menu
    assert not any(c["command"] == "status" for c in menu)


async def test_bad_lang_argument_changes_nothing(tmp_path: Path, botapi: BotApiServer) -> None:
    """/lang xx answers in the chat's language with the four choices, and stores nothing."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/lang <b>de</b>", language_code="fr")
        assert stored_language(host, USER) is None
    assert reply.text.startswith("Langue inconnue : <code>&lt;b&gt;de&lt;/b&gt;</code>.")
    assert "<code>en</code>, <code>fr</code>, <code>nl</code>, <code>ar</code>" in reply.text
    buttons = [b["callback_data"] for row in reply.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["lang:en", "lang:fr", "lang:nl", "lang:ar"]


async def test_language_button_edits_the_message(tmp_path: Path, botapi: BotApiServer) -> None:
    """Pressing «Nederlands» stores Dutch and rewrites the /lang message in Dutch, in place."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        shown = await reply_to(botapi, "/lang")
        sent_before = len(botapi.messages)
        botapi.callback("lang:nl", message_id=shown.message_id)
        edits = await wait_for_calls(botapi, "editMessageText")
        answers = await wait_for_calls(botapi, "answerCallbackQuery")
        assert stored_language(host, USER) == "nl"
        assert len(botapi.messages) == sent_before
    assert "This chat reads Vigil in <b>English</b>." in shown.text
    assert edits[0].params["text"].startswith("Taal van Vigil in deze chat: <b>Nederlands</b>.")
    assert int(edits[0].params["message_id"]) == shown.message_id
    assert answers[0].params["text"] == "Nederlands"
    labels = [b["text"] for row in edits[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert "✓ Nederlands" in labels


async def test_group_language_needs_a_group_admin(tmp_path: Path, botapi: BotApiServer) -> None:
    """In a group only its admins choose the language; the refusal is in the sender's language."""
    host = make_host(tmp_path)
    botapi.set_chat_admins(GROUP, [555])
    async with running(botapi, host):
        refused = await reply_to(
            botapi, "/lang fr", chat_id=GROUP, chat_type="group", language_code="nl"
        )
        allowed = await reply_to(botapi, "/lang fr", chat_id=GROUP, chat_type="group", user_id=555)
        assert stored_language(host, GROUP) == "fr"
    assert refused.text == (
        "Alleen de beheerders van deze groep kunnen wijzigen wat Vigil hier stuurt."
    )
    assert "Vigil utilise désormais cette langue" in allowed.text


async def test_menus_are_set_per_language(tmp_path: Path, botapi: BotApiServer) -> None:
    """At start the menu is set for no language (English) and for en, fr, nl and ar."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        await wait_for_calls(botapi, "setMyCommands", 6)
        menus = {code: botapi.commands_menu(language_code=code) for code in ("", "fr", "nl", "ar")}
        admin = botapi.commands_menu(chat_id=1001)
    described = {code: {c["command"]: c["description"] for c in m} for code, m in menus.items()}
    assert described[""]["subscribe"] == "follow a topic"
    assert described["fr"]["subscribe"] == "suivre un thème"
    assert described["nl"]["subscribe"] == "een onderwerp volgen"
    assert described["ar"]["subscribe"] == "متابعة موضوع"
    assert all("status" not in d for d in described.values())
    assert {"command": "status", "description": "feed health and outbox backlog"} in admin


async def test_topics_toggle_edits_in_place(tmp_path: Path, botapi: BotApiServer) -> None:
    """/topics buttons toggle a topic; each press edits that message's text and keyboard."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        shown = await reply_to(botapi, "/topics", language_code="fr")
        sent_before = len(botapi.messages)
        botapi.callback("tog:caesar", message_id=shown.message_id, language_code="fr")
        first = (await wait_for_calls(botapi, "editMessageText", 1))[0]
        assert subscriptions(host, USER) == ["caesar"]
        botapi.callback("tog:caesar", message_id=shown.message_id, language_code="fr")
        second = (await wait_for_calls(botapi, "editMessageText", 2))[1]
        assert subscriptions(host, USER) == []
        botapi.callback("tog:*", message_id=shown.message_id, language_code="fr")
        third = (await wait_for_calls(botapi, "editMessageText", 3))[2]
        assert subscriptions(host, USER) == ["caesar", "cat"]
        answers = await wait_for_calls(botapi, "answerCallbackQuery", 3)
        assert len(botapi.messages) == sent_before
    assert "<b>Thèmes</b> (✓ = suivi par cette discussion)" in shown.text
    buttons = [b["callback_data"] for row in shown.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["tog:cat", "tog:caesar", "tog:*"]
    assert "✓ <b>Caesar Act</b>" in first.params["text"]
    assert "✓" not in second.params["text"].split("\n", 1)[1]
    assert third.params["text"].count("✓ <b>") == 2
    assert [a.params["text"] for a in answers] == [
        "Thème suivi : Caesar Act",
        "Thème quitté : Caesar Act",
        "Tous les thèmes sont suivis",
    ]


async def test_toggle_to_leave_needs_only_the_change_right(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """With subscriptions closed, a subscribed chat can still leave a topic by its button."""
    host = make_host(tmp_path, mode="closed")
    with transaction(host.conn):
        subs.ensure_chat(host.conn, str(USER), "private", "", 0.0)
        subs.subscribe(host.conn, str(USER), ["cat"], 0.0)
    async with running(botapi, host):
        shown = await reply_to(botapi, "/topics")
        botapi.callback("tog:caesar", message_id=shown.message_id)
        refused = (await wait_for_calls(botapi, "answerCallbackQuery", 1))[0]
        botapi.callback("tog:cat", message_id=shown.message_id)
        left = (await wait_for_calls(botapi, "answerCallbackQuery", 2))[1]
        assert subscriptions(host, USER) == []
    assert (
        refused.params["text"] == "Subscriptions are closed on this Vigil. Ask its administrators."
    )
    assert left.params["text"] == "Unsubscribed from Convention Against Torture"


async def test_toggle_on_a_split_listing_redraws_only_the_keyboard(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """300 topics: /topics spans several messages, so a press edits only the keyboard."""
    host = LiveHost(connect(tmp_path / "state"), Current(parse_config(many_topics_config(300))))
    async with running(botapi, host):
        botapi.command("/topics")
        await botapi.wait_for_messages(2, chat_id=USER, timeout=30)
        deadline = asyncio.get_running_loop().time() + 30
        while "t299<" not in botapi.replies_to(USER)[-1].text:  # later parts are paced
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        last = botapi.replies_to(USER)[-1]
        assert last.reply_markup is not None
        botapi.callback("tog:t7", message_id=last.message_id)
        edits = await wait_for_calls(botapi, "editMessageReplyMarkup")
        assert subscriptions(host, USER) == ["t7"]
    assert not [c for c in botapi.calls if c.method == "editMessageText"]
    labels = [b["text"] for row in edits[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[7].startswith("✓ Topic number 7")
