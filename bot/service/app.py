"""The service: one asyncio lifecycle holding the scheduler, the delivery worker and Telegram.

Order of things, and why:
- The state lock is taken before anything else, so a second `vigil run` exits at once with a
  clear message instead of racing the first over the same database (RELIABILITY D9).
- python-telegram-bot runs *inside* this lifecycle (initialize, start, long polling), next to
  the scheduler and the worker; it does not own the loop (API-NOTES §2.2).
- SIGTERM/SIGINT stop scheduling first, give in-flight polls and sends a short grace, then
  close — well inside Docker's 10 s (RELIABILITY D4). SIGHUP, or an edit of feeds.yaml seen by
  a watcher, reloads: the new file is validated first and the running config stays when it is
  invalid, with every problem logged (RELIABILITY E11).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError, load_config
from bot.deliver.console import ConsoleSender, console_pacer
from bot.deliver.limits import Pacer
from bot.deliver.sender import Sender
from bot.deliver.worker import DeliveryWorker
from bot.fetch import Fetcher, FetchPolicy
from bot.fetch.polite import HostGate
from bot.pipeline import Poller, PollReport, Runtime
from bot.pipeline.fulltext import FullTextStage
from bot.pipeline.reading import ACCEPT as ARTICLE_ACCEPT
from bot.pipeline.reading import ArticleReader
from bot.pipeline.scheduler import PollScheduler
from bot.secrets import Secret
from bot.service.ha import Coordinator, LeaderGate, config_digest
from bot.service.http import HttpListener, address_from_env, start_listener
from bot.service.metrics import Metrics
from bot.store import replicas
from bot.store import runtime as runtime_rows
from bot.store.db import Connection, DatabaseError, connect, state_lock, transaction
from bot.store.leadership import leadership_for
from bot.telegram import notices
from bot.telegram.notices import AdminNotices

if TYPE_CHECKING:  # python-telegram-bot loads only when there is a token (0.1 s per start)
    from telegram import Bot

    from bot.telegram.frontend import TelegramFrontend

log = logging.getLogger("vigil.app")

STOP_GRACE = 5.0
WATCH_SECONDS = 2.0
WAKE_SECONDS = 2.0


def fetch_policy(config: Config) -> FetchPolicy:
    s = config.settings
    return FetchPolicy(
        timeout=s.timeout,
        max_bytes=s.max_bytes,
        allow_private_networks=s.allow_private_networks,
        user_agent=s.user_agent,
        proxy=s.proxy,
        per_host_concurrency=s.per_host_concurrency,
        max_concurrency=s.max_concurrency,
    )


def article_policy(config: Config) -> FetchPolicy:
    """Article pages: the feeds' envelope with its own budget, one request per host at a time."""
    s = config.settings
    return FetchPolicy(
        timeout=s.timeout,
        max_bytes=max(s.full_text_max_html, s.full_text_max_pdf),
        allow_private_networks=s.allow_private_networks,
        user_agent=s.user_agent,
        proxy=s.proxy,
        per_host_concurrency=1,
        max_concurrency=s.full_text_concurrency,
        accept=ARTICLE_ACCEPT,
    )


def fulltext_stage(
    conn: Connection,
    config: Config,
    runtime: Callable[[], Runtime],
    *,
    on_queued: Callable[[], None] | None = None,
    on_outcome: Callable[[str], None] | None = None,
) -> tuple[FullTextStage, Fetcher]:
    """The full-text stage and the article fetcher it owns (close it with the service)."""
    fetcher = Fetcher(article_policy(config))
    reader = ArticleReader(fetcher, HostGate(config.settings.full_text_host_gap))
    stage = FullTextStage(conn, reader, runtime, on_queued=on_queued, on_outcome=on_outcome)
    return stage, fetcher


@dataclass
class Options:
    config_path: Path
    state_dir: Path
    token: Secret | None
    api_url: str


@dataclass
class Service:
    """Everything `vigil run` holds, reachable by the Telegram handlers for /status and /reload."""

    options: Options
    conn: Connection
    runtime: Runtime
    fetcher: Fetcher
    poller: Poller
    worker: DeliveryWorker
    scheduler: PollScheduler
    sender: Sender
    started_at: float = field(default_factory=time.time)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int = 0
    exit_reason: str = ""
    config_mtime: float = 0.0
    reload_failures: int = 0
    notices: AdminNotices | None = None
    coordinator: Coordinator | None = None

    def current(self) -> Runtime:
        return self.runtime

    def stop(self, code: int = 0, reason: str = "") -> None:
        if not self.stop_event.is_set():
            self.exit_code = code
            self.exit_reason = reason
            self.stop_event.set()

    def reload(self) -> tuple[bool, str]:
        """Validates feeds.yaml and swaps it in; on any problem the running config stays."""
        path = self.options.config_path
        try:
            config = load_config(path)
            runtime = Runtime.build(config, console=self.runtime.console)
        except ConfigError as exc:
            self.reload_failures += 1
            for problem in exc.problems:
                log.error("reload refused, keeping the running config: %s", problem)
            self._record_reload(ok=False, message=str(exc))
            return False, str(exc)
        except Exception as exc:  # a keyword the matcher refuses, a bad timezone, …
            self.reload_failures += 1
            log.error("reload refused, keeping the running config: %s", exc)
            self._record_reload(ok=False, message=str(exc))
            return False, str(exc)
        old_policy = fetch_policy(self.runtime.config)
        self.runtime = runtime
        if fetch_policy(config) != old_policy:
            old = self.fetcher
            self.fetcher = Fetcher(fetch_policy(config))
            self.poller.fetcher = self.fetcher
            asyncio.get_running_loop().create_task(_close_later(old))
        self.scheduler.sync_feeds()
        self._record_reload(ok=True, message="")
        summary = f"{len(config.feeds)} feeds, {len(config.topics)} topics"
        log.info("configuration reloaded: %s", summary)
        return True, summary

    def _record_reload(self, *, ok: bool, message: str) -> None:
        if self.notices is not None:
            self.notices.post(notices.reload_accepted() if ok else notices.reload_refused(message))
        with contextlib.suppress(DatabaseError), transaction(self.conn):
            runtime_rows.put(self.conn, "reload_ok", "1" if ok else "0")
            runtime_rows.put(self.conn, "reload_error", message[:2000])


async def _close_later(fetcher: Fetcher) -> None:
    await asyncio.sleep(60)
    await fetcher.aclose()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


async def watch_config(service: Service) -> None:
    """Reloads when feeds.yaml changes on disk (editors replace the file; mtime catches both)."""
    while not service.stop_event.is_set():
        await asyncio.sleep(WATCH_SECONDS)
        mtime = _mtime(service.options.config_path)
        if mtime and mtime != service.config_mtime:
            service.config_mtime = mtime
            log.info("feeds.yaml changed on disk, reloading")
            service.reload()


async def run_service(options: Options, config: Config) -> int:
    """Runs until a stop signal; returns the process exit code."""
    with state_lock(options.state_dir, config.settings.database_url):
        return await _run_locked(options, config)


async def _run_locked(options: Options, config: Config) -> int:
    try:
        http_address = address_from_env()
    except ValueError as exc:
        log.error("%s; nothing was started", exc)
        return 2
    conn = connect(options.state_dir, url=config.settings.database_url)
    with transaction(conn):
        runtime_rows.delete(conn, "fatal")  # a fresh start forgets why the last one stopped
    runtime = Runtime.build(config, console=options.token is None)
    fetcher = Fetcher(fetch_policy(config))
    sender: Sender
    bot = None
    gate = LeaderGate()  # every Telegram request checks this replica still leads
    if options.token is None:
        sender = ConsoleSender()
        log.info("no TELEGRAM_BOT_TOKEN: alerts are printed to the terminal")
    else:
        from bot.deliver.telegram import TelegramSender, make_bot

        bot = make_bot(options.token, options.api_url, gate=gate)
        sender = TelegramSender(bot)
    pacer = console_pacer() if bot is None else Pacer(config.telegram.rate_per_second)
    worker = DeliveryWorker(conn, sender, pacer)
    holder: list[Service] = []
    metrics = Metrics()
    stage, article_fetcher = fulltext_stage(
        conn,
        config,
        lambda: holder[0].runtime,
        on_queued=worker.wake,
        on_outcome=metrics.observe_article,
    )
    owner = replicas.replica_id()
    poller = Poller(
        conn,
        fetcher,
        lambda: holder[0].runtime,
        on_queued=worker.wake,
        fulltext=stage,
        owner=owner,
    )
    scheduler = PollScheduler(
        conn,
        poller,
        lambda: holder[0].runtime,
        on_report=metrics.observe_poll,
        owner=owner,
        leading=lambda: holder[0].coordinator is not None and holder[0].coordinator.leading,
    )
    service = Service(
        options=options,
        conn=conn,
        runtime=runtime,
        fetcher=fetcher,
        poller=poller,
        worker=worker,
        scheduler=scheduler,
        sender=sender,
        config_mtime=_mtime(options.config_path),
    )
    holder.append(service)
    worker.on_fatal = lambda reason: service.stop(3, f"Telegram refused the bot token: {reason}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    loop.add_signal_handler(signal.SIGHUP, service.reload)
    listener: HttpListener | None = None
    tasks: list[asyncio.Task[None]] = []
    duties = LeaderDuties(service, bot, pacer, metrics)
    gate.lock = leadership_for(conn, replicas.replica_id())
    service.coordinator = Coordinator(
        conn,
        gate.lock,
        replicas.replica_id(),
        lambda: config_digest(service.runtime.config),
        lead=duties.start,
        follow=duties.stop,
    )
    try:
        if http_address is not None:
            listener = await start_listener(service, metrics, http_address)
        await service.coordinator.step()  # SQLite leads at once, as before replicas existed
        scheduler.start()
        tasks.append(asyncio.create_task(service.coordinator.run(service.stop_event), name="ha"))
        tasks.append(asyncio.create_task(watch_config(service), name="watch"))
        log.info(
            "vigil running: %d feeds, %d topics, state in %s",
            len(config.feeds),
            len(config.topics),
            conn.where,
        )
        await service.stop_event.wait()
    finally:
        log.info("stopping")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if listener is not None:
            await listener.close()
        await scheduler.stop(grace=STOP_GRACE / 2)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE / 2)
        with contextlib.suppress(Exception):
            await service.coordinator.close()
        with contextlib.suppress(Exception):
            await sender.close()
        await stage.aclose()
        await service.fetcher.aclose()
        await article_fetcher.aclose()
        poller.close()
        with contextlib.suppress(DatabaseError), transaction(conn):
            runtime_rows.delete(conn, "heartbeat")
            if service.exit_code and service.exit_reason:
                # Kept after exit so `vigil health` and `vigil status` say why it stopped.
                runtime_rows.put(conn, "fatal", service.exit_reason[:2000])
        conn.close()
    if service.exit_reason:
        log.error("%s", service.exit_reason)
    return service.exit_code


class LeaderDuties:
    """What only the leader runs: Telegram polling, the delivery worker, the admin notices."""

    def __init__(self, service: Service, bot: Bot | None, pacer: Pacer, metrics: Metrics) -> None:
        self.service = service
        self.bot = bot
        self.pacer = pacer
        self.metrics = metrics
        self.frontend: TelegramFrontend | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        service = self.service
        if self.bot is not None:
            from bot.telegram.frontend import TelegramFrontend

            self.frontend = TelegramFrontend(service, self.bot, pacer=self.pacer)
            await self.frontend.start()
            service.notices = _admin_notices(service, self.frontend, self.metrics)
            self.tasks.append(asyncio.create_task(service.notices.run(), name="notices"))
        self.tasks.append(asyncio.create_task(service.worker.run(), name="deliver"))
        self.tasks.append(asyncio.create_task(self._wake_worker(), name="deliver-wake"))

    async def _wake_worker(self) -> None:
        """Alerts queued by other replicas reach this sender within a tick, not MAX_IDLE_WAIT."""
        while True:
            await asyncio.sleep(WAKE_SECONDS)
            self.service.worker.wake()

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE / 2)
        frontend, self.frontend = self.frontend, None
        self.service.notices = None
        if frontend is not None:
            with contextlib.suppress(Exception):
                await frontend.stop()


def _admin_notices(service: Service, frontend: TelegramFrontend, metrics: Metrics) -> AdminNotices:
    """Admins hear of failing feeds, long flood waits, lost groups and refused reloads."""
    from bot.telegram.request import language_of

    admin_notices = notices.AdminNotices(
        service.conn,
        send=lambda chat_id, text, markup: frontend.send(chat_id, html.escape(text), markup),
        admins=lambda: service.runtime.config.telegram.admins,
        language_of=lambda admin: language_of(service.conn, admin),
    )

    def on_report(report: PollReport) -> None:
        metrics.observe_poll(report)
        admin_notices.observe_poll(report)

    service.scheduler.on_report = on_report
    service.worker.on_outcome = admin_notices.observe_send
    return admin_notices


def api_url_from_env() -> str:
    return os.environ.get("TELEGRAM_API_URL", "").strip() or "https://api.telegram.org"
