"""Which linked posts an article's check fetches from Telegram, and how often a channel is asked.

An article may link hundreds of posts in hundreds of channels (a link roundup, a hostile page).
Fetching a post of a channel we do not store costs a channel resolve (Telethon's
``contacts.resolveUsername``, which Telegram answers with hours of FLOOD_WAIT after a burst; the web
preview pays a paced page load per channel). So per article at most ``LINKED_FETCHES`` missing
posts are fetched, the most-referenced first (``most_referenced``), and ``PacedFetch`` paces the
channels across articles: one that failed is not asked again for ``RETRY_AFTER``, and at most
``NEW_CHANNELS`` channels that are neither stored nor answered before are tried per ``WINDOW``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bot.errors import FloodWait, SourceError
from storage import channels
from storage.db import Database
from storage.models import Post

log = logging.getLogger(__name__)

FetchPost = Callable[[str, int], Awaitable[Post | None]]
PostKey = tuple[str, int]

#: missing linked posts fetched per article check (the rest wait for a later check or stay links)
LINKED_FETCHES = 10
#: seconds before a channel whose fetch failed (no such channel, private, an error) is asked again
RETRY_AFTER = 3600.0
#: channels neither stored nor seen answering that may be tried per WINDOW seconds
NEW_CHANNELS = 20
WINDOW = 3600.0


def most_referenced(refs: Iterable[PostKey]) -> list[PostKey]:
    """Distinct posts (channel lower-cased), the most-referenced first; ties go to the post whose
    channel the article references most, then to the one referenced first."""
    keys = [(c.lower(), m) for c, m in refs]
    per_post = Counter(keys)
    per_channel = Counter(c for c, _ in keys)
    first: dict[PostKey, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    return sorted(per_post, key=lambda k: (-per_post[k], -per_channel[k[0]], first[k]))


class PacedFetch:
    """A source's ``fetch_post`` behind a per-channel pace, kept across articles (the service
    holds one; the pipeline makes a fresh one for a bare ``fetch_post``)."""

    def __init__(self, fetch_post: FetchPost, db: Database, *, retry_after: float = RETRY_AFTER,
                 new_channels: int = NEW_CHANNELS, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch_post
        self._db = db
        self.retry_after = retry_after
        self.new_channels = new_channels
        self.window = window
        self._clock = clock
        self._answered: set[str] = set()
        self._failed: dict[str, float] = {}
        self._new: deque[float] = deque()
        self._paused_until = 0.0

    def _new_allowed(self) -> bool:
        now = self._clock()
        while self._new and now - self._new[0] >= self.window:
            self._new.popleft()
        return len(self._new) < self.new_channels

    def _held(self, channel: str, stored: set[str]) -> str | None:
        """Why ``channel`` is not asked now, or None (then a new channel takes its place in the
        window)."""
        now = self._clock()
        if now < self._paused_until:
            return "Telegram asked to wait"
        failed = self._failed.get(channel)
        if failed is not None and now - failed < self.retry_after:
            return "failed recently"
        if channel in self._answered or channel in stored:
            return None
        if not self._new_allowed():
            return f"over {self.new_channels} new channels in {self.window:.0f} s"
        self._new.append(now)
        return None

    async def fetch_many(self, keys: Sequence[PostKey], limit: int = LINKED_FETCHES) -> list[Post]:
        """Fetch posts of ``keys`` in order, at most ``limit`` asked; channels held back are
        skipped without counting. Failures are logged (one line each), never raised."""
        stored = await channels.stored(self._db, {c for c, _ in keys})
        got: list[Post] = []
        asked = 0
        held: Counter[str] = Counter()
        for channel, message_id in keys:
            if asked >= limit:
                break
            key = channel.lower()
            if why := self._held(key, stored):
                held[why] += 1
                continue
            asked += 1
            try:
                post = await self._fetch(channel, message_id)
            except FloodWait as exc:
                self._paused_until = self._clock() + exc.retry_after
                log.warning("cannot fetch linked post t.me/%s/%d: %s", channel, message_id, exc)
                continue
            except SourceError as exc:
                self._failed[key] = self._clock()
                log.warning("cannot fetch linked post t.me/%s/%d: %s", channel, message_id, exc)
                continue
            self._failed.pop(key, None)
            self._answered.add(key)
            if post is not None:
                got.append(post)
        left = len(keys) - asked - sum(held.values())
        if held or left > 0:
            reasons = ", ".join(f"{n} {why}" for why, n in held.items())
            log.info("fetched %d of %d missing linked posts (asked %d; not asked: %s%s)",
                     len(got), len(keys), asked, reasons + ", " if reasons else "",
                     f"{max(0, left)} over the cap of {limit} per article")
        return got
