"""Citation storage: each citation once per (article, post), and the alerts it queues.

``store`` upserts — a re-check keeps the best score — and, in the same transaction, creates one
pending ``alerts`` row per chat for citations at or above the threshold (the outbox the sender
drains). Finding the candidate posts is ``storage.candidates``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from storage.db import Database
from storage.models import Citation, from_iso, to_iso, utcnow

_UPSERT = """
INSERT INTO citations (article_id, post_id, score, evidence, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (article_id, post_id) DO UPDATE SET score = excluded.score, evidence = excluded.evidence
WHERE excluded.score > citations.score
"""


async def store_in(
    conn: aiosqlite.Connection,
    article_id: int,
    found: Sequence[Citation],
    threshold: float,
    alert_chats: Sequence[str],
) -> list[Citation]:
    """Inside the caller's transaction: upsert citations, then queue alerts for the strong ones."""
    now = to_iso(utcnow())
    out: list[Citation] = []
    for f in found:
        await conn.execute(_UPSERT, (article_id, f.post_id, float(f.score),
                                     json.dumps(f.evidence, ensure_ascii=False), now))
        async with conn.execute(
            "SELECT id, score, evidence, created_at FROM citations WHERE article_id = ? AND post_id = ?",
            (article_id, f.post_id),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        cit = Citation(article_id=article_id, post_id=f.post_id, score=float(row[1]),
                       evidence=json.loads(row[2]), id=int(row[0]), created_at=from_iso(row[3]))
        if cit.score >= threshold:
            await conn.executemany(
                "INSERT OR IGNORE INTO alerts (citation_id, chat, status, created_at)"
                " VALUES (?, ?, 'pending', ?)",
                [(cit.id, chat, now) for chat in dict.fromkeys(alert_chats)],
            )
        out.append(cit)
    return out


async def store(
    db: Database,
    article_id: int,
    found: Sequence[Citation],
    threshold: float,
    alert_chats: Sequence[str],
) -> list[Citation]:
    """Store citations once per (article, post); alert rows for those ≥ threshold, atomically."""
    async with db.transaction() as conn:
        return await store_in(conn, article_id, found, threshold, alert_chats)


#: citations with their post's channel and message id and their article's URL and title
_CITATIONS_IN_CONTEXT = """
SELECT ci.id, ci.article_id, ci.post_id, ci.score, ci.evidence, ci.created_at,
       c.username, p.message_id, a.url, a.title
FROM citations ci
JOIN posts p ON p.id = ci.post_id
JOIN channels c ON c.id = p.channel_id
JOIN articles a ON a.id = ci.article_id
"""


def _citation(r: sqlite3.Row) -> Citation:
    return Citation(
        id=r[0], article_id=r[1], post_id=r[2], score=float(r[3]), evidence=json.loads(r[4]),
        created_at=from_iso(r[5]), channel=r[6], message_id=r[7], article_url=r[8],
        article_title=r[9],
    )


async def list_recent(db: Database, since: datetime | None = None, limit: int = 50,
                      min_score: float = 0.0) -> list[Citation]:
    """Newest first."""
    rows = await db.fetchall(
        _CITATIONS_IN_CONTEXT + " WHERE ci.created_at >= ? AND ci.score >= ?"
        " ORDER BY ci.created_at DESC, ci.id DESC LIMIT ?",
        (to_iso(since) or "", min_score, max(1, limit)),
    )
    return [_citation(r) for r in rows]


async def for_post(db: Database, post_id: int) -> list[Citation]:
    """Every article that cites one post, best first."""
    rows = await db.fetchall(
        _CITATIONS_IN_CONTEXT + " WHERE ci.post_id = ? ORDER BY ci.score DESC, ci.id", (post_id,))
    return [_citation(r) for r in rows]


async def for_article(db: Database, article_id: int) -> list[Citation]:
    rows = await db.fetchall(
        _CITATIONS_IN_CONTEXT + " WHERE ci.article_id = ? ORDER BY ci.score DESC, ci.id",
        (article_id,))
    return [_citation(r) for r in rows]
