"""Index upkeep at a quiet moment: merge the full-text index's segments, refresh the snapshot of
frequent terms, let SQLite refresh its statistics. The service runs ``tidy`` as a scheduler job when
no other job is running (``bot/service.py``); nothing here runs on a write.

Why (measured, bench/RESULTS-storage.md): every write transaction adds a small FTS5 segment and
FTS5's own automerge (default 4) leaves a term spread over a dozen segments; each search then looks
every term up in each of them. Merging them all into one (``optimize``) at 1M posts rewrites the
whole index in one transaction (minutes of locked writers at 3M), so the merge is done in steps of
``MERGE_PAGES`` pages, each its own short write transaction (FTS5's ``merge`` with a negative
argument: every segment is merge material, as ``optimize`` does, but resumable), until FTS5 reports
nothing left to do, the time budget is spent, or the caller says it is busy again.

``search_terms`` holds, per written term (text and translation columns) in at least
``TERM_MIN_DOCS`` posts, its document count: a prefix search takes the most frequent completions
from it (``storage.search``). Read from the ``posts_fts_terms`` vocabulary in term ranges of
``TERM_CHUNK``, each its own read hop, so other reads interleave; written in one short transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.db import Database

#: leaf pages one merge step writes (one short write transaction each: ~0.1-0.3 s)
MERGE_PAGES = 2000
#: a written term found in fewer posts is not kept in ``search_terms`` (never a top completion)
TERM_MIN_DOCS = 20
#: vocabulary rows read per hop
TERM_CHUNK = 20_000

_MERGE = "INSERT INTO posts_fts (posts_fts, rank) VALUES ('merge', ?)"
_TERMS = """
SELECT term, sum(doc) FROM posts_fts_terms
WHERE term > ? AND col IN ('text', 'translation')
GROUP BY term LIMIT ?
"""


@dataclass
class TidyReport:
    """What one ``tidy`` did."""

    merge_steps: int = 0
    merged: bool = False  # FTS5 had nothing left to merge
    terms: int | None = None  # rows in search_terms after a refresh (None: not refreshed)
    seconds: float = 0.0


def segment_count(conn: sqlite3.Connection) -> int:
    """Segments of the index (from its structure record: the first varints are the cookie,
    levels and segments, FTS5's own layout)."""
    row = conn.execute("SELECT block FROM posts_fts_data WHERE id = 10").fetchone()
    if row is None:
        return 0
    data = bytes(row[0])[4:]  # a 4-byte cookie, then varints: levels, segments
    values: list[int] = []
    i = 0
    while len(values) < 2 and i < len(data):
        v = 0
        while True:
            b = data[i]
            i += 1
            v = (v << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        values.append(v)
    return values[1] if len(values) == 2 else 0


async def segments(db: Database) -> int:
    """How many segments a term may be spread over now (1 after a full merge)."""
    return await db.read(segment_count)


async def merge_step(db: Database, pages: int = MERGE_PAGES) -> bool:
    """One bounded step of merging every segment into one; False once there is nothing to merge."""
    async with db.transaction() as conn:
        before = conn.total_changes
        await conn.execute(_MERGE, (-pages,))
        # FTS5's documented signal: the command itself counts one change, any merge work more
        return conn.total_changes - before >= 2


def _read_terms(conn: sqlite3.Connection, after: str, limit: int) -> list[tuple[str, int]]:
    return [(t, int(n)) for t, n in conn.execute(_TERMS, (after, limit))]


async def refresh_terms(db: Database, busy: Callable[[], bool] = lambda: False) -> int | None:
    """Rebuild ``search_terms`` from the index (the frequent written terms and their post counts).
    Returns the rows kept, or None when ``busy()`` turned true before the end (nothing written)."""
    keep: list[tuple[str, int]] = []
    after = ""
    while True:
        if busy():
            return None
        chunk = await db.read(_read_terms, after, TERM_CHUNK)
        if not chunk:
            break
        keep += [(t, n) for t, n in chunk if n >= TERM_MIN_DOCS]
        after = chunk[-1][0]
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM search_terms")
        await conn.executemany("INSERT INTO search_terms (term, docs) VALUES (?, ?)", keep)
    return len(keep)


async def tidy(db: Database, *, budget: float = 300.0,
               busy: Callable[[], bool] = lambda: False) -> TidyReport:
    """Merge the index in bounded steps while the time budget lasts and ``busy()`` stays false;
    once fully merged (or when it already was), refresh ``search_terms`` and ``PRAGMA optimize``."""
    report = TidyReport()
    t0 = time.monotonic()
    while not busy() and time.monotonic() - t0 < budget:
        if not await merge_step(db):
            report.merged = True
            break
        report.merge_steps += 1
    empty = not await db.fetchval("SELECT 1 FROM search_terms LIMIT 1")
    if report.merged or (empty and not busy()):
        # new posts always leave merge work, so no step means nothing new since the last refresh;
        # a first snapshot does not wait for a merge that a busy archive may take days to finish
        stale = report.merge_steps > 0 or empty
        report.terms = await refresh_terms(db, busy) if stale else None
        await db.execute("PRAGMA optimize")
    report.seconds = time.monotonic() - t0
    return report
