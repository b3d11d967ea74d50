"""The database handle: one SQLite file in WAL mode, one writer connection, one reader.

Writes go through ``Database.transaction()`` — ``BEGIN IMMEDIATE`` under an asyncio lock — so there is
exactly one writer and a crash mid-write loses only the open transaction. Reads use a separate
connection so they never see a half-done write. Files that are not ours are refused by
``PRAGMA application_id``; a file from a newer citewatch is refused rather than damaged.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.errors import StorageError
from storage.migrations import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA temp_store = MEMORY")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (trigger bodies hold ``;`` too, so split where SQLite would)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return [stmt for stmt in out if stmt.strip(" ;\n")]


def _version(conn: sqlite3.Connection) -> int:
    """The file's schema version, after refusing files that are not ours or are newer than us."""
    # one statement, so one snapshot: read apart, another process's migration could commit between
    # the reads and make our own half-created file look like another program's
    app_id, version, has_tables = conn.execute(
        "SELECT (SELECT application_id FROM pragma_application_id),"
        " (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%')"
    ).fetchone()
    if app_id not in (0, APPLICATION_ID):
        raise StorageError("not a citewatch database (foreign application_id)")
    if app_id == 0 and (has_tables or version):
        raise StorageError("not a citewatch database (it has tables of another program)")
    if version > len(MIGRATIONS):
        raise StorageError(
            f"database schema version {version} is newer than this citewatch ({SCHEMA_VERSION})"
        )
    return version


def _use_wal(conn: sqlite3.Connection, patience: float = 10.0) -> None:
    """Switch a new file to WAL. The switch needs the file to itself and SQLite reports a concurrent
    opener's lock at once (the busy timeout does not cover it), so wait here until either we switch
    it or the other process has."""
    deadline = time.monotonic() + patience
    pause = 0.01
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StorageError(f"cannot switch to WAL: {exc}") from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring a plain sqlite3 connection to ``target``; returns the version it started from.

    Synchronous on purpose: it runs once at open (inside aiosqlite's thread) and in tests/benchmarks.
    Several processes may open a new file at once (``run`` and a CLI command), so the version is read
    again under the write lock and only the process that still finds it old migrates.
    """
    version = _version(conn)  # refuse a foreign file before touching it, even its journal mode
    if version >= target:
        return version
    if conn.in_transaction:
        conn.commit()
    _use_wal(conn)
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = _version(conn)
        if version < target:
            for statement in _statements("".join(MIGRATIONS[version:target])):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.rollback()
        raise StorageError(f"migration to schema {target} failed: {exc}") from exc
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return version


class Database:
    """An open citewatch database. Create with ``await Database.open(path)``."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, create: bool = True) -> Database:
        path = Path(path)
        if not create and not path.exists():
            raise StorageError(f"no database at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        try:
            await writer._execute(_configure, writer._conn)  # type: ignore[attr-defined]
            try:
                await writer._execute(migrate, writer._conn)  # type: ignore[attr-defined]
            except StorageError as exc:  # name the file: the user may have several
                raise StorageError(f"{path}: {exc}") from exc
            await writer._execute(_use_wal, writer._conn)  # type: ignore[attr-defined]
            reader = await aiosqlite.connect(path, isolation_level=None)
            await reader._execute(_configure, reader._conn)  # type: ignore[attr-defined]
        except sqlite3.DatabaseError as exc:
            await writer.close()
            raise StorageError(f"cannot use database {path}: {exc}") from exc
        except BaseException:
            await writer.close()
            raise
        writer.row_factory = aiosqlite.Row
        reader.row_factory = aiosqlite.Row
        return cls(path, writer, reader)

    async def close(self) -> None:
        async with self._lock:
            await self._reader.close()
            await self._writer.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The only way to write: one writer at a time, all-or-nothing."""
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                await self._writer.execute("COMMIT")

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args, **kwargs)`` on the reader connection in its own thread: several
        statements for one thread hop (each awaited statement costs a hop on a busy loop)."""
        conn = self._reader._conn  # type: ignore[attr-defined]
        return await self._reader._execute(fn, conn, *args, **kwargs)  # type: ignore[attr-defined]

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._reader.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def execute(self, sql: str, params: Params = ()) -> int:
        """A single write statement in its own transaction; returns rows changed."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def integrity_check(self) -> str:
        return str(await self.fetchval("PRAGMA integrity_check"))
