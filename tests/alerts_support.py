"""Shared setup for the alert and command tests: stored posts, an article, citations → alert rows.

Everything goes through the storage functions the service uses, so the outbox rows are the ones
``storage.citations.store`` really creates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from telethon import TelegramClient
from telethon.sessions import StringSession

from bot.config import Settings, load_settings
from storage import articles, citations, posts, translations
from storage.db import Database
from storage.models import Article, Citation, Post, Translation
from tests.tgserver import FakeTelegram

T = TypeVar("T")

POST_DATE = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
PUBLISHED = datetime(2024, 5, 2, 13, 0, tzinfo=UTC)
ORIGINAL = "Розвідка повідомляє: уражено склад боєприпасів у Криму."
TRANSLATION = "Intelligence reports: an ammunition depot in Crimea was hit overnight."
HOSTILE = '<script>alert(1)</script> & "><a href="https://evil.example">x</a>'


async def within(aw: Awaitable[T], timeout: float = 15.0) -> T:
    return await asyncio.wait_for(aw, timeout)


def settings_for(db_path: Path, **extra: str) -> Settings:
    env = {"CITEWATCH_DB": str(db_path), "TRANSLATOR": "none", "CHANNELS": "DIUkraine",
           "DISCOVER": "off"}  # discovery would ask GDELT on the internet
    env.update(extra)
    return load_settings(env, dotenv_path=None)


async def store_post(db: Database, message_id: int, *, channel: str = "DIUkraine",
                     text: str = ORIGINAL, translation: str | None = TRANSLATION) -> int:
    await posts.upsert_many(db, [Post(channel=channel, message_id=message_id, date=POST_DATE,
                                      text=text)])
    post = await posts.get(db, channel, message_id)
    assert post is not None and post.id is not None
    if translation is not None:
        await translations.upsert(db, Translation(post_id=post.id, lang="en", provider="test",
                                                  text=translation), text)
    return post.id


async def cite(db: Database, post_ids: list[int], *, chat: str = "me",
               url: str = "https://news.example/depot?a=1&b=2", title: str = "Depot hit",
               score: float = 0.9) -> int:
    """An article citing ``post_ids`` (links + a quote); returns the article id."""
    article_id, _ = await articles.add(db, Article(
        url=url, title=title, outlet="Example News", published=PUBLISHED, text="…"))
    found = []
    for pid in post_ids:
        post = (await posts.get_many(db, [pid]))[0]
        found.append(Citation(article_id=article_id, post_id=pid, score=score, evidence=[
            {"kind": "link", "text": f"links to t.me/{post.channel}/{post.message_id}",
             "weight": 1.0},
            {"kind": "quote", "text": "quotes 83% of the translated post", "weight": 0.8,
             "containment": 0.83, "against": "translation",
             "post_passage": "an ammunition depot in Crimea", "article_passage": "x"},
        ]))
    await citations.store(db, article_id, found, 0.6, [chat])
    return article_id


@contextlib.asynccontextmanager
async def telegram(server: FakeTelegram | None = None
                   ) -> AsyncIterator[tuple[FakeTelegram, TelegramClient]]:
    """A running FakeTelegram and a connected real TelegramClient."""
    srv = server or FakeTelegram()
    await srv.start()
    client = TelegramClient(StringSession(), api_id=1, api_hash="x" * 32)
    srv.configure_client(client)
    try:
        await within(client.connect())
        yield srv, client
    finally:
        with contextlib.suppress(Exception):
            await within(client.disconnect(), 5)
        await srv.stop()
