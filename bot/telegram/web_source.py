"""The web-preview source: public channels read from ``t.me/s/<channel>`` without an account.

Polite by construction: one request at a time per host, WEB_INTERVAL seconds apart, a User-Agent
naming citewatch, and backoff on 429/5xx that honours Retry-After. A wait longer than
FLOOD_SLEEP_MAX becomes ``FloodWait`` so the Watcher postpones just that channel. Catch-up pages back
with ``?before=ID`` to the last stored id; re-reading the newest page detects edits (a changed text
becomes a new version in storage).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx

from bot.config import Settings
from bot.errors import FetchError, FloodWait, NoSuchChannel, SourceError
from bot.news.fetch import Fetcher, FetchResult, HTTPStatusError
from bot.telegram.webpreview import PreviewPage, parse_page
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage.db import Database
from storage.models import Channel, Post, utcnow

log = logging.getLogger(__name__)
_NO_HEADERS = httpx.Headers()

MAX_ATTEMPTS = 4
MAX_PAGES = 500  # a safety stop for a runaway catch-up (≈ 10,000 posts)


class WebSource:
    name = "web"
    live = False

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.base = settings.web_base_url.rstrip("/")
        self._http: Fetcher | None = None
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._last_request: dict[str, float] = {}

    async def start(self) -> None:
        if self._http is None:
            # the news fetcher's guard, caps and decoding: a hostile or broken preview page cannot
            # fill memory or reach link-local/metadata addresses. WEB_BASE_URL is the operator's own
            # choice (a mirror may be on the LAN) and no redirect is followed, so private addresses
            # are allowed for it; pacing is WEB_INTERVAL's, below, not FETCH_HOST_GAP.
            self._http = Fetcher(dataclasses.replace(self.settings, allow_private_urls=True,
                                                     fetch_host_gap=0.0))

    async def stop(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    async def listen(self, channels: list[Channel]) -> None:
        return None

    async def reconnected(self) -> bool:
        return False

    # ---- HTTP -----------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str] | None = None) -> FetchResult:
        """GET with per-host serialisation, pacing and backoff; raises FloodWait/SourceError.
        A redirect or a 404 is returned as it is: the caller knows what it means."""
        if self._http is None:
            await self.start()
        assert self._http is not None
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        host = urlsplit(url).netloc
        delay = max(self.settings.web_interval, 1.0)
        async with self._host_locks.setdefault(host, asyncio.Lock()):
            for attempt in range(1, MAX_ATTEMPTS + 1):
                wait = self._last_request.get(host, 0.0) + self.settings.web_interval \
                    - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    return await self._http.get_once(url, {"Accept": "text/html"}, accept="html")
                except HTTPStatusError as exc:
                    if exc.status != 429 and exc.status < 500:
                        return FetchResult(url, url, exc.status, _NO_HEADERS, b"")
                    status, pause = exc.status, exc.retry_after or delay
                except FetchError as exc:
                    raise SourceError(f"{url}: {exc}") from exc
                finally:
                    self._last_request[host] = time.monotonic()
                if pause > self.settings.flood_sleep_max:
                    raise FloodWait(pause, f"{host} (HTTP {status})")
                if attempt == MAX_ATTEMPTS:
                    break
                log.info("%s: HTTP %d, retrying in %.1fs", host, status, pause)
                await asyncio.sleep(pause)
                delay *= 2
        raise SourceError(f"{url}: HTTP {status} after {MAX_ATTEMPTS} attempts")

    async def page(self, username: str, before: int | None = None) -> PreviewPage:
        resp = await self._get(f"/s/{username}",
                               {"before": str(before)} if before is not None else None)
        if 300 <= resp.status < 400 or resp.status == 404:
            raise NoSuchChannel(f"@{username}: no public channel by that name"
                              " (the web preview shows only public channels)")
        if resp.status != 200:
            raise SourceError(f"@{username}: web preview answered HTTP {resp.status}")
        page = parse_page(resp.body, username)
        if not page.is_channel:
            raise NoSuchChannel(f"@{username}: no public channel by that name"
                              " (the web preview shows only public channels)")
        return page

    # ---- ChannelSource ------------------------------------------------------------------
    async def resolve(self, username: str) -> Channel:
        stored = await channels_repo.get(self.db, username)
        if stored is not None:
            return stored
        page = await self.page(username)
        ch = await channels_repo.add(self.db, page.username or username)
        await channels_repo.set_profile(self.db, ch.username, title=page.title, about=page.about)
        ch.title, ch.about = page.title or ch.title, page.about or ch.about
        return ch

    async def catch_up(self, channel: Channel) -> int:
        ch = await self.resolve(channel.username)
        name, last = ch.username, ch.last_message_id
        s = self.settings
        cutoff = utcnow() - timedelta(days=s.backfill_days) if s.backfill_days else None
        found: dict[int, Post] = {}
        page = await self.page(name)
        if (page.title, page.about) != (ch.title, ch.about) and (page.title or page.about):
            # a channel added before it was first read, or renamed: its press names follow
            await channels_repo.set_profile(self.db, name, title=page.title, about=page.about)
        for _ in range(MAX_PAGES):
            for p in page.posts:
                found.setdefault(p.message_id, p)
            oldest = page.min_id
            if oldest is None or oldest <= last + 1:
                break
            if last == 0:  # a new channel: stop at the backfill depth
                if len(found) >= s.backfill_limit:
                    break
                if cutoff is not None and min(p.date for p in page.posts) < cutoff:
                    break
            page = await self.page(name, before=oldest)
        posts = sorted(found.values(), key=lambda p: p.message_id)
        if last == 0:
            if cutoff is not None:
                posts = [p for p in posts if p.date >= cutoff]
            posts = posts[-s.backfill_limit:] if s.backfill_limit else []
            if not posts and found:  # BACKFILL_LIMIT=0: start from now
                await channels_repo.record_success(self.db, name, max(found))
                return 0
        # else: newer posts, and the older ones on the pages read, so changed texts become edits
        r = await posts_repo.upsert_many(self.db, posts)
        await channels_repo.record_success(self.db, name)
        return r.inserted + r.edited

    async def fetch_post(self, channel: str, message_id: int) -> Post | None:
        page = await self.page(channel, before=message_id + 1)
        return next((p for p in page.posts if p.message_id == message_id), None)
