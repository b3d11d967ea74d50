"""Facts about the file as a whole (the ``meta`` table, migration 14), shared by every process that
opens it: the index's words version (``storage.search_index``) and turns at a rate-limited service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiosqlite

    from storage.db import Database

#: a claim further ahead than this is a clock set back or a bogus value: it is ignored
_FAR_AHEAD = 3600.0

#: sets a fact: parameters (key, value)
SET = ("INSERT INTO meta (key, value) VALUES (?, ?) "
       "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


@asynccontextmanager
async def held(conn: aiosqlite.Connection, key: str) -> AsyncIterator[None]:
    """Inside a transaction: the fact ``key`` exists for the block only (a trigger that checks
    for it holds back meanwhile: migrations 16, 17), removed before the block is left, also when it
    fails; other connections never see it (it is never committed)."""
    await conn.execute(SET, (key, "1"))
    try:
        yield
    finally:
        await conn.execute("DELETE FROM meta WHERE key = ?", (key,))


async def claim_turn(db: Database, key: str, gap: float, now: float) -> float:
    """The time (epoch seconds, ``now`` or later) at which the caller may start, at least ``gap``
    after the start the last caller of any process on this file claimed under ``key``; the claim is
    recorded in the same write transaction, so two processes never get the same turn."""
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT value FROM meta WHERE key = ?", (key,))
        row = await cur.fetchone()
        try:
            last = float(row[0]) if row else None
        except ValueError:
            last = None
        if last is not None and last - now > _FAR_AHEAD:
            last = None
        start = now if last is None else max(now, last + gap)
        await conn.execute(SET, (key, repr(start)))
    return start
