"""`/digest`, `/quiet`, `/timezone` and `/list` through the real PTB client and the test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import prefs
from tests.servers.botapi import BotApiServer
from tests.test_telegram_commands import GROUP, make_host, reply_to, running

USER = 777


def iso(text: str) -> str:
    """A value isolated inside Arabic text (FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE)."""
    return f"\u2068{text}\u2069"


async def test_digest_quiet_timezone_then_list(tmp_path: Path, botapi: BotApiServer) -> None:
    """Each setting is stored, scheduled and shown by /list; off clears the schedule."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        zone = await reply_to(botapi, "/timezone Europe/Amsterdam")
        digest = await reply_to(botapi, "/digest weekly mon 08:00")
        quiet = await reply_to(botapi, "/quiet 22:00-07:00")
        listed = await reply_to(botapi, "/list")
        assert "Time zone Europe/Amsterdam" in zone.text
        assert "Digest every Monday at 08:00 (Europe/Amsterdam); the next one Mon" in digest.text
        assert "Quiet hours from 22:00 to 07:00 (Europe/Amsterdam)" in quiet.text
        assert "Digest: every Monday at 08:00" in listed.text
        assert "Quiet hours: from 22:00 to 07:00" in listed.text
        assert "Time zone: Europe/Amsterdam" in listed.text
        assert str(USER) in prefs.scheduled(host.conn)
        off = await reply_to(botapi, "/digest off")
        assert "Digest off" in off.text
        assert prefs.scheduled(host.conn) == {}
        assert prefs.get(host.conn, str(USER)) == prefs.ChatPrefs(
            "", "22:00-07:00", "Europe/Amsterdam"
        )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/digest hourly", "Usage: <code>/digest off</code>"),
        ("/digest", "Digest: off (each alert at once)"),
        ("/quiet 22-7", "Usage: <code>/quiet 22:00-07:00</code>"),
        ("/timezone Mars/Olympus", "unknown time zone"),
        ("/timezone", "Time zone: UTC"),
    ],
)
async def test_bad_or_missing_arguments_change_nothing(
    tmp_path: Path, botapi: BotApiServer, text: str, says: str
) -> None:
    """A bad argument gets the usage; nothing is stored."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        assert says in reply.text.replace("\u200f", "")
        assert prefs.get(host.conn, str(USER)) == prefs.ChatPrefs()


async def test_group_members_cannot_change_delivery(tmp_path: Path, botapi: BotApiServer) -> None:
    """In a group only its administrators choose the digest."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/digest daily 08:00", chat_type="group", chat_id=GROUP)
        assert "administrators" in reply.text
        assert prefs.scheduled(host.conn) == {}


async def test_digest_and_quiet_answer_in_french_and_arabic(
    tmp_path: Path, botapi: BotApiServer
) -> None:
    """/digest and /quiet confirm in the chat's language, with CLDR day names; in Arabic each
    line reads right to left and the Latin zone name is isolated."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        fr = {"language_code": "fr", "user_id": 881, "chat_id": 881}
        await reply_to(botapi, "/timezone Europe/Paris", **fr)
        digest = await reply_to(botapi, "/digest weekly mon 08:00", **fr)
        quiet = await reply_to(botapi, "/quiet 22:00-07:00", **fr)
        usage = await reply_to(botapi, "/quiet 22-7", **fr)
        assert digest.text.startswith(
            "Récapitulatif chaque lundi à 08:00 (Europe/Paris) ; le prochain : lun. "
        )
        assert digest.text.endswith("Les thèmes urgents arrivent toujours aussitôt.")
        assert quiet.text == (
            "Heures calmes de 22:00 à 07:00 (Europe/Paris) : les alertes trouvées pendant ces "
            "heures arrivent à leur fin. Les thèmes urgents arrivent toujours aussitôt."
        )
        assert (
            "Utilisation : <code>/quiet 22:00-07:00</code> ou <code>/quiet off</code> — "
            "les alertes trouvées pendant ces heures arrivent à leur fin"
        ) in usage.text

        ar = {"language_code": "ar", "user_id": 882, "chat_id": 882}
        await reply_to(botapi, "/timezone Asia/Damascus", **ar)
        digest = await reply_to(botapi, "/digest daily 08:00", **ar)
        quiet = await reply_to(botapi, "/quiet 22:00-07:00", **ar)
        zone = iso("Asia/Damascus")
        daily = iso(f"كل يوم الساعة {iso('08:00')}")
        hours = iso(f"من {iso('22:00')} إلى {iso('07:00')}")
        assert digest.text.startswith(f"\u200fالملخص {daily} ({zone})، والملخص التالي: ")
        assert digest.text.endswith("تصل المواضيع العاجلة فورًا في كل الأحوال.")
        assert quiet.text == (
            f"\u200fساعات الهدوء {hours} ({zone}): تصل التنبيهات "
            "المرصودة خلالها عند انتهائها. تصل المواضيع العاجلة فورًا في كل الأحوال."
        )
        listed = await reply_to(botapi, "/list", **ar)
        assert f"\u200fالملخص: {daily}" in listed.text


REASONS = {
    "fr": (
        "Jour inconnu : <code>&lt;b&gt;xyz&lt;/b&gt;</code> ; utilisez <code>mon</code>, "
        "<code>tue</code>, <code>wed</code>, <code>thu</code>, <code>fri</code>, <code>sat</code> "
        "ou <code>sun</code>",
        "<code>22-7</code> n'est pas une plage d'heures calmes ; écrivez "
        "<code>HH:MM-HH:MM</code> (par ex. <code>22:00-07:00</code>) ou <code>off</code>",
        "Fuseau horaire inconnu : <code>Mars/Olympus</code> ; utilisez un nom IANA comme "
        "<code>Europe/Amsterdam</code>",
    ),
    "nl": (
        "Onbekende dag: <code>&lt;b&gt;xyz&lt;/b&gt;</code>; gebruik <code>mon</code>, "
        "<code>tue</code>, <code>wed</code>, <code>thu</code>, <code>fri</code>, <code>sat</code> "
        "of <code>sun</code>",
        "<code>22-7</code> zijn geen stille uren; schrijf <code>HH:MM-HH:MM</code> "
        "(bijv. <code>22:00-07:00</code>) of <code>off</code>",
        "Onbekende tijdzone: <code>Mars/Olympus</code>; gebruik een IANA-naam zoals "
        "<code>Europe/Amsterdam</code>",
    ),
    "ar": (
        "\u200fيوم غير معروف: "
        + iso("<code>&lt;b&gt;xyz&lt;/b&gt;</code>")
        + "؛ استخدم "
        + iso(
            iso(
                "، ".join(
                    iso(f"<code>{d}</code>") for d in ("mon", "tue", "wed", "thu", "fri", "sat")
                )
            )
            + " أو "
            + iso("<code>sun</code>")
        ),
        f"\u200f{iso('<code>22-7</code>')} ليست ساعات هدوء صالحة؛ اكتب "
        f"{iso('<code>HH:MM-HH:MM</code>')} (مثلًا {iso('<code>22:00-07:00</code>')}) "
        f"أو {iso('<code>off</code>')}",
        f"\u200fمنطقة زمنية غير معروفة: {iso('<code>Mars/Olympus</code>')}؛ استخدم اسمًا وفق "
        f"قاعدة IANA مثل {iso('<code>Europe/Amsterdam</code>')}",
    ),
}


@pytest.mark.parametrize("lang", sorted(REASONS))
async def test_a_bad_argument_gets_the_reason_in_the_chats_language(
    tmp_path: Path, botapi: BotApiServer, lang: str
) -> None:
    """After /lang, a bad /digest, /quiet or /timezone names what is wrong in that language,
    the user's text escaped and in <code>, then the usage; nothing is stored."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        await reply_to(botapi, f"/lang {lang}", language_code="en")
        replies = [
            await reply_to(botapi, text, language_code="en")
            for text in ("/digest weekly <b>xyz</b> 08:00", "/quiet 22-7", "/timezone Mars/Olympus")
        ]
        assert prefs.get(host.conn, str(USER)) == prefs.ChatPrefs()
    reasons = [reply.text.split("\n")[0] for reply in replies]
    assert reasons == list(REASONS[lang])
    assert all(len(reply.text.split("\n")) == 2 for reply in replies)  # the reason, the usage
