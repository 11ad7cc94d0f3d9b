"""`/digest`, `/quiet` and `/timezone`: how a chat receives its alerts.

Rules:
- The arguments follow :mod:`bot.config.delivery` (the grammar of the channel keys in
  feeds.yaml); a bad one gets the parser's reason in the chat's language, the usage, and
  changes nothing.
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
from bot.config.delivery import (
    DigestSpec,
    QuietSpec,
    digest_due_after,
    parse_digest,
    parse_quiet,
    parse_timezone,
)
from bot.i18n import N_, Tr
from bot.route.when import Delivery, delivery_for
from bot.store import outbox, prefs
from bot.store.db import transaction
from bot.telegram.host import Host
from bot.telegram.replies import esc, reason_text

DIGEST_USAGE = N_(
    "Usage: {off}, {daily} or {weekly} — one message with the period's statements instead of "
    "each at once (urgent topics still come at once)."
)
QUIET_USAGE = N_(
    "Usage: {quiet} or {off} — alerts matched during these hours arrive when they end "
    "(nothing is dropped; urgent topics still come at once)."
)
TIMEZONE_USAGE = N_("Usage: {timezone} (an IANA time zone name).")
URGENT_AT_ONCE = N_("Urgent topics still arrive at once.")


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
    @property
    def tr(self) -> Tr: ...
    async def reply(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None: ...
    def store_chat(self) -> None: ...


def current(req: ChatRequest) -> Delivery:
    own = prefs.get(req.host.conn, req.chat)
    return delivery_for(req.config, req.chat, own.digest, own.quiet, own.timezone)


def _code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def digest_words(spec: DigestSpec | None, tr: Tr) -> str:
    """A digest schedule as a reader says it: "every Monday at 08:00" (CLDR day names)."""
    if spec is None:
        return tr("off (each alert at once)")
    clock = spec.at.strftime("%H:%M")
    if spec.weekday is None:
        return tr("every day at {time}", time=clock)
    return tr("every {day} at {time}", day=tr.weekday(spec.weekday), time=clock)


def quiet_words(spec: QuietSpec | None, tr: Tr) -> str:
    if spec is None:
        return tr("none")
    return tr(
        "from {start} to {end}", start=spec.start.strftime("%H:%M"), end=spec.end.strftime("%H:%M")
    )


def digest_usage(tr: Tr) -> str:
    return tr(
        DIGEST_USAGE,
        off=_code("/digest off"),
        daily=_code("/digest daily 08:00"),
        weekly=_code("/digest weekly mon 08:00"),
    )


def quiet_usage(tr: Tr) -> str:
    return tr(QUIET_USAGE, quiet=_code("/quiet 22:00-07:00"), off=_code("/quiet off"))


def timezone_usage(tr: Tr) -> str:
    return tr(TIMEZONE_USAGE, timezone=_code("/timezone Europe/Amsterdam"))


def summary_text(req: ChatRequest) -> str:
    """The /list lines on how this chat receives."""
    how = current(req)
    tr = req.tr
    return "\n".join(
        [
            tr("<b>Delivery</b>"),
            tr("Digest: {digest}", digest=esc(digest_words(how.digest, tr))),
            tr("Quiet hours: {quiet}", quiet=esc(quiet_words(how.quiet, tr))),
            tr("Time zone: {zone}", zone=esc(how.timezone)),
        ]
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
    if channel is None or getattr(channel, key) is None:
        return ""
    notes = {
        "digest": N_("Note: feeds.yaml sets this chat's digest; that setting applies."),
        "quiet": N_("Note: feeds.yaml sets this chat's quiet hours; that setting applies."),
        "timezone": N_("Note: feeds.yaml sets this chat's time zone; that setting applies."),
    }
    return "\n" + req.tr(notes[key])


async def cmd_digest(req: ChatRequest) -> None:
    tr = req.tr
    if not req.args:
        how = current(req)
        now = tr("Digest: {digest}", digest=esc(digest_words(how.digest, tr)))
        await req.reply(f"{now}\n{digest_usage(tr)}")
        return
    try:
        spec = parse_digest(req.args)
    except ValueError as exc:
        await req.reply(f"{reason_text(exc, tr)}\n{digest_usage(tr)}")
        return
    how = _store(req, "digest", str(spec) if spec else "")
    if spec is None:
        text = tr("Digest off: each alert arrives at once.")
    else:
        upcoming = datetime.fromtimestamp(digest_due_after(spec, req.now, how.tz), how.tz)
        text = tr(
            "Digest {schedule} ({zone}); the next one {next}.",
            schedule=esc(digest_words(spec, tr)),
            zone=esc(how.timezone),
            next=esc(tr.moment(upcoming)),
        )
        text += " " + tr(URGENT_AT_ONCE)
    await req.reply(text + _overridden(req, "digest"))


async def cmd_quiet(req: ChatRequest) -> None:
    tr = req.tr
    if not req.args:
        how = current(req)
        now = tr("Quiet hours: {quiet}", quiet=esc(quiet_words(how.quiet, tr)))
        await req.reply(f"{now}\n{quiet_usage(tr)}")
        return
    try:
        spec = parse_quiet(req.args)
    except ValueError as exc:
        await req.reply(f"{reason_text(exc, tr)}\n{quiet_usage(tr)}")
        return
    how = _store(req, "quiet", str(spec) if spec else "")
    if spec is None:
        text = tr("Quiet hours off.")
    else:
        text = tr(
            "Quiet hours {quiet} ({zone}): alerts matched then arrive when they end.",
            quiet=esc(quiet_words(spec, tr)),
            zone=esc(how.timezone),
        )
        text += " " + tr(URGENT_AT_ONCE)
    await req.reply(text + _overridden(req, "quiet"))


async def cmd_timezone(req: ChatRequest) -> None:
    tr = req.tr
    if not req.args:
        now = tr("Time zone: {zone}", zone=esc(current(req).timezone))
        await req.reply(f"{now}\n{timezone_usage(tr)}")
        return
    try:
        name = parse_timezone(req.args)
    except ValueError as exc:
        await req.reply(f"{reason_text(exc, tr)}\n{timezone_usage(tr)}")
        return
    how = _store(req, "timezone", name)
    text = tr("Time zone {zone}: digests and quiet hours follow its clock.", zone=esc(how.timezone))
    await req.reply(text + _overridden(req, "timezone"))
