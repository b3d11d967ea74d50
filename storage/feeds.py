"""Feeds we follow and each one's schedule: when to poll next, validators for conditional GET,
and the last success and error, so a broken feed is visible and backed off, never silently dropped."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.db import Database
from storage.models import Feed, from_row, to_iso, utcnow


def _row(r: aiosqlite.Row) -> Feed:
    return from_row(Feed, r)


async def add(db: Database, url: str, *, title: str | None = None, interval: int | None = None,
              kind: str | None = None, discovered_for: str | None = None) -> tuple[Feed, bool]:
    """Add a feed (due at once); returns the feed and whether it was new."""
    n = await db.execute(
        "INSERT INTO feeds (url, title, interval, kind, discovered_for, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (url, title, interval, kind, discovered_for, to_iso(utcnow())),
    )
    feed = await get(db, url)
    assert feed is not None
    return feed, n > 0


async def get(db: Database, url: str) -> Feed | None:
    r = await db.fetchone("SELECT * FROM feeds WHERE url = ?", (url,))
    return _row(r) if r else None


async def get_by_id(db: Database, feed_id: int) -> Feed | None:
    r = await db.fetchone("SELECT * FROM feeds WHERE id = ?", (feed_id,))
    return _row(r) if r else None


async def list_all(db: Database) -> list[Feed]:
    return [_row(r) for r in await db.fetchall("SELECT * FROM feeds ORDER BY url")]


async def remove(db: Database, url: str) -> bool:
    """Stop following a feed. Its articles stay (their feed_id becomes NULL)."""
    return await db.execute("DELETE FROM feeds WHERE url = ?", (url,)) > 0


async def discovered(db: Database) -> list[Feed]:
    """Feeds that DISCOVER=auto made for watched channels."""
    rows = await db.fetchall("SELECT * FROM feeds WHERE discovered_for IS NOT NULL ORDER BY url")
    return [_row(r) for r in rows]


async def due(db: Database, now: datetime | None = None) -> list[Feed]:
    """Feeds whose next poll time has come ('' — never polled — sorts first)."""
    rows = await db.fetchall(
        "SELECT * FROM feeds WHERE next_poll_at <= ? ORDER BY next_poll_at, id",
        (to_iso(now or utcnow()),),
    )
    return [_row(r) for r in rows]


async def record_success(
    db: Database,
    feed_id: int,
    *,
    next_poll_at: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
    title: str | None = None,
    kind: str | None = None,
    now: datetime | None = None,
    complete: bool = True,
) -> None:
    """A poll worked (200 or 304): reset the error count; keep old validators/title if none given.

    ``complete=False``: entries were left for the next poll (fetch caps), so the next request must
    not be conditional (a 304 would hide them) and ``covered_at`` stays where it was (a GDELT
    search looks back to it)."""
    when = to_iso(now or utcnow())
    left = not complete
    await db.execute(
        "UPDATE feeds SET next_poll_at = ?, error_count = 0, last_success_at = ?,"
        " covered_at = CASE WHEN ? THEN covered_at ELSE ? END,"
        " etag = CASE WHEN ? THEN NULL ELSE coalesce(?, etag) END,"
        " last_modified = CASE WHEN ? THEN NULL ELSE coalesce(?, last_modified) END,"
        " title = coalesce(?, title), kind = coalesce(?, kind) WHERE id = ?",
        (to_iso(next_poll_at), when, left, when, left, etag, left, last_modified, title, kind,
         feed_id),
    )


async def record_error(
    db: Database, feed_id: int, error: str, *, next_poll_at: datetime, now: datetime | None = None
) -> None:
    """A poll failed: count it (the caller backs off on the count) and keep the one-line reason."""
    await db.execute(
        "UPDATE feeds SET next_poll_at = ?, error_count = error_count + 1, last_error = ?,"
        " last_error_at = ? WHERE id = ?",
        (to_iso(next_poll_at), error[:500], to_iso(now or utcnow()), feed_id),
    )
