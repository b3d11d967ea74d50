"""Upsert semantics (history is never overwritten) and the FTS index kept in sync by triggers."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import posts, search, stats, translations
from storage.db import Database
from storage.models import Post, Translation, UpsertResult

WHEN = datetime(2023, 1, 24, 19, 28, 11, tzinfo=UTC)


def _post(mid: int, text: str, **kw: object) -> Post:
    return Post(channel="DIUkraine", message_id=mid, date=WHEN, text=text, **kw)  # type: ignore[arg-type]


async def _ids(db: Database, q: str, **kw: object) -> list[int]:
    return [h.message_id for h in await search.query(db, q, **kw)]  # type: ignore[arg-type]


async def _fts_rows(db: Database) -> int:
    return int(await db.fetchval("SELECT count(*) FROM posts_fts"))


async def test_insert_then_unchanged_reimport(db: Database) -> None:
    batch = [_post(1, "Перший допис", views=10), _post(2, "Другий допис", views=20)]
    assert await posts.upsert_many(db, batch) == UpsertResult(inserted=2)
    p = await posts.get(db, "diukraine", 1)  # usernames are case-insensitive
    assert p is not None and p.text == "Перший допис" and p.views == 10 and p.date == WHEN
    assert await posts.upsert_many(db, batch) == UpsertResult(unchanged=2)
    assert await db.fetchval("SELECT count(*) FROM posts") == 2
    assert await db.fetchval("SELECT count(*) FROM post_versions") == 0
    assert await _fts_rows(db) == 2
    ch = await db.fetchval("SELECT last_message_id FROM channels WHERE username = 'DIUkraine'")
    assert ch == 2


async def test_edit_keeps_old_text_and_reindexes(db: Database) -> None:
    await posts.upsert_many(db, [_post(5, "Окупанти обстріляли Херсон")])
    assert await _ids(db, "Херсон") == [5]
    edited = _post(5, "Окупанти обстріляли Запоріжжя", edit_date=datetime(2023, 1, 25, tzinfo=UTC))
    assert await posts.upsert_many(db, [edited]) == UpsertResult(edited=1)
    p = await posts.get(db, "DIUkraine", 5)
    assert p is not None and p.text == "Окупанти обстріляли Запоріжжя"
    assert p.edit_date == datetime(2023, 1, 25, tzinfo=UTC)
    old = await posts.versions(db, p.id or 0)
    assert [v.text for v in old] == ["Окупанти обстріляли Херсон"]
    assert await _ids(db, "Херсон") == []  # old words no longer match
    assert await _ids(db, "Запоріжжя") == [5]  # new ones do
    assert await _fts_rows(db) == 1
    # a second edit adds a second version; nothing is overwritten
    await posts.upsert_many(db, [_post(5, "Третя версія")])
    assert [v.text for v in await posts.versions(db, p.id or 0)] == [
        "Окупанти обстріляли Херсон", "Окупанти обстріляли Запоріжжя"]


async def test_views_update_without_a_version(db: Database) -> None:
    await posts.upsert_many(db, [_post(7, "текст", views=100, forwards=1)])
    res = await posts.upsert_many(db, [_post(7, "текст", views=250)])
    assert res.edited == 0 and res.inserted == 0
    p = await posts.get(db, "DIUkraine", 7)
    assert p is not None and p.views == 250 and p.forwards == 1  # missing value keeps the old one
    await posts.upsert_many(db, [_post(7, "текст")])  # no views at all: nothing lost
    p = await posts.get(db, "DIUkraine", 7)
    assert p is not None and p.views == 250
    assert await db.fetchval("SELECT count(*) FROM post_versions") == 0


async def test_deletion_only_marks(db: Database) -> None:
    await posts.upsert_many(db, [_post(9, "Видалений згодом допис"), _post(10, "Залишився")])
    assert await posts.mark_deleted(db, "DIUkraine", [9, 404]) == 1
    p = await posts.get(db, "DIUkraine", 9)
    assert p is not None and p.deleted_at is not None and p.text == "Видалений згодом допис"
    hits = await search.query(db, "видалений")
    assert [(h.message_id, h.deleted) for h in hits] == [(9, True)]
    # a later re-import of the same post does not bring it back to life, nor does a second mark
    await posts.upsert_many(db, [_post(9, "Видалений згодом допис")])
    p2 = await posts.get(db, "DIUkraine", 9)
    assert p2 is not None and p2.deleted_at == p.deleted_at
    assert await posts.mark_deleted(db, "DIUkraine", [9]) == 0
    summary = await stats.summary(db)
    assert summary["channels"][0]["deleted"] == 1 and summary["posts"] == 2


async def test_translation_is_searchable_and_dequeued(db: Database) -> None:
    await posts.upsert_many(db, [_post(11, "Розвідка повідомляє")])
    p = await posts.get(db, "DIUkraine", 11)
    assert p is not None and p.id is not None
    assert await db.fetchval("SELECT count(*) FROM translation_queue") == 1
    assert await _ids(db, "intelligence") == []
    await translations.upsert(db, Translation(p.id, "en", "test", "Intelligence reports"), p.text)
    assert await _ids(db, "intelligence") == [11]
    assert await db.fetchval("SELECT count(*) FROM translation_queue") == 0
    hit = (await search.query(db, "intelligence"))[0]
    assert "\x02Intelligence\x03" in hit.translation_snippet
    # a new translation text re-indexes, the old one stops matching
    await translations.upsert(db, Translation(p.id, "en", "test", "Spy agency reports"), p.text)
    assert await _ids(db, "intelligence") == []
    assert await _ids(db, "agency") == [11]
    # an edit of the original puts the post back on the queue
    await posts.upsert_many(db, [_post(11, "Розвідка повідомляє нове")])
    assert await db.fetchval("SELECT count(*) FROM translation_queue") == 1
    # the edit keeps the old text with the translation it had; re-translating replaces only the current
    await translations.upsert(db, Translation(p.id, "en", "test", "Intelligence reports news"),
                              "Розвідка повідомляє нове")
    [old_version] = await posts.versions(db, p.id)
    assert (old_version.text, old_version.translation) == ("Розвідка повідомляє", "Spy agency reports")
    assert (await posts.get(db, "DIUkraine", 11)).translation == "Intelligence reports news"  # type: ignore[union-attr]


async def test_cyrillic_case_insensitive_and_prefix(db: Database) -> None:
    await posts.upsert_many(db, [
        _post(20, "ЗСУ звільнили село. Іноземного контингенту немає"),
        _post(21, "Українські сили ППО збили ракети"),
        _post(22, "Russian FORCES retreat"),
    ])
    assert await _ids(db, "зсу") == [20]
    assert await _ids(db, "ЗВІЛЬНИЛИ") == [20]
    assert await _ids(db, "контингент") == [20]  # an inflected form matches by prefix
    assert await _ids(db, "українськ*") == [21]
    assert await _ids(db, "forces") == [22]
    assert await _ids(db, "ппо") == [21]


async def test_upsert_many_empty_and_mixed_channels(db: Database) -> None:
    assert await posts.upsert_many(db, []) == UpsertResult()
    res = await posts.upsert_many(db, [
        _post(1, "a"), Post(channel="rybar", message_id=1, date=WHEN, text="b"),
    ])
    assert res == UpsertResult(inserted=2)
    assert sorted(c for (c,) in await db.fetchall("SELECT username FROM channels")) == [
        "DIUkraine", "rybar"]
    assert [p.text for p in await posts.recent(db, "rybar")] == ["b"]
