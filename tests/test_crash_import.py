"""A crash mid-import (SIGKILL) loses only the open batch: the file is sound, a re-run completes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tests.conftest import CITEWATCH, kill_midway

N = 100_000


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_import_then_rerun(env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for i in range(1, N + 1):
            fh.write(json.dumps({"channel": "DIUkraine", "id": i, "date": "2023-01-24T19:28:11+00:00",
                                 "text": f"Розвідка повідомляє {i} про склад {i % 97}",
                                 "translation": f"Intelligence reports {i}"}, ensure_ascii=False))
            fh.write("\n")
    db = Path(env["CITEWATCH_DB"])
    kill_midway(["import", str(src)], env, tmp_path, lambda: _rows(db) > 0, timeout=60)
    partial = _rows(db)
    assert 0 < partial < N, "the kill must land mid-way"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
        # every stored post is whole: indexed and translated in the same transaction
        assert conn.execute("SELECT count(*) FROM posts_fts").fetchone()[0] == partial
        assert conn.execute("SELECT count(*) FROM translations").fetchone()[0] == partial

    done = subprocess.run([CITEWATCH, "import", str(src)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"imported {N - partial} new, 0 edited, {partial} unchanged; 0 skipped" in done.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT message_id), min(message_id),"
                            " max(message_id) FROM posts").fetchone() == (N, N, 1, N)
        assert conn.execute("SELECT count(*) FROM posts_fts").fetchone()[0] == N
        assert conn.execute("SELECT count(*) FROM translations").fetchone()[0] == N
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
