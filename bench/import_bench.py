"""Import speed: N synthetic posts (with translations, FTS and queue triggers) through our code path
(``bot.archive.import_records`` → ``posts.upsert_many_in`` + translations) against raw
``sqlite3.executemany`` into the same schema, in the same run. Target: ours ≥ 50% of raw.

    python bench/import_bench.py [--posts 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import synthetic_posts  # noqa: E402
from bot.archive import ImportRecord, import_records  # noqa: E402
from storage.db import Database, migrate  # noqa: E402
from storage.models import Post  # noqa: E402


def raw_import(path: Path, rows: list[tuple[str, int, str, str, str]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    t0 = time.perf_counter()
    names = sorted({r[0] for r in rows})
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO channels (id, username, added_at) VALUES (?, ?, 'x')",
                     list(enumerate(names, 1)))
    conn.execute("COMMIT")
    cid = {c: i for i, c in enumerate(names, 1)}
    for lo in range(0, len(rows), 2000):  # same batch size and transactions as ours
        chunk = rows[lo : lo + 2000]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO posts (id, channel_id, message_id, date, text, stored_at)"
            " VALUES (?, ?, ?, ?, ?, 'x')",
            [(lo + j + 1, cid[c], m, d, t) for j, (c, m, d, t, _) in enumerate(chunk)])
        conn.executemany(
            "INSERT INTO translations (post_id, lang, provider, text, created_at)"
            " VALUES (?, 'en', 'import', ?, 'x')",
            [(lo + j + 1, tr) for j, (*_, tr) in enumerate(chunk)])
        conn.execute("COMMIT")
    dt = time.perf_counter() - t0
    conn.close()
    return dt


async def our_import(path: Path, rows: list[tuple[str, int, str, str, str]]) -> float:
    recs = [ImportRecord(post=Post(channel=c, message_id=m, date=datetime.fromisoformat(d), text=t),
                         translation=tr, translation_lang="en") for c, m, d, t, tr in rows]
    db = await Database.open(path)
    t0 = time.perf_counter()
    result, issues = await import_records(db, recs)
    dt = time.perf_counter() - t0
    assert result.inserted == len(rows) and not issues, result
    await db.close()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=200_000)
    a = ap.parse_args()
    rows = synthetic_posts(a.posts, seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_import(Path(tmp) / "raw.db", rows)
        ours = asyncio.run(our_import(Path(tmp) / "ours.db", rows))
    n = len(rows)
    print(f"posts: {n:,} (each with an English translation; FTS + queue triggers on)")
    print(f"raw sqlite3.executemany   {raw:7.1f} s   {n / raw:9,.0f} posts/s")
    print(f"import_records (ours)     {ours:7.1f} s   {n / ours:9,.0f} posts/s")
    print(f"ours / raw speed          {raw / ours:.0%}  (target >= 50%)")


if __name__ == "__main__":
    main()
