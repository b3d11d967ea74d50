"""What an import writes in place of two per-post triggers (migrations 16, 17), compared with the
live path (one post at a time, its translation after it): the translation queue (a post imported
with its translation is never queued, one without is queued as the trigger queues it) and each
day's id range (``post_days``, widened once per day and batch). Every other write keeps the
triggers, and a database made before the migrations keeps its rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.archive import ImportRecord, import_records
from storage import posts, translations
from storage.db import Database, migrate
from storage.migrations import IMPORT_DAYS_TRIGGER, IMPORT_QUEUES_TRIGGER, MIGRATIONS
from storage.models import Post, Translation

T0 = datetime(2023, 3, 1, tzinfo=UTC)


def _rec(mid: int, text: str, translation: str | None = None, channel: str = "rybar"
         ) -> ImportRecord:
    # two posts a day, the days not in order (an export of several channels)
    when = T0 + timedelta(days=(mid * 7) % 11, hours=mid % 2)
    rec = ImportRecord(post=Post(channel=channel, message_id=mid, date=when, text=text,
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


async def test_import_queues_and_dates_posts_as_the_live_path_does(tmp_path: Path) -> None:
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
        days = await bulk.fetchall("SELECT day, lo, hi FROM post_days ORDER BY day")
        assert [tuple(r) for r in days] == [tuple(r) for r in await live.fetchall(
            "SELECT day, lo, hi FROM post_days ORDER BY day")]
        assert len(days) == 11
        assert await bulk.fetchval("SELECT count(*) FROM meta") == await live.fetchval(
            "SELECT count(*) FROM meta")  # no fact left behind
        # the untranslated posts with text, and nothing else
        assert [m for _, m, _, _ in queued] == [i for i in range(1, 61) if i % 7 and i % 3]
        assert {(s, a) for *_, s, a in queued} == {("pending", 0)}
        assert all(r["enqueued_at"] for r in await bulk.fetchall(
            "SELECT enqueued_at FROM translation_queue"))
        # after the import the trigger queues again: a new post from the watcher
        await posts.upsert_many(bulk, [Post(channel="rybar", message_id=100, date=T0,
                                            text="Новый пост")])
        assert (await _queue(bulk))[-1] == ("rybar", 100, "pending", 0)
        pid = await bulk.fetchval("SELECT id FROM posts WHERE message_id = 100")
        assert await bulk.fetchval("SELECT hi FROM post_days WHERE day = ?",
                                   (T0.date().isoformat(),)) == pid
    finally:
        await bulk.close()
        await live.close()


async def test_a_batch_that_fails_leaves_the_triggers_working(tmp_path: Path) -> None:
    """A record SQLite refuses rolls its batch back and the batch is stored record by record: the
    fact that holds the trigger back is never left behind, and the queue is still right."""
    recs = [_rec(1, "Перший пост"), _rec(2, "Другий", "Second"),
            _rec(3, "bad \ud800 surrogate"), _rec(4, "Четвертий")]
    db = await Database.open(tmp_path / "cw.db")
    try:
        result, issues = await import_records(db, recs, batch_size=10)
        assert result.inserted == 3 and [i.line for i in issues] == [3]
        assert [m for _, m, _, _ in await _queue(db)] == [1, 4]
        assert await db.fetchval("SELECT count(*) FROM meta WHERE key LIKE 'import_%'") == 0
        assert await db.fetchval("SELECT count(*) FROM post_days") == 3
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


def test_migration_keeps_the_day_ranges_of_an_older_database(tmp_path: Path) -> None:
    """A file at the schema before migration 17: its day ranges stay, and a post stored after the
    migration widens its day's range through the trigger."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path, isolation_level=None) as conn:
        migrate(conn, MIGRATIONS.index(IMPORT_DAYS_TRIGGER))
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'rybar', 'x')")
        for i, day in enumerate(["2023-03-02", "2023-03-01", "2023-03-02"], 1):
            conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at)"
                         " VALUES (1, ?, ?, 'Пост', 'x')", (i, f"{day}T10:00:00+00:00"))
        before = conn.execute("SELECT * FROM post_days ORDER BY day").fetchall()
        assert before == [("2023-03-01", 2, 2), ("2023-03-02", 1, 3)]
        migrate(conn)
        assert conn.execute("SELECT * FROM post_days ORDER BY day").fetchall() == before
        conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at)"
                     " VALUES (1, 4, '2023-03-01T12:00:00+00:00', 'Пост', 'x')")
        assert conn.execute("SELECT * FROM post_days ORDER BY day").fetchall() == [
            ("2023-03-01", 2, 4), ("2023-03-02", 1, 3)]
