"""Channels we watch: the resolved id and access hash live here so a poll never resolves again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from storage.db import Database
from storage.models import Channel, from_row, to_iso, utcnow


def _row(r: aiosqlite.Row) -> Channel:
    return from_row(Channel, r)


async def ensure_ids(conn: aiosqlite.Connection, usernames: Iterable[str], *,
                     archived: bool = False) -> dict[str, int]:
    """Inside a transaction: the row id of each username (case-insensitive), creating rows —
    watched, or with ``archived`` kept only as an archive (an import's channels: never polled).
    Two statements for all the names (a batch of an import names many channels: two round trips
    to the database thread per name added up)."""
    names = sorted(set(usernames))
    now = to_iso(utcnow())
    await conn.executemany(
        "INSERT INTO channels (username, added_at, active, archived) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(name, now, int(not archived), int(archived)) for name in names],
    )
    by_lower: dict[str, int] = {}
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        async with conn.execute(
            f"SELECT username, id FROM channels WHERE username IN ({','.join('?' * len(chunk))})",
            chunk,
        ) as cur:
            for username, cid in await cur.fetchall():
                by_lower[username.lower()] = cid
    out: dict[str, int] = {}
    for name in names:
        out[name] = out[name.lower()] = by_lower[name.lower()]
    return out


async def add(db: Database, username: str, aliases: list[str] | None = None) -> Channel:
    async with db.transaction() as conn:
        await ensure_ids(conn, [username])
        if aliases is not None:
            await conn.execute(
                "UPDATE channels SET aliases = ? WHERE username = ?",
                (json.dumps(aliases, ensure_ascii=False), username),
            )
    ch = await get(db, username)
    assert ch is not None
    return ch


async def get(db: Database, username: str) -> Channel | None:
    r = await db.fetchone("SELECT * FROM channels WHERE username = ?", (username,))
    return _row(r) if r else None


async def stored(db: Database, usernames: Iterable[str]) -> set[str]:
    """Which of ``usernames`` have a channel row, lower-cased: one query per 500 names."""
    names = sorted({u.lower() for u in usernames})
    out: set[str] = set()
    for i in range(0, len(names), 500):
        chunk = names[i:i + 500]
        rows = await db.fetchall("SELECT lower(username) FROM channels WHERE username IN "
                                 f"({','.join('?' * len(chunk))})", chunk)
        out.update(r[0] for r in rows)
    return out


async def list_all(db: Database) -> list[Channel]:
    rows = await db.fetchall(
        "SELECT c.*, (SELECT count(*) FROM posts p WHERE p.channel_id = c.id) AS post_count "
        "FROM channels c ORDER BY c.username"
    )
    return [_row(r) for r in rows]


async def remove(db: Database, username: str, *, keep_posts: bool = True) -> bool:
    """Forget a channel. With ``keep_posts`` (default) its posts stay searchable: the row stays and
    is only marked inactive — nothing an analyst stored is lost."""
    if keep_posts:
        n = await db.execute(
            "UPDATE channels SET active = 0, joined = 0 WHERE username = ?",
            (username,),
        )
    else:
        n = await db.execute("DELETE FROM channels WHERE username = ?", (username,))
    return n > 0


async def set_resolved(
    db: Database, username: str, *, tg_id: int, access_hash: int | None, title: str | None,
    about: str | None = None,
) -> None:
    """Store what resolving found; ``about`` None keeps the stored one (not every source has it)."""
    async with db.transaction() as conn:
        await ensure_ids(conn, [username])
        await conn.execute(
            "UPDATE channels SET tg_id = ?, access_hash = ?, title = ?, resolved_at = ?,"
            " about = coalesce(?, about) WHERE username = ?",
            (tg_id, access_hash, title, to_iso(utcnow()), about, username),
        )


async def set_profile(db: Database, username: str, *, title: str | None,
                      about: str | None) -> None:
    """Title and about text as a source without ids sees them (the web preview); None keeps the
    stored value. The channel's press names are derived from them (``bot.cite.aliases``)."""
    await db.execute(
        "UPDATE channels SET title = coalesce(?, title), about = coalesce(?, about)"
        " WHERE username = ?", (title, about, username))


async def set_joined(db: Database, username: str, joined: bool = True) -> None:
    await db.execute("UPDATE channels SET joined = ? WHERE username = ?", (int(joined), username))


async def set_aliases(db: Database, username: str, aliases: list[str],
                      removed: list[str] | None = None) -> None:
    """Replace a channel's stored aliases (and, when given, the names removed from it)."""
    if removed is None:
        await db.execute(
            "UPDATE channels SET aliases = ? WHERE username = ?",
            (json.dumps(aliases, ensure_ascii=False), username),
        )
        return
    await db.execute(
        "UPDATE channels SET aliases = ?, aliases_removed = ? WHERE username = ?",
        (json.dumps(aliases, ensure_ascii=False), json.dumps(removed, ensure_ascii=False),
         username),
    )


async def record_success(db: Database, username: str, last_message_id: int | None = None) -> None:
    """Mark a good poll; ``last_message_id`` only ever moves forward."""
    await db.execute(
        "UPDATE channels SET last_success_at = ?, paused_until = NULL, error_count = 0,"
        " last_message_id = max(last_message_id, coalesce(?, 0)) WHERE username = ?",
        (to_iso(utcnow()), last_message_id, username),
    )


async def record_error(
    db: Database, username: str, error: str, paused_until: datetime | None = None
) -> None:
    await db.execute(
        "UPDATE channels SET last_error = ?, last_error_at = ?, paused_until = ?,"
        " error_count = error_count + 1 WHERE username = ?",
        (error, to_iso(utcnow()), to_iso(paused_until), username),
    )


async def activate(db: Database, username: str) -> None:
    """Watch the channel (again): removed or archived before, it is polled from now on."""
    async with db.transaction() as conn:
        await activate_in(conn, [username])


async def activate_in(conn: aiosqlite.Connection, usernames: Iterable[str]) -> None:
    await conn.executemany("UPDATE channels SET active = 1, archived = 0 WHERE username = ?",
                           [(u,) for u in usernames])


async def list_active(db: Database) -> list[Channel]:
    return [c for c in await list_all(db) if c.active]
