"""Alerts and chat commands through a bot (TG_BOT_TOKEN): the bot client ``make_client(bot=True)``
builds, logged in with the token against the in-process Telegram server, writing to a group by its id.

The account and the bot are separate logins with separate session files; the alert must reach
the group once, as the bot's message, and a bad token must be one readable error, not a crash.
With the service wired as `citewatch run` wires it, the bot (not the account) answers commands,
and only in ALERT_CHAT and ALLOWED_CHATS.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
from telethon import TelegramClient, errors, events
from telethon.sessions import StringSession
from telethon.tl import types

from bot.alerts.commands import register_commands
from bot.alerts.sender import AlertSender, TelethonTransport, alert_random_id
from bot.config import Settings
from bot.service import Service
from bot.telegram.client import make_client
from storage import alerts
from storage.db import Database
from tests.alerts_support import HOSTILE, cite, settings_for, store_post, within
from tests.test_telegram_cli import citewatch, tg_env
from tests.tgserver import FakeTelegram

BOT = "citewatch_alerts_bot"


def bot_settings(db_path: Path, srv: FakeTelegram, tmp_path: Path, token: str, **extra: str) -> Settings:
    env = {
        "TG_API_ID": "1",
        "TG_API_HASH": "h" * 32,
        "TG_SERVER": f"{srv.host}:{srv.port}:{srv.dc_id}",
        "TG_SERVER_KEY": str(srv.public_key_path),
        "TG_SESSION": str(tmp_path / "account.session"),
        "TG_BOT_SESSION": str(tmp_path / "bot.session"),
        "TG_BOT_TOKEN": token,
        "ALERT_CHAT": "-4001",  # a bot has no Saved Messages: `me` is refused with a bot token
    }
    return settings_for(db_path, **{**env, **extra})


async def account_client(srv: FakeTelegram) -> TelegramClient:
    """The account, logged in with the code, to watch the group from a member's side."""
    client = TelegramClient(StringSession(), api_id=1, api_hash="x" * 32)
    srv.configure_client(client)
    await within(client.start(phone="+15550001234", code_callback=lambda: "12345"))
    return client


async def test_alert_through_the_bot_lands_in_the_group_once(db: Database, tmp_path: Path) -> None:
    # require_login: otherwise the server takes any new key for the account and Telethon skips
    # the bot login (it only logs in when get_me() finds nobody)
    async with FakeTelegram(require_login=True) as srv:
        bot = srv.add_bot(BOT)
        group = srv.add_chat("Analysts", members=[BOT, "analyst_bob"])
        assert bot.bot_token is not None
        await cite(db, [await store_post(db, 1908)], chat=str(group.peer_id))
        [alert] = await alerts.list_all(db)
        settings = bot_settings(db.path, srv, tmp_path, bot.bot_token)

        account = await account_client(srv)
        seen: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()
        account.add_event_handler(seen.put, events.NewMessage(chats=[group.peer_id]))
        client = make_client(settings, bot=True)
        try:
            await within(client.start(bot_token=settings.tg_bot_token))
            me = await client.get_me()
            assert me.bot and me.username == BOT and await client.is_bot()
            sender = AlertSender(db, TelethonTransport(client), settings)
            assert await within(sender.run_once()) == 1
            assert await within(sender.run_once()) == 0  # nothing due any more
            event = await within(seen.get())  # the account, a member, receives it live
        finally:
            await client.close()
            await account.disconnect()

    [sent] = srv.sent
    assert (sent.peer, sent.sender) == (group.peer_id, BOT)
    assert sent.random_id == alert_random_id(alert.id) and "t.me/DIUkraine/1908" in sent.text
    # message ids are per user: the bot's own id is what the alert row keeps
    assert event.raw_text == sent.text and event.sender_id == bot.id and not event.message.out
    [done] = await alerts.list_all(db)
    assert (done.status, done.message_id) == ("sent", sent.id)
    # the bot session is its own file (TG_BOT_SESSION), private; the account's was never made
    assert client.session_path == tmp_path / "bot.session"
    assert stat.S_IMODE((tmp_path / "bot.session").stat().st_mode) == 0o600
    assert not (tmp_path / "account.session").exists()
    assert srv.count("ImportBotAuthorizationRequest") == 1
    assert srv.count("GetDialogsRequest") == 0  # a bot may not list dialogs; the id needs none


async def test_bot_outside_the_group_fails_the_alert_permanently(db: Database,
                                                                 tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True) as srv:
        bot = srv.add_bot(BOT)
        group = srv.add_chat("Not the bot's", members=["analyst_bob"])
        await cite(db, [await store_post(db, 5)], chat=str(group.peer_id))
        assert bot.bot_token is not None
        settings = bot_settings(db.path, srv, tmp_path, bot.bot_token)
        client = make_client(settings, bot=True)
        try:
            await within(client.start(bot_token=settings.tg_bot_token))
            assert await within(AlertSender(db, TelethonTransport(client), settings).run_once()) == 0
        finally:
            await client.close()
    assert srv.sent == []
    [failed] = await alerts.list_all(db)
    assert failed.status == "failed" and "CHAT_WRITE_FORBIDDEN" in (failed.last_error or "")


@pytest.mark.parametrize("token", ["not-a-token", "123456:ABCdefGhIJKlmnoPQRstuVWxyz0123456789"])
async def test_invalid_token_is_refused(db: Database, tmp_path: Path, token: str) -> None:
    async with FakeTelegram(require_login=True) as srv:
        srv.add_bot(BOT)
        settings = bot_settings(db.path, srv, tmp_path, token)
        client = make_client(settings, bot=True)
        try:
            with pytest.raises(errors.AccessTokenInvalidError):
                await within(client.start(bot_token=token))
            assert not await client.is_user_authorized()
        finally:
            await client.close()


async def _login_account(e: dict[str, str], cwd: Path) -> None:
    code, _, err = await citewatch(e, "login", stdin="+15550001234\n12345\n", cwd=cwd)
    assert code == 0, err


async def test_run_with_a_bad_bot_token_is_one_error_line(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True) as srv:
        srv.add_bot(BOT)
        e = tg_env(env, srv, tmp_path)
        await _login_account(e, tmp_path)
        e["TG_BOT_TOKEN"] = "123456:ABCdefGhIJKlmnoPQRstuVWxyz0123456789"
        e["ALERT_CHAT"] = "-4001"
        code, _, err = await citewatch(e, "run", "--stop-after", "5", cwd=tmp_path)
        assert code == 2, err
        lines = [line for line in err.splitlines() if line.startswith("citewatch:")]
        assert lines == ["citewatch: error: TG_BOT_TOKEN: the bot cannot log in: "
                         "ACCESS_TOKEN_INVALID: The provided token is not valid"], err
        assert "ABCdefGhIJK" not in err  # the token is a secret


async def test_run_sends_due_alerts_through_the_bot(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeTelegram(require_login=True) as srv:
        bot = srv.add_bot(BOT)
        group = srv.add_chat("Analysts", members=[BOT])
        assert bot.bot_token is not None
        e = tg_env(env, srv, tmp_path)
        await _login_account(e, tmp_path)
        db = await Database.open(Path(e["CITEWATCH_DB"]))
        try:
            await cite(db, [await store_post(db, 77)], chat=str(group.peer_id))
        finally:
            await db.close()
        e["TG_BOT_TOKEN"] = bot.bot_token
        e["ALERT_CHAT"] = str(group.peer_id)
        code, _, err = await citewatch(e, "run", "--stop-after", "4", cwd=tmp_path)
        assert code == 0, err
        assert bot.bot_token not in err
        [sent] = srv.sent
        assert (sent.peer, sent.sender) == (group.peer_id, BOT)
        account, bot_session = Path(e["TG_SESSION"]), Path(e["TG_BOT_SESSION"])
        assert account != bot_session
        for path in (account, bot_session):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        db = await Database.open(Path(e["CITEWATCH_DB"]))
        try:
            [done] = await alerts.list_all(db)
        finally:
            await db.close()
        assert (done.status, done.message_id) == ("sent", sent.id)


async def test_service_answers_commands_through_the_bot_only_in_allowed_chats(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The service as `citewatch run` builds it: the account watches channels, the bot logs in
    on its own session and is the one that answers; strangers get silence and a log line."""
    caplog.set_level(logging.INFO, logger="citewatch.commands")
    async with FakeTelegram(require_login=True) as srv:
        bot = srv.add_bot(BOT)
        team = srv.add_chat("Analysts", members=[BOT, "analyst"])
        strangers = srv.add_chat("Strangers", members=[BOT, "stranger"])
        assert bot.bot_token is not None
        await store_post(db, 1908, translation=f"ammunition depot {HOSTILE}")
        settings = bot_settings(db.path, srv, tmp_path, bot.bot_token, SOURCE="telethon", CHANNELS="",
                                ALERT_CHAT=str(team.peer_id), ALLOWED_CHATS="@analyst")
        account = make_client(settings)  # the account's session, as `citewatch login` leaves it
        try:
            await within(account.start(phone="+15550001234", code_callback=lambda: "12345"))
        finally:
            await account.close()

        service = Service(settings, db)
        try:
            await within(service.start())
            assert service.client is not None  # the account is connected too, and in both groups
            srv.incoming(strangers.id, "/search depot", from_user="stranger")
            srv.incoming(BOT, "/search depot", from_user="stranger")
            srv.incoming(team.id, "/search depot", from_user="analyst")  # ALERT_CHAT
            srv.incoming(BOT, "/search depot", from_user="analyst")  # ALLOWED_CHATS=@analyst

            def ignored() -> list[str]:
                return [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]

            async def answered() -> None:
                while len(srv.sent) < 2 or len(ignored()) < 2:
                    await asyncio.sleep(0.05)

            await within(answered(), 10)
            await asyncio.sleep(0.5)  # time for a (wrong) answer elsewhere, or from the account
        finally:
            await service.stop()

    assert {(s.peer, s.sender) for s in srv.sent} == {(team.peer_id, BOT), ("analyst", BOT)}
    assert len(srv.sent) == 2
    for sent in srv.sent:
        assert "t.me/DIUkraine/1908" in sent.text and HOSTILE in sent.text  # shown as text
        urls = [e.url for e in sent.entities if isinstance(e, types.MessageEntityTextUrl)]
        assert urls == ["https://t.me/DIUkraine/1908"]  # the hostile <a href> is no link
    stranger = srv.world.user("stranger").id
    assert sorted(ignored()) == sorted(f"command from chat {chat} ignored: not ALERT_CHAT or ALLOWED_CHATS"
                             for chat in (strangers.peer_id, stranger))


async def test_bot_ignores_commands_addressed_to_another_bot(db: Database, tmp_path: Path) -> None:
    """With group privacy off the bot sees every message, `/help@other_bot` included: that one
    is for the other bot; `/help@<ours>` (any case) and a bare `/help` are for us."""
    async with FakeTelegram(require_login=True) as srv:
        bot = srv.add_bot(BOT, privacy=False)
        team = srv.add_chat("Analysts", members=[BOT, "analyst"])
        assert bot.bot_token is not None
        settings = bot_settings(db.path, srv, tmp_path, bot.bot_token, ALERT_CHAT=str(team.peer_id))
        client = make_client(settings, bot=True)
        try:
            await within(client.start(bot_token=settings.tg_bot_token))
            register_commands(client, db, settings)
            srv.incoming(team.id, "/help@some_other_bot", from_user="analyst")
            srv.incoming(team.id, "/channels@Citewatch_Alerts_Bot", from_user="analyst")
            srv.incoming(team.id, "/status", from_user="analyst")

            async def answered() -> None:
                while len(srv.sent) < 2:
                    await asyncio.sleep(0.05)

            await within(answered(), 10)
            await asyncio.sleep(0.5)  # time for a (wrong) answer to the other bot's command
        finally:
            await client.close()
    assert [s.sender for s in srv.sent] == [BOT, BOT]
    channels, status = sorted(srv.sent, key=lambda s: "citewatch status" in s.text)
    assert channels.text == "No channels." and "citewatch status" in status.text
