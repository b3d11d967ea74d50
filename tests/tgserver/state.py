"""The fake Telegram world: one account, bots, users, channels, basic chats, messages and pts logs.

Everything here is plain data plus ``to_tl`` renderers. TL objects are rebuilt on every
render because Telethon mutates the objects it receives (``Message._finish_init``).
Updates are logged with their ``pts`` so that ``updates.getDifference`` and
``updates.getChannelDifference`` can replay exactly what a client missed.

Private chats and basic groups live in per-user message boxes (:class:`Box`), as on
Telegram: the account and every bot have their own message ids, pts, date and seq, and a
message seen by both is stored once in each box (linked by ``StoredMessage.key``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from telethon.tl import types

Peer = types.PeerUser | types.PeerChat | types.PeerChannel


def now_ts() -> int:
    return int(time.time())


def to_dt(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def as_ts(value: dt.datetime | int | float | None) -> int:
    """Accept datetimes (naive = UTC) or epoch seconds, like Telethon does."""
    if value is None:
        return now_ts()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    return int(value)


def message_empty(msg_id: int, peer: Peer | None = None) -> types.MessageEmpty:
    """``messageEmpty`` for a missing id; Telethon's patched class needs ``__new__`` here."""
    empty = types.MessageEmpty.__new__(types.MessageEmpty)
    empty.id, empty.peer_id = msg_id, peer
    return empty


def _hash() -> int:
    return secrets.randbits(63)


@dataclass
class UserRec:
    id: int
    access_hash: int
    username: str | None
    first_name: str
    last_name: str | None = None
    phone: str | None = None
    bot: bool = False
    bot_token: str | None = None  # what auth.importBotAuthorization accepts (bots only)
    privacy: bool = True  # bots: BotFather's group privacy mode (on by default)

    def to_tl(self, *, is_self: bool = False) -> types.User:
        return types.User(
            id=self.id,
            is_self=is_self or None,
            bot=self.bot or None,
            bot_chat_history=(self.bot and not self.privacy) or None,
            bot_info_version=1 if self.bot else None,
            access_hash=self.access_hash,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            phone=self.phone,
            status=types.UserStatusRecently(),
        )


@dataclass
class StoredMessage:
    id: int
    peer: Peer
    date: int
    text: str
    entities: list[Any] | None = None
    media: Any = None
    grouped_id: int | None = None
    reply_to: int | None = None
    fwd_from: tuple[int, int | None] | None = None  # (channel id, channel post id)
    views: int | None = None
    from_id: Peer | None = None
    out: bool = False
    post: bool = False
    edit_date: int | None = None
    key: int = 0  # the same message in every box holding a copy (ids differ per box)

    def to_tl(self) -> types.Message:
        fwd = None
        if self.fwd_from is not None:
            fwd = types.MessageFwdHeader(
                date=to_dt(self.date),
                from_id=types.PeerChannel(self.fwd_from[0]),
                channel_post=self.fwd_from[1],
            )
        return types.Message(
            id=self.id,
            peer_id=self.peer,
            date=to_dt(self.date),
            message=self.text,
            out=self.out or None,
            post=self.post or None,
            from_id=self.from_id,
            fwd_from=fwd,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=self.reply_to) if self.reply_to else None,
            media=self.media,
            entities=list(self.entities) if self.entities else None,
            views=self.views,
            forwards=0 if self.views is not None else None,
            edit_date=to_dt(self.edit_date) if self.edit_date else None,
            grouped_id=self.grouped_id,
        )


@dataclass
class PtsEvent:
    """One pts step: ``kind`` is ``new``, ``edit`` or ``delete``; ``ids`` the message ids."""

    pts: int
    pts_count: int
    kind: str
    ids: list[int]
    date: int
    peer: Peer | None = None  # account events: which dialog the message lives in


@dataclass
class Box:
    """One user's common message box: private chats and basic groups as that user sees them.

    Telegram keeps one per user, so the account and each bot number their messages and count
    pts on their own; ``updates.getState``/``getDifference`` read the caller's box.
    """

    owner: int
    pts: int = 1
    qts: int = 0
    seq: int = 0  # every push uses seq=0 ("no seq check"), so this never moves
    date: int = field(default_factory=now_ts)
    next_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    log: list[PtsEvent] = field(default_factory=list)

    def add(self, msg: StoredMessage) -> PtsEvent:
        """Store ``msg`` under this box's next id and pts (``msg.id`` is set here)."""
        msg.id = self.next_id
        self.next_id += 1
        self.messages[msg.id] = msg
        self.pts += 1
        event = PtsEvent(self.pts, 1, "new", [msg.id], msg.date, msg.peer)
        self.log.append(event)
        self.date = max(self.date, msg.date)
        return event

    def dialog(self, peer: Peer) -> list[StoredMessage]:
        """Messages of one dialog, newest first."""
        found = [m for m in self.messages.values() if m.peer == peer]
        return sorted(found, key=lambda m: m.id, reverse=True)

    def by_key(self, key: int) -> StoredMessage | None:
        """This box's copy of a message, if it has one."""
        return next((m for m in self.messages.values() if key and m.key == key), None)


@dataclass
class ChannelRec:
    """A broadcast channel (or megagroup) with its own message id space and pts."""

    id: int
    access_hash: int
    username: str | None
    title: str
    joined: bool
    megagroup: bool = False
    creator: bool = False
    date: int = field(default_factory=now_ts)
    about: str = ""
    pts: int = 1
    next_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    log: list[PtsEvent] = field(default_factory=list)

    @property
    def peer(self) -> types.PeerChannel:
        return types.PeerChannel(self.id)

    @property
    def peer_id(self) -> int:
        """Telethon's marked id (``-100…``), what ``event.chat_id`` reports."""
        return -(10**12) - self.id

    def to_tl(self) -> types.Channel:
        return types.Channel(
            id=self.id,
            title=self.title,
            photo=types.ChatPhotoEmpty(),
            date=to_dt(self.date),
            access_hash=self.access_hash,
            username=self.username,
            broadcast=not self.megagroup or None,
            megagroup=self.megagroup or None,
            left=not self.joined or None,
            creator=self.creator or None,
            participants_count=None,
        )

    def add_event(self, kind: str, ids: list[int], count: int = 1) -> PtsEvent:
        self.pts += count
        event = PtsEvent(self.pts, count, kind, ids, now_ts(), self.peer)
        self.log.append(event)
        return event


@dataclass
class ChatRec:
    """A basic (legacy) group; its messages live in each member's own :class:`Box`."""

    id: int
    title: str
    members: list[int]
    date: int = field(default_factory=now_ts)

    @property
    def peer(self) -> types.PeerChat:
        return types.PeerChat(self.id)

    @property
    def peer_id(self) -> int:
        """Telethon's marked id (``-id``), what ``event.chat_id`` reports."""
        return -self.id

    def to_tl(self) -> types.Chat:
        return types.Chat(
            id=self.id,
            title=self.title,
            photo=types.ChatPhotoEmpty(),
            participants_count=len(self.members),
            date=to_dt(self.date),
            version=1,
        )


class World:
    """All server-side data for the single simulated account (``me``)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.me = UserRec(
            id=777000 + 1234,
            access_hash=_hash(),
            username="citewatch_me",
            first_name="Citewatch",
            last_name="Test",
            phone="15550001234",
        )
        self.users: dict[int, UserRec] = {self.me.id: self.me}
        self.channels: dict[int, ChannelRec] = {}
        self.chats: dict[int, ChatRec] = {}
        # Private and basic-group messages, per user who logs in (the account and bots).
        self.boxes: dict[int, Box] = {self.me.id: Box(self.me.id)}
        self._keys = itertools.count(1)
        self._next_user_id = 100_001
        self._next_channel_id = 1_500_000_001
        self._next_chat_id = 4_001

    # ---- creation -------------------------------------------------------------------
    def add_user(
        self,
        username: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
    ) -> UserRec:
        user = UserRec(
            self._next_user_id, _hash(), username, first_name or username or "User", last_name, phone
        )
        self._next_user_id += 1
        self.users[user.id] = user
        return user

    def add_bot(self, username: str, first_name: str | None = None) -> UserRec:
        """A bot account; its token is ``<id>:<secret>`` like BotFather's."""
        bot = self.add_user(username, first_name or username)
        bot.bot = True
        bot.bot_token = f"{bot.id}:AA{secrets.token_urlsafe(24)}"
        return bot

    def add_channel(
        self, username: str | None, title: str, joined: bool, megagroup: bool = False, creator: bool = False
    ) -> ChannelRec:
        ch = ChannelRec(self._next_channel_id, _hash(), username, title, joined, megagroup, creator)
        self._next_channel_id += 1
        self.channels[ch.id] = ch
        return ch

    def add_chat(self, title: str, members: list[int]) -> ChatRec:
        chat = ChatRec(self._next_chat_id, title, [self.me.id, *members])
        self._next_chat_id += 1
        self.chats[chat.id] = chat
        return chat

    # ---- lookup ---------------------------------------------------------------------
    def find_username(self, username: str) -> UserRec | ChannelRec | None:
        name = username.lower().lstrip("@")
        for rec in itertools.chain(self.users.values(), self.channels.values()):
            if rec.username and rec.username.lower() == name:
                return rec
        return None

    def channel(self, ref: str | int | ChannelRec) -> ChannelRec:
        if isinstance(ref, ChannelRec):
            return ref
        if isinstance(ref, int):
            channel_id = -ref - 10**12 if ref < 0 else ref  # accept marked -100… ids too
            if channel_id in self.channels:
                return self.channels[channel_id]
        rec = self.find_username(str(ref)) if isinstance(ref, str) else None
        if isinstance(rec, ChannelRec):
            return rec
        raise KeyError(f"no channel {ref!r}")

    def user(self, ref: str | int) -> UserRec:
        if isinstance(ref, int) and ref in self.users:
            return self.users[ref]
        rec = self.find_username(str(ref)) if isinstance(ref, str) else None
        if isinstance(rec, UserRec):
            return rec
        raise KeyError(f"no user {ref!r}")

    def chat(self, ref: str | int) -> ChatRec:
        if isinstance(ref, int) and abs(ref) in self.chats:
            return self.chats[abs(ref)]
        for chat in self.chats.values():
            if chat.title == ref:
                return chat
        raise KeyError(f"no chat {ref!r}")

    # ---- message boxes (private chats, saved messages, basic groups) -------------------
    @property
    def account(self) -> Box:
        return self.boxes[self.me.id]

    def has_box(self, user_id: int) -> bool:
        """Only users who log in keep a box: the account and bots (others are not simulated)."""
        user = self.users.get(user_id)
        return user_id == self.me.id or (user is not None and user.bot)

    def box(self, user_id: int) -> Box:
        if user_id not in self.boxes:
            self.boxes[user_id] = Box(user_id)
        return self.boxes[user_id]

    def new_key(self) -> int:
        return next(self._keys)

    # ---- entity collection ------------------------------------------------------------
    def entities_for(
        self, messages: list[StoredMessage], extra: list[Peer] | None = None, self_id: int | None = None
    ) -> tuple[list[types.User], list[Any]]:
        """Users and chats referenced by ``messages``, as Telegram attaches to answers."""
        peers: list[Peer] = list(extra or [])
        for m in messages:
            peers.append(m.peer)
            if m.from_id is not None:
                peers.append(m.from_id)
            if m.fwd_from is not None:
                peers.append(types.PeerChannel(m.fwd_from[0]))
        return self.render_peers(peers, self_id)

    def render_peers(
        self, peers: list[Peer], self_id: int | None = None
    ) -> tuple[list[types.User], list[Any]]:
        """TL users/chats for ``peers``; ``self_id`` (default ``me``) is rendered ``is_self``."""
        self_id = self.me.id if self_id is None else self_id
        users: dict[int, types.User] = {}
        chats: dict[int, Any] = {}
        for p in peers:
            if isinstance(p, types.PeerUser) and p.user_id in self.users:
                users[p.user_id] = self.users[p.user_id].to_tl(is_self=p.user_id == self_id)
            elif isinstance(p, types.PeerChannel) and p.channel_id in self.channels:
                chats[p.channel_id] = self.channels[p.channel_id].to_tl()
            elif isinstance(p, types.PeerChat) and p.chat_id in self.chats:
                chats[p.chat_id] = self.chats[p.chat_id].to_tl()
        return list(users.values()), list(chats.values())

    def label(self, peer: Peer) -> str | int:
        """Human label used in ``srv.sent``/``srv.calls``: username, ``"me"`` or an id."""
        if isinstance(peer, types.PeerUser):
            if peer.user_id == self.me.id:
                return "me"
            user = self.users.get(peer.user_id)
            return (user.username or user.id) if user else peer.user_id
        if isinstance(peer, types.PeerChannel):
            ch = self.channels.get(peer.channel_id)
            return ch.username if ch and ch.username else -(10**12) - peer.channel_id
        return -peer.chat_id  # Telethon's "marked" id, as users write it in configs


def history_slice(
    messages: list[StoredMessage],
    *,
    offset_id: int,
    offset_date: int | None,
    add_offset: int,
    limit: int,
    max_id: int,
    min_id: int,
) -> list[StoredMessage]:
    """``messages.getHistory`` paging over newest-first ``messages``.

    The anchor is the first message older than ``offset_id`` (or ``offset_date``);
    ``add_offset`` moves the window (negative = towards newer messages), ``limit`` is
    applied before ``max_id``/``min_id`` filter the page, as on Telegram.
    """
    limit = max(0, min(limit, 100)) or 20
    if offset_id:
        start = next((i for i, m in enumerate(messages) if m.id < offset_id), len(messages))
    elif offset_date:
        start = next((i for i, m in enumerate(messages) if m.date < offset_date), len(messages))
    else:
        start = 0
    start += add_offset
    end = start + limit
    page = messages[max(start, 0) : max(end, 0)]
    return [m for m in page if (not max_id or m.id < max_id) and (not min_id or m.id > min_id)]
