"""The Watcher: keeps every active channel caught up, whatever the source.

Telegram pushes updates only for joined channels, and Telethon's own ``catch_up`` silently gives up
on flood waits and "too long" gaps. So: on start, periodically, and after each reconnect, every
channel is caught up from its last stored id; joined channels also get live handlers; the rest are
polled. A long flood wait or an error postpones only its channel (``paused_until``), never the others.
A channel that answers "no such channel" NO_SUCH_AFTER times in a row is paused for NO_SUCH_PAUSE
(the reason is its ``last_error``), and tried again after that.

The service starts the first catch-up in the background (``start(background=True)``): feeds,
detection and alerts do not wait for hundreds of channels to be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bot.config import Settings
from bot.errors import FloodWait, NoSuchChannel, SourceError
from bot.telegram.source import ChannelSource
from storage import channels as channels_repo
from storage.db import Database
from storage.models import Channel, utcnow

log = logging.getLogger(__name__)

NO_SUCH_AFTER = 3  # "no such channel" answers in a row before the channel is paused
NO_SUCH_PAUSE = timedelta(hours=24)  # then it is asked again once a day


async def seed_channels(settings: Settings, db: Database) -> list[str]:
    """Add the CHANNELS setting's names not yet stored (resolved later, on first catch-up), and
    watch those an import brought in as archives (a channel removed by hand stays removed)."""
    added = []
    for name in settings.channels:
        ch = await channels_repo.get(db, name)
        if ch is None:
            await channels_repo.add(db, name, settings.aliases_for(name))
            added.append(name)
        elif ch.archived:
            await channels_repo.activate(db, ch.username)
            added.append(name)
    return added


class Watcher:
    def __init__(self, settings: Settings, db: Database, source: ChannelSource, *,
                 reconnect_check: float = 5.0) -> None:
        self.settings = settings
        self.db = db
        self.source = source
        self.reconnect_check = reconnect_check
        self._listening: frozenset[int] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Task[None] | None = None  # the first catch-up, when in the background
        self._lock = asyncio.Lock()  # one sweep at a time: catch-up, poll and reconnect overlap

    async def start(self, *, background: bool = False) -> None:
        """Start the source, listen, and catch every channel up (``background``: in a task, so
        the caller goes on at once)."""
        await self.source.start()
        async with self._lock:  # listen first, so nothing published during catch-up slips by
            await self._refresh_listeners()
        if background:
            self._first = asyncio.create_task(self._first_catch_up(), name="citewatch-catch-up")
        else:
            await self.catch_up_all()
        if self.source.live:
            self._task = asyncio.create_task(self._watch_connection(), name="citewatch-reconnect")

    async def _first_catch_up(self) -> None:
        try:
            n = await self.catch_up_all()
        except Exception:
            log.exception("catch-up at start failed (the periodic one will retry)")
            return
        log.info("start-up catch-up done: %d new or edited posts", n)

    async def stop(self) -> None:
        for task in (self._first, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._first = self._task = None
        await self.source.stop()

    async def catch_up_all(self) -> int:
        """Every active channel not paused; then (re)attach live handlers if the set changed."""
        async with self._lock:
            n = 0
            for ch in await channels_repo.list_active(self.db):
                n += await self._catch_up_one(ch)
            await self._refresh_listeners()
            return n

    async def poll(self) -> int:
        """Channels without live events: not joined, or every channel of the web source."""
        async with self._lock:
            n = 0
            for ch in await channels_repo.list_active(self.db):
                if self.source.live and ch.joined:
                    continue
                n += await self._catch_up_one(ch)
            await self._refresh_listeners()
            return n

    def paused(self, ch: Channel) -> bool:
        return ch.paused_until is not None and ch.paused_until > utcnow()

    async def _catch_up_one(self, ch: Channel) -> int:
        if self.paused(ch):
            log.debug("@%s paused until %s", ch.username, ch.paused_until)
            return 0
        try:
            n = await self.source.catch_up(ch)
        except FloodWait as exc:
            until = utcnow() + timedelta(seconds=exc.retry_after)
            await channels_repo.record_error(self.db, ch.username, str(exc), paused_until=until)
            log.warning("@%s: %s; postponed until %s", ch.username, exc,
                        until.isoformat(timespec="seconds"))
            return 0
        except NoSuchChannel as exc:
            await self._no_such_channel(ch, exc)
            return 0
        except SourceError as exc:
            await channels_repo.record_error(self.db, ch.username, str(exc))
            log.warning("@%s: %s", ch.username, exc)
            return 0
        if n:
            log.info("@%s: %d new or edited posts", ch.username, n)
        return n

    async def _no_such_channel(self, ch: Channel, exc: NoSuchChannel) -> None:
        """Record the answer; the NO_SUCH_AFTER-th in a row pauses the channel, with the reason."""
        times = ch.error_count + 1
        if times < NO_SUCH_AFTER:
            await channels_repo.record_error(self.db, ch.username, str(exc))
            log.warning("@%s: %s", ch.username, exc)
            return
        until = utcnow() + NO_SUCH_PAUSE
        reason = (f"{exc}; {times} times in a row, paused until "
                  f"{until.isoformat(timespec='minutes')}")
        await channels_repo.record_error(self.db, ch.username, reason, paused_until=until)
        log.warning("@%s: %s", ch.username, reason)

    async def _refresh_listeners(self) -> None:
        if not self.source.live:
            return
        joined = [c for c in await channels_repo.list_active(self.db)
                  if c.joined and c.tg_id is not None]
        ids = frozenset(c.tg_id for c in joined if c.tg_id is not None)
        if ids != self._listening:
            await self.source.listen(joined)
            self._listening = ids

    async def _watch_connection(self) -> None:
        while True:
            await asyncio.sleep(self.reconnect_check)
            try:
                if await self.source.reconnected():
                    log.info("connection is back: catching up every channel")
                    await self.catch_up_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconnect check failed")
