"""In-process fake Telegram (MTProto 2.0 over TCP on 127.0.0.1) for the real ``TelegramClient``.

Telegram is unreachable from tests, so this server speaks the wire protocol Telethon 1.45
speaks, built on Telethon's own TL classes. Usage::

    srv = FakeTelegram()                      # require_login=True: code "12345" via auth.signIn
                                              # password="…": then 2FA (SRP) via auth.checkPassword
    await srv.start()
    client = TelegramClient(StringSession(), api_id=1, api_hash="x" * 32)
    srv.configure_client(client)              # set_dc + rsa.add_key(public key, old=False)
    await client.connect()

World setup (synchronous; call on the server's loop): ``add_channel``, ``add_user``,
``add_bot`` (log in with ``client.start(bot_token=bot.bot_token)`` on a ``require_login=True``
server; ``srv.sent[i].sender`` names the bot), ``add_chat``, ``post``/``edit``/``delete``
(pushed to connected clients for joined channels), ``incoming`` (someone writes to the
account, to a basic group, or privately to a bot). Faults: ``flood_wait``, ``fail``,
``skip_push_next`` (pts gaps, optionally ``to=`` one user), ``drop_connections``.
Introspection: ``calls``, ``count``, ``sent``, ``connections``.

Private chats and basic groups are per user, as on Telegram: the account and each bot have
their own message box (ids, pts), so a bot gets its own pushes and its own
``updates.getState``/``getDifference`` (an offline bot catches up), and a message both see
has a different id in each box (``srv.sent[i].id`` is the sender's). Bots see what
Telegram shows them: private messages, and in groups (privacy mode, the default) only
commands, @mentions and replies to their messages, never other bots' messages.

Telethon behaviours worth knowing when writing tests against it (not server quirks):

* ``RANDOM_ID_DUPLICATE`` maps to a ``ServerError`` subclass, so Telethon retries it
  (``request_retries`` times, 2 s apart) and then raises ``ValueError`` unless
  ``raise_last_call_error=True``.
* A flood wait is remembered per request *type* in ``client._flood_waited_requests``; for
  the next N seconds (N > 3) that request type fails client-side for every peer.
* ``iter_messages`` without ``limit`` sleeps ``wait_time=1`` s between pages: pass
  ``wait_time=0`` in tests.
* An edit/deletion that falls inside a pts gap comes back in
  ``channelDifference.other_updates`` and Telethon drops it (its pts is not newer than the
  difference's final pts); new messages in the gap are delivered.
* A client knows a channel's pts only after an update from it, so the first push after
  connecting can never reveal a gap.
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
