"""``FakeTelegram``: an in-process MTProto server on 127.0.0.1 for the real ``TelegramClient``.

One TCP connection = one :class:`Connection`: it sniffs the transport, runs the DH
handshake for plain messages, then decrypts requests, answers them (``rpc_result``,
``pong``, ``new_session_created``, in one container when there are several) and receives
unsolicited ``Updates`` pushes. A broken connection is logged and closed; the server and
the other connections carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telethon.crypto import AuthKey
from telethon.crypto import rsa as telethon_rsa
from telethon.extensions import BinaryReader
from telethon.tl import functions, types
from telethon.tl.tlobject import TLObject, TLRequest

from . import mtproto, rpc
from .handshake import Handshake, HandshakeError, ServerKey
from .srp import SrpAccount
from .state import (
    Box,
    ChannelRec,
    ChatRec,
    Peer,
    PtsEvent,
    StoredMessage,
    UserRec,
    World,
    as_ts,
    now_ts,
    to_dt,
)
from .transport import Codec, TransportError, negotiate

log = logging.getLogger(__name__)

_SERVICE_REQUESTS = (
    functions.PingRequest,
    functions.PingDelayDisconnectRequest,
    functions.GetFutureSaltsRequest,
    functions.DestroySessionRequest,
)


@dataclass
class SentMessage:
    """One ``messages.sendMessage`` the account or a bot made (what the alert tests assert on)."""

    peer: str | int
    text: str
    entities: list[Any]
    random_id: int
    id: int  # in the sender's own box (what its client got back); other boxes number it apart
    date: int
    reply_to: int | None = None
    no_webpage: bool = False
    silent: bool = False
    sender: str | int = "me"  # who sent it: "me" (the account) or the bot's username/id


@dataclass
class _Injected:
    """An injected RPC failure: ``times`` more calls of ``method`` answer ``code message``."""

    method: str
    code: int
    message: str
    times: int
    channel_id: int | None = None


@dataclass
class _AuthKeyState:
    key: AuthKey
    user_id: int | None
    sessions: set[int] = field(default_factory=set)
    password_pending: bool = False  # signIn took the code; auth.checkPassword must follow


class Connection:
    """One client TCP connection (transport codec, auth key, session, outgoing seq_no)."""

    def __init__(
        self, server: FakeTelegram, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.codec: Codec | None = None
        self.handshake = Handshake(server.key)
        self.auth: _AuthKeyState | None = None
        self.session_id: int | None = None
        self.salt = 0
        self._content_seq = 0
        self.no_updates = False
        self.closed = False

    # ---- auth -------------------------------------------------------------------------
    @property
    def authorized(self) -> bool:
        return self.auth is not None and self.auth.user_id is not None

    @property
    def self_id(self) -> int:
        """Who this connection is logged in as (``me`` until then, for rendering only)."""
        user_id = self.auth.user_id if self.auth is not None else None
        return self.server.world.me.id if user_id is None else user_id

    @property
    def is_bot(self) -> bool:
        user = self.server.world.users.get(self.self_id)
        return user is not None and user.bot

    def authorize(self, user_id: int | None = None) -> None:
        """Log this auth key in as ``user_id`` (default: the account ``me``)."""
        if self.auth is not None:
            self.auth.user_id = self.server.world.me.id if user_id is None else user_id

    def deauthorize(self) -> None:
        if self.auth is not None:
            self.auth.user_id = None

    # ---- main loop --------------------------------------------------------------------
    async def serve(self) -> None:
        peer = self.writer.get_extra_info("peername")
        try:
            self.codec = await asyncio.wait_for(negotiate(self.reader, self.writer), 10)
            log.debug("tgserver: %s uses %s transport", peer, self.codec.name)
            while not self.closed:
                packet = await self.codec.read_packet()
                self._handle_packet(packet)
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            log.debug("tgserver: %s disconnected", peer)
        except (TransportError, HandshakeError, mtproto.EnvelopeError, TimeoutError) as e:
            log.warning("tgserver: closing %s: %s: %s", peer, type(e).__name__, e)
        except Exception:
            log.exception("tgserver: unexpected error on %s, closing it", peer)
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server._conns.discard(self)
            self.writer.close()

    def _handle_packet(self, packet: bytes) -> None:
        if len(packet) < 8:
            raise TransportError(f"packet of {len(packet)} bytes")
        (key_id,) = struct.unpack("<Q", packet[:8])
        if key_id == 0:
            self._handle_plain(packet)
        else:
            self._handle_encrypted(key_id, packet)

    # ---- plain (handshake) messages ------------------------------------------------------
    def _handle_plain(self, packet: bytes) -> None:
        _, _msg_id, length = struct.unpack("<qqi", packet[:20])
        request = BinaryReader(packet[20 : 20 + length]).tgread_object()
        answer, auth_key = self.handshake.handle(request)
        body = bytes(answer)
        msg_id = self.server.clock.next(answer=True)
        assert self.codec is not None
        self.codec.send(struct.pack("<qqi", 0, msg_id, len(body)) + body)
        if auth_key is not None:
            user = None if self.server.require_login else self.server.world.me.id
            self.server._auth_keys[auth_key.key_id] = _AuthKeyState(auth_key, user)
            log.debug("tgserver: new auth key %x", auth_key.key_id)

    # ---- encrypted messages ------------------------------------------------------------
    def _handle_encrypted(self, key_id: int, packet: bytes) -> None:
        assert self.codec is not None
        state = self.server._auth_keys.get(key_id)
        if state is None:
            # Transport error -404: Telethon raises AuthKeyNotFound / regenerates the key.
            self.codec.send(struct.pack("<i", -404))
            raise TransportError(f"unknown auth key {key_id:x}")
        self.auth = state
        envelope = mtproto.decrypt(state.key, packet)
        self.salt = envelope.salt
        out: list[tuple[bytes, bool]] = []
        if envelope.session_id not in state.sessions:
            state.sessions.add(envelope.session_id)
            created = types.NewSessionCreated(
                first_msg_id=envelope.msg_id, unique_id=secrets.randbits(63), server_salt=self.salt
            )
            out.append((bytes(created), False))
        self.session_id = envelope.session_id
        for msg in mtproto.unpack(envelope.obj, envelope):
            out += self._process(msg)
        self._send(out, answer=True)

    def _process(self, msg: mtproto.ClientMessage) -> list[tuple[bytes, bool]]:
        """Answer one client message; returns ``(body, content_related)`` pairs."""
        obj = msg.obj
        if isinstance(obj, functions.PingRequest | functions.PingDelayDisconnectRequest):
            return [(bytes(types.Pong(msg_id=msg.msg_id, ping_id=obj.ping_id)), False)]
        if isinstance(obj, functions.GetFutureSaltsRequest):
            now = now_ts()
            salts = [types.FutureSalt(to_dt(now), to_dt(now + 3600), self.salt)]
            return [(bytes(types.FutureSalts(msg.msg_id, now, salts)), False)]
        if isinstance(obj, functions.DestroySessionRequest):
            return [(bytes(types.DestroySessionOk(obj.session_id)), False)]
        if not isinstance(obj, TLRequest):
            return []  # msgs_ack, msgs_state_info, ...: nothing to answer
        if isinstance(obj, functions.InvokeWithoutUpdatesRequest):
            self.no_updates = True  # TelegramClient(receive_updates=False) wraps every call
        request = rpc.unwrap(obj)
        try:
            result = rpc.dispatch(rpc.Ctx(self.server, self), request)
            body = mtproto.rpc_result(msg.msg_id, mtproto.serialize(result))
        except rpc.RpcFail as e:
            body = mtproto.rpc_error(msg.msg_id, e.code, e.message)
        except Exception as e:
            # A 400 (not 500, which Telethon retries for ~10 s) so server bugs fail fast.
            log.exception("tgserver: handler for %s crashed", type(request).__name__)
            body = mtproto.rpc_error(msg.msg_id, 400, f"TGSERVER_BUG_{type(e).__name__}")
        return [(body, True)]

    def _next_seq(self, content_related: bool) -> int:
        if content_related:
            self._content_seq += 1
            return self._content_seq * 2 - 1
        return self._content_seq * 2

    def _send(self, items: list[tuple[bytes, bool]], *, answer: bool) -> None:
        """Encrypt ``items`` as one message, or as a ``msg_container`` when several."""
        if not items or self.closed or self.auth is None or self.session_id is None:
            return
        clock = self.server.clock
        packed = [
            mtproto.pack_message(clock.next(answer=answer), self._next_seq(c), body) for body, c in items
        ]
        if len(packed) == 1:
            message = packed[0]
        else:
            message = mtproto.pack_message(
                clock.next(answer=answer), self._next_seq(False), mtproto.pack_container(packed)
            )
        assert self.codec is not None
        self.codec.send(mtproto.encrypt(self.auth.key, self.salt, self.session_id, message))

    def push(self, updates: TLObject) -> None:
        """Unsolicited ``Updates`` (msg_id % 4 == 3), written synchronously.

        The server picks the connections (those logged in as the box's owner, see
        ``FakeTelegram._broadcast``); ``invokeWithoutUpdates`` clients get none.
        """
        if self.authorized and not self.no_updates:
            self._send([(bytes(updates), True)], answer=False)


class FakeTelegram:
    """A single-DC fake Telegram with one account, driven by the tests' world setup."""

    def __init__(
        self, *, require_login: bool = False, key_path: Path | None = None, password: str | None = None
    ) -> None:
        """``password`` turns on two-step verification: signIn then asks for it (SRP)."""
        self.require_login = require_login
        self.password = password
        self.srp = SrpAccount(password) if password is not None else None
        self.key = ServerKey(key_path) if key_path else ServerKey()
        self.world = World()
        self.clock = mtproto.MsgIdClock()
        self.host = "127.0.0.1"
        self.port = 0
        self.dc_id = 2
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[SentMessage] = []
        self._auth_keys: dict[int, _AuthKeyState] = {}
        self._conns: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._injected: list[_Injected] = []
        self._skip_pushes: dict[int | None, int] = {}  # per receiving user id; None: anyone
        self._random_ids: set[tuple[int, str, int, int]] = set()  # (sender, peer type, peer, random_id)
        self._pub_path: Path | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def public_key_pem(self) -> str:
        return self.key.public_pem

    @property
    def public_key_path(self) -> Path:
        """The public key as a PEM file (for code that loads keys from disk), made lazily."""
        if self._pub_path is None:
            self._pub_path = Path(tempfile.mkdtemp(prefix="tgserver-")) / "server_pub.pem"
            self._pub_path.write_text(self.public_key_pem)
        return self._pub_path

    def configure_client(self, client: Any) -> None:
        """Point ``client`` (a ``TelegramClient``) at this server and trust its RSA key."""
        telethon_rsa.add_key(self.public_key_pem, old=False)
        client.session.set_dc(self.dc_id, self.host, self.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("tgserver listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.drop_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def drop_connections(self) -> None:
        """Close every client connection (the listener stays up, so clients reconnect)."""
        for conn in list(self._conns):
            conn.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.serve()
        finally:
            if task is not None:
                self._tasks.discard(task)

    @property
    def connections(self) -> int:
        """Number of open client connections (handy to wait for reconnects)."""
        return len(self._conns)

    # ---- world setup ----------------------------------------------------------------------
    @property
    def me(self) -> UserRec:
        return self.world.me

    def add_channel(
        self,
        username: str | None,
        title: str | None = None,
        *,
        joined: bool = False,
        megagroup: bool = False,
        creator: bool = False,
    ) -> ChannelRec:
        return self.world.add_channel(username, title or username or "Channel", joined, megagroup, creator)

    def add_user(
        self,
        username: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
    ) -> UserRec:
        return self.world.add_user(username, first_name, last_name, phone)

    def add_chat(self, title: str, members: list[str] | None = None) -> ChatRec:
        """A basic group containing ``me`` and the given (auto-created) usernames."""
        ids = [self._user_or_create(m).id for m in members or []]
        return self.world.add_chat(title, ids)

    def add_bot(self, username: str, first_name: str | None = None, *, privacy: bool = True) -> UserRec:
        """A bot that ``auth.importBotAuthorization`` logs in with ``.bot_token``.

        Add it to basic groups with ``add_chat(title, members=[username])``; it can write
        there, to ``me`` and to users who wrote to it, not to channels. It has its own box
        (ids, pts): it receives private messages and, in its groups, what its ``privacy``
        mode lets through (on: commands, @mentions, replies to it; off: everything), live and
        through ``updates.getDifference``. Use ``require_login=True`` for bot clients:
        otherwise a new auth key is already the account and Telethon skips the bot login.
        """
        bot = self.world.add_bot(username, first_name)
        bot.privacy = privacy
        return bot

    def _user_or_create(self, username: str) -> UserRec:
        try:
            return self.world.user(username)
        except KeyError:
            return self.world.add_user(username)

    def post(
        self,
        channel: str | int | ChannelRec,
        text: str,
        date: Any = None,
        entities: list[Any] | None = None,
        media: Any = None,
        grouped_id: int | None = None,
        reply_to: int | None = None,
        fwd_from_channel: str | tuple[str, int] | None = None,
        views: int | None = 100,
        push: bool = True,
    ) -> int:
        """Publish a channel post; joined channels push ``UpdateNewChannelMessage``."""
        ch = self.world.channel(channel)
        fwd = None
        if fwd_from_channel is not None:
            name, post_id = (
                fwd_from_channel if isinstance(fwd_from_channel, tuple) else (fwd_from_channel, None)
            )
            fwd = (self.world.channel(name).id, post_id)
        msg = StoredMessage(
            id=ch.next_id,
            peer=ch.peer,
            date=as_ts(date),
            text=text,
            entities=entities,
            media=media,
            grouped_id=grouped_id,
            reply_to=reply_to,
            fwd_from=fwd,
            views=views if not ch.megagroup else None,
            post=not ch.megagroup,
        )
        ch.next_id += 1
        ch.messages[msg.id] = msg
        self._channel_event(ch, ch.add_event("new", [msg.id]), push)
        return msg.id

    def edit(
        self,
        channel: str | int | ChannelRec,
        msg_id: int,
        text: str,
        entities: list[Any] | None = None,
        push: bool = True,
    ) -> None:
        ch = self.world.channel(channel)
        msg = ch.messages[msg_id]
        msg.text, msg.entities, msg.edit_date = text, entities, now_ts()
        self._channel_event(ch, ch.add_event("edit", [msg_id]), push)

    def delete(self, channel: str | int | ChannelRec, ids: list[int], push: bool = True) -> None:
        ch = self.world.channel(channel)
        gone = [i for i in ids if ch.messages.pop(i, None) is not None]
        if gone:
            self._channel_event(ch, ch.add_event("delete", gone, count=len(gone)), push)

    def incoming(
        self, chat: str | int, text: str, from_user: str = "analyst", entities: list[Any] | None = None
    ) -> int:
        """``from_user`` writes: in a channel/megagroup, in a basic chat (to the account and to
        the bots in it, as their privacy mode allows), privately to the account (``chat`` is
        that user's username) or privately to a bot (``chat`` is the bot's username).

        Returns the new message id as the account sees it (for a bot's private chat: as the
        bot sees it; ids are per box, as on Telegram).
        """
        sender = self._user_or_create(from_user)
        ch = self._maybe(lambda: self.world.channel(chat))
        if isinstance(ch, ChannelRec):
            msg = StoredMessage(
                id=ch.next_id,
                peer=ch.peer,
                date=now_ts(),
                text=text,
                entities=entities,
                from_id=types.PeerUser(sender.id),
                post=not ch.megagroup,
            )
            ch.next_id += 1
            ch.messages[msg.id] = msg
            self._channel_event(ch, ch.add_event("new", [msg.id]), True)
            return msg.id
        user = self._maybe(lambda: self.world.user(chat))
        if isinstance(user, UserRec) and user.bot:
            if sender.bot:
                raise ValueError("a bot never receives another bot's private messages")
            return self._deliver(sender, types.PeerUser(user.id), text, entities)[user.id][0].id
        if isinstance(user, UserRec):  # that user writes to the account
            copies = self._deliver(user, types.PeerUser(self.world.me.id), text, entities)
        else:
            copies = self._deliver(sender, self.world.chat(chat).peer, text, entities)
        return copies[self.world.me.id][0].id

    @staticmethod
    def _maybe(fn: Any) -> Any:
        try:
            return fn()
        except KeyError:
            return None

    # ---- fault injection & introspection -----------------------------------------------------
    def flood_wait(
        self, method: str, seconds: int = 5, times: int = 1, channel: str | int | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``420 FLOOD_WAIT_<seconds>``."""
        self.fail(method, f"FLOOD_WAIT_{seconds}", code=420, times=times, channel=channel)

    def fail(
        self, method: str, error: str, code: int = 400, times: int = 1, channel: str | int | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` (``"SendMessageRequest"`` or the qualified
        ``"messages.SendMessageRequest"``), optionally only for ``channel``, answer an RPC
        error."""
        channel_id = self.world.channel(channel).id if channel is not None else None
        self._injected.append(_Injected(method, code, error, times, channel_id))

    def skip_push_next(self, n: int = 1, to: str | None = None) -> None:
        """Record but do not push the next ``n`` updates, so clients see a pts gap.

        ``to`` (a bot's username, or ``"me"``) counts only pushes to that user; otherwise
        every push counts (a basic-group message is one push per box it lands in).
        """
        owner = None if to is None else self.world.me.id if to == "me" else self.world.user(to).id
        self._skip_pushes[owner] = self._skip_pushes.get(owner, 0) + n

    def count(self, name: str) -> int:
        """How many calls of ``name`` (class name or qualified name) were made."""
        return sum(1 for call, _ in self.calls if _method_matches(name, call))

    def _record_call(self, request: TLObject) -> None:
        if isinstance(request, _SERVICE_REQUESTS):
            return
        fields: dict[str, Any] = {}
        for key, value in request.to_dict().items():
            if key == "_":
                continue
            if isinstance(value, str | int | float | bool) or value is None:
                fields[key] = value
        for key in ("peer", "channel"):
            value = getattr(request, key, None)
            if value is not None:
                fields[key] = self._input_label(value)
        self.calls.append((rpc.qualified_name(request), fields))

    def _input_label(self, ref: Any) -> Any:
        w = self.world
        if isinstance(ref, types.InputPeerSelf):
            return "me"
        if isinstance(ref, types.InputPeerUser) and ref.user_id in w.users:
            return w.label(types.PeerUser(ref.user_id))
        if isinstance(ref, types.InputPeerChat):
            return ref.chat_id
        if isinstance(ref, types.InputPeerChannel | types.InputChannel):
            return w.label(types.PeerChannel(ref.channel_id))
        return type(ref).__name__

    def _check_injected(self, request: TLObject, qual: str) -> None:
        for inj in self._injected:
            if inj.times <= 0 or not _method_matches(inj.method, qual):
                continue
            if inj.channel_id is not None and inj.channel_id not in self._channel_ids_of(request):
                continue
            inj.times -= 1
            raise rpc.RpcFail(inj.code, inj.message)

    def _channel_ids_of(self, request: TLObject) -> set[int]:
        ids = set()
        for key in ("peer", "channel"):
            ref = getattr(request, key, None)
            if getattr(ref, "channel_id", None) is not None:
                ids.add(ref.channel_id)
        username = getattr(request, "username", None)
        if isinstance(username, str):
            rec = self.world.find_username(username)
            if isinstance(rec, ChannelRec):
                ids.add(rec.id)
        return ids

    # ---- pushes ---------------------------------------------------------------------------------
    def _should_push(self, push: bool, owner: int) -> bool:
        if not push:
            return False
        for key in (owner, None):
            if self._skip_pushes.get(key, 0) > 0:
                self._skip_pushes[key] -= 1
                return False
        return True

    def _channel_event(
        self, ch: ChannelRec, event: PtsEvent, push: bool, exclude: Connection | None = None
    ) -> None:
        me = self.world.me.id
        if not ch.joined or not self._should_push(push, me):
            return
        update = rpc.channel_update(ch, event)
        self._broadcast(me, [update], [ch.peer, *self._message_peers(ch, event)], exclude)

    def _box_event(self, box: Box, event: PtsEvent, push: bool, exclude: Connection | None = None) -> None:
        """Push one new message of ``box`` to its owner's connections (the account or a bot)."""
        if not self._should_push(push, box.owner):
            return
        msg = box.messages[event.ids[0]]
        update = rpc.box_update(box, event)
        self._broadcast(box.owner, [update], [msg.peer, *([msg.from_id] if msg.from_id else [])], exclude)

    def _message_peers(self, ch: ChannelRec, event: PtsEvent) -> list[Peer]:
        msgs = [ch.messages[i] for i in event.ids if i in ch.messages and event.kind != "delete"]
        users, chats = [], []
        for m in msgs:
            if m.from_id is not None:
                users.append(m.from_id)
            if m.fwd_from is not None:
                chats.append(types.PeerChannel(m.fwd_from[0]))
        return users + chats

    def _broadcast(
        self, owner: int, updates: list[Any], peers: list[Peer], exclude: Connection | None
    ) -> None:
        """``Updates`` to every connection logged in as ``owner``, with the users and chats it
        needs to resolve them (``owner`` rendered as ``is_self``)."""
        users, chats = self.world.render_peers(peers, self_id=owner)
        for conn in list(self._conns):
            if conn is exclude or not conn.authorized or conn.self_id != owner:
                continue
            box = types.Updates(updates=updates, users=users, chats=chats, date=to_dt(now_ts()), seq=0)
            try:
                conn.push(box)
            except Exception:
                log.exception("tgserver: push failed, closing that connection")
                conn.close()

    # ---- private chats and basic groups ----------------------------------------------------------
    def _deliver(
        self,
        sender: UserRec,
        to: Peer,
        text: str,
        entities: list[Any] | None,
        reply_to: int | None = None,
        exclude: Connection | None = None,
    ) -> dict[int, tuple[StoredMessage, PtsEvent]]:
        """One message in a private chat or basic group, copied into the box of every
        participant who keeps one (the account, bots) and pushed to their connections.

        Each copy has that box's own id and pts; ``reply_to`` is an id in the sender's box and
        is translated per box. Bots get what Telegram gives them: private messages, and in
        groups (privacy mode on) only commands, @mentions and replies to them, never messages
        of other bots. Returns the copies and their pts events by user id.
        """
        w = self.world
        if isinstance(to, types.PeerChat):
            members = list(w.chats[to.chat_id].members)
            view: dict[int, Peer] = {uid: to for uid in members}
        else:
            view = {sender.id: to, to.user_id: types.PeerUser(sender.id)}  # sender == to: Saved Messages
        original = w.box(sender.id).messages.get(reply_to or 0) if w.has_box(sender.id) else None
        key, date = w.new_key(), now_ts()
        copies: dict[int, tuple[StoredMessage, PtsEvent]] = {}
        for uid, peer in view.items():
            if not w.has_box(uid) or (
                uid != sender.id and not self._receives(uid, sender, to, text, original)
            ):
                continue
            box = w.box(uid)
            out = uid == sender.id
            replied = box.by_key(original.key) if original is not None else None
            msg = StoredMessage(
                id=0,
                peer=peer,
                date=date,
                text=text,
                entities=entities,
                reply_to=replied.id if replied is not None else None,
                out=out,
                from_id=None if out and isinstance(to, types.PeerUser) else types.PeerUser(sender.id),
                key=key,
            )
            event = box.add(msg)
            self._box_event(box, event, True, exclude)
            copies[uid] = (msg, event)
        return copies

    def _receives(
        self, uid: int, sender: UserRec, to: Peer, text: str, original: StoredMessage | None
    ) -> bool:
        """Whether ``uid`` (the account or a bot) gets a message ``sender`` wrote to ``to``."""
        user = self.world.users[uid]
        if not user.bot:
            return True
        if sender.bot:
            return False  # bots do not see other bots' messages
        if isinstance(to, types.PeerUser) or not user.privacy:
            return True
        name = (user.username or "").lower()
        command = re.match(r"/\w+(?:@(\w+))?", text)
        if command and (command.group(1) is None or command.group(1).lower() == name):
            return True
        mentioned = bool(name) and f"@{name}" in text.lower()
        replied = original is not None and self.world.box(uid).by_key(original.key)
        return mentioned or bool(replied and replied.out)

    # ---- sendMessage from RPC ---------------------------------------------------------------------
    def _send_from_account(
        self, conn: Connection, req: functions.messages.SendMessageRequest, peer: Peer
    ) -> types.Updates:
        """``messages.sendMessage`` from whoever ``conn`` is logged in as (the account or a
        bot; the name predates bots and tests override it): stored, recorded in ``sent``,
        answered with ``updateMessageID`` and the sender's own copy."""
        key = (conn.self_id, type(peer).__name__, _peer_id(peer), req.random_id)
        if key in self._random_ids:
            raise rpc.RpcFail(400, "RANDOM_ID_DUPLICATE")
        self._random_ids.add(key)
        reply_to = getattr(req.reply_to, "reply_to_msg_id", None)
        w = self.world
        sender = w.users[conn.self_id]
        if isinstance(peer, types.PeerChannel):
            if sender.bot:
                raise rpc.RpcFail(400, "PEER_ID_INVALID")  # not a member of any channel here
            ch = w.channels[peer.channel_id]
            if not ch.joined and not ch.creator:
                raise rpc.RpcFail(403, "CHAT_WRITE_FORBIDDEN")
            msg = StoredMessage(
                id=ch.next_id,
                peer=peer,
                date=now_ts(),
                text=req.message,
                entities=req.entities,
                reply_to=reply_to,
                out=True,
                post=not ch.megagroup,
                from_id=None if not ch.megagroup else types.PeerUser(sender.id),
            )
            ch.next_id += 1
            ch.messages[msg.id] = msg
            event = ch.add_event("new", [msg.id])
            update = rpc.channel_update(ch, event)
            self._channel_event(ch, event, True, exclude=conn)
        else:
            if sender.bot:
                self._check_bot_may_write(sender, peer)
            copies = self._deliver(sender, peer, req.message, req.entities, reply_to, exclude=conn)
            msg, event = copies[sender.id]
            update = rpc.box_update(w.box(sender.id), event)
        self.sent.append(
            SentMessage(
                peer=w.label(peer),
                text=req.message,
                entities=list(req.entities or []),
                random_id=req.random_id,
                id=msg.id,
                date=msg.date,
                reply_to=reply_to,
                no_webpage=bool(req.no_webpage),
                silent=bool(req.silent),
                sender=(sender.username or sender.id) if sender.bot else "me",
            )
        )
        users, chats = w.render_peers([peer, types.PeerUser(sender.id)], self_id=sender.id)
        return types.Updates(
            updates=[types.UpdateMessageID(id=msg.id, random_id=req.random_id), update],
            users=users,
            chats=chats,
            date=to_dt(msg.date),
            seq=0,
        )

    def _check_bot_may_write(self, bot: UserRec, peer: Peer) -> None:
        """A bot writes to basic groups it is in, to ``me`` and to users who wrote to it."""
        w = self.world
        if isinstance(peer, types.PeerChat):
            if bot.id not in w.chats[peer.chat_id].members:
                raise rpc.RpcFail(403, "CHAT_WRITE_FORBIDDEN")
            return
        assert isinstance(peer, types.PeerUser)
        other = w.users[peer.user_id]
        if other.bot or not (other.id == w.me.id or w.box(bot.id).dialog(peer)):
            raise rpc.RpcFail(400, "PEER_ID_INVALID")  # itself, other bots, users who never started it


def _peer_id(peer: Peer) -> int:
    return getattr(peer, "user_id", None) or getattr(peer, "chat_id", None) or peer.channel_id


def _method_matches(pattern: str, qualified: str) -> bool:
    """``"GetHistoryRequest"`` matches any namespace; ``"messages.GetHistoryRequest"`` one."""
    if "." in pattern:
        return pattern == qualified
    return qualified.rsplit(".", 1)[-1] == pattern
