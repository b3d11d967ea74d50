"""The import's index: a bulk import writes exactly the index the live path (one post as it arrives,
then its translation) writes, on real posts; re-importing an export re-indexes nothing."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.archive import ImportRecord, import_records
from storage import posts, search, translations
from storage.db import Database
from storage.models import Post, Translation
from tests.conftest import Cli, shared_data

#: real ru posts with their English translations, and real uk/ru posts without
RU_EN = "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
UK_RU = "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
#: words of those posts in other forms than written, phrases, prefixes, exclusions, OR
QUERIES = ["Киев", "Киеве", "Путина", "Украина", "України", "Херсоне", "Бахмута", "танков",
           "обстрелял", "terrorism", "strikes", "Ukrainian", '"в Киеве"', "Запорож*", "Харьков*",
           "ВСУ -Херсон", "Мариуполь OR Бахмут", "Kyiv regime", "Макіївка", "наступление"]


def _records() -> list[ImportRecord]:
    out = []
    with shared_data(RU_EN).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(ImportRecord(
                post=Post(channel=row["channel"], message_id=int(row["message_id"]),
                          date=datetime.fromisoformat(row["date"]).replace(tzinfo=UTC),
                          text=row["text_original"], source="import"),
                translation=row["text_en_google"] or None,
                translation_lang="en" if row["text_en_google"] else None))
    with shared_data(UK_RU).open(encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), 1):
            out.append(ImportRecord(post=Post(
                channel="videoposts", message_id=i, date=datetime.fromisoformat(row["date"]),
                text=row["message_text"], source="import")))
    return out


def _index(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every token the index holds (term, post, column, offset) and the content it was built from,
    after FTS5's own check that the two agree (rank 1: the index against its content)."""
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
        conn.execute("CREATE VIRTUAL TABLE temp.tokens USING fts5vocab(main, posts_fts, instance)")
        tokens = conn.execute("SELECT term, doc, col, offset FROM temp.tokens"
                              " ORDER BY doc, col, offset, term").fetchall()
        content = conn.execute("SELECT id, text, translation, words FROM posts_fts_content"
                               " ORDER BY id").fetchall()
    return tokens, content


async def _hits(db: Database) -> dict[str, list[tuple[str, int]]]:
    return {q: [(h.channel, h.message_id) for h in await search.query(db, q, limit=50)]
            for q in QUERIES}


async def test_import_writes_the_index_the_live_path_writes(tmp_path: Path) -> None:
    recs = _records()
    assert len(recs) > 250
    bulk = await Database.open(tmp_path / "bulk.db")
    live = await Database.open(tmp_path / "live.db")
    try:
        # several batches, so the batched statements are what is compared
        result, issues = await import_records(bulk, recs, batch_size=64)
        assert result.inserted == len(recs) and not issues
        for r in recs:  # as the watcher and the translation job store them: one at a time
            await posts.upsert_many(live, [r.post])
            if r.translation:
                pid = await live.fetchval(
                    "SELECT p.id FROM posts p JOIN channels c ON c.id = p.channel_id"
                    " WHERE c.username = ? AND p.message_id = ?",
                    (r.post.channel, r.post.message_id))
                await translations.upsert(live, Translation(
                    post_id=pid, lang="en", provider="import", text=r.translation))
        bulk_hits, live_hits = await _hits(bulk), await _hits(live)
    finally:
        await bulk.close()
        await live.close()
    assert bulk_hits == live_hits
    assert sum(1 for h in bulk_hits.values() if h) >= len(QUERIES) - 2  # the queries find posts
    bulk_index, live_index = _index(tmp_path / "bulk.db"), _index(tmp_path / "live.db")
    assert bulk_index == live_index
    assert len(bulk_index[0]) > 50_000 and len(bulk_index[1]) == len(recs)


async def test_import_indexes_as_a_rebuild_would_with_a_post_twice_in_a_batch(
        tmp_path: Path) -> None:
    """Batches of different posts, and one holding a post twice (its edit, under its channel's
    name in other case): the import leaves the index FTS5 rebuilds from the content, token for
    token."""
    recs = _records()[:120]
    twice = [ImportRecord(post=Post(channel=r.post.channel.upper(), message_id=r.post.message_id,
                                    date=r.post.date, text=r.post.text + " Бахмуте",
                                    source="import"),
                          translation=(r.translation or "") + " in Bakhmut",
                          translation_lang="en")
             for r in recs[40:45]]
    path = tmp_path / "bulk.db"
    db = await Database.open(path)
    try:
        # batches of 40: the first, third and fourth all different posts, the second with five
        # twice
        result, issues = await import_records(db, recs[:50] + twice + recs[50:], batch_size=40)
        assert not issues and result.inserted == len(recs) and result.edited == len(twice)
        assert len(await search.query(db, "Бахмут", limit=50)) >= len(twice)
    finally:
        await db.close()
    imported = _index(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
    assert _index(path) == imported
    assert len(imported[1]) == len(recs) and len(imported[0]) > 20_000


def _fts_pages(env: dict[str, str]) -> list[tuple[int, bytes]]:
    with sqlite3.connect(env["CITEWATCH_DB"]) as conn:
        return conn.execute("SELECT id, block FROM posts_fts_data ORDER BY id").fetchall()


def test_reimporting_an_export_reindexes_nothing(cli: Cli, env: dict[str, str],
                                                 tmp_path: Path) -> None:
    """An export imported again, in a new process, with new view counts (so every row is
    updated): the index's pages stay byte for byte the same — no post is re-indexed."""
    src = tmp_path / "real.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for r in _records():
            fh.write(json.dumps({"channel": r.post.channel, "id": r.post.message_id,
                                 "date": r.post.date.isoformat(), "text": r.post.text,
                                 "translation": r.translation}, ensure_ascii=False) + "\n")
    assert cli(env, "import", str(src)).returncode == 0
    exported = cli(env, "export", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    before = _fts_pages(env)
    again = tmp_path / "again.jsonl"
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    again.write_text("".join(json.dumps({**rec, "views": 1000 + i}, ensure_ascii=False) + "\n"
                             for i, rec in enumerate(lines)), encoding="utf-8")
    done = cli(env, "import", str(again))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported 0 new, 0 edited, {len(lines)} unchanged; 0 skipped"
    with sqlite3.connect(env["CITEWATCH_DB"]) as conn:
        assert conn.execute("SELECT min(views) FROM posts").fetchone()[0] == 1000  # rows written
    assert _fts_pages(env) == before
