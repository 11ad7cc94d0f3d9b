"""The one access check every command and button passes before a handler runs.

Rules: a per-actor rate limit first (ignored beyond it, one "slow down" per window), then the
need of the command — anyone, a Vigil admin, or (in a group or channel) an admin of that chat,
asked of Telegram and cached; subscribing also follows `telegram.subscriptions`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

from bot.config import Config
from bot.logs import redact
from bot.telegram import access, replies
from bot.telegram.request import Need

log = logging.getLogger("vigil.telegram")

_ADMIN_STATUSES = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR})


class Gate:
    """Rate limits and admin checks for one bot."""

    def __init__(self, bot: Bot, limiter: access.RateLimiter, clock: Callable[[], float]) -> None:
        self.bot = bot
        self.limiter = limiter
        self.admins = access.AdminCache(clock=clock)

    def _redact(self, text: str) -> str:
        return redact(text, (self.bot.token,))

    async def authorize(
        self, need: Need, config: Config, actor: access.Actor, chat_id: int, chat_kind: str
    ) -> str | None:
        """The refusal (a catalog id) to show, or None when the actor may do this. The one check."""
        admin = access.is_admin(config.telegram, actor)
        if need is Need.ADMIN:
            return None if admin else replies.ADMIN_ONLY
        if need is Need.ANYONE:
            return None
        shared = chat_kind in access.SHARED_KINDS
        if shared and not admin and not await self._is_chat_admin(chat_id, actor):
            return replies.GROUP_ADMIN_ONLY
        if need is Need.SUBSCRIBE and not access.may_subscribe(config.telegram, actor, chat_id):
            closed = config.telegram.subscriptions == "closed"
            return replies.SUBSCRIPTIONS_CLOSED if closed else replies.NOT_ALLOWED
        return None

    async def _is_chat_admin(self, chat_id: int, actor: access.Actor) -> bool:
        if actor.anonymous_admin:
            return True
        if actor.user_id is None:
            return False
        cached = self.admins.get(chat_id, actor.user_id)
        if cached is not None:
            return cached
        try:
            member = await self.bot.get_chat_member(chat_id, actor.user_id)
        except TelegramError as exc:
            log.info("getChatMember failed: %s", self._redact(str(exc)), extra={"chat_id": chat_id})
            return False
        is_admin = member.status in _ADMIN_STATUSES
        self.admins.put(chat_id, actor.user_id, is_admin)
        return is_admin

    def throttled(self, actor: access.Actor) -> tuple[bool, bool]:
        """(refused, warn): whether to ignore this action and whether to say so."""
        if self.limiter.allow(actor.rate_key):
            return False, False
        return True, self.limiter.should_warn(actor.rate_key)
