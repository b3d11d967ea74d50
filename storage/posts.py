"""Posts: upsert keeps history (the schema's trigger copies the old text to post_versions)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from storage import channels, meta, search_index
from storage.db import Database
from storage.models import Post, PostVersion, UpsertResult, from_iso, from_row, to_iso, utcnow

_UPSERT = """
INSERT INTO posts (channel_id, message_id, date, text, lang, views, forwards, reply_to,
                   grouped_id, fwd_from, media_kind, media, links, edit_date, raw, source, stored_at,
                   deleted_at, words)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (channel_id, message_id) DO UPDATE SET
    text       = excluded.text,
    words      = excluded.words,
    lang       = CASE WHEN posts.text IS excluded.text THEN coalesce(posts.lang, excluded.lang)
                      ELSE excluded.lang END,
    edit_date  = coalesce(excluded.edit_date, posts.edit_date),
    views      = coalesce(excluded.views, posts.views),
    forwards   = coalesce(excluded.forwards, posts.forwards),
    reply_to   = coalesce(excluded.reply_to, posts.reply_to),
    grouped_id = coalesce(excluded.grouped_id, posts.grouped_id),
    fwd_from   = coalesce(excluded.fwd_from, posts.fwd_from),
    media_kind = coalesce(excluded.media_kind, posts.media_kind),
    media      = coalesce(excluded.media, posts.media),
    links      = CASE WHEN excluded.links = '[]' THEN posts.links ELSE excluded.links END,
    raw        = coalesce(excluded.raw, posts.raw),
    deleted_at = coalesce(posts.deleted_at, excluded.deleted_at)
WHERE posts.text IS NOT excluded.text
   OR posts.views IS NOT coalesce(excluded.views, posts.views)
   OR posts.forwards IS NOT coalesce(excluded.forwards, posts.forwards)
   OR posts.edit_date IS NOT coalesce(excluded.edit_date, posts.edit_date)
   OR posts.media_kind IS NOT coalesce(excluded.media_kind, posts.media_kind)
   OR posts.lang IS NOT (CASE WHEN posts.text IS excluded.text
                              THEN coalesce(posts.lang, excluded.lang) ELSE excluded.lang END)
   OR (posts.raw IS NULL AND excluded.raw IS NOT NULL)
   OR (posts.deleted_at IS NULL AND excluded.deleted_at IS NOT NULL)
"""


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, default=str)


def _params(channel_id: int, p: Post, now: str, words: str) -> tuple[Any, ...]:
    return (
        channel_id,
        p.message_id,
        to_iso(p.date),
        p.text or "",
        p.lang,
        p.views,
        p.forwards,
        p.reply_to,
        p.grouped_id,
        _json(p.fwd_from),
        p.media_kind,
        _json(p.media),
        json.dumps(p.links, ensure_ascii=False) if p.links else "[]",  # most posts: none
        to_iso(p.edit_date),
        _json(p.raw),
        p.source,
        now,
        to_iso(p.deleted_at),  # only an import of our own export carries it; never un-deletes
        words,  # what the index holds beside the text
    )


async def _count(conn: aiosqlite.Connection, sql: str) -> int:
    async with conn.execute(sql) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def upsert_many_in(conn: aiosqlite.Connection, posts: Sequence[Post], *,
                         index: bool = True, words: Mapping[str, str] | None = None
                         ) -> UpsertResult:
    """Inside an open transaction (so callers can add translations atomically). New posts are
    indexed at the end; with ``index=False`` the caller does it (``search_index.index_new_in``)
    after storing their translations, so each is indexed once with its translation. ``words``:
    index words made beforehand (text → ``search_index.post_words``), used where they fit."""
    if not posts:
        return UpsertResult()
    ids = await channels.ensure_ids(conn, {p.channel for p in posts})
    now = to_iso(utcnow()) or ""
    # New rows get max(rowid)+1 (no AUTOINCREMENT, nothing deleted in between), so max(rowid) before
    # and after counts inserts and edits in O(log n); count(*) would scan a big table every batch.
    before_posts = await _count(conn, "SELECT max(rowid) FROM posts")
    before_versions = await _count(conn, "SELECT max(rowid) FROM post_versions")
    keys = [(ids[p.channel], p.message_id) for p in posts]
    stored = await _stored_texts(conn, keys)
    made = search_index.words_of([p.text or "" for p in posts], [stored.get(k) for k in keys],
                                 search_index.post_words, words)
    await conn.executemany(_UPSERT, [_params(cid, p, now, w)
                                     for (cid, _), p, w in zip(keys, posts, made, strict=True)])
    after_posts = await _count(conn, "SELECT max(rowid) FROM posts")
    edited = await _count(conn, "SELECT max(rowid) FROM post_versions") - before_versions
    inserted = after_posts - before_posts
    by_channel: dict[int, int] = {}
    for p in posts:
        cid = ids[p.channel]
        by_channel[cid] = max(by_channel.get(cid, 0), p.message_id)
    await conn.executemany(
        "UPDATE channels SET last_message_id = max(last_message_id, ?) WHERE id = ?",
        [(mid, cid) for cid, mid in by_channel.items()],
    )
    if index and inserted:
        await search_index.index_new_in(conn)
    return UpsertResult(inserted=inserted, edited=edited, unchanged=len(posts) - inserted - edited)


#: the ``meta`` fact that holds the ``post_days`` trigger back (migration 17)
_IMPORT_DAYS = "import_days"

#: what the ``post_days`` trigger does, for all the posts stored after a row id at once
_DAYS_OF_NEW = """
INSERT INTO post_days (day, lo, hi)
SELECT substr(date, 1, 10), min(id), max(id) FROM posts WHERE id > ? GROUP BY 1
ON CONFLICT (day) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)
"""


@asynccontextmanager
async def days_by_import(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """Inside an import's transaction, around storing its posts: each day's id range
    (``post_days``) is widened once per day for the block's new posts at its end, not once per
    post by the trigger (an upsert per post)."""
    last = await _count(conn, "SELECT max(rowid) FROM posts")
    async with meta.held(conn, _IMPORT_DAYS):
        yield
    await conn.execute(_DAYS_OF_NEW, (last,))


async def _stored_texts(conn: aiosqlite.Connection, keys: Sequence[tuple[int, int]]
                        ) -> dict[tuple[int, int], tuple[str, str]]:
    """Inside a transaction: (text, index words) of the posts already stored under (channel row id,
    message id) keys — one query per channel and 500 ids."""
    out: dict[tuple[int, int], tuple[str, str]] = {}
    by_channel: dict[int, set[int]] = {}
    for cid, mid in keys:
        by_channel.setdefault(cid, set()).add(mid)
    for cid, mids in by_channel.items():
        ordered = sorted(mids)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            async with conn.execute(
                "SELECT message_id, text, words FROM posts WHERE channel_id = ?"
                f" AND message_id IN ({','.join('?' * len(chunk))})", (cid, *chunk)) as cur:
                for mid, text, words in await cur.fetchall():
                    out[(cid, mid)] = (text, words)
    return out


def stored_texts(conn: sqlite3.Connection, keys: Sequence[tuple[str, int]]
                 ) -> dict[tuple[str, int], str]:
    """On a reading connection: the stored text of each (channel username, message id) that is
    stored, keyed by (lower-case username, message id) — one query per channel and 500 ids."""
    out: dict[tuple[str, int], str] = {}
    for channel, chunk in _key_chunks(keys):
        for mid, text in conn.execute(
                "SELECT p.message_id, p.text FROM posts p"
                " WHERE p.channel_id = (SELECT id FROM channels WHERE username = ?)"
                f" AND p.message_id IN ({','.join('?' * len(chunk))})", (channel, *chunk)):
            out[(channel, mid)] = text
    return out


def _key_chunks(keys: Sequence[tuple[str, int]], size: int = 500
                ) -> Iterator[tuple[str, list[int]]]:
    """(lower-case username, up to ``size`` sorted message ids) per query, so a batch costs one
    statement per channel and chunk instead of one per key (and stays under SQLite's variable
    limit)."""
    by_channel: dict[str, set[int]] = {}
    for channel, mid in keys:
        by_channel.setdefault(channel.lower(), set()).add(mid)
    for channel, mids in by_channel.items():
        ordered = sorted(mids)
        for i in range(0, len(ordered), size):
            yield channel, ordered[i : i + size]


async def upsert_many(db: Database, posts: Sequence[Post]) -> UpsertResult:
    """Store posts: new ones are inserted, changed texts become edits (old text kept)."""
    async with db.transaction() as conn:
        return await upsert_many_in(conn, posts)


def post_from_row(r: sqlite3.Row) -> Post:
    """A ``Post`` from a row of ``posts`` joined with its channel's ``username`` (and, when selected,
    the latest ``translation`` / ``translation_lang``); ``raw`` only when selected."""
    return from_row(Post, r, channel=r["username"])


_SELECT = """
SELECT p.*, c.username,
       (SELECT t.text FROM translations t WHERE t.post_id = p.id ORDER BY t.id DESC LIMIT 1)
           AS translation,
       (SELECT t.lang FROM translations t WHERE t.post_id = p.id ORDER BY t.id DESC LIMIT 1)
           AS translation_lang
FROM posts p JOIN channels c ON c.id = p.channel_id
"""


async def get(db: Database, channel: str, message_id: int) -> Post | None:
    r = await db.fetchone(_SELECT + " WHERE c.username = ? AND p.message_id = ?",
                          (channel, message_id))
    return post_from_row(r) if r else None


async def get_by_id(db: Database, post_id: int) -> Post | None:
    r = await db.fetchone(_SELECT + " WHERE p.id = ?", (post_id,))
    return post_from_row(r) if r else None


async def get_many(db: Database, post_ids: Iterable[int]) -> list[Post]:
    ids = list(post_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = await db.fetchall(_SELECT + f" WHERE p.id IN ({marks})", ids)
    return [post_from_row(r) for r in rows]


async def recent(db: Database, channel: str | None = None, limit: int = 10) -> list[Post]:
    if channel:
        rows = await db.fetchall(
            _SELECT + " WHERE c.username = ? ORDER BY p.date DESC, p.id DESC LIMIT ?",
            (channel, limit),
        )
    else:
        rows = await db.fetchall(_SELECT + " ORDER BY p.date DESC, p.id DESC LIMIT ?", (limit,))
    return [post_from_row(r) for r in rows]


async def iter_posts(
    db: Database,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
    with_versions: bool = False,
) -> AsyncIterator[Post]:
    """All posts in (channel, message id) order, read in batches (for export, which needs the
    earlier texts too: one query per batch, not one per post)."""
    last = (0, 0)
    while True:
        where = ["(p.channel_id, p.message_id) > (?, ?)"]
        params: list[Any] = [*last]
        if channel:
            where.append("c.username = ?")
            params.append(channel)
        if since:
            where.append("p.date >= ?")
            params.append(to_iso(since))
        if until:
            where.append("p.date < ?")
            params.append(to_iso(until))
        rows = await db.fetchall(
            _SELECT.replace("SELECT p.*", "SELECT p.*, p.channel_id AS cid")
            + " WHERE " + " AND ".join(where)
            + " ORDER BY p.channel_id, p.message_id LIMIT ?",
            [*params, batch],
        )
        if not rows:
            return
        found = [post_from_row(r) for r in rows]
        if with_versions:
            history = await versions_for(db, [p.id for p in found if p.id is not None])
            for p in found:
                p.versions = history.get(p.id or 0, [])
        for p in found:
            yield p
        last = (rows[-1]["cid"], rows[-1]["message_id"])


def _version(r: aiosqlite.Row) -> PostVersion:
    return PostVersion(text=r["text"], edit_date=from_iso(r["edit_date"]),
                       replaced_at=from_iso(r["replaced_at"]),  # type: ignore[arg-type]
                       translation=r["translation"])


async def versions(db: Database, post_id: int) -> list[PostVersion]:
    """Earlier texts, oldest first (restored ones from an import sort by when they were replaced)."""
    return (await versions_for(db, [post_id])).get(post_id, [])


async def versions_for(db: Database, post_ids: Sequence[int]) -> dict[int, list[PostVersion]]:
    out: dict[int, list[PostVersion]] = {}
    if not post_ids:
        return out
    rows = await db.fetchall(
        "SELECT post_id, text, edit_date, replaced_at, translation FROM post_versions"
        f" WHERE post_id IN ({','.join('?' * len(post_ids))}) ORDER BY post_id, replaced_at, id",
        list(post_ids),
    )
    for r in rows:
        out.setdefault(r["post_id"], []).append(_version(r))
    return out


def _trigger_time(when: datetime) -> str:
    """The form the versioning trigger writes (strftime ...%fZ), so restored rows sort among its own."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def restore_versions_in(
    conn: aiosqlite.Connection, history: Sequence[tuple[int, PostVersion]]
) -> None:
    """Put back earlier texts carried by an export; one already kept (same text and edit date) is
    skipped, so importing the same file twice, or over the database it came from, adds nothing."""
    await conn.executemany(
        "INSERT INTO post_versions (post_id, text, edit_date, replaced_at, translation)"
        " SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM post_versions"
        "  WHERE post_id = ?1 AND text = ?2 AND edit_date IS ?3)",
        [(pid, v.text, to_iso(v.edit_date), _trigger_time(v.replaced_at), v.translation)
         for pid, v in history],
    )


async def mark_deleted(
    db: Database, channel: str | int, message_ids: Iterable[int], when: datetime | None = None
) -> int:
    """A deletion only marks: the text, versions and citations stay. ``channel`` is the username,
    or the Telegram channel id (deletion events carry only that)."""
    ids = list(message_ids)
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    key = "tg_id" if isinstance(channel, int) else "username"
    return await db.execute(
        f"UPDATE posts SET deleted_at = ? WHERE deleted_at IS NULL AND message_id IN ({marks})"
        f" AND channel_id = (SELECT id FROM channels WHERE {key} = ?)",
        [to_iso(when or utcnow()), *ids, channel],
    )


async def set_lang(db: Database, post_id: int, lang: str | None) -> None:
    await db.execute("UPDATE posts SET lang = ? WHERE id = ?", (lang, post_id))


async def max_message_id(db: Database, channel: str) -> int:
    v = await db.fetchval(
        "SELECT max(p.message_id) FROM posts p JOIN channels c ON c.id = p.channel_id"
        " WHERE c.username = ?",
        (channel,),
    )
    return int(v or 0)


async def message_ids(db: Database, channel: str) -> set[int]:
    rows = await db.fetchall(
        "SELECT p.message_id FROM posts p JOIN channels c ON c.id = p.channel_id"
        " WHERE c.username = ?",
        (channel,),
    )
    return {r[0] for r in rows}


async def ids_for(
    conn: aiosqlite.Connection, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Inside a transaction: row ids of (channel username, message id) pairs.

    One query per channel and 500 ids (not one per key): a per-row round trip through aiosqlite's
    thread cost more than the inserts themselves in the import benchmark.
    """
    out: dict[tuple[str, int], int] = {}
    for channel, chunk in _key_chunks(keys):
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            "SELECT p.message_id, p.id FROM posts p"
            " WHERE p.channel_id = (SELECT id FROM channels WHERE username = ?)"
            f" AND p.message_id IN ({marks})",
            (channel, *chunk),
        ) as cur:
            for mid, pid in await cur.fetchall():
                out[(channel, mid)] = pid
    return out
