"""The database handle: one SQLite file in WAL mode, one writer connection, one reader.

Writes go through ``Database.transaction()`` — ``BEGIN IMMEDIATE`` under an asyncio lock — so there is
exactly one writer and a crash mid-write loses only the open transaction. Reads use a separate
connection so they never see a half-done write. Files that are not ours are refused by
``PRAGMA application_id``; a file from a newer citewatch is refused rather than damaged.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.errors import StorageError
from storage.migrations import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


#: set on every connection we open (they are per connection, not stored in the file)
_CONNECTION_PRAGMAS = (
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
)


def configure(conn: sqlite3.Connection) -> None:
    for pragma in _CONNECTION_PRAGMAS:
        conn.execute(pragma)


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
            for step in MIGRATIONS[version:target]:
                if callable(step):
                    step(conn)
                    continue
                for statement in _statements(step):
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


def _index_new(conn: sqlite3.Connection) -> None:
    """Index posts that another program stored without indexing them (plain SQL inserts; one
    lookup when there are none)."""
    from storage.search_index import index_new

    with conn:
        index_new(conn)


def _open_reader(path: Path) -> sqlite3.Connection:
    """The reader connection, after it has checked and migrated the file and switched it to WAL."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    try:
        configure(conn)
        try:
            migrate(conn)
        except StorageError as exc:  # name the file: the user may have several
            raise StorageError(f"{path}: {exc}") from exc
        _use_wal(conn)
        _index_new(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StorageError(f"cannot use database {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row
    return conn


def _fetchall(conn: sqlite3.Connection, sql: str, params: Params) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _fetchone(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    return conn.execute(sql, params).fetchone()


class Database:
    """An open citewatch database. Create with ``await Database.open(path)``.

    The writer is an aiosqlite connection; the reader is a plain sqlite3 connection used only from
    its own single thread, so ``read`` can run several statements per thread hop through public APIs.
    """

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: sqlite3.Connection,
                 reader_thread: ThreadPoolExecutor):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._reader_thread = reader_thread
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, create: bool = True) -> Database:
        path = Path(path)
        if not create and not path.exists():
            raise StorageError(f"no database at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        reader_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewatch-db-reader")
        try:
            reader = await asyncio.get_running_loop().run_in_executor(reader_thread, _open_reader, path)
        except BaseException:
            reader_thread.shutdown(wait=False)
            raise
        try:
            writer = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            await cls._close_reader(reader, reader_thread)
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        try:
            for pragma in _CONNECTION_PRAGMAS:
                await writer.execute(pragma)
        except BaseException as exc:
            await writer.close()
            await cls._close_reader(reader, reader_thread)
            if isinstance(exc, sqlite3.DatabaseError):
                raise StorageError(f"cannot use database {path}: {exc}") from exc
            raise
        writer.row_factory = aiosqlite.Row
        return cls(path, writer, reader, reader_thread)

    @staticmethod
    async def _close_reader(reader: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        await asyncio.get_running_loop().run_in_executor(thread, reader.close)
        thread.shutdown(wait=False)

    async def close(self) -> None:
        async with self._lock:
            await self._close_reader(self._reader, self._reader_thread)
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
        call = functools.partial(fn, self._reader, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._reader_thread, call)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return await self.read(_fetchall, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        return await self.read(_fetchone, sql, params)

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
