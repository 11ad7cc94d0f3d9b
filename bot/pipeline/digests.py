"""Queueing alerts as each chat receives them, and sending the digests that are due.

Rules:
- :func:`queue_alert` writes a planned alert's outbox rows inside the poller's transaction, each
  chat's row `held` for its digest, deferred past its quiet hours, or due now
  (:mod:`bot.route.when` decides; urgent topics always go now). A copy of an earlier statement
  (:mod:`bot.pipeline.copies`) is queued under that statement's key: chats that have it get the
  copy's source added to their row instead of a second alert.
- :func:`send_due_digests` runs from the scheduler's tick. For each chat whose digest time has
  come it turns the held rows into one digest (more rows only beyond Telegram's 4096
  characters), in ONE transaction that also marks them `digested` and sets the next time: a
  crash before the commit leaves everything held and the digest is built again; after it, the
  digest rows are ordinary outbox rows (at most the one in flight is sent twice). The next time
  is computed from now, so a service that was down for three days sends one digest, not three.
- A chat whose digest was turned off gets its held rows back as ordinary alerts.
- A digest speaks the chat's language (a configured channel's ``language:``, else what the chat
  chose with /lang, else English), with topic names in that language. Like an ordinary alert,
  each statement goes into the forum topic its alert would have gone to: a chat whose alerts
  go to several topics (``threads:``, subscriptions made in different topics) gets one digest
  in each, listing that topic's statements. A digest comes without a notification sound when
  the chat asked for silent alerts (``silent:``, /silent on), as its alerts would: it holds no
  urgent topic, and urgent alerts are never held.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from bot.config import Config
from bot.config.delivery import digest_due_after
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.pipeline.copies import Original
from bot.pipeline.report import PlannedAlert
from bot.route.digest import DigestLine, plain_text, render_digest
from bot.route.when import HOLD, Delivery, delivery_for, is_urgent, timing
from bot.store import copies as copy_rows
from bot.store import outbox, prefs, subs
from bot.store.db import Connection, transaction

log = logging.getLogger("vigil.digest")


def _delivery(config: Config, chat_id: str, stored: prefs.ChatPrefs | None) -> Delivery:
    own = stored or prefs.ChatPrefs()
    return delivery_for(config, chat_id, own.digest, own.quiet, own.timezone)


def queue_alert(
    conn: Connection,
    config: Config,
    plan: PlannedAlert,
    item_id: int,
    now: float,
    original: Original | None = None,
    source: tuple[str, str | None] = ("", None),
) -> int:
    """Writes the plan's outbox rows; returns how many chats were new for this statement.

    For a copy of an ``original`` the rows carry the original's statement key, so a chat that
    has it already gets no second row; ``source`` (name, link) is added to that chat's row.
    """
    if original is not None:
        copy_rows.record_copy(conn, item_id, original.item_id, original.similarity)
        plan = dataclasses.replace(plan, statement_key=original.statement_key)
    stored = prefs.load(conn, plan.chats)
    urgent = is_urgent(config, plan.topics)
    groups: dict[tuple[str, float], list[outbox.Delivery]] = {}
    for copy in plan.deliveries:
        how, first = timing(_delivery(config, copy.chat_id, stored.get(copy.chat_id)), urgent, now)
        groups.setdefault((how, first), []).append(copy)
    queued: list[str] = []
    for (how, first), copies in groups.items():
        queued.extend(
            outbox.enqueue(
                conn,
                item_id=item_id,
                deliveries=copies,
                statement_key=plan.statement_key,
                topics=plan.topics,
                now=now,
                state=outbox.HELD if how == HOLD else outbox.PENDING,
                not_before=first,
            )
        )
    if original is not None:
        for chat in set(plan.chats) - set(queued):
            copy_rows.add_source(conn, chat, plan.statement_key, source[0], source[1], now)
    return len(queued)


def digest_chats(conn: Connection, config: Config) -> dict[str, Delivery]:
    """Every chat that receives digests now, with its resolved delivery."""
    chats = {c.chat: None for c in config.channels if c.digest is not None}
    stored = prefs.with_digest(conn)
    out: dict[str, Delivery] = {}
    for chat in [*chats, *stored]:
        delivery = _delivery(config, chat, stored.get(chat))
        if delivery.digest is not None:
            out[chat] = delivery
    return out


def send_due_digests(
    conn: Connection, config: Config, now: float, on_queued: Callable[[], None] | None
) -> int:
    """Builds the digests that are due; returns how many digest messages were queued."""
    chats = digest_chats(conn, config)
    scheduled = prefs.scheduled(conn)
    queued = 0
    for chat in scheduled:
        if chat not in chats:  # digest turned off (or the channel key removed)
            with transaction(conn):
                prefs.schedule(conn, chat, None)
                outbox.release_held(conn, chat, now)
    for chat, delivery in chats.items():
        assert delivery.digest is not None
        next_at = scheduled.get(chat)
        if next_at is None or next_at > now:
            if next_at is None:
                with transaction(conn):
                    prefs.schedule(conn, chat, digest_due_after(delivery.digest, now, delivery.tz))
            continue
        with transaction(conn):
            queued += _build(conn, config, chat, delivery, now)
            prefs.schedule(conn, chat, digest_due_after(delivery.digest, now, delivery.tz))
    if queued and on_queued is not None:
        on_queued()
    return queued


def _build(conn: Connection, config: Config, chat: str, delivery: Delivery, now: float) -> int:
    held = outbox.held(conn, chat)
    if not held:
        return 0
    language, silent = _speaking(conn, config, chat)
    tr = translator(language)
    names = {t.id: t.label(language) for t in config.topics}
    sources = {f.id: f.name for f in config.feeds}
    by_thread: dict[int | None, list[outbox.HeldAlert]] = {}
    for row in held:
        by_thread.setdefault(row.thread_id, []).append(row)
    key = f"digest:{chat}:{now:.0f}"
    parts: list[tuple[int | None, str]] = []
    for thread, rows in by_thread.items():
        entries = [
            DigestLine(
                title=row.title,
                link=row.link,
                source=sources.get(row.feed_id, row.feed_id),
                topic=next(
                    (t for t in row.topics if t in names), row.topics[0] if row.topics else None
                ),
            )
            for row in rows
        ]
        since = min(row.created_at for row in rows)
        texts = render_digest(entries, names, since=since, now=now, tz=delivery.tz, tr=tr)
        parts.extend((thread, text) for text in texts)
    for number, (thread, part) in enumerate(parts, 1):
        copy = outbox.Delivery(
            chat, part, plain_text(part), thread_id=thread, silent=silent, language=tr.lang
        )
        outbox.enqueue(
            conn,
            item_id=max(row.item_id for row in held),
            deliveries=[copy],
            statement_key=f"{key}:{number}",
            topics=(),
            now=now,
        )
    outbox.mark_digested(conn, [row.row_id for row in held], key)
    log.info("digest queued", extra={"chat_id": chat, "count": len(held)})
    return len(parts)


def _speaking(conn: Connection, config: Config, chat: str) -> tuple[str, bool]:
    """(language, silent) of a chat: a configured channel's keys, else what the chat chose."""
    channel = next((c for c in config.channels if c.chat == chat), None)
    if channel is not None:
        return channel.language, channel.silent
    chosen = subs.prefs_of(conn, chat)
    if chosen is None:
        return DEFAULT_LANGUAGE, False
    return chosen.language or DEFAULT_LANGUAGE, chosen.silent
