"""The text of /status for Vigil's administrators: feed health, outbox and subscribers.

Pure: values in, Telegram HTML out, in the administrator's language (see :mod:`replies`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from bot.config import Config
from bot.i18n import Tr
from bot.store.feeds import FeedRow
from bot.store.outbox import Backlog
from bot.store.replicas import ALIVE as REPLICA_ALIVE
from bot.store.replicas import ReplicaRow
from bot.telegram.replies import echo, esc, span, when


def status_text(
    config: Config,
    rows: Sequence[FeedRow],
    backlog: Backlog,
    chats: tuple[int, int],
    now: float,
    tz: tzinfo,
    tr: Tr,
    awaiting: Mapping[str, int] | None = None,
    article_errors: Mapping[str, tuple[str, float]] | None = None,
    members: Sequence[ReplicaRow] = (),
) -> str:
    """``awaiting``: items per feed waiting for their page's text; ``article_errors``: the
    last article error per feed (message, when); ``members``: the replicas sharing the state
    (listed when there are several: one PostgreSQL, several `vigil run`)."""
    by_id = {row.feed_id: row for row in rows}
    failing = 0
    lines = [tr("<b>Feeds</b>")]
    for feed in config.feeds:
        row = by_id.get(feed.id)
        name = tr.value(f"<code>{esc(feed.id)}</code>")
        if row is None or (row.last_success_at is None and not row.consecutive_errors):
            lines.append("• " + tr("{feed}: not polled yet", feed=name))
            continue
        if row.consecutive_errors:
            failing += 1
            kind = esc(row.last_error_kind or "error")
            lines.append(
                "• "
                + tr(
                    "{feed}: <b>failing</b> ({kind}, {n} in a row)",
                    feed=name,
                    kind=kind,
                    n=row.consecutive_errors,
                )
            )
            if row.last_error:
                lines.append(f"    {tr.value(echo(row.last_error, 200))}")
        else:
            lines.append("• " + tr("{feed}: ok", feed=name))
        due = row.next_poll_at - now
        next_poll = tr("due now") if due <= 0 else tr("in {span}", span=span(due, tr))
        last = esc(when(row.last_success_at, tz, tr))
        lines.append(
            "    " + tr("last success {when}; next poll {next}", when=last, next=next_poll)
        )
        waiting = (awaiting or {}).get(feed.id, 0)
        article_error = (article_errors or {}).get(feed.id)
        if waiting or article_error:
            note = tr("{n} waiting for their text", n=waiting)
            if article_error:
                error = echo(article_error[0], 160)
                note += "; " + tr("last article error: {error}", error=error)
            lines.append("    " + note)
    lines.insert(
        1, tr("{feeds} feeds, {failing} failing", feeds=len(config.feeds), failing=failing)
    )
    lines += ["", tr("<b>Outbox</b>")]
    if backlog.oldest_created_at is not None:
        age = span(now - backlog.oldest_created_at, tr)
        lines.append(tr("{n} pending, oldest {age} old", n=backlog.pending, age=age))
    else:
        lines.append(tr("{n} pending", n=backlog.pending))
    lines.append(
        tr(
            "{sent} sent, {failed} failed, {dropped} dropped",
            sent=backlog.sent,
            failed=backlog.failed,
            dropped=backlog.dropped,
        )
    )
    active, inactive = chats
    lines += [
        "",
        tr("<b>Subscribers</b>"),
        tr("{active} chats subscribed, {inactive} gone", active=active, inactive=inactive),
    ]
    if len(members) > 1:
        lines += ["", tr("<b>Replicas</b>")]
        for member in members:
            lines.append("• " + _replica_line(member, now, tr))
    return "\n".join(lines)


def _replica_line(member: ReplicaRow, now: float, tr: Tr) -> str:
    name = tr.value(f"<code>{esc(member.replica_id)}</code>")
    age = span(max(0.0, now - member.heartbeat), tr)
    if now - member.heartbeat > REPLICA_ALIVE:
        line = tr("{replica}: gone, last heartbeat {age} ago", replica=name, age=age)
    elif member.leader:
        line = tr("{replica}: leader, last heartbeat {age} ago", replica=name, age=age)
    else:
        line = tr("{replica}: follower, last heartbeat {age} ago", replica=name, age=age)
    return line + (f" ({tr.value(esc(member.note))})" if member.note else "")
