"""Build the one Telethon client of a process: private locked session, optional test server.

``TG_SERVER``/``TG_SERVER_KEY`` point the real client at Telegram's test DCs or a local emulator
(the tests' in-process server): ``session.set_dc`` replaces the address and ``rsa.add_key`` makes
Telethon trust that server's key. Nothing here logs the session path's contents or the api hash.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from telethon import TelegramClient
from telethon.crypto import rsa

from bot.config import Settings
from bot.errors import ConfigError
from bot.telegram.session import SessionLock, make_private, session_file, tighten

log = logging.getLogger(__name__)


class CitewatchClient(TelegramClient):  # type: ignore[misc]
    """A ``TelegramClient`` that owns its session lock; ``await client.close()`` releases it."""

    session_lock: SessionLock
    session_path: Path
    #: awaited after Telethon's own auto-reconnect (Telethon itself does not catch up: its
    #: ``_handle_auto_reconnect`` says "TODO Catch-up"), so the Watcher can
    reconnect_callbacks: list[Callable[[], Awaitable[None]]]

    async def _handle_auto_reconnect(self) -> None:
        await super()._handle_auto_reconnect()
        for cb in list(getattr(self, "reconnect_callbacks", [])):
            try:
                await cb()
            except Exception:
                log.exception("reconnect callback failed")

    async def close(self) -> None:
        try:
            if self.is_connected():
                await self.disconnect()
        finally:
            tighten(self.session_path)
            self.session_lock.release()


def trust_server_key(pem_path: Path) -> None:
    """Make Telethon accept a (test) server's RSA key; adding the same key twice is harmless."""
    try:
        pem = pem_path.read_text()
        rsa.add_key(pem, old=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"TG_SERVER_KEY: cannot use {pem_path}: {exc}") from None


def make_client(settings: Settings, *, bot: bool = False) -> CitewatchClient:
    """A client on TG_SESSION (or TG_BOT_SESSION), locked to this process, not yet connected.

    Raises ``SourceError`` when another process holds the session, ``ConfigError`` without
    API credentials.
    """
    if not settings.has_telegram_credentials:
        raise ConfigError("TG_API_ID and TG_API_HASH must be set (see docs/telegram.md)")
    path = session_file(settings.tg_bot_session if bot else settings.tg_session)
    lock = SessionLock(path).acquire()
    try:
        make_private(path)
        if settings.tg_server_key is not None:
            trust_server_key(settings.tg_server_key)
        client = CitewatchClient(
            str(path),
            settings.tg_api_id,
            settings.tg_api_hash,
            flood_sleep_threshold=settings.flood_sleep_max,
            device_model="citewatch",
            app_version="citewatch 0.1",
            auto_reconnect=True,
            connection_retries=5,
            retry_delay=1,
        )
        if settings.tg_server is not None:
            host, port, dc = settings.tg_server
            client.session.set_dc(dc, host, port)
            log.debug("telegram: using server %s:%d (dc %d)", host, port, dc)
        tighten(path)
    except BaseException:
        lock.release()
        raise
    client.session_lock = lock
    client.session_path = path
    client.reconnect_callbacks = []
    return client
