"""The fake Telegram server, exercised end-to-end by the real ``telethon.TelegramClient``.

These tests pin the behaviour other tests rely on: handshake, entity resolution, history
paging, live update pushes (and gap recovery through getChannelDifference), injected RPC
errors, sendMessage bookkeeping, reconnects and the login flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from telethon import TelegramClient, errors, events
from telethon.network import (
    ConnectionTcpAbridged,
    ConnectionTcpIntermediate,
    ConnectionTcpObfuscated,
)
from telethon.sessions import StringSession
from telethon.tl import functions, types

from tests.tgserver import FakeTelegram

T = TypeVar("T")
TIMEOUT = 10.0
BOT = "citewatch_test_bot"
ClientFactory = Callable[..., Awaitable[TelegramClient]]


async def within(aw: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """Every await on the client gets a deadline so a protocol bug fails fast, not hangs."""
    return await asyncio.wait_for(aw, timeout)


@pytest.fixture
async def srv() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def login_srv() -> AsyncIterator[FakeTelegram]:
    """A server where a new auth key is nobody until it logs in (as the account or a bot)."""
    async with FakeTelegram(require_login=True) as server:
        yield server


@pytest.fixture
async def make_client(srv: FakeTelegram) -> AsyncIterator[ClientFactory]:
    """Connected clients, disconnected at teardown; ``session`` may be a path or string,
    ``server`` another server than ``srv`` (e.g. ``login_srv``)."""
    clients: list[TelegramClient] = []

    async def factory(
        session: Any = None, connect: bool = True, server: FakeTelegram | None = None, **kwargs: Any
    ) -> TelegramClient:
        client = TelegramClient(
            session if session is not None else StringSession(), api_id=1, api_hash="x" * 32, **kwargs
        )
        (server or srv).configure_client(client)
        clients.append(client)
        if connect:
            await within(client.connect())
        return client

    yield factory
    for client in clients:
        # A second disconnect re-saves the session: with two clients on one SQLite file
        # that would wait 5 s on the database lock, so only disconnect live clients.
        if client.is_connected():
            with contextlib.suppress(Exception):
                await within(client.disconnect(), 5)


class Collector:
    """Collects events from a handler so a test can await the n-th one."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    @classmethod
    def on(cls, client: TelegramClient, incoming: bool = False) -> Collector:
        """A collector of ``client``'s new messages (only incoming ones with ``incoming``)."""
        found = cls()
        client.add_event_handler(found, events.NewMessage(incoming=True) if incoming else events.NewMessage())
        return found

    async def __call__(self, event: Any) -> None:
        self.items.append(event)
        self._changed.set()

    async def wait_for(self, n: int, timeout: float = TIMEOUT) -> list[Any]:
        async def _wait() -> None:
            while len(self.items) < n:
                self._changed.clear()
                await self._changed.wait()

        await within(_wait(), timeout)
        return self.items


async def _joined_diukraine(srv: FakeTelegram,
                            make_client: ClientFactory) -> tuple[TelegramClient, Collector]:
    """A client whose account joined @DIUkraine, collecting the new messages it is sent."""
    srv.add_channel("DIUkraine", joined=True)
    client = await make_client()
    return client, Collector.on(client)


async def test_handshake_and_get_me(srv: FakeTelegram, make_client: ClientFactory) -> None:
    client = await make_client()
    me = await within(client.get_me())
    assert me.id == srv.me.id and me.is_self and me.username == srv.me.username
    assert srv.count("GetConfigRequest") == 1  # invokeWithLayer(initConnection(...)) unwrapped
    assert srv.count("users.GetUsersRequest") >= 1


@pytest.mark.parametrize(
    "connection", [ConnectionTcpAbridged, ConnectionTcpIntermediate, ConnectionTcpObfuscated]
)
async def test_other_transports(srv: FakeTelegram, make_client: ClientFactory, connection: type) -> None:
    client = await make_client(connection=connection)
    assert (await within(client.get_me())).id == srv.me.id


async def test_get_entity_resolves_channels_users_and_unknowns(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    ch = srv.add_channel("DIUkraine", title="Defence Intelligence of Ukraine")
    user = srv.add_user("someuser")
    client = await make_client()

    entity = await within(client.get_entity("DIUkraine"))
    assert isinstance(entity, types.Channel)
    assert (entity.id, entity.access_hash, entity.broadcast) == (ch.id, ch.access_hash, True)
    assert entity.title == "Defence Intelligence of Ukraine" and entity.username == "DIUkraine"

    person = await within(client.get_entity("@someuser"))
    assert isinstance(person, types.User) and person.id == user.id

    with pytest.raises(ValueError):
        await within(client.get_entity("nobody_here"))
    with pytest.raises(errors.UsernameNotOccupiedError):
        await within(client(functions.contacts.ResolveUsernameRequest("nobody_here")))


async def test_iter_messages_reverse_pages_exactly_once(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    srv.add_channel("DIUkraine")
    ids = [srv.post("DIUkraine", f"post {i}") for i in range(1, 261)]
    client = await make_client()

    got = [m.id async for m in client.iter_messages("DIUkraine", min_id=7, reverse=True, wait_time=0)]
    assert got == [i for i in ids if i > 7]
    assert srv.count("GetHistoryRequest") >= 3  # 253 messages need several pages of 100

    newest = [m.id async for m in client.iter_messages("DIUkraine", limit=5)]
    assert newest == [260, 259, 258, 257, 256]
    window = [m.id async for m in client.iter_messages("DIUkraine", min_id=250, max_id=255)]
    assert window == [254, 253, 252, 251]


async def test_post_metadata_round_trips(srv: FakeTelegram, make_client: ClientFactory) -> None:
    srv.add_channel("Source")
    ch = srv.add_channel("DIUkraine")
    src = srv.post("Source", "original")
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    photo = types.MessageMediaPhoto(
        photo=types.Photo(
            id=1,
            access_hash=2,
            file_reference=b"",
            date=when,
            dc_id=2,
            sizes=[types.PhotoSize(type="x", w=10, h=10, size=100)],
        )
    )
    first = srv.post("DIUkraine", "album 1", date=when, media=photo, grouped_id=77, views=5)
    second = srv.post("DIUkraine", "reply", reply_to=first, fwd_from_channel=("Source", src))
    client = await make_client()

    msgs = await within(client.get_messages("DIUkraine", ids=[first, second]))
    assert msgs[0].date == when and msgs[0].grouped_id == 77 and msgs[0].views == 5
    assert msgs[0].photo is not None and msgs[0].post
    assert msgs[1].reply_to_msg_id == first
    assert msgs[1].fwd_from.from_id == types.PeerChannel(srv.world.channel("Source").id)
    assert msgs[1].fwd_from.channel_post == src
    assert await within(client.get_messages(ch.peer_id, ids=999)) is None


async def test_basic_chat_commands_and_account_pts_gap(srv: FakeTelegram, make_client: ClientFactory) -> None:
    chat = srv.add_chat("Alerts", members=["analyst"])
    client = await make_client()
    new = Collector.on(client, incoming=True)

    srv.incoming(chat.id, "/help", from_user="analyst")
    (event,) = await new.wait_for(1)
    assert event.chat_id == chat.peer_id and event.raw_text == "/help"
    await within(event.reply("commands: /status"))
    assert srv.sent[-1].peer == chat.peer_id and srv.sent[-1].reply_to == event.id

    srv.skip_push_next()
    srv.incoming("analyst", "private 1")  # not pushed: the account pts jumps
    srv.incoming("analyst", "private 2")
    items = await new.wait_for(3)
    assert [e.raw_text for e in items[1:]] == ["private 1", "private 2"]
    assert srv.count("updates.GetDifferenceRequest") >= 2  # one at login, one for the gap

    group = srv.add_channel("analysts", megagroup=True, joined=True)
    srv.incoming("analysts", "/status", from_user="analyst")
    items = await new.wait_for(4)
    assert items[3].chat_id == group.peer_id and items[3].sender_id == srv.world.user("analyst").id
    assert items[3].is_group and items[3].chat.megagroup

    dialogs = await within(client.get_dialogs())
    assert {d.id for d in dialogs} >= {chat.peer_id}


async def test_live_posts_edits_and_deletions_arrive_as_events(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    srv.add_channel("DIUkraine", joined=True)
    srv.add_channel("NotJoined", joined=False)
    client = await make_client()
    new, edited, deleted = Collector(), Collector(), Collector()
    client.add_event_handler(new, events.NewMessage())
    client.add_event_handler(edited, events.MessageEdited())
    client.add_event_handler(deleted, events.MessageDeleted())

    srv.post("NotJoined", "nobody pushes this")
    msg_id = srv.post("DIUkraine", "breaking", entities=[types.MessageEntityBold(0, 8)])
    (event,) = await new.wait_for(1)
    assert event.message.id == msg_id and event.raw_text == "breaking"
    assert event.chat_id == (await client.get_peer_id("DIUkraine"))
    assert event.message.entities == [types.MessageEntityBold(0, 8)]

    srv.edit("DIUkraine", msg_id, "breaking (updated)")
    (ev,) = await edited.wait_for(1)
    assert ev.message.id == msg_id and ev.raw_text == "breaking (updated)"

    srv.delete("DIUkraine", [msg_id])
    (gone,) = await deleted.wait_for(1)
    assert gone.deleted_ids == [msg_id]
    assert len(new.items) == 1  # the unjoined channel never pushed anything


async def test_pts_gap_is_filled_through_get_channel_difference(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    _, new = await _joined_diukraine(srv, make_client)

    first = srv.post("DIUkraine", "first")
    await new.wait_for(1)
    srv.skip_push_next()
    missed = srv.post("DIUkraine", "missed while offline")
    last = srv.post("DIUkraine", "arrives with a gap")

    items = await new.wait_for(3)
    assert sorted(e.message.id for e in items) == [first, missed, last]
    assert srv.count("GetChannelDifferenceRequest") >= 1
    _name, fields = next(c for c in srv.calls if c[0] == "updates.GetChannelDifferenceRequest")
    assert fields["channel"] == "DIUkraine" and fields["pts"] == 2


async def test_long_gap_is_paged_with_final_false(srv: FakeTelegram, make_client: ClientFactory) -> None:
    _, new = await _joined_diukraine(srv, make_client)
    srv.post("DIUkraine", "known")
    await new.wait_for(1)

    srv.skip_push_next(150)
    missed = [srv.post("DIUkraine", f"missed {i}") for i in range(150)]
    last = srv.post("DIUkraine", "pushed")
    items = await new.wait_for(152)
    assert sorted(e.message.id for e in items[1:]) == [*missed, last]
    assert srv.count("GetChannelDifferenceRequest") >= 2  # limit=100 per call, then final


async def test_flood_wait_surfaces_as_flood_wait_error(srv: FakeTelegram, make_client: ClientFactory) -> None:
    ch = srv.add_channel("DIUkraine")
    srv.add_channel("Other")
    client = await make_client()
    client.flood_sleep_threshold = 0
    other = await within(client.get_entity("Other"))

    srv.flood_wait("contacts.ResolveUsernameRequest", seconds=5)
    with pytest.raises(errors.FloodWaitError) as info:
        await within(client.get_entity("DIUkraine"))
    assert info.value.seconds == 5

    srv.fail("messages.GetHistoryRequest", "CHANNEL_PRIVATE", code=400)
    with pytest.raises(errors.ChannelPrivateError):
        await within(client.get_messages(other, limit=1))

    # A channel-scoped flood wait leaves other channels alone.
    srv.flood_wait("GetHistoryRequest", seconds=7, channel="DIUkraine")
    assert await within(client.get_messages(other, limit=1)) == []
    with pytest.raises(errors.FloodWaitError) as info:
        await within(client.get_messages(types.InputPeerChannel(ch.id, ch.access_hash), limit=1))
    assert info.value.seconds == 7


async def test_send_message_records_text_and_entities(srv: FakeTelegram, make_client: ClientFactory) -> None:
    client = await make_client()
    msg = await within(client.send_message("me", "<b>alert</b> see", parse_mode="html"))
    assert len(srv.sent) == 1
    sent = srv.sent[0]
    assert (sent.peer, sent.text, sent.id) == ("me", "alert see", msg.id)
    assert sent.entities == [types.MessageEntityBold(offset=0, length=5)]
    assert msg.text == "<b>alert</b> see" or msg.raw_text == "alert see"

    history = await within(client.get_messages("me", limit=10))
    assert [m.raw_text for m in history] == ["alert see"]


async def test_long_messages_travel_gzipped(srv: FakeTelegram, make_client: ClientFactory) -> None:
    client = await make_client()
    text = ("Звіт розвідки. " * 250).strip()  # > 512 bytes: Telethon gzips the request
    await within(client.send_message("me", text))
    assert srv.sent[0].text == text
    (msg,) = await within(client.get_messages("me", limit=1))  # the answer is gzipped too
    assert msg.raw_text == text


async def test_duplicate_random_id_is_rejected(srv: FakeTelegram, make_client: ClientFactory) -> None:
    # Telethon maps RANDOM_ID_DUPLICATE to a ServerError subclass and retries it (2 s apart),
    # so keep retries at zero and ask for the real error instead of a ValueError.
    client = await make_client(request_retries=0, raise_last_call_error=True)
    await within(client(functions.messages.SendMessageRequest(peer="me", message="once", random_id=42)))
    with pytest.raises(errors.RandomIdDuplicateError):
        await within(client(functions.messages.SendMessageRequest(peer="me", message="once", random_id=42)))
    assert [s.text for s in srv.sent] == ["once"]
    assert srv.count("SendMessageRequest") == 2


async def test_injected_write_forbidden(srv: FakeTelegram, make_client: ClientFactory) -> None:
    client = await make_client()
    srv.fail("messages.SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403)
    with pytest.raises(errors.ChatWriteForbiddenError):
        await within(client.send_message("me", "nope"))
    await within(client.send_message("me", "yes"))
    assert [s.text for s in srv.sent] == ["yes"]


async def test_client_reconnects_after_server_drops_connections(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    client, new = await _joined_diukraine(srv, make_client)
    await within(client.get_me())

    await srv.drop_connections()
    assert srv.connections == 0
    me = await within(client.get_me())  # queued until Telethon's auto-reconnect succeeds
    assert me.id == srv.me.id and srv.connections == 1

    srv.post("DIUkraine", "after reconnect")
    (event,) = await new.wait_for(1)
    assert event.raw_text == "after reconnect"


async def test_login_with_code(make_client: ClientFactory) -> None:
    server = FakeTelegram(require_login=True)
    await server.start()
    try:
        client = TelegramClient(StringSession(), api_id=1, api_hash="x" * 32)
        server.configure_client(client)
        await within(client.connect())
        assert await within(client.get_me()) is None
        assert not await within(client.is_user_authorized())
        await within(client.start(phone="+15550001234", code_callback=lambda: "12345"))
        me = await within(client.get_me())
        assert me.id == server.me.id
        assert server.count("auth.SignInRequest") == 1
        await within(client.disconnect())
    finally:
        await server.stop()


async def test_incoming_private_message_and_catch_up_with_sqlite_session(
    srv: FakeTelegram, make_client: ClientFactory, tmp_path: Path
) -> None:
    srv.add_channel("DIUkraine", joined=True)
    session = str(tmp_path / "acct.session")
    client = await make_client(session)
    new = Collector.on(client, incoming=True)

    srv.incoming("analyst", "/status")
    (event,) = await new.wait_for(1)
    assert event.is_private and event.raw_text == "/status"
    assert (await event.get_sender()).username == "analyst"
    srv.post("DIUkraine", "seen live")
    await new.wait_for(2)
    await within(client.disconnect())

    # While the client is offline: a post and a private message. catch_up replays both.
    srv.post("DIUkraine", "posted while offline")
    srv.incoming("analyst", "are you there?")
    client2 = await make_client(session, catch_up=True)
    missed = Collector.on(client2)
    await within(client2.catch_up())
    items = await missed.wait_for(2)
    assert sorted(e.raw_text for e in items) == ["are you there?", "posted while offline"]


async def test_bot_gets_its_own_private_and_group_messages_live(
    login_srv: FakeTelegram, make_client: ClientFactory
) -> None:
    srv = login_srv
    bot = srv.add_bot(BOT)
    analyst = srv.add_user("analyst")
    group = srv.add_chat("Analysts", members=[BOT, "analyst"])
    assert bot.bot_token is not None
    client = await make_client(server=srv)
    await within(client.start(bot_token=bot.bot_token))
    new = Collector.on(client)
    account = await make_client(server=srv)
    await within(account.start(phone="+15550001234", code_callback=lambda: "12345"))
    seen = Collector.on(account, incoming=True)

    dm_id = srv.incoming(BOT, "/start", from_user="analyst")
    srv.incoming(group.id, "just chatting", from_user="analyst")  # privacy mode: not for the bot
    srv.incoming(group.id, "/status@some_other_bot", from_user="analyst")  # nor is this
    srv.incoming(group.id, "/status", from_user="analyst")
    dm, command = await new.wait_for(2)
    assert dm.is_private and dm.chat_id == analyst.id and dm.message.id == dm_id and not dm.message.out
    assert (await dm.get_sender()).username == "analyst" and dm.raw_text == "/start"
    assert command.chat_id == group.peer_id and command.sender_id == analyst.id
    assert command.raw_text == "/status" and command.is_group
    # the account sees every group message but not the bot's private chat
    texts = [e.raw_text for e in await seen.wait_for(3)]
    assert texts == ["just chatting", "/status@some_other_bot", "/status"]

    reply = await within(command.reply("all good"))
    await within(dm.respond("hello"))
    answer = (await seen.wait_for(4))[3]  # the bot's group answer reaches the account live
    assert answer.sender_id == bot.id and answer.raw_text == "all good"
    assert answer.reply_to_msg_id == seen.items[2].message.id  # reply ids are per box
    assert [(s.peer, s.sender, s.text) for s in srv.sent] == [
        (group.peer_id, BOT, "all good"),
        ("analyst", BOT, "hello"),
    ]
    assert srv.sent[0].id == reply.id and reply.reply_to_msg_id == command.message.id

    # the account writes to the bot privately, and answers the bot's message in the group
    await within(account.send_message(BOT, "hi bot"))
    await within(account.send_message(group.peer_id, "thanks", reply_to=answer.message.id))
    items = await new.wait_for(4)
    assert items[2].is_private and items[2].sender_id == srv.me.id and items[2].raw_text == "hi bot"
    assert items[3].raw_text == "thanks" and items[3].reply_to_msg_id == reply.id
    await asyncio.sleep(0.2)
    assert len(new.items) == 4  # the bot's own messages are no events

    # its own box: 6 messages after the initial pts 1; the account has one more, a private one
    srv.incoming("analyst", "only for the account")
    await seen.wait_for(5)
    state = await within(client(functions.updates.GetStateRequest()))
    account_state = await within(account(functions.updates.GetStateRequest()))
    assert (state.pts, account_state.pts) == (7, 8)


async def test_offline_bot_catches_up_through_get_difference(
    login_srv: FakeTelegram, make_client: ClientFactory, tmp_path: Path
) -> None:
    srv = login_srv
    bot = srv.add_bot(BOT)
    group = srv.add_chat("Analysts", members=[BOT, "analyst"])
    assert bot.bot_token is not None
    session = str(tmp_path / "bot.session")
    client = await make_client(session, server=srv)
    await within(client.start(bot_token=bot.bot_token))
    live = Collector.on(client)
    srv.incoming(BOT, "/start", from_user="analyst")
    await live.wait_for(1)
    await within(client.disconnect())  # saves the bot's pts in the session

    srv.incoming(BOT, "/search depot", from_user="analyst")
    srv.incoming(group.id, "chit-chat", from_user="analyst")  # privacy mode: never the bot's
    srv.incoming(group.id, "/status", from_user="analyst")
    client2 = await make_client(session, connect=False, server=srv, catch_up=True)
    missed = Collector.on(client2)
    await within(client2.connect())
    items = await missed.wait_for(2)
    assert sorted(e.raw_text for e in items) == ["/search depot", "/status"]
    assert {e.chat_id for e in items} == {srv.world.user("analyst").id, group.peer_id}
    diffs = [f for name, f in srv.calls if name == "updates.GetDifferenceRequest"]
    assert diffs[-1]["pts"] == 2  # from where it left off: one message seen before going offline

    # a gap while online: the push of one DM is lost, the next reveals it
    srv.skip_push_next(to=BOT)
    srv.incoming(BOT, "lost push", from_user="analyst")
    srv.incoming(BOT, "next one", from_user="analyst")
    items = await missed.wait_for(4)
    assert sorted(e.raw_text for e in items[2:]) == ["lost push", "next one"]
    assert len([1 for name, _ in srv.calls if name == "updates.GetDifferenceRequest"]) > len(diffs)


async def test_unknown_method_fails_loudly(srv: FakeTelegram, make_client: ClientFactory) -> None:
    client = await make_client()
    with pytest.raises(errors.RPCError) as info:
        await within(client(functions.account.GetPasswordRequest()))
    assert "METHOD_NOT_IMPLEMENTED_account.GetPasswordRequest" in str(info.value)


async def test_garbage_connection_does_not_hurt_the_server(
    srv: FakeTelegram, make_client: ClientFactory
) -> None:
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    # Full transport header, then a body with a wrong CRC.
    writer.write(struct.pack("<ii", 20, 0) + b"\x00" * 12)
    await writer.drain()
    assert await within(reader.read(), 5) == b""  # the server closed only this connection
    writer.close()

    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    writer.write(b"\xef" + bytes([3]) + b"\x01" * 12)  # abridged, unknown auth key
    await writer.drain()
    assert await within(reader.read(), 5) == b"\x01" + struct.pack("<i", -404)
    writer.close()

    client = await make_client()
    assert (await within(client.get_me())).id == srv.me.id
