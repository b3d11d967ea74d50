"""The Telethon source and the Watcher, driven with the real TelegramClient against FakeTelegram."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.errors import SourceError
from bot.telegram.telethon_source import TelethonSource
from bot.telegram.watcher import Watcher, seed_channels
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage.db import Database
from storage.models import utcnow
from tests.tgserver import FakeTelegram


def tg_settings(tmp_path: Path, srv: FakeTelegram, **extra: str) -> Settings:
    env = {
        "CITEWATCH_DB": str(tmp_path / "cw.db"),
        "TG_SESSION": str(tmp_path / "cw.session"),
        "TG_API_ID": "1",
        "TG_API_HASH": "x" * 32,
        "TG_SERVER": f"{srv.host}:{srv.port}:{srv.dc_id}",
        "TG_SERVER_KEY": str(srv.public_key_path),
        "SOURCE": "telethon",
        "CHANNELS": "DIUkraine",
        "TRANSLATOR": "none",
        "FLOOD_SLEEP_MAX": "3",
        "BACKFILL_DAYS": "0",
        "BACKFILL_LIMIT": "1000",
        "JOIN_DELAY": "0",
    }
    env.update(extra)
    return load_settings(env, dotenv_path=None)


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (live updates arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def run_watcher(tmp_path: Path, srv: FakeTelegram, db: Database
                      ) -> AsyncIterator[Callable[..., Awaitable[Watcher]]]:
    """Start Watchers (seeded from CHANNELS) on one session file; all stopped at teardown."""
    started: list[Watcher] = []

    async def start(**extra: str) -> Watcher:
        settings = tg_settings(tmp_path, srv, **extra)
        await seed_channels(settings, db)
        watcher = Watcher(settings, db, TelethonSource(settings, db), reconnect_check=0.2)
        started.append(watcher)
        await asyncio.wait_for(watcher.start(), 30)
        return watcher

    yield start
    for w in started:
        await w.stop()


async def stored_ids(db: Database, channel: str = "DIUkraine") -> set[int]:
    return await posts_repo.message_ids(db, channel)


async def test_backfill_of_a_new_channel_pages_through_history(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", title="Defence Intelligence of Ukraine", joined=False)
    ids = [srv.post("DIUkraine", f"Повідомлення номер {i}", views=10 + i) for i in range(260)]
    await run_watcher()
    assert await stored_ids(db) == set(ids)
    assert srv.count("GetHistoryRequest") >= 3  # at most 100 per page
    ch = await channels_repo.get(db, "DIUkraine")
    assert ch is not None and ch.last_message_id == ids[-1]
    assert ch.title == "Defence Intelligence of Ukraine" and ch.tg_id and ch.access_hash
    post = await posts_repo.get(db, "DIUkraine", ids[5])
    assert post is not None and post.text == "Повідомлення номер 5" and post.views == 15
    assert post.source == "telethon" and post.raw and post.raw["id"] == ids[5]


async def test_backfill_respects_the_limit(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine")
    ids = [srv.post("DIUkraine", f"p{i}") for i in range(30)]
    await run_watcher(BACKFILL_LIMIT="10")
    assert await stored_ids(db) == set(ids[-10:])  # the newest ten


async def test_backfill_respects_the_age_limit(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine")
    old = srv.post("DIUkraine", "old", date=utcnow() - timedelta(days=40))
    new = srv.post("DIUkraine", "new", date=utcnow() - timedelta(days=2))
    await run_watcher(BACKFILL_DAYS="30")
    assert await stored_ids(db) == {new}
    assert old not in await stored_ids(db)


async def test_live_post_arrives_as_an_event_and_is_stored(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    first = srv.post("DIUkraine", "before start")
    await run_watcher()
    history_calls = srv.count("GetHistoryRequest")
    mid = srv.post("DIUkraine", "Live: see https://example.org/report")
    post = await until(lambda: posts_repo.get(db, "DIUkraine", mid))
    assert post.text.startswith("Live") and post.links == ["https://example.org/report"]
    assert first in await stored_ids(db)
    assert srv.count("GetHistoryRequest") == history_calls  # pushed, not polled


async def test_pts_gap_is_filled_through_get_channel_difference(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    srv.post("DIUkraine", "seed")
    await run_watcher()
    live = srv.post("DIUkraine", "live, so the client knows the channel's pts")
    await until(lambda: posts_repo.get(db, "DIUkraine", live))
    history_calls = srv.count("GetHistoryRequest")
    srv.skip_push_next(1)
    missed = srv.post("DIUkraine", "never pushed")
    pushed = srv.post("DIUkraine", "pushed after the gap")
    await until(lambda: posts_repo.get(db, "DIUkraine", pushed))
    await until(lambda: posts_repo.get(db, "DIUkraine", missed))
    assert srv.count("GetChannelDifferenceRequest") >= 1
    assert srv.count("GetHistoryRequest") == history_calls  # Telethon's difference did it


async def test_a_gap_before_the_first_live_update_is_filled_too(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    # Right after a start the client has no pts for the channel yet, so it cannot see a gap;
    # the jump in message ids makes the source fetch the range before storing the live post.
    srv.add_channel("DIUkraine", joined=True)
    srv.post("DIUkraine", "seed")
    await run_watcher()
    srv.skip_push_next(1)
    missed = srv.post("DIUkraine", "never pushed")
    pushed = srv.post("DIUkraine", "pushed after the gap")
    await until(lambda: posts_repo.get(db, "DIUkraine", pushed))
    await until(lambda: posts_repo.get(db, "DIUkraine", missed))
    assert srv.count("GetChannelDifferenceRequest") == 0  # fetched by our id-jump check


async def test_edit_keeps_the_old_version(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    mid = srv.post("DIUkraine", "Original wording")
    await run_watcher()
    srv.edit("DIUkraine", mid, "Corrected wording")

    async def edited() -> Any:
        p = await posts_repo.get(db, "DIUkraine", mid)
        return p if p and p.text == "Corrected wording" else None

    post = await until(edited)
    assert post.edit_date is not None
    versions = await posts_repo.versions(db, post.id)
    assert [v.text for v in versions] == ["Original wording"]


async def test_deletion_is_marked_not_erased(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    keep, gone = srv.post("DIUkraine", "stays"), srv.post("DIUkraine", "will be deleted")
    await run_watcher()
    srv.delete("DIUkraine", [gone])

    async def deleted() -> Any:
        p = await posts_repo.get(db, "DIUkraine", gone)
        return p if p and p.deleted_at else None

    post = await until(deleted)
    assert post.text == "will be deleted"
    kept = await posts_repo.get(db, "DIUkraine", keep)
    assert kept is not None and kept.deleted_at is None


async def test_short_flood_wait_is_slept_through(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine")
    ids = [srv.post("DIUkraine", f"p{i}") for i in range(5)]
    srv.flood_wait("GetHistoryRequest", seconds=1, times=1)
    t0 = time.monotonic()
    await run_watcher(FLOOD_SLEEP_MAX="3")
    assert time.monotonic() - t0 >= 1.0
    assert await stored_ids(db) == set(ids)
    ch = await channels_repo.get(db, "DIUkraine")
    assert ch is not None and ch.paused_until is None and ch.last_error is None


async def test_long_flood_wait_postpones_only_that_channel(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]],
        caplog: pytest.LogCaptureFixture) -> None:
    srv.add_channel("DIUkraine")
    srv.add_channel("OtherChan")
    srv.post("DIUkraine", "blocked for now")
    other = [srv.post("OtherChan", f"o{i}") for i in range(3)]
    srv.flood_wait("GetHistoryRequest", seconds=3600, times=5, channel="DIUkraine")
    t0 = time.monotonic()
    watcher = await run_watcher(CHANNELS="DIUkraine,OtherChan")
    assert time.monotonic() - t0 < 10  # not slept
    assert await stored_ids(db, "OtherChan") == set(other)
    assert await stored_ids(db, "DIUkraine") == set()
    ch = await channels_repo.get(db, "DIUkraine")
    assert ch is not None and ch.paused_until is not None
    assert timedelta(minutes=59) < ch.paused_until - utcnow() <= timedelta(hours=1)
    assert "flood wait" in (ch.last_error or "")
    assert any("postponed until" in r.getMessage() for r in caplog.records)
    # while paused, a poll leaves the channel alone; the other still gets its news
    def asked_about(name: str) -> int:
        return sum(1 for _, f in srv.calls if f.get("peer") == name)

    calls = asked_about("DIUkraine")
    newer = srv.post("OtherChan", "newer")
    await watcher.poll()
    assert newer in await stored_ids(db, "OtherChan")
    assert asked_about("DIUkraine") == calls


async def test_restart_recovers_every_post_published_while_stopped(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    before = [srv.post("DIUkraine", f"b{i}") for i in range(3)]
    first = await run_watcher()
    await first.stop()
    during = [srv.post("DIUkraine", f"while stopped {i}") for i in range(150)]
    srv.edit("DIUkraine", before[0], "b0 edited while stopped")
    await run_watcher()
    assert await stored_ids(db) == set(before + during)
    # the restart reused the stored id and access hash, and the same authorised session
    assert srv.count("ResolveUsernameRequest") == 1
    assert srv.count("SendCodeRequest") == 0


async def test_a_resolved_username_is_never_resolved_again(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine")
    srv.post("DIUkraine", "one")
    watcher = await run_watcher()
    for _ in range(3):
        srv.post("DIUkraine", "more")
        await watcher.poll()
        await watcher.catch_up_all()
    assert len(await stored_ids(db)) == 4
    assert srv.count("ResolveUsernameRequest") == 1


async def test_reconnect_catches_up(
        srv: FakeTelegram, db: Database, run_watcher: Callable[..., Awaitable[Watcher]]) -> None:
    srv.add_channel("DIUkraine", joined=True)
    srv.post("DIUkraine", "first")
    await run_watcher()
    await srv.drop_connections()
    mid = srv.post("DIUkraine", "published while the connection was down", push=False)
    await until(lambda: posts_repo.get(db, "DIUkraine", mid), timeout=20)


async def test_unknown_private_or_user_names_fail_in_one_line_and_change_nothing(
        tmp_path: Path, srv: FakeTelegram, db: Database) -> None:
    srv.add_user("someuser")
    settings = tg_settings(tmp_path, srv)
    source = TelethonSource(settings, db)
    await source.start()
    try:
        with pytest.raises(SourceError, match="no public channel") as e1:
            await source.resolve("nosuchchannel")
        with pytest.raises(SourceError, match="not a channel") as e2:
            await source.resolve("someuser")
        for e in (e1, e2):
            assert "\n" not in str(e.value)
        assert await channels_repo.list_all(db) == []
    finally:
        await source.stop()


async def test_join_and_channels_too_much(tmp_path: Path, srv: FakeTelegram, db: Database) -> None:
    rec = srv.add_channel("DIUkraine")
    srv.add_channel("Another")
    settings = tg_settings(tmp_path, srv)
    source = TelethonSource(settings, db)
    await source.start()
    try:
        ch = await source.join(await source.resolve("DIUkraine"))
        assert ch.joined and rec.joined
        stored = await channels_repo.get(db, "DIUkraine")
        assert stored is not None and stored.joined
        srv.fail("JoinChannelRequest", "CHANNELS_TOO_MUCH")
        with pytest.raises(SourceError, match="too many channels"):
            await source.join(await source.resolve("Another"))
        another = await channels_repo.get(db, "Another")
        assert another is not None and not another.joined
    finally:
        await source.stop()


async def test_fetch_post_of_an_unwatched_channel_does_not_watch_it(
        tmp_path: Path, srv: FakeTelegram, db: Database) -> None:
    srv.add_channel("Elsewhere")
    mid = srv.post("Elsewhere", "quoted by an article")
    source = TelethonSource(tg_settings(tmp_path, srv), db)
    await source.start()
    try:
        post = await source.fetch_post("Elsewhere", mid)
        assert post is not None and post.text == "quoted by an article"
        assert await source.fetch_post("Elsewhere", 999) is None
        assert await channels_repo.list_all(db) == []
    finally:
        await source.stop()
