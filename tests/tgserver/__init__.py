"""In-process fake Telegram (MTProto over TCP on 127.0.0.1) for driving the real Telethon client.

Usage::

    srv = FakeTelegram()
    await srv.start()
    client = TelegramClient(StringSession(), api_id=1, api_hash="x" * 32)
    srv.configure_client(client)
    await client.connect()
"""

from .server import Connection, FakeTelegram, SentMessage
from .state import ChannelRec, ChatRec, StoredMessage, UserRec

__all__ = [
    "ChannelRec",
    "ChatRec",
    "Connection",
    "FakeTelegram",
    "SentMessage",
    "StoredMessage",
    "UserRec",
]
