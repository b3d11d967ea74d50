"""``citewatch reindex``: after the normaliser changed, the stored word forms and the index are
brought back to what the normaliser installed now gives; never on a missing database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from storage.db import Database
from storage.search_index import words_version
from tests.conftest import Cli, kill_midway
from tests.terminal import on_a_terminal
from tests.test_import_index import _hits, _index, _records


def _index_status(cli: Cli, env: dict[str, str]) -> dict[str, object]:
    return json.loads(cli(env, "status", "--json").stdout)["index"]


def _imported(cli: Cli, env: dict[str, str], tmp_path: Path) -> int:
    """Real posts (some with translations) imported through the CLI; how many."""
    src = tmp_path / "real.jsonl"
    recs = _records()
    src.write_text("".join(json.dumps({"channel": r.post.channel, "id": r.post.message_id,
                                       "date": r.post.date.isoformat(), "text": r.post.text,
                                       "translation": r.translation}, ensure_ascii=False) + "\n"
                           for r in recs), encoding="utf-8")
    done = cli(env, "import", str(src))
    assert done.returncode == 0, done.stderr
    return len(recs)


async def _search(path: Path) -> dict[str, list[tuple[str, int]]]:
    db = await Database.open(path, create=False)
    try:
        return await _hits(db)
    finally:
        await db.close()


async def test_reindex_restores_what_an_older_normaliser_left(cli: Cli, env: dict[str, str],
                                                             tmp_path: Path) -> None:
    n = _imported(cli, env, tmp_path)
    path = Path(env["CITEWATCH_DB"])
    fresh_index, fresh_hits = _index(path), await _search(path)
    assert _index_status(cli, env) == {"words_version": words_version(), "current": True}
    assert "citewatch reindex" not in cli(env, "status").stdout
    # words from an "older normaliser": fewer forms for every other post and translation (the
    # triggers keep the index consistent with them, as an upgrade would find it)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE posts SET words = substr(words, 1, length(words) / 3)"
                     " WHERE id % 2 = 0 AND words != ''")
        conn.execute("UPDATE translations SET words = '' WHERE post_id % 2 = 1")
        conn.execute("UPDATE meta SET value = '1:pymorphy3=1.9.0' WHERE key = 'index_words'")
        stale_posts = conn.execute("SELECT count(*) FROM posts WHERE id % 2 = 0"
                                   " AND words != ''").fetchone()[0]
        stale_trs = conn.execute("SELECT count(*) FROM translations WHERE post_id % 2 = 1"
                                 ).fetchone()[0]
    assert await _search(path) != fresh_hits  # inflected forms are missed now
    # status tells the analyst, without calling the service unhealthy
    assert _index_status(cli, env) == {"words_version": "1:pymorphy3=1.9.0", "current": False}
    status = cli(env, "status")
    assert ("search index: word forms made by an older normaliser or glossary"
            " (run: citewatch reindex)") in status.stdout.splitlines()

    done = cli(env, "reindex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"checked {n} posts: re-indexed {stale_posts} posts and"
                                   f" {stale_trs} translations whose word forms changed")
    assert stale_posts > 50 and stale_trs > 20
    assert _index(path) == fresh_index  # every token back, FTS5's integrity check passes
    assert await _search(path) == fresh_hits
    assert _index_status(cli, env) == {"words_version": words_version(), "current": True}

    again = cli(env, "reindex")  # nothing left to do
    assert again.stdout.strip() == (f"checked {n} posts: re-indexed 0 posts and 0 translations"
                                    " whose word forms changed")


def test_reindex_shows_a_progress_bar_on_a_terminal(cli: Cli, env: dict[str, str],
                                                    tmp_path: Path) -> None:
    n = _imported(cli, env, tmp_path)
    code, tty, out = on_a_terminal(env, tmp_path, "reindex", tty="stderr")
    assert code == 0 and "re-indexing word forms" in tty and f"{n}/{n}" in tty
    assert out.decode().startswith(f"checked {n} posts")


def test_reindex_never_creates_a_database(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "cw.db"
    done = cli({**env, "CITEWATCH_DB": str(missing)}, "reindex")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"no database at {missing}" in done.stderr
    assert not missing.parent.exists()


def _restored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM posts WHERE words != ''").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_reindex_killed_midway_leaves_a_consistent_index(cli: Cli, env: dict[str, str],
                                                           tmp_path: Path) -> None:
    """SIGKILL between two batches: every batch is its own transaction, so the file is sound, the
    index agrees with its content, and a second run does the rest."""
    n = 12_000
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"channel": "rybar", "id": i, "date": "2023-02-01",
                                       "text": f"Обстрелы Херсона продолжаются, сообщение {i}"},
                                      ensure_ascii=False) + "\n" for i in range(1, n + 1)),
                   encoding="utf-8")
    assert cli(env, "import", str(src)).returncode == 0
    db = Path(env["CITEWATCH_DB"])
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE posts SET words = ''")  # as an older normaliser might have left them
        conn.execute("UPDATE meta SET value = 'older' WHERE key = 'index_words'")
    kill_midway(["reindex"], env, tmp_path, lambda: _restored(db) > 0, timeout=120)
    partial = _restored(db)
    assert 0 < partial < n, "the kill must land mid-way"
    assert _index_status(cli, env)["current"] is False  # half done is not done
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")

    done = cli(env, "reindex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"checked {n} posts: re-indexed {n - partial} posts and 0"
                                   " translations whose word forms changed")
    _index(db)  # FTS5's integrity check again
    assert _restored(db) == n
    assert _index_status(cli, env)["current"] is True
