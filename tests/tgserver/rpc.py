"""RPC method handlers: one function per Telegram method that Telethon (and citewatch) call.

Handlers are synchronous: the world lives in memory and pushes are written straight to
the sockets, so a handler's effects are ordered exactly like Telegram's. A handler
returns the TL answer or raises :class:`RpcFail`; anything not registered here answers
``400 METHOD_NOT_IMPLEMENTED_<namespace.Name>`` so that gaps fail loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from telethon.tl import functions, types
from telethon.tl.tlobject import TLObject, TLRequest
from telethon.tl.types import auth, contacts, messages, updates

from .state import (
    Box,
    ChannelRec,
    Peer,
    PtsEvent,
    StoredMessage,
    World,
    as_ts,
    history_slice,
    message_empty,
    now_ts,
    to_dt,
)

if TYPE_CHECKING:
    from .server import Connection, FakeTelegram

log = logging.getLogger(__name__)

LOGIN_CODE = "12345"
PHONE_CODE_HASH = "fakehash0123456789"

# Methods a connection may call before it is logged in (prefixes of qualified names).
_PUBLIC_NAMESPACES = ("help.", "auth.", "langpack.", "account.GetPasswordRequest")


class RpcFail(Exception):
    """An RPC error answer, e.g. ``RpcFail(420, "FLOOD_WAIT_5")``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message = code, message


@dataclass
class Ctx:
    """What a handler may touch: the server (world, pushes) and the calling connection."""

    server: FakeTelegram
    conn: Connection

    @property
    def world(self) -> World:
        return self.server.world

    @property
    def box(self) -> Box:
        """The caller's own message box (the account's, or the bot's it is logged in as)."""
        return self.server.world.box(self.conn.self_id)


R = TypeVar("R", bound=TLRequest)
Handler = Callable[[Ctx, Any], object]
HANDLERS: dict[type, Handler] = {}


def handles(*request_types: type[R]) -> Callable[[Callable[[Ctx, R], object]], Callable[[Ctx, R], object]]:
    """Register a handler for one or more ``telethon.tl.functions`` request classes."""

    def register(fn: Callable[[Ctx, R], object]) -> Callable[[Ctx, R], object]:
        for t in request_types:
            HANDLERS[t] = fn
        return fn

    return register


def qualified_name(request: TLObject) -> str:
    """``messages.GetHistoryRequest`` style name (the class name alone is ambiguous)."""
    module = type(request).__module__.rsplit(".", 1)[-1]
    name = type(request).__name__
    return name if module == "functions" else f"{module}.{name}"


def unwrap(request: TLObject) -> TLObject:
    """Strip ``invokeWithLayer``/``initConnection``/``invokeWithoutUpdates``/``invokeAfter*``."""
    wrappers = (
        functions.InvokeWithLayerRequest,
        functions.InitConnectionRequest,
        functions.InvokeWithoutUpdatesRequest,
        functions.InvokeAfterMsgRequest,
        functions.InvokeAfterMsgsRequest,
    )
    while isinstance(request, wrappers):
        request = request.query
    return request


def dispatch(ctx: Ctx, request: TLObject) -> object:
    """Run one (already unwrapped) RPC: record it, apply injected faults, call the handler."""
    qual = qualified_name(request)
    ctx.server._record_call(request)
    ctx.server._check_injected(request, qual)
    if not qual.startswith(_PUBLIC_NAMESPACES) and not ctx.conn.authorized:
        raise RpcFail(401, "AUTH_KEY_UNREGISTERED")
    if isinstance(request, _USER_ONLY) and ctx.conn.is_bot:
        raise RpcFail(400, "BOT_METHOD_INVALID")
    handler = HANDLERS.get(type(request))
    if handler is None:
        log.warning("tgserver: no handler for %s", qual)
        raise RpcFail(400, f"METHOD_NOT_IMPLEMENTED_{qual}")
    return handler(ctx, request)


# Methods Telegram refuses to bots (so code that needs them for a bot fails here too).
_USER_ONLY = (
    functions.messages.GetDialogsRequest,
    functions.messages.GetHistoryRequest,
    functions.channels.JoinChannelRequest,
    functions.contacts.GetContactsRequest,
    functions.messages.ReadHistoryRequest,
)


# ---- peer resolution ---------------------------------------------------------------


def resolve_channel(ctx: Ctx, ref: Any) -> ChannelRec:
    """``InputChannel``/``InputPeerChannel`` -> channel, checking the access hash."""
    if isinstance(ref, types.InputChannelEmpty | types.InputPeerEmpty):
        raise RpcFail(400, "CHANNEL_INVALID")
    ch = ctx.world.channels.get(getattr(ref, "channel_id", None))
    if ch is None or ch.access_hash != getattr(ref, "access_hash", None):
        raise RpcFail(400, "CHANNEL_INVALID")
    return ch


def resolve_peer(ctx: Ctx, ref: Any) -> Peer:
    """Any ``InputPeer`` -> ``Peer``; wrong access hashes fail like on Telegram."""
    w = ctx.world
    if isinstance(ref, types.InputPeerSelf):
        return types.PeerUser(ctx.conn.self_id)
    if isinstance(ref, types.InputPeerUser):
        user = w.users.get(ref.user_id)
        if user is None or not _hash_ok(ctx, user.id, user.access_hash, ref.access_hash):
            raise RpcFail(400, "PEER_ID_INVALID")
        return types.PeerUser(user.id)
    if isinstance(ref, types.InputPeerChat):
        if ref.chat_id not in w.chats:
            raise RpcFail(400, "PEER_ID_INVALID")
        return types.PeerChat(ref.chat_id)
    if isinstance(ref, types.InputPeerChannel):
        return resolve_channel(ctx, ref).peer
    raise RpcFail(400, "PEER_ID_INVALID")


def _hash_ok(ctx: Ctx, user_id: int, expected: int, given: int | None) -> bool:
    """Bots may pass ``access_hash=0`` for users who wrote to them (here: the account)."""
    if given == expected:
        return True
    return given == 0 and ctx.conn.is_bot and user_id == ctx.world.me.id


def resolve_user(ctx: Ctx, ref: Any) -> types.User | types.UserEmpty:
    w = ctx.world
    if isinstance(ref, types.InputUserSelf):
        return w.users[ctx.conn.self_id].to_tl(is_self=True)
    user = w.users.get(getattr(ref, "user_id", None))
    if user is None or not _hash_ok(ctx, user.id, user.access_hash, getattr(ref, "access_hash", None)):
        return types.UserEmpty(getattr(ref, "user_id", 0))
    return user.to_tl(is_self=user.id == ctx.conn.self_id)


# ---- help / auth / users -------------------------------------------------------------


@handles(functions.help.GetConfigRequest)
def get_config(ctx: Ctx, req: functions.help.GetConfigRequest) -> types.Config:
    """Every DC id points back at this server, so Telethon never tries to migrate away."""
    srv = ctx.server
    now = now_ts()
    return types.Config(
        date=to_dt(now),
        expires=to_dt(now + 3600),
        test_mode=False,
        this_dc=srv.dc_id,
        dc_options=[types.DcOption(id=i, ip_address=srv.host, port=srv.port) for i in range(1, 6)],
        dc_txt_domain_name="localhost",
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        online_update_period_ms=210000,
        offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000,
        online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500,
        push_chat_period_ms=60000,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=2147483647,
        revoke_pm_time_limit=2147483647,
        rating_e_decay=2419200,
        stickers_recent_limit=200,
        channels_read_media_period=604800,
        call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000,
        call_connect_timeout_ms=30000,
        call_packet_timeout_ms=10000,
        me_url_prefix="https://t.me/",
        caption_length_max=1024,
        message_length_max=4096,
        webfile_dc_id=srv.dc_id,
    )


@handles(functions.auth.SendCodeRequest)
def send_code(ctx: Ctx, req: functions.auth.SendCodeRequest) -> auth.SentCode:
    return auth.SentCode(type=auth.SentCodeTypeApp(length=len(LOGIN_CODE)), phone_code_hash=PHONE_CODE_HASH)


@handles(functions.auth.SignInRequest)
def sign_in(ctx: Ctx, req: functions.auth.SignInRequest) -> auth.Authorization:
    """Code ``12345`` logs this auth key in as ``me`` (the phone is taken as given)."""
    if req.phone_code_hash != PHONE_CODE_HASH:
        raise RpcFail(400, "PHONE_CODE_HASH_EMPTY")
    if req.phone_code != LOGIN_CODE:
        raise RpcFail(400, "PHONE_CODE_INVALID")
    ctx.world.me.phone = req.phone_number
    if ctx.server.srp is not None and ctx.conn.auth is not None:
        ctx.conn.auth.password_pending = True
        raise RpcFail(401, "SESSION_PASSWORD_NEEDED")
    ctx.conn.authorize()
    return auth.Authorization(user=ctx.world.me.to_tl(is_self=True))


@handles(functions.account.GetPasswordRequest)
def get_password(ctx: Ctx, req: functions.account.GetPasswordRequest) -> types.account.Password:
    """The SRP challenge for the account password (a fresh ``srp_id``/``srp_B`` each call).

    Without ``FakeTelegram(password=...)`` the method stays unimplemented: 2FA setup
    (``edit_2fa``) is not modelled, and tests rely on this being an unknown method.
    """
    if ctx.server.srp is None:
        raise RpcFail(400, "METHOD_NOT_IMPLEMENTED_account.GetPasswordRequest")
    return ctx.server.srp.challenge()


@handles(functions.auth.CheckPasswordRequest)
def check_password(ctx: Ctx, req: functions.auth.CheckPasswordRequest) -> auth.Authorization:
    """Verify the client's SRP proof ``M1``; only after signIn answered SESSION_PASSWORD_NEEDED."""
    state = ctx.conn.auth
    if ctx.server.srp is None or state is None or not state.password_pending:
        raise RpcFail(400, "PASSWORD_HASH_INVALID")
    if not isinstance(req.password, types.InputCheckPasswordSRP):
        raise RpcFail(400, "PASSWORD_HASH_INVALID")
    error = ctx.server.srp.check(req.password.srp_id, req.password.A, req.password.M1)
    if error is not None:
        raise RpcFail(400, error)
    state.password_pending = False
    ctx.conn.authorize()
    return auth.Authorization(user=ctx.world.me.to_tl(is_self=True))


@handles(functions.auth.ImportBotAuthorizationRequest)
def import_bot_authorization(
    ctx: Ctx, req: functions.auth.ImportBotAuthorizationRequest
) -> auth.Authorization:
    """A token of a bot made with ``add_bot`` logs this auth key in as that bot."""
    token = req.bot_auth_token
    bot = next((u for u in ctx.world.users.values() if u.bot and u.bot_token == token), None)
    if bot is None:  # malformed or unknown: Telegram does not tell the two apart
        raise RpcFail(400, "ACCESS_TOKEN_INVALID")
    ctx.conn.authorize(bot.id)
    return auth.Authorization(user=bot.to_tl(is_self=True))


@handles(functions.auth.LogOutRequest)
def log_out(ctx: Ctx, req: functions.auth.LogOutRequest) -> auth.LoggedOut:
    ctx.conn.deauthorize()
    return auth.LoggedOut()


@handles(functions.users.GetUsersRequest)
def get_users(ctx: Ctx, req: functions.users.GetUsersRequest) -> list[Any]:
    return [resolve_user(ctx, u) for u in req.id]


@handles(functions.users.GetFullUserRequest)
def get_full_user(ctx: Ctx, req: functions.users.GetFullUserRequest) -> Any:
    user = resolve_user(ctx, req.id)
    if isinstance(user, types.UserEmpty):
        raise RpcFail(400, "USER_ID_INVALID")
    full = types.UserFull(
        id=user.id,
        settings=types.PeerSettings(),
        notify_settings=types.PeerNotifySettings(),
        common_chats_count=0,
    )
    return types.users.UserFull(full_user=full, chats=[], users=[user])


@handles(functions.contacts.ResolveUsernameRequest)
def resolve_username(ctx: Ctx, req: functions.contacts.ResolveUsernameRequest) -> Any:
    rec = ctx.world.find_username(req.username)
    if rec is None:
        raise RpcFail(400, "USERNAME_NOT_OCCUPIED")
    if isinstance(rec, ChannelRec):
        return contacts.ResolvedPeer(peer=rec.peer, chats=[rec.to_tl()], users=[])
    return contacts.ResolvedPeer(
        peer=types.PeerUser(rec.id), chats=[], users=[rec.to_tl(is_self=rec.id == ctx.conn.self_id)]
    )


# ---- updates ----------------------------------------------------------------------------


def box_state(box: Box) -> updates.State:
    return updates.State(
        pts=box.pts, qts=box.qts, date=to_dt(max(box.date, now_ts())), seq=box.seq, unread_count=0
    )


@handles(functions.updates.GetStateRequest)
def get_state(ctx: Ctx, req: functions.updates.GetStateRequest) -> updates.State:
    """The caller's own box: a bot's pts is its own, not the account's."""
    return box_state(ctx.box)


@handles(functions.updates.GetDifferenceRequest)
def get_difference(ctx: Ctx, req: functions.updates.GetDifferenceRequest) -> Any:
    """Replay of the caller's box from ``pts`` (a bot catches up what it missed offline);
    for the account, joined channels with news since ``date`` also get an
    ``updateChannelTooLong`` so the client fetches them with getChannelDifference."""
    w, box = ctx.world, ctx.box
    since = as_ts(req.date)
    events = [e for e in box.log if e.pts > req.pts]
    new_messages = [box.messages[e.ids[0]] for e in events if e.kind == "new" and e.ids[0] in box.messages]
    other: list[Any] = []
    if not ctx.conn.is_bot:  # bots are in no channel here
        other = [
            types.UpdateChannelTooLong(channel_id=ch.id, pts=ch.pts)
            for ch in w.channels.values()
            if ch.joined and ch.log and ch.log[-1].date >= since
        ]
    state = box_state(box)
    if not new_messages and not other:
        return updates.DifferenceEmpty(date=state.date, seq=box.seq)
    users, chats = w.entities_for(
        new_messages, extra=[types.PeerChannel(u.channel_id) for u in other], self_id=box.owner
    )
    return updates.Difference(
        new_messages=[m.to_tl() for m in new_messages],
        new_encrypted_messages=[],
        other_updates=other,
        chats=chats,
        users=users,
        state=state,
    )


@handles(functions.updates.GetChannelDifferenceRequest)
def get_channel_difference(ctx: Ctx, req: functions.updates.GetChannelDifferenceRequest) -> Any:
    """Replay a channel's pts log after ``req.pts``: new posts as ``new_messages`` (current
    text), edits and deletions as ``other_updates``; at most ``limit`` new messages."""
    ch = resolve_channel(ctx, req.channel)
    if req.pts <= 0:
        raise RpcFail(400, "PERSISTENT_TIMESTAMP_EMPTY")
    pending = [e for e in ch.log if e.pts > req.pts]
    if not pending:
        return updates.ChannelDifferenceEmpty(pts=max(ch.pts, req.pts), final=True, timeout=30)
    limit = max(1, req.limit)
    new_messages: list[StoredMessage] = []
    other: list[Any] = []
    last_pts = req.pts
    for event in pending:
        if len(new_messages) >= limit:
            break
        last_pts = event.pts
        if event.kind == "new":
            msg = ch.messages.get(event.ids[0])
            if msg is not None:
                new_messages.append(msg)
        else:
            other.append(channel_update(ch, event))
    users, chats = ctx.world.entities_for(new_messages, extra=[ch.peer])
    return updates.ChannelDifference(
        pts=last_pts,
        new_messages=[m.to_tl() for m in new_messages],
        other_updates=other,
        chats=chats,
        users=users,
        final=last_pts >= ch.pts or None,
        timeout=30,
    )


def channel_update(ch: ChannelRec, event: PtsEvent) -> Any:
    """The TL ``Update`` for one channel pts event (as pushed and as replayed)."""
    if event.kind == "delete":
        return types.UpdateDeleteChannelMessages(
            channel_id=ch.id, messages=list(event.ids), pts=event.pts, pts_count=event.pts_count
        )
    msg = ch.messages[event.ids[0]].to_tl()
    if event.kind == "edit":
        return types.UpdateEditChannelMessage(message=msg, pts=event.pts, pts_count=event.pts_count)
    return types.UpdateNewChannelMessage(message=msg, pts=event.pts, pts_count=event.pts_count)


# ---- channels -------------------------------------------------------------------------


@handles(functions.channels.GetChannelsRequest)
def get_channels(ctx: Ctx, req: functions.channels.GetChannelsRequest) -> messages.Chats:
    return messages.Chats(chats=[resolve_channel(ctx, c).to_tl() for c in req.id])


@handles(functions.channels.GetFullChannelRequest)
def get_full_channel(ctx: Ctx, req: functions.channels.GetFullChannelRequest) -> Any:
    ch = resolve_channel(ctx, req.channel)
    full = types.ChannelFull(
        id=ch.id,
        about=ch.about,
        read_inbox_max_id=ch.next_id - 1,
        read_outbox_max_id=0,
        unread_count=0,
        chat_photo=types.PhotoEmpty(id=0),
        notify_settings=types.PeerNotifySettings(),
        bot_info=[],
        pts=ch.pts,
        participants_count=1000,
    )
    return messages.ChatFull(full_chat=full, chats=[ch.to_tl()], users=[])


@handles(functions.channels.JoinChannelRequest, functions.channels.LeaveChannelRequest)
def join_or_leave(ctx: Ctx, req: Any) -> types.Updates:
    ch = resolve_channel(ctx, req.channel)
    ch.joined = isinstance(req, functions.channels.JoinChannelRequest)
    return types.Updates(
        updates=[types.UpdateChannel(channel_id=ch.id)],
        users=[],
        chats=[ch.to_tl()],
        date=to_dt(now_ts()),
        seq=0,
    )


@handles(functions.channels.GetMessagesRequest)
def channel_get_messages(ctx: Ctx, req: functions.channels.GetMessagesRequest) -> Any:
    ch = resolve_channel(ctx, req.channel)
    found: list[Any] = []
    stored: list[StoredMessage] = []
    for ref in req.id:
        msg_id = getattr(ref, "id", None)
        msg = ch.messages.get(msg_id) if isinstance(msg_id, int) else None
        if msg is None:
            found.append(message_empty(msg_id or 0, ch.peer))
        else:
            stored.append(msg)
            found.append(msg.to_tl())
    users, chats = ctx.world.entities_for(stored, extra=[ch.peer])
    return messages.ChannelMessages(
        pts=ch.pts, count=len(found), messages=found, topics=[], chats=chats, users=users
    )


@handles(functions.channels.ReadHistoryRequest)
def channel_read_history(ctx: Ctx, req: functions.channels.ReadHistoryRequest) -> bool:
    resolve_channel(ctx, req.channel)
    return True


# ---- messages -------------------------------------------------------------------------


@handles(functions.messages.GetHistoryRequest)
def get_history(ctx: Ctx, req: functions.messages.GetHistoryRequest) -> Any:
    w = ctx.world
    peer = resolve_peer(ctx, req.peer)
    if isinstance(peer, types.PeerChannel):
        ch = w.channels[peer.channel_id]
        everything = sorted(ch.messages.values(), key=lambda m: m.id, reverse=True)
    else:
        ch = None
        everything = ctx.box.dialog(peer)
    page = history_slice(
        everything,
        offset_id=req.offset_id,
        offset_date=as_ts(req.offset_date) if req.offset_date else None,
        add_offset=req.add_offset,
        limit=req.limit,
        max_id=req.max_id,
        min_id=req.min_id,
    )
    users, chats = w.entities_for(page, extra=[peer])
    rendered = [m.to_tl() for m in page]
    if ch is not None:
        return messages.ChannelMessages(
            pts=ch.pts, count=len(everything), messages=rendered, topics=[], chats=chats, users=users
        )
    return messages.MessagesSlice(
        count=len(everything), messages=rendered, topics=[], chats=chats, users=users
    )


@handles(functions.messages.GetMessagesRequest)
def get_messages(ctx: Ctx, req: functions.messages.GetMessagesRequest) -> Any:
    w, box = ctx.world, ctx.box
    stored = [box.messages.get(getattr(r, "id", 0)) for r in req.id]
    found = [m for m in stored if m is not None]
    users, chats = w.entities_for(found, self_id=box.owner)
    return messages.Messages(
        messages=[
            m.to_tl() if m else message_empty(getattr(r, "id", 0))
            for m, r in zip(stored, req.id, strict=True)
        ],
        topics=[],
        chats=chats,
        users=users,
    )


@handles(functions.messages.GetChatsRequest)
def get_chats(ctx: Ctx, req: functions.messages.GetChatsRequest) -> messages.Chats:
    chats = ctx.world.chats
    return messages.Chats(chats=[chats[i].to_tl() if i in chats else types.ChatEmpty(id=i) for i in req.id])


@handles(functions.messages.ReadHistoryRequest)
def read_history(ctx: Ctx, req: functions.messages.ReadHistoryRequest) -> Any:
    resolve_peer(ctx, req.peer)
    return messages.AffectedMessages(pts=ctx.box.pts, pts_count=0)


@handles(functions.messages.SendMessageRequest)
def send_message(ctx: Ctx, req: functions.messages.SendMessageRequest) -> types.Updates:
    """Store the message and answer like Telegram: ``updateMessageID`` + the new message.

    A ``random_id`` already used for the same peer answers ``RANDOM_ID_DUPLICATE``.
    """
    return ctx.server._send_from_account(ctx.conn, req, resolve_peer(ctx, req.peer))


@handles(functions.messages.GetDialogsRequest)
def get_dialogs(ctx: Ctx, req: functions.messages.GetDialogsRequest) -> Any:
    """All joined channels, basic chats and private dialogs in one page (no paging)."""
    w, box = ctx.world, ctx.box
    peers: list[Peer] = [ch.peer for ch in w.channels.values() if ch.joined]
    peers += [c.peer for c in w.chats.values()]
    peers += list(
        {m.peer.user_id: m.peer for m in box.messages.values() if isinstance(m.peer, types.PeerUser)}.values()
    )
    dialogs, tops = [], []
    for peer in peers:
        if isinstance(peer, types.PeerChannel):
            ch = w.channels[peer.channel_id]
            msgs = sorted(ch.messages.values(), key=lambda m: m.id, reverse=True)
            pts = ch.pts
        else:
            msgs, pts = box.dialog(peer), None
        top = msgs[0] if msgs else None
        if top is not None:
            tops.append(top)
        dialogs.append(
            types.Dialog(
                peer=peer,
                top_message=top.id if top else 0,
                read_inbox_max_id=top.id if top else 0,
                read_outbox_max_id=0,
                unread_count=0,
                unread_mentions_count=0,
                unread_reactions_count=0,
                unread_poll_votes_count=0,
                notify_settings=types.PeerNotifySettings(),
                pts=pts,
            )
        )
    users, chats = w.entities_for(tops, extra=peers)
    return messages.Dialogs(dialogs=dialogs, messages=[m.to_tl() for m in tops], chats=chats, users=users)


def box_update(box: Box, event: PtsEvent) -> types.UpdateNewMessage:
    """The TL ``Update`` for one pts event of a user's box (as pushed and as answered)."""
    msg = box.messages[event.ids[0]].to_tl()
    return types.UpdateNewMessage(message=msg, pts=event.pts, pts_count=event.pts_count)
