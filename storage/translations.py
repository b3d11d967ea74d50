"""Translations of posts (one per post and target language) and the durable translation queue."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage import meta, search_index
from storage.db import Database
from storage.models import Translation, from_iso, from_row, to_iso, utcnow
from storage.wordforms import normal_words


def text_hash(text: str) -> str:
    """Identifies the original a translation was made from, so edits are re-translated."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_UPSERT = """
INSERT INTO translations (post_id, source_lang, lang, provider, text, source_text_hash, created_at,
                          model, glossary, words)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (post_id, lang) DO UPDATE SET
    source_lang = excluded.source_lang, provider = excluded.provider, text = excluded.text,
    source_text_hash = excluded.source_text_hash, created_at = excluded.created_at,
    model = excluded.model, glossary = excluded.glossary, words = excluded.words
WHERE translations.text IS NOT excluded.text
"""


async def upsert_in(
    conn: aiosqlite.Connection, items: Sequence[tuple[Translation, str | None]],
    words: Mapping[str, str] | None = None,
) -> None:
    """Inside a transaction: store (translation, original text it was made from) pairs. A
    translation stored before with the same text keeps its index words (nothing recomputed).
    ``words``: index words made beforehand (text → ``normal_words``), used where they fit."""
    now = to_iso(utcnow())
    stored = await _stored_texts(conn, [t.post_id for t, _ in items])
    made = search_index.words_of([t.text for t, _ in items],
                                 [stored.get((t.post_id, t.lang)) for t, _ in items], normal_words,
                                 words)
    await conn.executemany(
        _UPSERT,
        [
            (
                t.post_id,
                t.source_lang,
                t.lang,
                t.provider,
                t.text,
                text_hash(src) if src is not None else None,
                to_iso(t.created_at) or now,
                t.model,
                t.glossary,
                w,  # what the index holds beside the translation
            )
            for (t, src), w in zip(items, made, strict=True)
        ],
    )
    # a new row leaves the queue by trigger (translations_dequeue, AFTER INSERT); one that was
    # stored before — updated, or unchanged (ON CONFLICT ... WHERE false) — still answers its entry
    await conn.executemany(
        "DELETE FROM translation_queue WHERE post_id = ?",
        [(t.post_id,) for t, _ in items if (t.post_id, t.lang) in stored],
    )


async def _stored_texts(conn: aiosqlite.Connection, post_ids: Sequence[int]
                        ) -> dict[tuple[int, str], tuple[str, str]]:
    """Inside a transaction: (text, index words) of the stored translations of ``post_ids``, by
    (post id, language) — one query per 500 posts."""
    out: dict[tuple[int, str], tuple[str, str]] = {}
    ordered = sorted(set(post_ids))
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        async with conn.execute(
            "SELECT post_id, lang, text, words FROM translations"
            f" WHERE post_id IN ({','.join('?' * len(chunk))})", chunk) as cur:
            for pid, lang, text, words in await cur.fetchall():
                out[(pid, lang)] = (text, words)
    return out


async def upsert(db: Database, t: Translation, source_text: str | None = None) -> None:
    async with db.transaction() as conn:
        await upsert_in(conn, [(t, source_text)])


async def for_post(db: Database, post_id: int) -> list[Translation]:
    rows = await db.fetchall(
        "SELECT * FROM translations WHERE post_id = ? ORDER BY lang", (post_id,)
    )
    return [from_row(Translation, r) for r in rows]


#: the ``meta`` fact that holds the insert trigger's queueing back (migration 16)
_IMPORT_QUEUES = "import_queues"

#: what the insert trigger does, for the posts stored after a row id that are still untranslated
_QUEUE_UNTRANSLATED = """
INSERT INTO translation_queue (post_id, enqueued_at)
SELECT p.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM posts p
WHERE p.id > ? AND p.text != '' AND NOT EXISTS (SELECT 1 FROM translations t WHERE t.post_id = p.id)
ORDER BY p.id
ON CONFLICT (post_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = '',
    last_error = NULL, enqueued_at = excluded.enqueued_at
"""


@asynccontextmanager
async def queued_by_import(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """Inside an import's transaction, around storing posts with their translations: new posts
    are not queued one by one by the trigger (to be taken off again as their translation follows);
    at the end of the block those still untranslated are queued, as the trigger would have left
    them."""
    async with conn.execute("SELECT coalesce(max(rowid), 0) FROM posts") as cur:
        row = await cur.fetchone()
    last = int(row[0]) if row else 0
    async with meta.held(conn, _IMPORT_QUEUES):
        yield
    await conn.execute(_QUEUE_UNTRANSLATED, (last,))


# --- the durable queue -------------------------------------------------------------------------------
# A post waiting for translation is a row of translation_queue (triggers add new and edited posts). The
# row is the whole state: a run killed at any point leaves every untranslated post queued, and a stored
# translation removes exactly the row it answers, so nothing is lost or done twice.


@dataclass(frozen=True)
class QueueItem:
    """A due queue row with what the job needs from its post."""

    post_id: int
    channel: str
    message_id: int
    text: str
    lang: str | None
    attempts: int
    enqueued_at: str


@dataclass(frozen=True)
class QueueDepth:
    pending: int
    due: int
    failed: int
    next_attempt_at: datetime | None


async def due(
    db: Database,
    limit: int,
    now: datetime | None = None,
    *,
    channel: str | None = None,
    undetected_only: bool = False,
) -> list[QueueItem]:
    """Pending rows whose time has come, oldest first (edits re-enqueue at the back)."""
    where = ["q.status = 'pending'", "q.next_attempt_at <= ?"]
    params: list[Any] = [to_iso(now or utcnow())]
    if channel:
        where.append("c.username = ?")
        params.append(channel)
    if undetected_only:
        where.append("p.lang IS NULL")
    rows = await db.fetchall(
        "SELECT q.post_id, q.attempts, q.enqueued_at, p.message_id, p.text, p.lang, c.username"
        " FROM translation_queue q JOIN posts p ON p.id = q.post_id"
        " JOIN channels c ON c.id = p.channel_id"
        f" WHERE {' AND '.join(where)} ORDER BY q.enqueued_at, q.post_id LIMIT ?",
        [*params, limit],
    )
    return [
        QueueItem(post_id=r["post_id"], channel=r["username"], message_id=r["message_id"],
                  text=r["text"], lang=r["lang"], attempts=r["attempts"],
                  enqueued_at=r["enqueued_at"])
        for r in rows
    ]


# Guards: a post edited while we worked on it was re-enqueued with a new enqueued_at (and new text);
# what we did with the old text must not answer, fail or drop the new entry.
_SAME_ENTRY = "post_id = ? AND enqueued_at = ?"


async def record_languages(
    db: Database, items: Sequence[tuple[QueueItem, str | None]], drop: Iterable[int] = ()
) -> None:
    """Store detected languages; take the ``drop`` posts (nothing to translate) off the queue."""
    dropped = set(drop)
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE posts SET lang = ? WHERE id = ? AND text = ?",
            [(lang, it.post_id, it.text) for it, lang in items],
        )
        await conn.executemany(
            f"DELETE FROM translation_queue WHERE {_SAME_ENTRY}",
            [(it.post_id, it.enqueued_at) for it, _ in items if it.post_id in dropped],
        )


async def store(db: Database, items: Sequence[tuple[Translation, QueueItem]]) -> int:
    """Store translations of queue items in one transaction; returns how many were stored.

    A translation of text the post no longer has (edited meanwhile) is not stored: the edit's own
    queue entry stays and gets translated on a later run.
    """
    async with db.transaction() as conn:
        current: list[tuple[Translation, str | None]] = []
        for t, it in items:
            async with conn.execute("SELECT text FROM posts WHERE id = ?", (it.post_id,)) as cur:
                row = await cur.fetchone()
            if row is not None and row[0] == it.text:
                current.append((t, it.text))
        if current:
            await upsert_in(conn, current)
    return len(current)


async def postpone(db: Database, items: Iterable[tuple[QueueItem, datetime]], error: str) -> None:
    """A transient failure: count the attempt and retry each item at its own time."""
    await db.executemany(
        "UPDATE translation_queue SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
        f" WHERE {_SAME_ENTRY}",
        [(to_iso(until), error, it.post_id, it.enqueued_at) for it, until in items],
    )


async def mark_failed(db: Database, items: Iterable[QueueItem], reason: str) -> None:
    """A permanent failure: keep the row (with the reason) for ``--retry-failed``."""
    await db.executemany(
        "UPDATE translation_queue SET status = 'failed', attempts = attempts + 1, last_error = ?"
        f" WHERE {_SAME_ENTRY}",
        [(reason, it.post_id, it.enqueued_at) for it in items],
    )


async def defer(db: Database, items: Iterable[QueueItem], until: datetime, reason: str) -> None:
    """Not yet possible (a model is being installed): wait until ``until``; no attempt counted."""
    await db.executemany(
        "UPDATE translation_queue SET next_attempt_at = ?, last_error = ?"
        f" WHERE {_SAME_ENTRY} AND status = 'pending'",
        [(to_iso(until), reason, it.post_id, it.enqueued_at) for it in items],
    )


async def pause_all(db: Database, until: datetime, reason: str) -> int:
    """A rate limit or quota: no pending row is tried before ``until``; attempts are not counted."""
    u = to_iso(until)
    return await db.execute(
        "UPDATE translation_queue SET next_attempt_at = ?, last_error = ?"
        " WHERE status = 'pending' AND next_attempt_at < ?",
        (u, reason, u),
    )


async def retry_failed(db: Database, channel: str | None = None) -> int:
    """Put failed rows back in line with a fresh attempt count; returns how many."""
    sql = ("UPDATE translation_queue SET status = 'pending', attempts = 0, next_attempt_at = ''"
           " WHERE status = 'failed'")
    params: tuple[Any, ...] = ()
    if channel:
        sql += (" AND post_id IN (SELECT p.id FROM posts p JOIN channels c ON c.id = p.channel_id"
                " WHERE c.username = ?)")
        params = (channel,)
    return await db.execute(sql, params)


async def queue_depth(
    db: Database, now: datetime | None = None, channel: str | None = None
) -> QueueDepth:
    """Counts for status displays and the CLI's progress bar."""
    join, where, params = "", "", [to_iso(now or utcnow())]
    if channel:
        join = " JOIN posts p ON p.id = q.post_id JOIN channels c ON c.id = p.channel_id"
        where = " WHERE c.username = ?"
        params.append(channel)
    r = await db.fetchone(
        "SELECT coalesce(sum(q.status = 'pending'), 0) AS pending,"
        " coalesce(sum(q.status = 'pending' AND q.next_attempt_at <= ?), 0) AS due,"
        " coalesce(sum(q.status = 'failed'), 0) AS failed,"
        " min(CASE WHEN q.status = 'pending' THEN nullif(q.next_attempt_at, '') END) AS next_at"
        f" FROM translation_queue q{join}{where}",
        params,
    )
    assert r is not None
    return QueueDepth(pending=r["pending"], due=r["due"], failed=r["failed"],
                      next_attempt_at=from_iso(r["next_at"]))


async def failures(
    db: Database, limit: int = 20, channel: str | None = None
) -> list[tuple[QueueItem, str]]:
    """Failed rows with their reasons, newest first."""
    rows = await db.fetchall(
        "SELECT q.post_id, q.attempts, q.enqueued_at, q.last_error, p.message_id, p.text, p.lang,"
        " c.username FROM translation_queue q JOIN posts p ON p.id = q.post_id"
        " JOIN channels c ON c.id = p.channel_id WHERE q.status = 'failed'"
        " AND (? IS NULL OR c.username = ?) ORDER BY q.enqueued_at DESC LIMIT ?",
        (channel, channel, limit),
    )
    return [
        (QueueItem(post_id=r["post_id"], channel=r["username"], message_id=r["message_id"],
                   text=r["text"], lang=r["lang"], attempts=r["attempts"],
                   enqueued_at=r["enqueued_at"]), r["last_error"] or "")
        for r in rows
    ]


async def queue_entry(db: Database, post_id: int) -> dict[str, Any] | None:
    """One post's queue row as a dict (status, attempts, next_attempt_at, last_error), or None."""
    r = await db.fetchone(
        "SELECT status, attempts, next_attempt_at, last_error, enqueued_at"
        " FROM translation_queue WHERE post_id = ?",
        (post_id,),
    )
    return dict(r) if r else None
