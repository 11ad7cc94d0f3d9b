"""`/digest`, `/quiet` and `/timezone`: how a chat receives its alerts.

Rules:
- The arguments follow :mod:`bot.config.delivery` (the grammar of the channel keys in
  feeds.yaml); a bad one gets the usage and changes nothing.
- Each change is one transaction. Choosing a digest schedules the next one at once; turning it
  off releases the alerts it held as ordinary alerts; a new time zone reschedules the digest.
- A configured channel's feeds.yaml keys win over what the chat chose; the reply says so.
- Who may change it is the gate's business (``Need.CHANGE``: in a group, its administrators).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from telegram import InlineKeyboardMarkup

from bot.config import Config
from bot.config.delivery import digest_due_after, parse_digest, parse_quiet, parse_timezone
from bot.route.when import Delivery, delivery_for
from bot.store import outbox, prefs
from bot.store.db import transaction
from bot.telegram.host import Host
from bot.telegram.replies import echo, esc

DIGEST_USAGE = (
    "Usage: /digest off, /digest daily 08:00 or /digest weekly mon 08:00 — one message with "
    "the period's statements instead of each at once (urgent topics still come at once)."
)
QUIET_USAGE = (
    "Usage: /quiet 22:00-07:00 or /quiet off — alerts matched during these hours arrive when "
    "they end (nothing is dropped; urgent topics still come at once)."
)
TIMEZONE_USAGE = "Usage: /timezone Europe/Amsterdam (an IANA time zone name)."


class ChatRequest(Protocol):
    """What these commands need of a request (:class:`bot.telegram.handlers.Request`)."""

    @property
    def host(self) -> Host: ...
    @property
    def config(self) -> Config: ...
    @property
    def chat(self) -> str: ...
    @property
    def chat_kind(self) -> str: ...
    @property
    def chat_title(self) -> str: ...
    @property
    def args(self) -> str: ...
    @property
    def now(self) -> float: ...
    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None: ...
    def store_chat(self) -> None: ...


def current(req: ChatRequest) -> Delivery:
    own = prefs.get(req.host.conn, req.chat)
    return delivery_for(req.config, req.chat, own.digest, own.quiet, own.timezone)


def _local(ts: float, delivery: Delivery) -> str:
    return datetime.fromtimestamp(ts, delivery.tz).strftime("%a %d %b %H:%M")


def summary_text(req: ChatRequest) -> str:
    """The /list lines on how this chat receives."""
    how = current(req)
    digest = f"{how.digest}" if how.digest else "off (each alert at once)"
    quiet = f"{how.quiet}" if how.quiet else "none"
    return (
        "<b>Delivery</b>\n"
        f"Digest: {esc(digest)}\nQuiet hours: {esc(quiet)}\nTime zone: {esc(how.timezone)}"
    )


def _store(req: ChatRequest, field: str, value: str) -> Delivery:
    """Saves one setting and keeps the digest schedule in step; returns the new delivery."""
    conn = req.host.conn
    with transaction(conn):
        req.store_chat()
        prefs.put(conn, req.chat, field, value)
        how = current(req)
        if how.digest is None:
            prefs.schedule(conn, req.chat, None)
            outbox.release_held(conn, req.chat, req.now)
        else:
            prefs.schedule(conn, req.chat, digest_due_after(how.digest, req.now, how.tz))
    return how


def _overridden(req: ChatRequest, key: str) -> str:
    channel = next((c for c in req.config.channels if c.chat == req.chat), None)
    if channel is not None and getattr(channel, key) is not None:
        return f"\nNote: feeds.yaml sets this chat's {key}; that setting applies."
    return ""


async def cmd_digest(req: ChatRequest) -> None:
    if not req.args:
        how = current(req)
        await req.reply(f"Digest: {esc(str(how.digest or 'off'))}.\n{esc(DIGEST_USAGE)}")
        return
    try:
        spec = parse_digest(req.args)
    except ValueError as exc:
        await req.reply(f"{echo(str(exc), 200)}\n{esc(DIGEST_USAGE)}")
        return
    how = _store(req, "digest", str(spec) if spec else "")
    if spec is None:
        text = "Digest off: each alert arrives at once."
    else:
        upcoming = digest_due_after(spec, req.now, how.tz)
        text = (
            f"Digest {esc(str(spec))} ({esc(how.timezone)}); the next one "
            f"{esc(_local(upcoming, how))}. Urgent topics still arrive at once."
        )
    await req.reply(text + _overridden(req, "digest"))


async def cmd_quiet(req: ChatRequest) -> None:
    if not req.args:
        how = current(req)
        await req.reply(f"Quiet hours: {esc(str(how.quiet or 'none'))}.\n{esc(QUIET_USAGE)}")
        return
    try:
        spec = parse_quiet(req.args)
    except ValueError as exc:
        await req.reply(f"{echo(str(exc), 200)}\n{esc(QUIET_USAGE)}")
        return
    how = _store(req, "quiet", str(spec) if spec else "")
    if spec is None:
        text = "Quiet hours off."
    else:
        text = (
            f"Quiet hours {esc(str(spec))} ({esc(how.timezone)}): alerts matched then arrive "
            "when they end. Urgent topics still arrive at once."
        )
    await req.reply(text + _overridden(req, "quiet"))


async def cmd_timezone(req: ChatRequest) -> None:
    if not req.args:
        await req.reply(f"Time zone: {esc(current(req).timezone)}.\n{esc(TIMEZONE_USAGE)}")
        return
    try:
        name = parse_timezone(req.args)
    except ValueError as exc:
        await req.reply(f"{echo(str(exc), 200)}\n{esc(TIMEZONE_USAGE)}")
        return
    how = _store(req, "timezone", name)
    await req.reply(
        f"Time zone {esc(how.timezone)}: digests and quiet hours follow its clock."
        + _overridden(req, "timezone")
    )
