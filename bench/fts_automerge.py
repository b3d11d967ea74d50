"""FTS5 ``automerge`` values against the index upkeep (bench/RESULTS-storage.md): a copy of a
search-bench file gets 20k more posts in transactions of 100, as a running service stores them,
then the 200 search-bench queries run; printed per value: the writes' CPU time, the segments left,
CPU per search.

    python bench/fts_automerge.py --db /tmp/citewatch-bench-100k.db   # a file search_bench built
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_queries, synthetic_posts  # noqa: E402
from storage import maintenance, search, search_index, wordforms  # noqa: E402


class _Key:
    """The day-spans cache key of one connection."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a file built by search_bench.py")
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=100)
    a = ap.parse_args()
    posts = synthetic_posts(a.posts, seed=9)
    words = [(search_index.post_words(t), wordforms.normal_words(tr)) for *_, t, tr in posts]
    queries = make_queries(200)
    with tempfile.TemporaryDirectory() as tmp:
        for value in (2, 4, 8, 16):
            path = Path(tmp) / f"am{value}.db"
            shutil.copyfile(a.db, path)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute(f"INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', {value})")
            base = conn.execute("SELECT max(id) FROM posts").fetchone()[0]
            c0 = time.process_time()
            for k in range(0, a.posts, a.batch):
                chunk = posts[k : k + a.batch]
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO posts (channel_id, message_id, date, text, stored_at, words)"
                    " VALUES (1, ?, ?, ?, '2024-01-01', ?)",
                    [(10**7 + k + j, d, t, words[k + j][0]) for j, (_, _, d, t, _) in enumerate(chunk)])
                conn.executemany(
                    "INSERT INTO translations (post_id, lang, provider, text, created_at, words)"
                    " VALUES (?, 'en', 'bench', ?, '2024-01-01', ?)",
                    [(base + k + j + 1, tr, words[k + j][1]) for j, (*_, tr) in enumerate(chunk)])
                search_index.index_new(conn)
                conn.execute("COMMIT")
            writes = time.process_time() - c0
            key = _Key()
            for q in queries[:20]:
                search.run(conn, str(q["text"]), key=key)
            c0 = time.process_time()
            for q in queries:
                search.run(conn, str(q["text"]), key=key,
                           **{k: v for k, v in q.items() if k in ("channel", "since", "until")})
            per = (time.process_time() - c0) * 1000 / len(queries)
            print(f"automerge {value:2}: {a.posts // 1000}k posts in {a.posts // a.batch} transactions "
                  f"{writes:6.2f} s CPU, {maintenance.segment_count(conn)} segments after, "
                  f"{len(queries)} searches {per:.2f} ms CPU each", flush=True)
            conn.close()


if __name__ == "__main__":
    main()
