"""Prometheus metrics of a running `vigil run`, served on `/metrics` by :mod:`bot.service.http`.

Rules:
- A private :class:`~prometheus_client.CollectorRegistry` per :class:`Metrics`: nothing touches
  the library's global registry, so two services (or two tests) in one process never collide.
- Poll metrics are counted from each :class:`bot.pipeline.PollReport` as it arrives. Label values
  come from feeds.yaml ids, :class:`bot.model.Outcome` and :class:`bot.model.ErrorKind` only —
  never from a feed's text or an error message — so the number of series stays bounded.
- Delivery and outbox figures are read at scrape time from what already counts them (the
  delivery worker, the outbox table), so they cannot drift from `vigil status`. A database
  error while scraping leaves the outbox gauges out of that one scrape instead of failing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.model import Outcome
from bot.service.view import ServiceView
from bot.store import outbox
from bot.store.db import Connection, DatabaseError

if TYPE_CHECKING:
    from bot.pipeline import PollReport

log = logging.getLogger("vigil.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Fetches run from tens of milliseconds to the 5-minute timeout ceiling.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _ServiceCollector(Collector):
    """Figures read from the running service at scrape time."""

    def __init__(self) -> None:
        self.service: ServiceView | None = None

    def collect(self) -> Iterable[Metric]:
        service = self.service
        if service is None:
            return
        worker = service.worker
        sent = CounterMetricFamily(
            "vigil_alerts_sent", "Alerts delivered since the service started."
        )
        sent.add_metric([], worker.sent)
        yield sent
        failed = CounterMetricFamily(
            "vigil_alerts_failed",
            "Alerts Telegram refused for good (the message, not the chat) since start.",
        )
        failed.add_metric([], worker.failed)
        yield failed
        limited = CounterMetricFamily(
            "vigil_telegram_rate_limited",
            "HTTP 429 (Too Many Requests) answers received from Telegram since start.",
        )
        limited.add_metric([], worker.rate_limited)
        yield limited
        stopped = GaugeMetricFamily(
            "vigil_delivery_stopped", "1 when Telegram refused the bot token and delivery stopped."
        )
        stopped.add_metric([], 1.0 if worker.fatal else 0.0)
        yield stopped
        tick = GaugeMetricFamily(
            "vigil_scheduler_tick_age_seconds", "Seconds since the scheduler last ticked."
        )
        tick.add_metric([], max(0.0, time.monotonic() - service.scheduler.last_tick))
        yield tick
        in_flight = GaugeMetricFamily("vigil_polls_in_flight", "Feeds being polled right now.")
        in_flight.add_metric([], len(service.scheduler.polling))
        yield in_flight
        started = GaugeMetricFamily(
            "vigil_start_time_seconds", "When the service started, in Unix seconds."
        )
        started.add_metric([], service.started_at)
        yield started
        yield from _outbox_metrics(service.conn, time.time())


def _outbox_metrics(conn: Connection, now: float) -> Iterable[Metric]:
    try:
        backlog = outbox.backlog(conn)
    except DatabaseError as exc:
        log.warning("metrics: cannot read the outbox: %s", exc)
        return
    pending = GaugeMetricFamily("vigil_outbox_backlog", "Alerts waiting in the outbox.")
    pending.add_metric([], backlog.pending)
    yield pending
    oldest = GaugeMetricFamily(
        "vigil_outbox_oldest_age_seconds",
        "Age of the oldest alert waiting in the outbox (0 when it is empty).",
    )
    age = 0.0 if backlog.oldest_created_at is None else max(0.0, now - backlog.oldest_created_at)
    oldest.add_metric([], age)
    yield oldest
    rows = GaugeMetricFamily(
        "vigil_outbox_rows", "Outbox rows by state, as kept in the database.", labels=["state"]
    )
    for state, count in (
        (outbox.PENDING, backlog.pending),
        (outbox.SENT, backlog.sent),
        (outbox.FAILED, backlog.failed),
        (outbox.DROPPED, backlog.dropped),
    ):
        rows.add_metric([state], count)
    yield rows


class Metrics:
    """The metrics of one service; `observe_poll` is the scheduler's `on_report` callback."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "vigil_polls",
            "Feed polls by outcome (ok, not_modified, failed) and, for failures, error kind.",
            ["feed", "outcome", "error_kind"],
            registry=self.registry,
        )
        self.fetch_seconds = Histogram(
            "vigil_fetch_seconds",
            "Time one conditional GET took, redirects included.",
            ["feed"],
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.items_seen = Counter(
            "vigil_items_seen",
            "Items seen for the first time (a new feed's baseline included).",
            ["feed"],
            registry=self.registry,
        )
        self.matches = Counter(
            "vigil_matches",
            "New statements that matched a topic and were routed to at least one chat.",
            ["topic"],
            registry=self.registry,
        )
        self.articles = Counter(
            "vigil_article_fetches",
            "Article pages read for full text, by outcome (text, pdf, no_text, transient, "
            "deferred, permanent, gave_up).",
            ["outcome"],
            registry=self.registry,
        )
        self._service = _ServiceCollector()
        self.registry.register(self._service)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def observe_poll(self, report: PollReport) -> None:
        """Counts one finished poll; never raises, since it runs inside the scheduler."""
        try:
            failed = report.outcome is Outcome.FAILED and report.error_kind is not None
            kind = str(report.error_kind) if failed else "none"
            self.polls.labels(report.feed_id, str(report.outcome), kind).inc()
            self.fetch_seconds.labels(report.feed_id).observe(max(0.0, report.elapsed))
            if report.new_items:
                self.items_seen.labels(report.feed_id).inc(report.new_items)
            for alert in report.alerts:
                for topic in alert.topics:
                    self.matches.labels(topic).inc()
        except Exception:
            log.exception("metrics: a poll report could not be counted")

    def observe_article(self, outcome: str) -> None:
        """Counts one article reading; outcomes are a fixed set (see the help text)."""
        self.articles.labels(outcome).inc()

    def render(self, service: ServiceView | None = None) -> bytes:
        """The Prometheus text exposition of everything, the service's live figures included."""
        self._service.service = service
        try:
            return generate_latest(self.registry)
        finally:
            self._service.service = None
