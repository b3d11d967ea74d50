"""The translation queue after an import (migration 16): a post imported with its translation is
never queued, one imported without is queued as the insert trigger queues it, every other write is
queued by the trigger as before, and a database made before the migration keeps its queue."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.archive import ImportRecord, import_records
from storage import posts, translations
from storage.db import Database, migrate
from storage.migrations import IMPORT_QUEUES_TRIGGER, MIGRATIONS
from storage.models import Post, Translation

T0 = datetime(2023, 3, 1, tzinfo=UTC)


def _rec(mid: int, text: str, translation: str | None = None, channel: str = "rybar"
         ) -> ImportRecord:
    rec = ImportRecord(post=Post(channel=channel, message_id=mid, date=T0, text=text,
                                 source="import"),
                       translation=translation, translation_lang="en" if translation else None)
    rec.line = mid
    return rec


def _records() -> list[ImportRecord]:
    """Every third post translated, every seventh without text, one post twice (its edit)."""
    out = [_rec(i, "" if i % 7 == 0 else f"Бои за Бахмут {i}",
                f"Fighting for Bakhmut {i}" if i % 3 == 0 and i % 7 else None)
           for i in range(1, 61)]
    out.insert(30, _rec(5, "Бои за Бахмут 5, исправлено"))
    return out


async def _queue(db: Database) -> list[tuple[str, int, str, int]]:
    rows = await db.fetchall(
        "SELECT c.username, p.message_id, q.status, q.attempts FROM translation_queue q"
        " JOIN posts p ON p.id = q.post_id JOIN channels c ON c.id = p.channel_id"
        " ORDER BY c.username, p.message_id")
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_import_queues_what_the_live_path_queues(tmp_path: Path) -> None:
    recs = _records()
    bulk = await Database.open(tmp_path / "bulk.db")
    live = await Database.open(tmp_path / "live.db")
    try:
        result, issues = await import_records(bulk, recs, batch_size=16)
        assert not issues and result.inserted == 60 and result.edited == 1
        for r in recs:  # one post at a time, its translation after it: the trigger queues
            await posts.upsert_many(live, [r.post])
            if r.translation:
                pid = await live.fetchval("SELECT id FROM posts WHERE message_id = ?",
                                          (r.post.message_id,))
                await translations.upsert(live, Translation(
                    post_id=pid, lang="en", provider="import", text=r.translation))
        queued = await _queue(bulk)
        assert queued == await _queue(live)
        # the untranslated posts with text, and nothing else
        assert [m for _, m, _, _ in queued] == [i for i in range(1, 61) if i % 7 and i % 3]
        assert {(s, a) for *_, s, a in queued} == {("pending", 0)}
        assert await bulk.fetchval("SELECT count(*) FROM meta WHERE key = 'import_queues'") == 0
        assert all(r["enqueued_at"] for r in await bulk.fetchall(
            "SELECT enqueued_at FROM translation_queue"))
        # after the import the trigger queues again: a new post from the watcher
        await posts.upsert_many(bulk, [Post(channel="rybar", message_id=100, date=T0,
                                            text="Новый пост")])
        assert (await _queue(bulk))[-1] == ("rybar", 100, "pending", 0)
    finally:
        await bulk.close()
        await live.close()


async def test_a_batch_that_fails_leaves_the_trigger_queueing(tmp_path: Path) -> None:
    """A record SQLite refuses rolls its batch back and the batch is stored record by record: the
    fact that holds the trigger back is never left behind, and the queue is still right."""
    recs = [_rec(1, "Перший пост"), _rec(2, "Другий", "Second"),
            _rec(3, "bad \ud800 surrogate"), _rec(4, "Четвертий")]
    db = await Database.open(tmp_path / "cw.db")
    try:
        result, issues = await import_records(db, recs, batch_size=10)
        assert result.inserted == 3 and [i.line for i in issues] == [3]
        assert [m for _, m, _, _ in await _queue(db)] == [1, 4]
        assert await db.fetchval("SELECT count(*) FROM meta WHERE key = 'import_queues'") == 0
    finally:
        await db.close()


def test_migration_keeps_the_queue_of_an_older_database(tmp_path: Path) -> None:
    """A file at the schema before migration 16, with queued, failed and translated posts: after
    the migration every queue row is as it was, and a new post is queued by the trigger."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path, isolation_level=None) as conn:
        migrate(conn, MIGRATIONS.index(IMPORT_QUEUES_TRIGGER))
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'rybar', 'x')")
        for i in range(1, 6):
            conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at)"
                         " VALUES (1, ?, '2023-03-01', ?, 'x')", (i, f"Пост {i}"))
        conn.execute("INSERT INTO translations (post_id, lang, provider, text, created_at)"
                     " VALUES (2, 'en', 'test', 'Post 2', 'x')")
        conn.execute("UPDATE translation_queue SET status = 'failed', attempts = 3,"
                     " last_error = 'model missing' WHERE post_id = 4")
        before = conn.execute("SELECT * FROM translation_queue ORDER BY post_id").fetchall()
        assert [r[0] for r in before] == [1, 3, 4, 5]
        migrate(conn)
        assert conn.execute("SELECT * FROM translation_queue ORDER BY post_id").fetchall() == before
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'posts_queue_insert'"
                           ).fetchone()[0]
        assert "import_queues" in sql
        conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at)"
                     " VALUES (1, 6, '2023-03-01', 'Пост 6', 'x')")
        conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at)"
                     " VALUES (1, 7, '2023-03-01', '', 'x')")
        assert [r[0] for r in conn.execute(
            "SELECT post_id FROM translation_queue ORDER BY post_id")] == [1, 3, 4, 5, 6]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
