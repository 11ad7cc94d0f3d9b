"""`vigil status` and `vigil health`: they read the state; only the health probe writes a row."""

from __future__ import annotations

import time
from pathlib import Path

from bot.commands.output import iso, json_line, when
from bot.config import Config, Feed
from bot.service.health import health_problem
from bot.sources.telegram import channel_name
from bot.store import articles, outbox, replicas
from bot.store import feeds as feed_rows
from bot.store import runtime as runtime_rows
from bot.store.db import DatabaseError, StateError, connect


def status(config: Config, state_dir: Path, *, as_json: bool) -> int:
    conn = connect(state_dir, create=False, url=config.settings.database_url)
    try:
        rows = {row.feed_id: row for row in feed_rows.all_feeds(conn)}
        backlog = outbox.backlog(conn)
        awaiting = articles.awaiting(conn)
        article_errors = articles.last_errors(conn)
        now = time.time()
        for feed in config.feeds:
            row = rows.get(feed.id)
            sent = outbox.sent_count(conn, feed.id) if row else 0
            record = {
                "feed": feed.id,
                "name": feed.name,
                "url": feed.url,
                "last_success": iso(row.last_success_at) if row else None,
                "last_error": row.last_error if row and row.consecutive_errors else None,
                "error_kind": row.last_error_kind if row and row.consecutive_errors else None,
                "consecutive_errors": row.consecutive_errors if row else 0,
                "items_seen": row.items_seen if row else 0,
                "alerts_sent": sent,
                "next_poll": iso(row.next_poll_at) if row and row.next_poll_at else None,
                "full_text": config.full_text_for(feed),
                "awaiting_text": awaiting.get(feed.id, 0),
                "last_article_error": article_errors[feed.id][0]
                if feed.id in article_errors
                else None,
                "last_article_error_at": iso(article_errors[feed.id][1])
                if feed.id in article_errors
                else None,
                "kind": _kind(feed, row),
                "source": row.source_url if row and row.source_url else None,
            }
            if as_json:
                print(json_line(record))
                continue
            health = "never polled"
            if row and row.consecutive_errors:
                health = (
                    f"FAILING ×{row.consecutive_errors}: {row.last_error_kind}: {row.last_error}"
                )
            elif row and row.last_success_at:
                health = "ok"
            print(f"{feed.id}  ({feed.name})  {health}")
            if row and row.source_url:
                print(f"    reads the feed the page advertises: {row.source_url}")
            if row:
                nxt = row.next_poll_at
                due = "due now" if nxt <= now else when(nxt)
                print(
                    f"    last success {when(row.last_success_at)} · items seen "
                    f"{row.items_seen} · alerts sent {sent} · next poll {due}"
                )
            if record["awaiting_text"] or record["last_article_error"]:
                line = f"    full text: {record['awaiting_text']} waiting for their text"
                if feed.id in article_errors:
                    message, at = article_errors[feed.id]
                    line += f" · last article error {when(at)}: {message}"
                print(line)
        oldest = iso(backlog.oldest_created_at)
        fatal = runtime_rows.get(conn, "fatal")
        members = replicas.all_replicas(conn)
        if as_json:
            print(
                json_line(
                    {
                        "outbox_pending": backlog.pending,
                        "outbox_oldest": oldest,
                        "sent": backlog.sent,
                        "failed": backlog.failed,
                        "dropped": backlog.dropped,
                        "stopped": fatal,
                        "replicas": [
                            {
                                "id": r.replica_id,
                                "leader": r.leader and now - r.heartbeat <= replicas.ALIVE,
                                "heartbeat": iso(r.heartbeat),
                                "alive": now - r.heartbeat <= replicas.ALIVE,
                                "note": r.note or None,
                            }
                            for r in members
                        ],
                    }
                )
            )
        else:
            print(
                f"outbox: {backlog.pending} pending"
                + (f" (oldest {when(backlog.oldest_created_at)})" if oldest else "")
                + f", {backlog.sent} sent, {backlog.failed} failed, {backlog.dropped} dropped"
            )
            if fatal:
                print(f"STOPPED: {fatal}")
            for r in members:
                alive = now - r.heartbeat <= replicas.ALIVE
                role = ("leader" if r.leader else "follower") if alive else "gone"
                print(
                    f"replica {r.replica_id} ({r.host} pid {r.pid}): {role}, heartbeat "
                    f"{when(r.heartbeat)}" + (f" · {r.note}" if r.note else "")
                )
    finally:
        conn.close()
    return 0


def _kind(feed: Feed, row: feed_rows.FeedRow | None) -> str:
    """What the source is read as: page, channel, discovered feed, or feed."""
    if feed.page is not None:
        return "page"
    if channel_name(feed.url):
        return "channel"
    return "discovered feed" if row and row.source_url else "feed"


def health(config: Config, state_dir: Path) -> int:
    try:
        conn = connect(state_dir, create=False, url=config.settings.database_url)
    except StateError as exc:  # the database is gone or refuses us: that is the reason
        print(f"unhealthy: {exc}")
        return 1
    try:
        problem = health_problem(conn, time.time(), replicas.replica_id())
    except DatabaseError as exc:
        problem = f"the state database failed: {exc}"
    finally:
        conn.close()
    if problem:
        print(f"unhealthy: {problem}")
        return 1
    print("healthy")
    return 0
