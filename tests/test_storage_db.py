"""The database file: WAL, refusal of foreign files, migrations from every earlier version."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import posts, search
from storage.db import Database, migrate
from storage.errors import StorageError
from storage.migrations import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from storage.models import Post
from tests.conftest import CITEWATCH


def _pragma(path: Path, name: str) -> int | str:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_new_file_is_wal_with_our_id_and_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    db = await Database.open(path)
    try:
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert await db.integrity_check() == "ok"
    finally:
        await db.close()
    assert _pragma(path, "application_id") == APPLICATION_ID
    assert _pragma(path, "user_version") == SCHEMA_VERSION == len(MIGRATIONS)
    assert _pragma(path, "journal_mode") == "wal"  # persistent, not per connection


async def test_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    for _ in range(2):
        db = await Database.open(path)
        await db.close()
    assert _pragma(path, "user_version") == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert migrate(conn) == SCHEMA_VERSION  # nothing left to do


async def test_foreign_application_id_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")
    with pytest.raises(StorageError, match="not a citewatch database") as info:
        await Database.open(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert _pragma(path, "user_version") == 0  # untouched


async def test_file_with_other_tables_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('x')")
    with pytest.raises(StorageError, match="tables of another program"):
        await Database.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("contacts",)]
        assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 1


async def test_not_sqlite_at_all_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(StorageError, match="cannot use database"):
        await Database.open(path)
    assert path.read_bytes().startswith(b"these are my notes")


def test_cli_refuses_foreign_file_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    path = Path(env["CITEWATCH_DB"])
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    proc = subprocess.run([CITEWATCH, "stats"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("citewatch: error: ") and "not a citewatch database" in proc.stderr


async def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        migrate(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer than this citewatch"):
        await Database.open(path)
    assert _pragma(path, "user_version") == SCHEMA_VERSION + 1


def _seed_v1_rows(conn: sqlite3.Connection) -> None:
    """Rows written with the columns of migration 1, which later migrations must keep."""
    conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'DIUkraine', '2023-01-01')")
    conn.execute(
        "INSERT INTO posts (channel_id, message_id, date, text, stored_at) VALUES "
        "(1, 1908, '2023-01-24T19:28:11+00:00', 'Розвідка знищила склад боєприпасів', "
        "'2023-01-25T00:00:00+00:00')"
    )
    conn.execute("UPDATE posts SET text = 'Розвідка знищила великий склад' WHERE message_id = 1908")
    conn.execute(
        "INSERT INTO translations (post_id, lang, provider, text, created_at) "
        "VALUES (1, 'en', 'test', 'Intelligence destroyed a big depot', '2023-01-25')"
    )
    conn.commit()


@pytest.mark.parametrize("start", range(1, SCHEMA_VERSION + 1))
async def test_upgrade_from_every_earlier_version_keeps_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / f"v{start}.db"
    with sqlite3.connect(path) as conn:
        assert migrate(conn, start) == 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == start
        _seed_v1_rows(conn)
    db = await Database.open(path)
    try:
        assert await db.fetchval("PRAGMA user_version") == SCHEMA_VERSION
        post = await posts.get(db, "DIUkraine", 1908)
        assert post is not None and post.text == "Розвідка знищила великий склад"
        assert post.translation == "Intelligence destroyed a big depot"
        assert [v.text for v in await posts.versions(db, post.id or 0)] == [
            "Розвідка знищила склад боєприпасів"
        ]
        hits = await search.query(db, "depot")
        assert [h.message_id for h in hits] == [1908]
        assert await db.integrity_check() == "ok"
    finally:
        await db.close()


def test_each_migration_step_applies_alone(tmp_path: Path) -> None:
    """k → k+1 for every k, one step at a time (a migration must not assume it runs with others)."""
    path = tmp_path / "steps.db"
    with sqlite3.connect(path) as conn:
        for k in range(1, SCHEMA_VERSION + 1):
            migrate(conn, k)
            assert conn.execute("PRAGMA user_version").fetchone()[0] == k
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_failed_migration_leaves_file_at_old_version(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.db as dbmod

    path = tmp_path / "fail.db"
    with sqlite3.connect(path) as conn:
        migrate(conn)
        _seed_v1_rows(conn)
    broken = [*MIGRATIONS, "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);"]
    monkeypatch.setattr(dbmod, "MIGRATIONS", broken)
    with sqlite3.connect(path, isolation_level=None) as conn:
        with pytest.raises(StorageError, match=f"migration to schema {len(broken)} failed"):
            migrate(conn, len(broken))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 1


async def test_failed_write_rolls_back_everything(db: Database) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await posts.upsert_many_in(conn, [Post("DIUkraine", 1, when, "text")])
            raise RuntimeError("crash mid-write")
    assert await db.fetchval("SELECT count(*) FROM posts") == 0
    assert await db.fetchval("SELECT count(*) FROM posts_fts") == 0
    assert await db.fetchval("SELECT count(*) FROM channels") == 0


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    """`run` and a CLI command may create the same new file at the same moment: neither may fail."""
    import threading

    for attempt in range(10):
        path = tmp_path / f"race{attempt}.db"
        barrier = threading.Barrier(6)
        results: list[int | BaseException] = []

        def open_new(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            results: list[int | BaseException] = results,
        ) -> None:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
            try:
                barrier.wait()
                results.append(migrate(conn))
            except BaseException as exc:  # collected and asserted below
                results.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=open_new) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert len(results) == 6 and results.count(0) == 1  # exactly one process migrated
        assert _pragma(path, "user_version") == SCHEMA_VERSION
        assert _pragma(path, "integrity_check") == "ok"


def test_statement_split_keeps_trigger_bodies_whole() -> None:
    from storage.db import _statements
    from storage.search_index import SCHEMA, convert

    # the index's SQL (a Python migration's) written at column 0: indented like the others here;
    # the other Python migrations only rewrite rows
    script = "".join(m if isinstance(m, str) else textwrap.indent(SCHEMA, "    ") if m is convert
                     else "" for m in MIGRATIONS)
    parts = _statements(script)
    assert all(sqlite3.complete_statement(p) for p in parts)
    triggers = [p for p in parts if p.upper().startswith("CREATE TRIGGER")]
    assert triggers and all(p.rstrip().upper().endswith("END;") for p in triggers)
    # a statement starts at the migration's own indent; trigger bodies are indented deeper
    starts = re.findall(r"^    (?:CREATE|ALTER|INSERT|DROP) ", script, flags=re.MULTILINE)
    assert len(parts) == len(starts)
