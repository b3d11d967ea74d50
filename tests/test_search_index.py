"""The word-forms index: one FTS row per post over external content, written once per event, kept
right by edits/translations/deletes, the migration from today's index, retrieval through it."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cite.candidates import fts_terms
from storage import candidates, posts, search, translations
from storage.db import Database, migrate
from storage.migrations import SCHEMA_VERSION
from storage.models import Post, Translation
from tests.conftest import shared_data
from tests.terminal import on_a_terminal

T0 = datetime(2023, 3, 1, tzinfo=UTC)


def _p(mid: int, text: str, day: int = 0) -> Post:
    return Post(channel="DIUkraine", message_id=mid, date=T0 + timedelta(days=day), text=text)


async def _ids(db: Database, q: str) -> list[int]:
    return sorted(h.message_id for h in await search.query(db, q, limit=100))


def _fts_ok(path: Path) -> None:
    """FTS5's own check that the index holds exactly the tokens of its content (the view: rank 1
    compares them; without it only the index's own structure is checked)."""
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")


async def _translate(db: Database, post_id: int, text: str, lang: str = "en") -> None:
    await translations.upsert(db, Translation(post_id=post_id, lang=lang, provider="test", text=text))


async def test_one_row_per_post_and_no_second_copy_of_the_texts(db: Database) -> None:
    await posts.upsert_many(db, [_p(1, "Обстріл Макіївки"), _p(2, "Тиша")])
    pid = await db.fetchval("SELECT id FROM posts WHERE message_id = 1")
    await _translate(db, pid, "Shelling of Makiivka")
    tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master")}
    assert "posts_fts_content" in tables  # a view over posts and translations
    assert "posts_fts_content_content" not in tables and "posts_fts_content" not in {
        r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert await db.fetchval("SELECT count(*) FROM posts_fts_docsize") == 2
    # the row: the text, the translation, and the normal forms not already written
    row = await db.fetchone("SELECT text, translation, words FROM posts_fts WHERE rowid = ?", (pid,))
    assert (row[0], row[1]) == ("Обстріл Макіївки", "Shelling of Makiivka")
    assert {"макіївка", "shell"} <= set(row[2].split())
    _fts_ok(db.path)


async def test_import_indexes_a_translated_post_once(env: dict[str, str], tmp_path: Path) -> None:
    """An imported post with its translation is one FTS insert: no trigger deletes and re-inserts
    it when the translation follows (statements traced inside the import's transactions)."""
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"channel": "rybar", "id": i, "date": "2023-01-01",
                                       "text": f"Бои за Бахмут {i}", "translation": f"Bakhmut {i}"},
                                      ensure_ascii=False) + "\n" for i in range(1, 51)))
    from bot.archive import import_records, iter_jsonl

    db = await Database.open(tmp_path / "cw.db")
    traced: list[str] = []
    try:
        await db._writer._execute(db._writer._conn.set_trace_callback, traced.append)  # type: ignore[attr-defined]
        result, issues = await import_records(db, iter_jsonl(src, None))
        assert result.inserted == 50 and not issues
        # FTS5's own statements are traced too: a document written, a document deleted
        written = [s for s in traced if s.startswith("-- REPLACE INTO 'main'.'posts_fts_docsize'")]
        deleted = [s for s in traced if s.startswith("-- DELETE FROM 'main'.'posts_fts_docsize'")]
        assert len(written) == 50 and deleted == []
        assert await db.fetchval("SELECT count(*) FROM posts_fts_docsize") == 50
        assert await _ids(db, "Бахмуте") == list(range(1, 51))
        assert len(await search.query(db, "Bakhmut", limit=100)) == 50
    finally:
        await db.close()
    _fts_ok(tmp_path / "cw.db")


async def test_edits_translations_and_deletes_keep_the_index_exact(db: Database) -> None:
    await posts.upsert_many(db, [_p(1, "Ещё одна атака на Херсон"), _p(2, "Україна вистояла")])
    p1 = await db.fetchval("SELECT id FROM posts WHERE message_id = 1")
    p2 = await db.fetchval("SELECT id FROM posts WHERE message_id = 2")
    await _translate(db, p1, "Another attack on Kherson")
    await _translate(db, p1, "Ще одна атака на Херсон", lang="uk")  # a second language
    _fts_ok(db.path)
    assert await _ids(db, "Херсоном") == [1] and await _ids(db, "attacks") == [1]
    # an edit: the old words leave the index, the new come in; translations stay indexed
    await posts.upsert_many(db, [_p(1, "Ещё одна атака на Николаев")])
    assert await _ids(db, "Херсона") == [1]  # the translations still say Херсон/Kherson
    assert await _ids(db, '"Херсон"') == [1]
    assert await _ids(db, "Николаева") == [1]
    _fts_ok(db.path)
    # a new translation replaces the old one
    await _translate(db, p1, "Another attack on Mykolaiv")
    assert await _ids(db, "Kherson") == [] and await _ids(db, "Mykolaiv") == [1]
    _fts_ok(db.path)
    await db.execute("DELETE FROM translations WHERE post_id = ? AND lang = 'uk'", (p1,))
    assert await _ids(db, "Херсон") == []
    _fts_ok(db.path)
    await db.execute("DELETE FROM posts WHERE id = ?", (p1,))
    assert await _ids(db, "Николаев") == [] and await _ids(db, "України") == [2]
    assert await db.fetchval("SELECT count(*) FROM posts_fts_docsize") == 1
    _fts_ok(db.path)
    await _translate(db, p2, "Ukraine held out")
    assert await _ids(db, "Ukraine") == [2]
    _fts_ok(db.path)


async def test_posts_stored_by_another_program_are_indexed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    db = await Database.open(path)
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (9, 'x', '2023')")
        conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at) "
                     "VALUES (9, 1, '2023-01-01', 'вставлено вручну', '2023')")
    db = await Database.open(path)
    try:
        assert await _ids(db, "вручну") == [1]
    finally:
        await db.close()
    _fts_ok(path)


async def test_citation_retrieval_finds_other_forms(db: Database) -> None:
    await posts.upsert_many(db, [_p(1, "Вибухи у Макіївці, горить нафтобаза", day=1),
                                 _p(2, "Інша новина про погоду", day=1)])
    terms = fts_terms("Нафтобаза в Макіївка горіла після вибуху")
    assert "макіївка" in terms
    found = await candidates.candidates(db, terms, [], T0, T0 + timedelta(days=3))
    assert [p.message_id for p in found][:1] == [1]


# -- the migration from today's index -------------------------------------------------------------

def _old_database(path: Path, rows: list[tuple[str, str]]) -> None:
    """A database as today's code leaves it: schema 1 only, posts stored (with the ё fold and
    translation triggers of schema 1 filling the old index), a few edited, a few translated."""
    with sqlite3.connect(path) as conn:
        migrate(conn, 1)
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'rybar', '2023')")
        for i, (text, tr) in enumerate(rows, 1):
            conn.execute("INSERT INTO posts (channel_id, message_id, date, text, stored_at) "
                         "VALUES (1, ?, ?, ?, '2023')", (i, f"2023-01-{1 + i % 28:02d}", text))
            if tr:
                conn.execute("INSERT INTO translations (post_id, lang, provider, text, created_at) "
                             "VALUES (?, 'en', 'test', ?, '2023')", (i, tr))
        conn.execute("UPDATE posts SET text = text || ' Ещё правка.' WHERE id % 10 = 0")
        conn.commit()


def _real_rows(n: int) -> list[tuple[str, str]]:
    path = shared_data("telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv")
    with path.open(encoding="utf-8") as fh:
        rows = [(r["text_original"], r["text_en_google"]) for r in csv.DictReader(fh)]
    rows = [r for r in rows if r[0].strip()]
    return [(t, tr if i % 3 else "") for i, (t, tr) in enumerate((rows * (n // len(rows) + 1))[:n])]


async def test_migration_converts_an_old_database_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = _real_rows(300)
    _old_database(path, rows)
    with sqlite3.connect(path) as conn:
        before_posts = conn.execute("SELECT id, text FROM posts ORDER BY id").fetchall()
        before_tr = conn.execute("SELECT post_id, text FROM translations ORDER BY id").fetchall()
        before_versions = conn.execute("SELECT post_id, text FROM post_versions ORDER BY id").fetchall()
        old_hits = conn.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'правка'"
                                ).fetchall()
    db = await Database.open(path)
    try:
        assert await db.fetchval("PRAGMA user_version") == SCHEMA_VERSION
        assert [tuple(r) for r in await db.fetchall("SELECT id, text FROM posts ORDER BY id")] == \
            before_posts
        assert [tuple(r) for r in await db.fetchall(
            "SELECT post_id, text FROM translations ORDER BY id")] == before_tr
        assert [tuple(r) for r in await db.fetchall(
            "SELECT post_id, text FROM post_versions ORDER BY id")] == before_versions
        assert await db.fetchval("SELECT count(*) FROM posts_fts_docsize") == len(rows)
        # what the old index found is still found; other forms now too
        assert sorted(h.post_id for h in await search.query(db, "правка", limit=500)) == \
            sorted(r[0] for r in old_hits)
        assert {h.post_id for h in await search.query(db, "правкой", limit=500)} >= \
            {r[0] for r in old_hits}
        # every post is found by a word of its own text, every translation by one of its words
        for pid, text in before_posts[:60]:
            word = max(text.split(), key=len).strip(".,!?:;«»\"()")
            if len(word) > 3 and word.isalpha():
                assert pid in {h.post_id for h in await search.query(db, f'"{word}"', limit=500)}
        for pid, tr in before_tr[:40]:
            word = max(tr.split(), key=len).strip(".,!?:;\"()")
            if len(word) > 3 and word.isalpha():
                assert pid in {h.post_id for h in await search.query(db, f'"{word}"', limit=500)}
        assert await db.integrity_check() == "ok"
    finally:
        await db.close()
    _fts_ok(path)


def test_migration_shows_a_progress_bar_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "data" / "citewatch.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    _old_database(path, [(f"допис номер {i}", "") for i in range(300)])
    env = {**env, "CITEWATCH_DB": str(path)}
    code, tty, _ = on_a_terminal(env, tmp_path, "stats", tty="stderr")
    assert code == 0 and "indexing word forms" in tty and "300/300" in tty


# -- Datasette --------------------------------------------------------------------------------------

async def test_datasette_full_text_search_with_the_shipped_metadata(tmp_path: Path) -> None:
    """``datasette data/citewatch.db -m datasette/metadata.json``: ?_search= on posts (and on the
    view with the translations) runs on posts_fts, and a dictionary form finds every form."""
    from datasette.app import Datasette

    path = tmp_path / "citewatch.db"
    db = await Database.open(path)
    try:
        await posts.upsert_many(db, [_p(1, "Обстріл Макіївки"), _p(2, "Макіївка"), _p(3, "Тиша")])
        pid = await db.fetchval("SELECT id FROM posts WHERE message_id = 1")
        await _translate(db, pid, "Shelling of Makiivka")
        ids = {r[1]: r[0] for r in await db.fetchall("SELECT id, message_id FROM posts")}
    finally:
        await db.close()
    meta = json.loads((Path(__file__).resolve().parents[1] / "datasette" / "metadata.json").read_text())
    ds = Datasette([str(path)], metadata=meta)

    async def found(table: str, q: str) -> set[int]:
        resp = await ds.client.get(f"/citewatch/{table}.json", params={"_search": q, "_shape": "array"})
        assert resp.status_code == 200, resp.text
        return {row["id"] for row in resp.json()}

    assert await found("posts", "Макіївка") == {ids[1], ids[2]}  # "Макіївки" by its normal form
    assert await found("posts", "shelling") == {ids[1]}  # the translation is indexed with the post
    assert await found("posts_fts_content", "Makiivka") == {ids[1]}
    resp = await ds.client.get("/citewatch/posts_fts_content.json",
                               params={"_search": "Makiivka", "_shape": "array"})
    assert resp.json()[0]["translation"] == "Shelling of Makiivka"


async def test_chat_search_finds_every_form_and_marks_it(db: Database) -> None:
    from bot.alerts.commands import answer

    await posts.upsert_many(db, [_p(1, "Удар по Макіївці вночі"), _p(2, "Макіївка <b>знову</b>")])
    reply = "\n".join(await answer(db, "/search Макіївка"))
    assert "2 result(s)" in reply
    assert "<b>Макіївці</b>" in reply  # the other form is highlighted too
    assert "&lt;b&gt;знову" in reply  # post text stays escaped
