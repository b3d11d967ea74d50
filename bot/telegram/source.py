"""What the Watcher needs from a channel source, and the choice between Telethon and the web.

A source turns one channel's new posts into stored ``Post`` rows. Both implementations store
through ``storage.posts.upsert_many`` (edits keep their old text) and move the channel's
``last_message_id`` forward, so either can pick up where the other stopped.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from bot.config import Settings
from bot.errors import ConfigError
from bot.telegram.session import session_file
from storage.db import Database
from storage.models import Channel, Post

log = logging.getLogger(__name__)


@runtime_checkable
class ChannelSource(Protocol):
    #: "telethon" or "web" (stored on each post as ``source``)
    name: str
    #: True when the source pushes live events for joined channels (Telethon)
    live: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def resolve(self, username: str) -> Channel:
        """The stored channel, resolving it once (SourceError: unknown, private, not a channel)."""
        ...

    async def catch_up(self, channel: Channel) -> int:
        """Store posts newer than ``channel.last_message_id`` (or backfill a new channel);
        returns how many were new or edited. Raises FloodWait / SourceError."""
        ...

    async def fetch_post(self, channel: str, message_id: int) -> Post | None: ...

    async def listen(self, channels: list[Channel]) -> None:
        """(Re)attach live handlers for these joined channels; a no-op without live events."""
        ...

    async def reconnected(self) -> bool:
        """True once after the connection came back (the Watcher then catches up)."""
        ...


def has_authorised_session(settings: Settings) -> bool:
    """A session file with an auth key: `citewatch login` has been run (checked offline)."""
    path = session_file(settings.tg_session)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    from telethon.sessions import SQLiteSession

    try:
        s = SQLiteSession(str(path))
    except Exception:  # a damaged file is "not authorised", the login command will say more
        return False
    try:
        return s.auth_key is not None
    finally:
        s.close()


def pick_source(settings: Settings) -> str:
    """SOURCE=auto → telethon with credentials and a logged-in session, else web."""
    if settings.source != "auto":
        return settings.source
    if settings.has_telegram_credentials and has_authorised_session(settings):
        return "telethon"
    return "web"


def make_source(settings: Settings, db: Database, *, client: object | None = None) -> ChannelSource:
    """The configured source, not started. ``client`` lets a caller share its TelegramClient."""
    kind = pick_source(settings)
    log.debug("channel source: %s", kind)
    if kind == "telethon":
        if not settings.has_telegram_credentials:
            raise ConfigError("SOURCE: 'telethon' needs TG_API_ID and TG_API_HASH")
        from bot.telegram.telethon_source import TelethonSource

        return TelethonSource(settings, db, client=client)  # type: ignore[arg-type]
    from bot.telegram.web_source import WebSource

    return WebSource(settings, db)
