"""`/digest`, `/quiet`, `/timezone` and `/list` through the real PTB client and the test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import prefs
from tests.servers.botapi import BotApiServer
from tests.test_telegram_commands import GROUP, make_host, reply_to, running

USER = 777


async def test_digest_quiet_timezone_then_list(tmp_path: Path, botapi: BotApiServer) -> None:
    """Each setting is stored, scheduled and shown by /list; off clears the schedule."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        zone = await reply_to(botapi, "/timezone Europe/Amsterdam")
        digest = await reply_to(botapi, "/digest weekly mon 08:00")
        quiet = await reply_to(botapi, "/quiet 22:00-07:00")
        listed = await reply_to(botapi, "/list")
        assert "Time zone Europe/Amsterdam" in zone.text
        assert "Digest weekly mon 08:00 (Europe/Amsterdam); the next one Mon" in digest.text
        assert "Quiet hours 22:00-07:00 (Europe/Amsterdam)" in quiet.text
        assert "Digest: weekly mon 08:00" in listed.text
        assert "Quiet hours: 22:00-07:00" in listed.text
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
        ("/digest hourly", "Usage: /digest off"),
        ("/digest", "Digest: off."),
        ("/quiet 22-7", "Usage: /quiet 22:00-07:00"),
        ("/timezone Mars/Olympus", "unknown time zone"),
        ("/timezone", "Time zone: UTC."),
    ],
)
async def test_bad_or_missing_arguments_change_nothing(
    tmp_path: Path, botapi: BotApiServer, text: str, says: str
) -> None:
    """A bad argument gets the usage; nothing is stored."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, text)
        assert says in reply.text
        assert prefs.get(host.conn, str(USER)) == prefs.ChatPrefs()


async def test_group_members_cannot_change_delivery(tmp_path: Path, botapi: BotApiServer) -> None:
    """In a group only its administrators choose the digest."""
    host = make_host(tmp_path)
    async with running(botapi, host):
        reply = await reply_to(botapi, "/digest daily 08:00", chat_type="group", chat_id=GROUP)
        assert "administrators" in reply.text
        assert prefs.scheduled(host.conn) == {}
