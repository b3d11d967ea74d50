"""A pool worker's own read-only connection to the database file, opened once per thread.

Citation retrieval can run in a process pool (``bot.cite.pipeline.init_worker``): each worker then
reads the file through this connection, so the FTS5 work of an article runs on another core than
the event loop and the other workers (WAL readers block neither each other nor the single writer).
"""

from __future__ import annotations

import sqlite3
import threading

from storage.db import configure

#: bytes of the file a worker maps (SQLite clamps it to its compile-time maximum, 2 GB by default)
WORKER_MMAP = 1 << 31


class ReadOnlyConn:
    """A worker's own read-only connection to one database file, and the key its caches (the
    retrieval engine's day spans) are kept under: a ``sqlite3.Connection`` cannot be weakly
    referenced."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        configure(self.conn)
        self.conn.execute("PRAGMA query_only = ON")
        # reads through the OS page cache, shared by all workers, instead of copying each page into
        # a private cache: the FTS5 work of an article drops from ~8 to ~6 ms at 1M posts
        self.conn.execute(f"PRAGMA mmap_size = {WORKER_MMAP}")
        self.conn.row_factory = sqlite3.Row


_LOCAL = threading.local()


def connection(path: str) -> ReadOnlyConn:
    """This thread's connection to ``path``, opened once: a pool worker keeps it (and its day
    spans and page cache) from article to article."""
    conns: dict[str, ReadOnlyConn] = _LOCAL.__dict__.setdefault("conns", {})
    rc = conns.get(path)
    if rc is None:
        rc = conns[path] = ReadOnlyConn(path)
    return rc
