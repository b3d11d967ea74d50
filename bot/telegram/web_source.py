"""The web-preview source: public channels read from ``t.me/s/<channel>`` without an account.

Polite by construction: one request at a time per host, WEB_INTERVAL seconds apart, a User-Agent
naming citewatch, and backoff on 429/5xx that honours Retry-After. A wait longer than
FLOOD_SLEEP_MAX becomes ``FloodWait`` so the Watcher postpones just that channel. Catch-up pages back
with ``?before=ID`` to the last stored id; re-reading the newest page detects edits (a changed text
becomes a new version in storage).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from bot.config import Settings
from bot.errors import FloodWait, NoSuchChannel, SourceError
from bot.telegram.webpreview import PreviewPage, parse_page
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage.db import Database
from storage.models import Channel, Post, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_PAGES = 500  # a safety stop for a runaway catch-up (≈ 10,000 posts)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare here, treat as "unknown"
        return None


class WebSource:
    name = "web"
    live = False

    def __init__(self, settings: Settings, db: Database,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.db = db
        self.base = settings.web_base_url.rstrip("/")
        self._http = http
        self._own_http = http is None
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._last_request: dict[str, float] = {}

    async def start(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(
                headers={"User-Agent": self.settings.user_agent, "Accept": "text/html"},
                timeout=self.settings.fetch_timeout, follow_redirects=False,
            )

    async def stop(self) -> None:
        if self._own_http and self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def listen(self, channels: list[Channel]) -> None:
        return None

    async def reconnected(self) -> bool:
        return False

    # ---- HTTP -----------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """GET with per-host serialisation, pacing and backoff; raises FloodWait/SourceError."""
        if self._http is None:
            await self.start()
        assert self._http is not None
        url = self.base + path
        host = urlsplit(url).netloc
        delay = max(self.settings.web_interval, 1.0)
        async with self._host_locks.setdefault(host, asyncio.Lock()):
            for attempt in range(1, MAX_ATTEMPTS + 1):
                wait = self._last_request.get(host, 0.0) + self.settings.web_interval \
                    - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    resp = await self._http.get(url, params=params)
                except httpx.HTTPError as exc:
                    raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc
                finally:
                    self._last_request[host] = time.monotonic()
                if resp.status_code != 429 and resp.status_code < 500:
                    return resp
                pause = _retry_after(resp) or delay
                if pause > self.settings.flood_sleep_max:
                    raise FloodWait(pause, f"{host} (HTTP {resp.status_code})")
                if attempt == MAX_ATTEMPTS:
                    break
                log.info("%s: HTTP %d, retrying in %.1fs", host, resp.status_code, pause)
                await asyncio.sleep(pause)
                delay *= 2
        raise SourceError(f"{url}: HTTP {resp.status_code} after {MAX_ATTEMPTS} attempts")

    async def page(self, username: str, before: int | None = None) -> PreviewPage:
        resp = await self._get(f"/s/{username}",
                               {"before": str(before)} if before is not None else None)
        if resp.is_redirect or resp.status_code == 404:
            raise NoSuchChannel(f"@{username}: no public channel by that name"
                              " (the web preview shows only public channels)")
        if resp.status_code != 200:
            raise SourceError(f"@{username}: web preview answered HTTP {resp.status_code}")
        page = parse_page(resp.content, username)
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
