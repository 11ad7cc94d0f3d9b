"""What the bot does when it is added to, removed from or blocked in a chat.

Rules: blocked or removed, the chat is deactivated like a 403 on delivery; added to a group or
channel it was not allowed into (RELIABILITY F6), the bot leaves at once. A chat the bot may
stay in is stored in the language of whoever added it (their Telegram ``language_code``; /lang
changes it).
"""

from __future__ import annotations

import logging

from telegram import Bot, ChatMember, ChatMemberUpdated
from telegram.error import TelegramError

from bot.i18n import pick_language
from bot.logs import redact
from bot.store import subs
from bot.store.db import transaction
from bot.telegram import access
from bot.telegram.host import Host

log = logging.getLogger("vigil.telegram")

_GONE_STATUSES = frozenset({ChatMember.LEFT, ChatMember.BANNED})
_PRESENT_STATUSES = frozenset(
    {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}
)


async def on_change(host: Host, bot: Bot, change: ChatMemberUpdated, now: float) -> None:
    """Deactivates a chat the bot left; leaves a chat it was added to by someone who may not."""
    chat = change.chat
    old, new = change.old_chat_member.status, change.new_chat_member.status
    key = str(chat.id)
    if new in _GONE_STATUSES:
        with transaction(host.conn):
            subs.deactivate(host.conn, key, f"bot {new} in the chat")
        log.info("removed from a chat or blocked; chat deactivated", extra={"chat_id": key})
        return
    if chat.type not in access.SHARED_KINDS or old not in _GONE_STATUSES:
        return
    if new not in _PRESENT_STATUSES:
        return
    config = host.runtime.config
    adder = access.actor_of(change.from_user.id, None, chat.id)
    if access.may_stay(config, chat.id, chat.username, adder):
        lang = pick_language(change.from_user.language_code)
        with transaction(host.conn):
            subs.ensure_chat(host.conn, key, chat.type, chat.title or "", now, lang)
        log.info("added to a %s by user %d", chat.type, adder.user_id, extra={"chat_id": key})
        return
    log.warning(
        "added to a %s by user %s, who may not; leaving",
        chat.type,
        change.from_user.id,
        extra={"chat_id": key},
    )
    try:
        await bot.leave_chat(chat.id)
    except TelegramError as exc:
        log.warning("leaveChat failed: %s", redact(str(exc), (bot.token,)), extra={"chat_id": key})
