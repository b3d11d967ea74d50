"""Chat commands: the answering core on a real database, and the Telethon edge on FakeTelegram."""

from __future__ import annotations

import asyncio

from telethon.extensions import html as tg_html
from telethon.tl import types

from bot.alerts.commands import answer, paginate, parse_command, register_commands, render_hits
from bot.alerts.format import tg_len
from storage import posts
from storage.db import Database
from storage.models import HL_END, HL_START, Post
from tests.alerts_support import (
    HOSTILE,
    POST_DATE,
    cite,
    settings_for,
    store_post,
    telegram,
    within,
)


def test_parse_command() -> None:
    assert parse_command("/search@citewatch_bot  ammo depot ") == ("search", "ammo depot")
    assert parse_command("/HELP") == ("help", "")
    assert parse_command("search depot") is None and parse_command("") is None


def test_snippet_markers_become_balanced_bold_and_text_is_escaped() -> None:
    s = f"a <b>&amp; {HL_START}depot{HL_END} stray{HL_END} open{HL_START}x"
    assert render_hits(s) == "a &lt;b&gt;&amp;amp; <b>depot</b> stray open<b>x</b>"


async def test_search_answers_with_links_and_escapes(db: Database) -> None:
    await store_post(db, 1908, text=f"склад {HOSTILE}", translation=f"ammunition depot {HOSTILE}")
    [msg] = await answer(db, "/search depot")
    text, entities = tg_html.parse(msg)
    assert "t.me/DIUkraine/1908" in text and HOSTILE in text and "<script>" not in msg
    urls = [e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)]
    assert urls == ["https://t.me/DIUkraine/1908"]
    assert any(isinstance(e, types.MessageEntityBold) for e in entities)  # the match is marked
    assert "Nothing found" in (await answer(db, "/search zebra"))[0]
    # hostile query syntax is as safe as in the CLI: no SQL/FTS error escapes
    for q in ('"unbalanced', "NEAR(", "a OR", "*", "-"):
        assert len(await answer(db, f"/search {q}")) == 1


async def test_post_recent_citations_channels_status_help(db: Database) -> None:
    pid = await store_post(db, 77, text="перший текст", translation="first <text>")
    await posts.upsert_many(db, [Post(channel="DIUkraine", message_id=77, date=POST_DATE,
                                      text="другий текст")])
    await cite(db, [pid], title="Cited <by> us")
    [msg] = await answer(db, "/post https://t.me/DIUkraine/77")
    text = tg_html.parse(msg)[0]
    assert "другий текст" in text and "перший текст" in text and "Earlier versions (1)" in text
    assert "translated: first <text>" in text  # the old translation is kept with the old text
    assert "Cited by 1 article(s)" in text and "Cited <by> us" in text
    assert "Not stored" in (await answer(db, "/post t.me/DIUkraine/5"))[0]
    assert "Usage" in (await answer(db, "/post nonsense"))[0]
    assert "t.me/DIUkraine/77" in tg_html.parse((await answer(db, "/recent DIUkraine"))[0])[0]
    assert "Cited <by> us" in tg_html.parse((await answer(db, "/citations 5"))[0])[0]
    assert "@DIUkraine" in tg_html.parse((await answer(db, "/channels"))[0])[0]
    status = tg_html.parse((await answer(db, "/status"))[0])[0]
    assert "Alerts: 1 pending" in status
    assert "/search" in (await answer(db, "/help"))[0]
    assert "Unknown command" in (await answer(db, "/nope"))[0]
    assert await answer(db, "hello") == []


async def test_channels_names_each_state_as_the_cli_does(db: Database) -> None:
    """An imported archive is not "inactive": /channels says what the CLI says."""
    from bot.archive import ImportRecord, import_records
    from storage import channels as channels_repo

    await channels_repo.add(db, "watched1")
    await channels_repo.add(db, "gone1")
    await channels_repo.remove(db, "gone1")
    await import_records(db, [ImportRecord(Post(channel="archive1", message_id=1, date=POST_DATE,
                                                text="x"))])
    lines = tg_html.parse((await answer(db, "/channels"))[0])[0].splitlines()
    by_name = {ln.split(":")[0]: ln for ln in lines[1:]}
    assert by_name["@archive1"].endswith("(archived)")
    assert by_name["@gone1"].endswith("(removed)")
    assert "(" not in by_name["@watched1"]


async def test_long_answers_are_split_at_lines_each_within_the_limit(db: Database) -> None:
    long_text = "\n".join(f"Рядок {i} & <тег> " + "слово " * 30 for i in range(120))
    await store_post(db, 5, text=long_text, translation=long_text.replace("Рядок", "Line"))
    chunks = await answer(db, "/post https://t.me/DIUkraine/5")
    assert 2 <= len(chunks) <= 5
    for c in chunks:
        assert tg_len(c) <= 4096
        text, entities = tg_html.parse(c)
        n16 = len(text.encode("utf-16-le")) // 2
        assert all(e.offset + e.length <= n16 for e in entities)
    shown = "\n".join(tg_html.parse(c)[0] for c in chunks)
    assert "Рядок 0 & <тег>" in shown and "Рядок 50 & <тег>" in shown


def test_paginate_never_splits_inside_a_line() -> None:
    blocks = [f'<b>{i}</b> <a href="https://t.me/x/{i}">link {i}</a> ' + "w" * 300 for i in range(60)]
    chunks = paginate(blocks, limit=1000, max_chunks=100)
    assert len(chunks) > 10 and all(tg_len(c) <= 1000 for c in chunks)
    joined = "\n".join(chunks)
    assert all(b in joined for b in blocks)


async def test_commands_answered_only_in_allowed_chats(db: Database) -> None:
    await store_post(db, 1908, translation="an ammunition depot in Crimea")
    async with telegram() as (srv, client):
        team = srv.add_chat("Analysts", members=["analyst"])
        srv.add_chat("Strangers", members=["stranger"])
        settings = settings_for(db.path, ALERT_CHAT="me", ALLOWED_CHATS=f"-{team.id}")
        register_commands(client, db, settings)
        await within(client.get_me())

        srv.incoming("Strangers", "/search depot", from_user="stranger")
        srv.incoming("Analysts", "/search depot", from_user="analyst")

        async def answered() -> None:
            while not srv.sent:
                await asyncio.sleep(0.05)

        await within(answered(), 10)
        await asyncio.sleep(0.5)  # time for a (wrong) answer to the other chat to show up
    assert [s.peer for s in srv.sent] == [-team.id]  # marked id of the basic group
    assert "t.me/DIUkraine/1908" in srv.sent[0].text
    assert any(isinstance(e, types.MessageEntityTextUrl) and e.url == "https://t.me/DIUkraine/1908"
               for e in srv.sent[0].entities)
