"""``citewatch run``: one asyncio process wiring sources, feeds, translation, detection and alerts.

Every periodic piece is an APScheduler 3 job on an ``AsyncIOScheduler``. Job defaults are chosen on
purpose: ``coalesce`` (a job that fell behind runs once, not N times), and a misfire grace of a full
interval (the default 1 s would silently skip runs whenever the loop is busy for a second, e.g.
during a large backfill). A slow poll never overlaps itself, but not through APScheduler's
``max_instances=1``, which logs a warning for every tick or wake-up that finds the job running: our
own guard turns such a start into "run once more when the current run ends" (``_guard``).

Work that makes an article's alert late is chained instead of waiting for the next tick: each article
a feed poll stores wakes detection at once (not when every feed of the poll is done: one slow site
must not hold up another feed's alerts), and detection that creates alerts wakes the sender.

Shutdown (SIGTERM/SIGINT): stop taking work (pause the scheduler); jobs that only wait on the network
(polls, catch-up, translation) are cancelled at once, their requests with them (what they had stored
is committed, the rest is read again next time); detection and the sender get a bounded wait to
finish their current writes; then sources, clients and the database are closed. A stop during a
poll takes under 2 s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.errors import CitewatchError, ConfigError
from storage.db import Database

if TYPE_CHECKING:  # imported where each part starts: `citewatch run` pays only for what it uses
    from bot.alerts.sender import AlertSender
    from bot.cite.pipeline import PostFetch
    from bot.news.poller import FeedPoller
    from bot.telegram.client import CitewatchClient
    from bot.telegram.source import ChannelSource
    from bot.telegram.watcher import Watcher
    from bot.translate.queue import TranslationQueue
    from storage.models import Feed

log = logging.getLogger("citewatch.service")

RECHECK_HOURS = 6  # articles checked this recently are checked again when new posts settle
RECHECK_MAX = 100
CITE_BATCH = 50  # unchecked articles taken per round of detection
CITE_POOL_MIN = 8  # a backlog from which worker processes pay for their ~1 s start
STOP_GRACE = 7.0  # seconds running jobs get to finish at shutdown (the whole stop must fit in 10 s)
#: jobs that wait on the network: cancelled at shutdown instead of waited for
CANCEL_AT_STOP = frozenset({"poll-channels", "catch-up", "poll-feeds", "translate", "refresh-metrics",
                            "tidy-index"})
#: how often the index upkeep looks for a quiet moment, and how long one run may take at most
TIDY_INTERVAL = 3600.0
TIDY_BUDGET = 120.0


class Service:
    """Owns the scheduler and every long-lived object; built by ``citewatch run``."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            # the guard lets one run in at a time; APScheduler only has to let the knock through
            job_defaults={"coalesce": True, "max_instances": 3, "misfire_grace_time": 30},
        )
        self._running: dict[asyncio.Task[Any], str] = {}  # running job bodies and their names
        self._active: set[str] = set()  # jobs running now
        self._again: set[str] = set()  # jobs to run once more when their current run ends
        self._stopping = False
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.source: ChannelSource | None = None
        self.watcher: Watcher | None = None
        #: the Telethon client used for alerts and chat commands, if any
        self.client: CitewatchClient | None = None
        self.sender: AlertSender | None = None
        self.translation_queue: TranslationQueue | None = None
        self.poller: FeedPoller | None = None
        self.fetch_post: PostFetch | None = None
        self._pool: Executor | None = None
        self._feed_tasks: dict[int, asyncio.Task[None]] = {}  # feeds being polled, by feed id
        self._feed_slots: asyncio.Semaphore | None = None  # feeds polled at once

    # -- wiring -------------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        await self._seed()
        await self._start_telegram()
        await self._start_translation()
        await self._start_news()
        await self._start_alerts()
        self._start_upkeep()
        if s.metrics_port:
            from bot.metrics import refresh, start_metrics_server

            start_metrics_server(s.metrics_port, s.metrics_addr)
            # database-backed gauges (queue depths, totals) are read once a minute, not per event
            self._every(lambda: refresh(self.db), 60, "refresh-metrics")
            log.info("metrics on %s:%d/metrics", s.metrics_addr, s.metrics_port)
        self.scheduler.start()
        log.info("citewatch running: source=%s, %d feed(s), alerts via %s",
                 getattr(self.source, "name", "none"), len(s.feeds),
                 type(self.sender.transport).__name__ if self.sender else "none")

    async def _seed(self) -> None:
        from bot.news.poller import seed_feeds
        from bot.telegram.watcher import seed_channels

        await seed_channels(self.settings, self.db)
        await seed_feeds(self.settings, self.db)

    async def _start_telegram(self) -> None:
        from bot.cite.linked import PacedFetch
        from bot.telegram.source import make_source
        from bot.telegram.watcher import Watcher

        s = self.settings
        self.source = source = make_source(s, self.db)
        self.watcher = watcher = Watcher(s, self.db, source)  # it starts and stops the source
        self._closers.append(watcher.stop)
        await watcher.start(background=True)  # feeds, detection and alerts start at once
        self.client = getattr(source, "client", None)
        # one pace over all articles: failed or too many new channels wait (bot/cite/linked.py)
        self.fetch_post = PacedFetch(source.fetch_post, self.db)
        self._every(watcher.poll, s.poll_interval, "poll-channels")
        self._every(watcher.catch_up_all, s.catchup_interval, "catch-up", start=False)

    async def _start_translation(self) -> None:
        from bot.translate.providers import ArgosTranslator, choose_translator, make_translator
        from bot.translate.queue import TranslationQueue

        choice = choose_translator(self.settings)
        log.info("translator: %s (%s)", choice.name, choice.reason)
        translator = make_translator(self.settings)
        self.translation_queue = TranslationQueue(self.db, translator, self.settings)
        if isinstance(translator, ArgosTranslator):
            self._closers.append(translator.close)  # cancels a model install in progress
        self._every(self._translate, self.settings.translate_interval, "translate")

    async def _start_news(self) -> None:
        from bot.news.fetch import Fetcher
        from bot.news.poller import FeedPoller

        fetcher = Fetcher(self.settings)
        self._closers.append(fetcher.close)
        self.poller = FeedPoller(self.db, self.settings, fetcher)
        # each stored article wakes detection at once, whatever the other feeds are doing
        self.poller.on_article = lambda _id: self.run_now("detect-citations")
        # the poller keeps each feed's own schedule; this tick only asks "is any feed due?"
        self._every(self._poll_feeds, min(30, self.settings.feed_interval), "poll-feeds")
        self._every(self._detect, 60, "detect-citations")

    async def _start_alerts(self) -> None:
        from telethon.errors import RPCError

        from bot.alerts.sender import AlertSender, LogTransport, TelethonTransport, rpc_reason

        s = self.settings
        alert_client = self.client
        if s.tg_bot_token:
            from bot.telegram.client import make_client

            alert_client = make_client(s, bot=True)
            self._closers.append(alert_client.close)  # also when the login fails: frees the lock
            try:
                await alert_client.start(bot_token=s.tg_bot_token)
            except RPCError as exc:  # ACCESS_TOKEN_INVALID and kin: a setting, not a bug
                raise ConfigError(f"TG_BOT_TOKEN: the bot cannot log in: {rpc_reason(exc)}") from None
        transport = TelethonTransport(alert_client) if alert_client is not None else LogTransport()
        self.sender = sender = AlertSender(self.db, transport, s)
        self._every(sender.run_once, s.alert_interval, "send-alerts")
        if alert_client is not None:
            from bot.alerts.commands import register_commands

            register_commands(alert_client, self.db, s)

    # -- jobs ---------------------------------------------------------------------------------
    def _every(self, fn: Callable[[], Awaitable[Any]], seconds: float, name: str,
               start: bool = True) -> None:
        # passing next_run_time=None would add the job paused; leave it out to start after a tick
        first = {"next_run_time": datetime.now(UTC)} if start else {}
        self.scheduler.add_job(
            self._guard(fn, name),
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            misfire_grace_time=max(30, int(seconds)),
            **first,
        )

    def _guard(self, fn: Callable[[], Awaitable[Any]], name: str) -> Callable[[], Awaitable[None]]:
        """One run at a time: a start while the job runs (its tick, or a wake-up by ``run_now``)
        makes the current run go once more instead. One failing run logs one line and leaves the
        next run scheduled; runs are tracked for stop()."""

        async def job() -> None:
            if self._stopping:
                return
            if name in self._active:
                self._again.add(name)
                return
            task = asyncio.current_task()
            assert task is not None
            self._running[task] = name
            self._active.add(name)
            try:
                while True:
                    self._again.discard(name)
                    await self._run_once(fn, name)
                    if self._stopping or name not in self._again:
                        break
            finally:
                self._active.discard(name)
                self._running.pop(task, None)

        job.__name__ = name
        return job

    async def _run_once(self, fn: Callable[[], Awaitable[Any]], name: str) -> None:
        try:
            await fn()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.warning("%s: cancelled at shutdown (its open transaction rolled back)", name)
        except CitewatchError as exc:
            log.warning("%s: %s", name, exc)
        except Exception:
            log.exception("%s failed", name)

    def run_now(self, name: str) -> None:
        """Wake a job at once (chaining: new articles → detection → alerts)."""
        if self._stopping:
            return
        if name in self._active:
            self._again.add(name)
            return
        job = self.scheduler.get_job(name)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    def _start_upkeep(self) -> None:
        # merging the index and refreshing its term counts: hourly, and only while no other job
        # runs (first an interval after start: start-up is when catch-up and polls are busy)
        self._every(self._tidy_index, TIDY_INTERVAL, "tidy-index", start=False)

    def busy(self, but: str = "") -> bool:
        """Whether any job other than ``but`` is running (or the service is stopping)."""
        return self._stopping or bool(self._active - {but})

    async def _tidy_index(self) -> None:
        """Index upkeep at a quiet moment (``storage.maintenance.tidy``): steps stop as soon as
        another job starts; what is left is done on a later quiet run."""
        from storage.maintenance import tidy

        if self.busy("tidy-index"):
            return
        report = await tidy(self.db, budget=TIDY_BUDGET, busy=lambda: self.busy("tidy-index"))
        log.info("tidy-index: %d merge step(s)%s%s in %.1f s", report.merge_steps,
                 ", index fully merged" if report.merged else "",
                 f", {report.terms} frequent terms" if report.terms is not None else "",
                 report.seconds)

    async def _translate(self) -> None:
        # drain what is due, batch by batch, so a backlog does not wait an interval per batch
        queue = self.translation_queue
        assert queue is not None  # the job is scheduled by _start_translation
        settled = 0
        while not self._stopping and await queue.run_batch():
            last = queue.last
            settled += last.translated + last.skipped
        if settled:
            await self._recheck_recent()

    async def _recheck_recent(self) -> None:
        """An article can arrive before the post it quotes is stored or translated (a feed polled
        right after the post): check recent articles again once new texts are settled. Storing
        citations is idempotent, so nothing is alerted twice."""
        from storage import articles

        since = datetime.now(UTC) - timedelta(hours=RECHECK_HOURS)
        recent = [a.id for a in await articles.checked_since(self.db, since, limit=RECHECK_MAX)
                  if a.id is not None]
        if recent and not self._stopping and await self._check(recent, record_errors=False):
            self.run_now("send-alerts")

    async def _poll_feeds(self) -> None:
        """Start a task for each due feed not being polled already, and return: a slow site keeps
        only its own feed busy, the others are polled on their own schedules."""
        from bot.news.poller import CONCURRENCY
        from storage import feeds as feeds_repo
        from storage.models import utcnow

        assert self.poller is not None  # the job is scheduled by _start_news
        from bot.news.discover import sync

        # a channel's title is known only once resolved: its discovery query follows it
        await sync(self.settings, self.db)
        if self._feed_slots is None:
            self._feed_slots = asyncio.Semaphore(CONCURRENCY)
        for feed in await feeds_repo.due(self.db, utcnow()):
            if feed.id is None or feed.id in self._feed_tasks or self._stopping:
                continue
            self._feed_tasks[feed.id] = asyncio.create_task(self._poll_feed(feed),
                                                            name=f"poll-feed-{feed.id}")

    async def _poll_feed(self, feed: Feed) -> None:
        assert self.poller is not None and feed.id is not None
        try:
            async with self._feed_slots or asyncio.Semaphore(1):
                result = await self.poller.poll_one(feed)  # each new article wakes detection
            if result.new_articles:
                log.info("feed %s: %d new article(s)", feed.url, len(result.new_articles))
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._feed_tasks.pop(feed.id, None)

    def _cite_pool(self, backlog: int) -> Executor | None:
        """Worker processes for detection, started by the first backlog worth them (a new feed's
        archive, a restart after downtime) and kept: each article is ~20 ms of CPU, and on the
        event loop that is time Telegram updates wait. Spawned, not forked: this process runs
        threads (aiosqlite, Telethon), and a fork copies their locks in whatever state they are."""
        workers = self.settings.cite_workers
        if self._pool is None and workers > 0 and backlog >= CITE_POOL_MIN:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_cite_worker,
                                       initargs=(str(self.db.path), os.getpid()))
            self._pool = pool
            log.info("checking articles in %d worker process(es)", workers)

            async def close_pool() -> None:
                await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

            self._closers.append(close_pool)
        return self._pool

    async def _check(self, ids: list[int], *, record_errors: bool) -> int:
        """Check articles (in the workers when there are enough of them); returns citations found.
        One bad article must not block the others: its failure is logged (and, on a first check,
        recorded against it so it is not retried forever)."""
        from bot.cite.pipeline import check_articles
        from storage import articles

        pool = self._cite_pool(len(ids))
        results = await check_articles(
            self.db, ids, self.settings, self.fetch_post,
            concurrency=3 * self.settings.cite_workers if pool else 1, executor=pool)
        found = 0
        for aid, outcome in results.items():
            if not isinstance(outcome, Exception):
                found += len(outcome)
                continue
            log.warning("article %s: detection failed: %s", aid, outcome)
            if record_errors:
                await articles.record_error(self.db, aid, f"detection failed: {outcome}")
        return found

    async def _detect(self) -> None:
        from storage import articles

        found = 0
        while not self._stopping:
            batch = await articles.unchecked(self.db, CITE_BATCH)
            if not batch:
                break
            found += await self._check([a.id for a in batch if a.id is not None], record_errors=True)
        if found:
            self.run_now("send-alerts")

    # -- lifecycle ----------------------------------------------------------------------------
    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: finishing current work")
        # pause, not shutdown: APScheduler's shutdown cancels running coroutine jobs at once,
        # and the point is to let them finish their current writes
        if self.scheduler.running:
            self.scheduler.pause()
        feed_polls = list(self._feed_tasks.values())
        for task in feed_polls:  # network-bound: cancelled, their requests with them
            task.cancel()
        if feed_polls:
            await asyncio.wait(feed_polls, timeout=1)
        for task, name in list(self._running.items()):
            if name in CANCEL_AT_STOP:
                task.cancel()
        if self._running:
            _done, pending = await asyncio.wait(set(self._running), timeout=STOP_GRACE)
            for t in pending:
                t.cancel()
            if pending:
                log.warning("%d job(s) cancelled at shutdown", len(pending))
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for close in self._closers:
            try:
                await asyncio.wait_for(close(), timeout=2)
            except Exception as exc:  # closing must go on whatever one part does
                log.warning("while closing: %s", exc)


PARENT_CHECK = 0.5  # seconds between a detection worker's looks at its parent


def _init_cite_worker(path: str, parent: int) -> None:
    """A detection worker: Ctrl-C reaches the whole process group, but stopping is the service's
    job (it lets the workers finish and shuts the pool down), so workers ignore SIGINT. A service
    killed outright (SIGKILL, OOM) never shuts the pool down, and an idle worker waits on a queue
    whose write end it holds itself, so it would wait forever: each worker watches its parent and
    exits when it is gone (``parent`` is passed in: a worker still starting when the service
    died would already see its new parent)."""
    import threading

    from bot.cite.pipeline import init_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(0)  # the parent is gone: nobody will read a result; no cleanup to wait for

    threading.Thread(target=watch_parent, name="citewatch-parent-watch", daemon=True).start()
    init_worker(path)


async def run_service(settings: Settings, stop_after: float | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop_after`` seconds, for tests)."""
    db = await Database.open(settings.citewatch_db)
    service = Service(settings, db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        if stop_after is not None:
            await asyncio.wait([asyncio.ensure_future(stop.wait())], timeout=stop_after)
        else:
            await stop.wait()
    finally:
        await service.stop()
        await db.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")
