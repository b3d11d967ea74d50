"""The feed poller (job body): due feeds → conditional GET → new entries → fetched, stored articles.

Every failure lands on the thing that failed — the feed (``last_error``, back-off) or the article (a
row with status 'error' and the reason) — and the poll goes on with the next one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings
from bot.errors import CitewatchError
from bot.news.extract import extract_article
from bot.news.feeds import (
    FeedEntry,
    next_after_error,
    next_after_success,
    parse_feed,
    parse_max_age,
)
from bot.news.fetch import Fetcher, HTTPStatusError, parse_retry_after
from bot.news.urls import normalize_url
from bot.tglinks import refs_to_json
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.db import Database
from storage.models import Article, Feed, utcnow

log = logging.getLogger(__name__)

#: New entries fetched per feed per poll; the rest wait for the next poll (a first poll of a feed
#: with hundreds of items must not hammer one site).
MAX_NEW_PER_POLL = 50
#: Feeds polled at once (each host still sees one request at a time).
CONCURRENCY = 4


@dataclass
class FeedPollResult:
    feed: str
    status: str  # "ok", "not-modified" or "error"
    new_articles: list[int] = field(default_factory=list)
    failed_articles: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    error: str | None = None


async def seed_feeds(settings: Settings, db: Database) -> list[str]:
    """Add the FEEDS setting's URLs to the feeds table; returns those that were new."""
    added = []
    for url in settings.feeds:
        _feed, created = await feeds_repo.add(db, url)
        if created:
            added.append(url)
    return added


class FeedPoller:
    def __init__(self, db: Database, settings: Settings, fetcher: Fetcher) -> None:
        self.db = db
        self.settings = settings
        self.fetcher = fetcher
        self.results: list[FeedPollResult] = []  # of the last poll_due(), for the CLI and logs

    async def poll_due(self, now: datetime | None = None) -> list[int]:
        """Poll every due feed; returns the ids of newly stored articles."""
        now = now or utcnow()
        due = await feeds_repo.due(self.db, now)
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(feed: Feed) -> FeedPollResult:
            async with sem:
                try:
                    return await self.poll_feed(feed, now)
                except Exception as exc:  # a bug on one feed's bytes must not stop the others
                    log.exception("feed %s: internal error", feed.url)
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                    assert feed.id is not None
                    interval = feed.interval or self.settings.feed_interval
                    await feeds_repo.record_error(
                        self.db, feed.id, reason, now=now,
                        next_poll_at=next_after_error(now, interval, feed.error_count + 1))
                    return FeedPollResult(feed.url, "error", error=reason)

        self.results = list(await asyncio.gather(*(one(f) for f in due)))
        return [i for r in self.results for i in r.new_articles]

    async def poll_feed(self, feed: Feed, now: datetime | None = None) -> FeedPollResult:
        now = now or utcnow()
        assert feed.id is not None
        interval = feed.interval or self.settings.feed_interval
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                             "text/xml;q=0.9, */*;q=0.5"}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            res = await self.fetcher.get(feed.url, headers, accept="feed")
            retry_after = parse_retry_after(res.headers.get("retry-after"), now)
            nxt = next_after_success(now, interval, retry_after=retry_after,
                                     max_age=parse_max_age(res.headers.get("cache-control")))
            if res.status == 304:
                await feeds_repo.record_success(self.db, feed.id, next_poll_at=nxt, now=now)
                return FeedPollResult(feed.url, "not-modified")
            parsed = parse_feed(res.body, res.final_url, res.headers.get("content-type", ""))
        except CitewatchError as exc:
            reason = str(exc)
            retry = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            nxt = next_after_error(now, interval, feed.error_count + 1, retry_after=retry)
            await feeds_repo.record_error(self.db, feed.id, reason, next_poll_at=nxt, now=now)
            log.warning("feed %s: %s (next poll %s)", feed.url, reason, nxt.isoformat())
            return FeedPollResult(feed.url, "error", error=reason)
        if parsed.warning:
            log.info("feed %s: %s", feed.url, parsed.warning)
        result = FeedPollResult(feed.url, "ok")
        for entry in await self._new_entries(feed.id, parsed.entries):
            await self._fetch_article(feed.id, entry, result)
        # validators only after the entries are stored: a crash mid-poll re-reads the same feed
        await feeds_repo.record_success(
            self.db, feed.id, next_poll_at=nxt, now=now, title=parsed.title,
            etag=res.headers.get("etag"), last_modified=res.headers.get("last-modified"),
        )
        return result

    async def _new_entries(self, feed_id: int, entries: list[FeedEntry]) -> list[FeedEntry]:
        links = [normalize_url(e.link) for e in entries]
        known = await articles_repo.known_urls(self.db, links + [e.link for e in entries])
        known_ids = await articles_repo.known_entries(self.db, feed_id, [e.entry_id for e in entries])
        fresh = [e for e, norm in zip(entries, links, strict=True)
                 if e.link not in known and norm not in known and e.entry_id not in known_ids]
        unique = list({normalize_url(e.link): e for e in reversed(fresh)}.values())[::-1]
        return unique[:MAX_NEW_PER_POLL]

    async def _fetch_article(self, feed_id: int, entry: FeedEntry, result: FeedPollResult) -> None:
        link = normalize_url(entry.link)
        base = Article(url=entry.link, canonical_url=link, feed_id=feed_id, entry_id=entry.entry_id,
                       title=entry.title, published=entry.published)
        try:
            res = await self.fetcher.get(entry.link, accept="html")
            # trafilatura is CPU-bound (tens of ms a page): keep the event loop free
            ex = await asyncio.to_thread(extract_article, res.body, res.final_url)
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
        elif created:
            result.new_articles.append(article_id)
