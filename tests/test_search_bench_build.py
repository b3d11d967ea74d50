"""The search benchmark's bulk builder stores what the write path stores: the same words columns
and the same full-text index, so figures measured on its files hold for real databases."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from bench.search_bench import CHANNELS, build_db, synthetic_posts
from bot.archive import ImportRecord, import_records
from storage.db import Database
from storage.models import Post
from tests.conftest import shared_data

N = 300


def _content(path: Path) -> dict[tuple[str, int], tuple[str, str, str, str]]:
    """Per post (channel, message id): its words, its translation's words, and what the index holds
    for it (the instances of every term, as fts5vocab reads them from the index itself)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, posts_fts, instance)")
    terms: dict[int, list[str]] = {}
    for term, doc, col, off in conn.execute("SELECT term, doc, col, offset FROM v ORDER BY 2, 3, 4"):
        terms.setdefault(doc, []).append(f"{col}:{off}:{term}")
    out = {}
    for pid, ch, mid, words, twords in conn.execute(
            "SELECT p.id, c.username, p.message_id, p.words, t.words FROM posts p "
            "JOIN channels c ON c.id = p.channel_id JOIN translations t ON t.post_id = p.id"):
        out[(ch, mid)] = (words, twords, " ".join(terms.get(pid, [])), "")
    conn.close()
    return out


async def test_bulk_build_equals_the_write_path(tmp_path: Path) -> None:
    shared_data("news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl")
    bulk = tmp_path / "bulk.db"
    build_db(bulk, N)
    ours = tmp_path / "ours.db"
    db = await Database.open(ours, create=True)
    try:
        recs = [ImportRecord(post=Post(channel=c, message_id=m, date=datetime.fromisoformat(d),
                                       text=t), translation=tr, translation_lang="en")
                for c, m, d, t, tr in synthetic_posts(N)]
        result, issues = await import_records(db, recs)
        assert result.inserted == N and not issues
    finally:
        await db.close()
    a, b = _content(bulk), _content(ours)
    assert len(a) == N and set(a) == set(b)
    assert {k[0] for k in a} <= set(CHANNELS)
    assert sum(1 for v in a.values() if v[0]) > N // 2  # words columns are really filled
    for key in a:
        assert a[key] == b[key], key
    days = []
    for path in (bulk, ours):
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
        days.append(conn.execute("SELECT * FROM post_days ORDER BY day").fetchall())
        conn.close()
    assert days[0] and days[0] == days[1]  # the per-day id spans the trigger keeps
