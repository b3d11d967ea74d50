"""The feed poller (job body): due feeds → conditional GET → new entries → fetched, stored articles.

Feeds are RSS/Atom, news sitemaps (detected from the bytes) and ``gdelt:QUERY`` searches (one
GDELT request per 5 s across all of them). Article pages are fetched politely: robots.txt first,
at most ARTICLES_PER_POLL per poll and ARTICLES_PER_HOUR per hour (entries over the cap wait for
the next poll), and the fetcher keeps FETCH_HOST_GAP between two requests to one host. Each stored
text joins the story of a stored copy, if any (bot/news/stories.py).

Every failure lands on the thing that failed — the feed (``last_error``, back-off) or the article (a
row with status 'error' and the reason) — and the poll goes on with the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import Settings
from bot.errors import CitewatchError
from bot.news import gdelt, stories
from bot.news.extract import extract_article
from bot.news.feeds import (
    FeedEntry,
    ParsedFeed,
    next_after_error,
    next_after_success,
    parse_feed,
    parse_max_age,
)
from bot.news.fetch import Fetcher, FetchResult, HTTPStatusError, parse_retry_after
from bot.news.robots import RobotsCache, RobotsUnavailable
from bot.news.urls import normalize_url
from bot.tglinks import refs_to_json
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage import stories as stories_repo
from storage.db import Database
from storage.models import Article, Feed, utcnow

log = logging.getLogger(__name__)

#: Feeds polled at once (each host still sees one request at a time).
CONCURRENCY = 4


@dataclass
class Budget:
    """Article pages this poll may still fetch (ARTICLES_PER_POLL, within ARTICLES_PER_HOUR)."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass
class FeedPollResult:
    feed: str
    status: str  # "ok", "not-modified" or "error"
    new_articles: list[int] = field(default_factory=list)
    failed_articles: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    error: str | None = None
    deferred: int = 0  # new entries left for a later poll by the fetch caps
    copies: list[tuple[int, int]] = field(default_factory=list)  # (article id, story id) of copies


async def seed_feeds(settings: Settings, db: Database) -> list[str]:
    """Add the FEEDS setting's URLs to the feeds table and keep the discovery queries in step with
    the watched channels (DISCOVER); returns the FEEDS that were new."""
    from bot.news.discover import sync

    added = []
    for url in settings.feeds:
        _feed, created = await feeds_repo.add(db, url)
        if created:
            added.append(url)
    await sync(settings, db)
    return added


class FeedPoller:
    """Polls due feeds. ``on_article`` is called with each new article's id as soon as it is
    stored, so its detection need not wait for the other feeds of the poll (a slow site would
    hold up every other feed's alerts)."""

    on_article: Callable[[int], None] | None = None

    def __init__(self, db: Database, settings: Settings, fetcher: Fetcher,
                 gate: gdelt.RateGate | None = None) -> None:
        self.db = db
        self.settings = settings
        self.fetcher = fetcher
        # turns claimed in the database: GDELT's rule is per address, whichever process asks
        self.gate = gate or gdelt.RateGate(db=db)
        self.robots = RobotsCache(fetcher, settings.user_agent)
        self.results: list[FeedPollResult] = []  # of the last poll_due(), for the CLI and logs

    async def budget(self, now: datetime) -> Budget:
        """This poll's article budget: ARTICLES_PER_POLL, less what the last hour already used."""
        used = await articles_repo.fetched_since(self.db, now - timedelta(hours=1))
        return Budget(max(0, min(self.settings.articles_per_poll,
                                 self.settings.articles_per_hour - used)))

    async def poll_due(self, now: datetime | None = None) -> list[int]:
        """Poll every due feed; returns the ids of newly stored articles."""
        now = now or utcnow()
        due = await feeds_repo.due(self.db, now)
        sem = asyncio.Semaphore(CONCURRENCY)
        budget = await self.budget(now)

        async def one(feed: Feed) -> FeedPollResult:
            async with sem:
                return await self.poll_one(feed, now, budget)

        self.results = list(await asyncio.gather(*(one(f) for f in due)))
        return [i for r in self.results for i in r.new_articles]

    async def poll_one(self, feed: Feed, now: datetime | None = None,
                       budget: Budget | None = None) -> FeedPollResult:
        """``poll_feed``, with an unexpected error recorded against the feed instead of raised (the
        service polls each due feed in its own task: one feed never waits for another)."""
        now = now or utcnow()
        try:
            return await self.poll_feed(feed, now, budget)
        except Exception as exc:  # a bug on one feed's bytes must not stop the others
            log.exception("feed %s: internal error", feed.url)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            assert feed.id is not None
            interval = self._interval(feed)
            await feeds_repo.record_error(
                self.db, feed.id, reason, now=now,
                next_poll_at=next_after_error(now, interval, feed.error_count + 1))
            return FeedPollResult(feed.url, "error", error=reason)

    def _interval(self, feed: Feed) -> int:
        if feed.interval:
            return feed.interval
        return self.settings.gdelt_interval if gdelt.is_gdelt(feed.url) else self.settings.feed_interval

    async def poll_feed(self, feed: Feed, now: datetime | None = None,
                        budget: Budget | None = None) -> FeedPollResult:
        now = now or utcnow()
        assert feed.id is not None
        budget = budget or await self.budget(now)
        interval = self._interval(feed)
        try:
            if gdelt.is_gdelt(feed.url):
                res, parsed = await self._ask_gdelt(feed, now)
            else:
                res, parsed = await self._get_feed(feed)
            retry_after = parse_retry_after(res.headers.get("retry-after"), now)
            nxt = next_after_success(now, interval, retry_after=retry_after,
                                     max_age=parse_max_age(res.headers.get("cache-control")))
            if parsed is None:  # 304
                await feeds_repo.record_success(self.db, feed.id, next_poll_at=nxt, now=now)
                return FeedPollResult(feed.url, "not-modified")
        except CitewatchError as exc:
            reason = str(exc)
            retry = getattr(exc, "retry_after", None)
            nxt = next_after_error(now, interval, feed.error_count + 1, retry_after=retry)
            if gdelt.is_gdelt(feed.url) and (isinstance(exc, gdelt.GdeltRateLimited) or getattr(
                    exc, "status", None) == 429):
                # GDELT's limit is per address and passes in seconds: not a broken feed to back off
                nxt = now + timedelta(seconds=max(retry or 0.0, gdelt.BACKOFF_GAP))
            await feeds_repo.record_error(self.db, feed.id, reason, next_poll_at=nxt, now=now)
            log.warning("feed %s: %s (next poll %s)", feed.url, reason, nxt.isoformat())
            return FeedPollResult(feed.url, "error", error=reason)
        if parsed.warning:
            log.info("feed %s: %s", feed.url, parsed.warning)
        result = FeedPollResult(feed.url, "ok")
        fresh = await self._new_entries(feed.id, parsed.entries)
        # a search lists one story from several outlets at once: its articles go to detection
        # together, after the poll, so the one alert names the first outlet and lists the copies
        together = gdelt.is_gdelt(feed.url)
        for i, entry in enumerate(fresh):
            if not budget.take():
                result.deferred = len(fresh) - i
                log.info("feed %s: %d new entries wait for the next poll (fetch caps)",
                         feed.url, result.deferred)
                break
            await self._fetch_article(feed.id, entry, result, wake=not together)
        if together and self.on_article is not None:
            for article_id in result.new_articles:
                self.on_article(article_id)
        # validators only after the entries are stored: a crash mid-poll re-reads the same feed
        await feeds_repo.record_success(
            self.db, feed.id, next_poll_at=nxt, now=now, title=parsed.title, kind=parsed.kind,
            etag=res.headers.get("etag"), last_modified=res.headers.get("last-modified"),
            complete=result.deferred == 0,
        )
        return result

    async def _get_feed(self, feed: Feed) -> tuple[FetchResult, ParsedFeed | None]:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                             "text/xml;q=0.9, */*;q=0.5"}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        res = await self.fetcher.get(feed.url, headers, accept="feed")
        if res.status == 304:
            return res, None
        return res, parse_feed(res.body, res.final_url, res.headers.get("content-type", ""))

    async def _ask_gdelt(self, feed: Feed, now: datetime) -> tuple[FetchResult, ParsedFeed]:
        """One GDELT artlist request, never within 5 s of another (any feed), newest first."""
        query = gdelt.query_of(feed.url)
        url = gdelt.request_url(self.settings.gdelt_api_url, query,
                                gdelt.timespan(feed.covered_at, now))
        async with self.gate:
            try:
                res = await self.fetcher.get(url, {"Accept": "application/json"}, accept="any")
            except HTTPStatusError as exc:
                if exc.status == 429:
                    self.gate.slow_down()
                raise
            try:
                found = gdelt.parse_artlist(res.body)
            except gdelt.GdeltRateLimited:
                self.gate.slow_down()
                raise
            self.gate.recovered()
        return res, gdelt.as_feed(query, found)

    async def _new_entries(self, feed_id: int, entries: list[FeedEntry]) -> list[FeedEntry]:
        links = [normalize_url(e.link) for e in entries]
        known = await articles_repo.known_urls(self.db, links + [e.link for e in entries])
        known_ids = await articles_repo.known_entries(self.db, feed_id, [e.entry_id for e in entries])
        fresh = [e for e, norm in zip(entries, links, strict=True)
                 if e.link not in known and norm not in known and e.entry_id not in known_ids]
        return list({normalize_url(e.link): e for e in reversed(fresh)}.values())[::-1]

    async def _fetch_article(self, feed_id: int, entry: FeedEntry, result: FeedPollResult, *,
                             wake: bool = True) -> None:
        link = normalize_url(entry.link)
        base = Article(url=entry.link, canonical_url=link, feed_id=feed_id, entry_id=entry.entry_id,
                       title=entry.title, published=entry.published)
        try:
            await self.robots.check(entry.link)
            res = await self.fetcher.get(entry.link, accept="html")
            # trafilatura is CPU-bound (tens of ms a page): keep the event loop free
            ex = await asyncio.to_thread(extract_article, res.body, res.final_url)
        except RobotsUnavailable as exc:  # not stored: the entry is tried again next poll
            result.deferred += 1
            result.failed_articles.append((entry.link, str(exc)))
            log.warning("article %s: %s", entry.link, exc)
            return
        except CitewatchError as exc:
            base.status, base.error = "error", str(exc)
            await articles_repo.add(self.db, base, [entry.link, link])
            result.failed_articles.append((entry.link, str(exc)))
            log.warning("article %s: %s", entry.link, exc)
            return
        article = Article(
            url=res.final_url, canonical_url=ex.canonical_url, feed_id=feed_id,
            entry_id=entry.entry_id, title=ex.title or entry.title, author=ex.author,
            outlet=ex.outlet, published=ex.published or entry.published, lang=ex.lang,
            text=ex.text, tg_refs=refs_to_json(ex.tg_refs),
        )
        if not ex.text and not ex.tg_refs:
            article.status, article.error = "error", "no article text found in the page"
        urls = [entry.link, link, res.final_url, normalize_url(res.final_url)]
        article_id, created = await articles_repo.add(self.db, article, urls)
        if article.status == "error":
            result.failed_articles.append((entry.link, article.error or ""))
            return
        if not created:
            return
        result.new_articles.append(article_id)
        sketch = stories.sketch(article.text)
        if sketch:
            story = await stories_repo.attach(self.db, article_id, sketch, stories.same_story,
                                              min_shared=stories.MIN_SHARED)
            if story != article_id:
                result.copies.append((article_id, story))
                log.info("article %s is a copy of story %s: %s", article_id, story, entry.link)
        if wake and self.on_article is not None:  # after its story is known: a copy is alerted once
            self.on_article(article_id)
