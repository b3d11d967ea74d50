"""The Telethon source: a user account reads channels through MTProto.

A username is resolved once (``contacts.resolveUsername``); afterwards every call is built from
the stored ``InputPeerChannel(tg_id, access_hash)``, because re-resolving on every poll earns day-long
flood waits (Telethon issue #494). Telethon sleeps through flood waits up to FLOOD_SLEEP_MAX (its
``flood_sleep_threshold``); longer ones surface as our ``FloodWait`` so the Watcher postpones just that
channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from telethon import TelegramClient, errors, events, functions, types, utils
from tqdm import tqdm

from bot.config import Settings
from bot.errors import FloodWait, NoSuchChannel, SourceError
from bot.telegram.client import CitewatchClient, make_client
from bot.telegram.convert import is_content, message_to_post
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage.db import Database
from storage.models import Channel, Post, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
BATCH = 100


def forget_flood(client: TelegramClient | None, exc: errors.FloodWaitError) -> None:
    """Drop Telethon's memo of a flood wait so other channels may still try that method.

    Telethon remembers a long FLOOD_WAIT per request *type* and refuses every later call of it
    locally, which would freeze all channels for hours. We postpone the channel that hit it
    ourselves, so another channel costs at most one request, answered with its own wait.
    """
    memo = getattr(client, "_flood_waited_requests", None)
    request = getattr(exc, "request", None)
    if isinstance(memo, dict) and request is not None:
        memo.pop(getattr(request, "CONSTRUCTOR_ID", None), None)


@asynccontextmanager
async def telegram_errors(what: str, client: TelegramClient | None = None
                          ) -> AsyncIterator[None]:
    """Telethon's errors as our one-line ones; FloodWait keeps ``retry_after``."""
    try:
        yield
    except errors.FloodWaitError as exc:
        forget_flood(client, exc)
        raise FloodWait(exc.seconds, what) from exc
    except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError) as exc:
        raise NoSuchChannel(f"{what}: no public channel by that name") from exc
    except (errors.ChannelPrivateError, errors.ChannelInvalidError) as exc:
        raise SourceError(f"{what}: the channel is private or unavailable to this account") from exc
    except errors.ChannelsTooMuchError as exc:
        raise SourceError(f"{what}: this account has joined too many channels (CHANNELS_TOO_MUCH);"
                          " leave some, or watch this one without --join") from exc
    except errors.AuthKeyDuplicatedError as exc:
        raise SourceError("the session was used from two places at once and Telegram revoked it"
                          " (AUTH_KEY_DUPLICATED); run `citewatch login` again") from exc
    except errors.RPCError as exc:
        raise SourceError(f"{what}: Telegram error {exc.code} {exc.message}") from exc
    except (ConnectionError, OSError) as exc:
        raise SourceError(f"{what}: cannot reach Telegram ({exc})") from exc


def input_peer(channel: Channel) -> types.InputPeerChannel:
    if channel.tg_id is None or channel.access_hash is None:
        raise SourceError(f"@{channel.username} has not been resolved yet")
    return types.InputPeerChannel(channel.tg_id, channel.access_hash)


class TelethonSource:
    name = "telethon"
    live = True

    def __init__(self, settings: Settings, db: Database,
                 client: TelegramClient | None = None) -> None:
        self.settings = settings
        self.db = db
        self.client: TelegramClient | None = client
        self._own_client = client is None
        self._handlers: list[tuple[Callable[[Any], Awaitable[None]], Any]] = []
        self._names: dict[int, str] = {}  # marked peer id -> username, for live events
        self._was_connected = False
        self._reconnect_pending = False
        self._locks: dict[str, asyncio.Lock] = {}
        self._foreign: dict[str, types.InputPeerChannel] = {}  # fetch_post of unwatched channels

    # ---- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and check the login; calling it again (service, then Watcher) is harmless."""
        if self.client is not None and self._was_connected and self.client.is_connected():
            return
        if self.client is None:
            self.client = make_client(self.settings)
        client = self.client
        try:
            async with telegram_errors("connecting"):
                if not client.is_connected():
                    await client.connect()
                authorised = await client.is_user_authorized()
        except BaseException:
            await self._close_own()
            raise
        if not authorised:
            await self._close_own()
            raise SourceError("the Telegram session is not logged in: run `citewatch login`")
        self._was_connected = True
        callbacks = getattr(client, "reconnect_callbacks", None)
        if isinstance(callbacks, list) and self._on_reconnect not in callbacks:
            callbacks.append(self._on_reconnect)

    async def _on_reconnect(self) -> None:
        self._reconnect_pending = True

    async def stop(self) -> None:
        if self.client is not None:
            for cb, ev in self._handlers:
                self.client.remove_event_handler(cb, ev)
            callbacks = getattr(self.client, "reconnect_callbacks", None)
            if isinstance(callbacks, list) and self._on_reconnect in callbacks:
                callbacks.remove(self._on_reconnect)
        self._handlers.clear()
        await self._close_own()

    async def _close_own(self) -> None:
        if self._own_client and self.client is not None:
            client, self.client = self.client, None
            if isinstance(client, CitewatchClient):
                await client.close()
            else:
                await client.disconnect()

    @property
    def _c(self) -> TelegramClient:
        if self.client is None:
            raise SourceError("the Telegram source is not started")
        return self.client

    async def reconnected(self) -> bool:
        """Poll the connection; reconnect when Telethon gave up; True once after a comeback."""
        client = self._c
        if not client.is_connected():
            self._was_connected = False
            with contextlib.suppress(Exception):
                await client.connect()
                log.info("telegram: reconnected")
        if client.is_connected() and (not self._was_connected or self._reconnect_pending):
            self._was_connected = True
            self._reconnect_pending = False
            return True
        return False

    # ---- channels -------------------------------------------------------------------
    async def lookup(self, username: str) -> types.Channel:
        """One ``contacts.resolveUsername``: the channel, or a one-line SourceError."""
        async with telegram_errors(f"@{username}", self.client):
            found = await self._c(functions.contacts.ResolveUsernameRequest(username))
        peer = found.peer
        if not isinstance(peer, types.PeerChannel):
            raise SourceError(f"@{username} is a user or bot, not a channel")
        chat = next((c for c in found.chats if c.id == peer.channel_id), None)
        if not isinstance(chat, types.Channel) or chat.access_hash is None:
            raise SourceError(f"@{username}: the channel is private or unavailable to this account")
        return chat

    async def resolve(self, username: str) -> Channel:
        stored = await channels_repo.get(self.db, username)
        if stored is not None and stored.tg_id is not None and stored.access_hash is not None:
            return stored
        chat = await self.lookup(username)
        name = stored.username if stored is not None else (chat.username or username)
        await channels_repo.set_resolved(self.db, name, tg_id=chat.id,
                                         access_hash=chat.access_hash, title=chat.title,
                                         about=await self._about(chat))
        await channels_repo.set_joined(self.db, name, not chat.left)
        got = await channels_repo.get(self.db, name)
        assert got is not None
        log.info("resolved @%s (id %d)", name, chat.id)
        return got

    async def _about(self, chat: types.Channel) -> str | None:
        """The channel's description (one ``channels.getFullChannel``; the press names a channel's
        owner are derived from it). Not worth failing the resolve for: None when unavailable."""
        try:
            async with telegram_errors(f"@{chat.username}", self.client):
                full = await self._c(functions.channels.GetFullChannelRequest(
                    types.InputChannel(chat.id, chat.access_hash)))
        except FloodWait:
            raise
        except SourceError as exc:
            log.warning("no about text for @%s: %s", chat.username, exc)
            return None
        return getattr(full.full_chat, "about", None) or None

    async def join(self, channel: Channel) -> Channel:
        """Join so Telegram pushes this channel's updates (the caller paces joins)."""
        channel = await self.resolve(channel.username)
        async with telegram_errors(f"joining @{channel.username}", self.client):
            await self._c(functions.channels.JoinChannelRequest(
                types.InputChannel(channel.tg_id, channel.access_hash)))
        await channels_repo.set_joined(self.db, channel.username, True)
        channel.joined = True
        return channel

    # ---- reading ----------------------------------------------------------------------
    async def _store(self, batch: list[Post]) -> int:
        if not batch:
            return 0
        r = await posts_repo.upsert_many(self.db, batch)
        batch.clear()
        return r.inserted + r.edited

    async def catch_up(self, channel: Channel) -> int:
        channel = await self.resolve(channel.username)
        peer = input_peer(channel)
        if channel.last_message_id == 0:
            n = await self._backfill(channel, peer)
        else:
            n = 0
            batch: list[Post] = []
            what = f"catching up @{channel.username}"
            try:
                async with telegram_errors(what, self.client):
                    async for m in self._c.iter_messages(peer, min_id=channel.last_message_id,
                                                         reverse=True, wait_time=0):
                        if is_content(m):
                            batch.append(message_to_post(m, channel.username))
                        if len(batch) >= BATCH:
                            n += await self._store(batch)
            finally:
                n += await self._store(batch)
        await channels_repo.record_success(self.db, channel.username)
        return n

    async def _backfill(self, channel: Channel, peer: types.InputPeerChannel) -> int:
        """A new channel: its newest BACKFILL_LIMIT posts, no older than BACKFILL_DAYS."""
        s = self.settings
        what = f"backfilling @{channel.username}"
        if s.backfill_limit == 0:  # start from now: remember the newest id, store nothing
            async with telegram_errors(what, self.client):
                newest = await self._c.get_messages(peer, limit=1)
            if newest:
                await channels_repo.record_success(self.db, channel.username, newest[0].id)
            return 0
        cutoff = utcnow() - timedelta(days=s.backfill_days) if s.backfill_days else None
        n = 0
        batch: list[Post] = []
        bar = tqdm(total=s.backfill_limit, desc=f"@{channel.username}", unit="post",
                   disable=not sys.stderr.isatty(), leave=False)
        try:
            async with telegram_errors(what, self.client):
                async for m in self._c.iter_messages(peer, limit=s.backfill_limit):
                    if cutoff is not None and m.date < cutoff:
                        break
                    bar.update(1)
                    if is_content(m):
                        batch.append(message_to_post(m, channel.username))
                    if len(batch) >= BATCH:
                        n += await self._store(batch)
        finally:
            n += await self._store(batch)
            bar.close()
        log.info("backfilled @%s: %d posts", channel.username, n)
        return n

    async def fetch_post(self, channel: str, message_id: int) -> Post | None:
        stored = await channels_repo.get(self.db, channel)
        if stored is not None:
            peer = input_peer(await self.resolve(stored.username))
            name = stored.username
        else:  # a channel we do not watch: resolve in memory only, so it is not watched
            if channel.lower() not in self._foreign:
                chat = await self.lookup(channel)
                self._foreign[channel.lower()] = types.InputPeerChannel(chat.id, chat.access_hash)
            peer, name = self._foreign[channel.lower()], channel
        async with telegram_errors(f"@{name}/{message_id}", self.client):
            m = await self._c.get_messages(peer, ids=message_id)
        return message_to_post(m, name) if m is not None and is_content(m) else None

    # ---- live events --------------------------------------------------------------------
    async def listen(self, channels: list[Channel]) -> None:
        client = self._c
        for cb, ev in self._handlers:
            client.remove_event_handler(cb, ev)
        self._handlers.clear()
        joined = [c for c in channels if c.joined and c.tg_id is not None]
        self._names = {utils.get_peer_id(types.PeerChannel(c.tg_id)): c.username for c in joined}
        if not joined:
            return
        ids = [c.tg_id for c in joined]
        for cb, ev in ((self._on_message, events.NewMessage(chats=ids)),
                       (self._on_message, events.MessageEdited(chats=ids)),
                       (self._on_deleted, events.MessageDeleted(chats=ids))):
            client.add_event_handler(cb, ev)
            self._handlers.append((cb, ev))
        log.info("listening to %d joined channels", len(joined))

    async def _on_message(self, event: Any) -> None:
        name = self._names.get(event.chat_id)
        if name is None or not is_content(event.message):
            return
        try:
            # Telethon runs handlers as concurrent tasks; a FIFO lock keeps one channel in order
            async with self._locks.setdefault(name, asyncio.Lock()):
                if isinstance(event, events.NewMessage.Event):
                    await self._fill_hole(name, event.message.id)
                r = await posts_repo.upsert_many(self.db, [message_to_post(event.message, name)])
            log.debug("live @%s/%d: %s", name, event.message.id, r)
        except Exception:  # one bad update must not stop the others
            log.exception("storing live post @%s/%d failed", name, event.message.id)

    async def _fill_hole(self, name: str, new_id: int) -> None:
        """Fetch what lies between the last stored id and a live post before storing it.

        Storing the live post moves ``last_message_id`` past anything Telethon missed (a gap in
        the first update after a start cannot be seen by pts), and catch-up starts from there;
        so a jump in ids costs one getHistory over just that range. Ids also skip for deleted
        posts and service messages, where this finds nothing.
        """
        ch = await channels_repo.get(self.db, name)
        if ch is None or ch.last_message_id == 0 or new_id <= ch.last_message_id + 1:
            return
        batch: list[Post] = []
        try:
            what = f"filling @{name} {ch.last_message_id + 1}..{new_id - 1}"
            async with telegram_errors(what, self.client):
                async for m in self._c.iter_messages(input_peer(ch), min_id=ch.last_message_id,
                                                     max_id=new_id, reverse=True, wait_time=0):
                    if is_content(m):
                        batch.append(message_to_post(m, name))
        except SourceError as exc:  # stored anyway; only this range waits for a human look
            log.warning("%s", exc)
        if batch:
            await posts_repo.upsert_many(self.db, batch)
            log.info("@%s: %d posts missed by updates were fetched", name, len(batch))

    async def _on_deleted(self, event: Any) -> None:
        if event.chat_id not in self._names:
            return
        tg_id, _ = utils.resolve_id(event.chat_id)
        try:
            n = await posts_repo.mark_deleted(self.db, tg_id, event.deleted_ids)
            log.info("@%s: %d posts deleted", self._names[event.chat_id], n)
        except Exception:
            log.exception("marking deletions in @%s failed", self._names[event.chat_id])
