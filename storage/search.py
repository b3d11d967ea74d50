"""Full-text search over posts and translations, best matches first (bm25)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database
from storage.fts_query import to_fts5
from storage.models import HL_END, HL_START, SearchHit, from_iso, to_iso

# bm25 weights: a hit in the original counts as much as one in the translation
_SQL = f"""
SELECT p.id, c.username, p.message_id, p.date, p.deleted_at,
       bm25(posts_fts, 1.0, 1.0) AS score,
       snippet(posts_fts, 0, '{HL_START}', '{HL_END}', '…', 16) AS s_text,
       snippet(posts_fts, 1, '{HL_START}', '{HL_END}', '…', 16) AS s_tr
FROM posts_fts
JOIN posts p ON p.id = posts_fts.rowid
JOIN channels c ON c.id = p.channel_id
WHERE posts_fts MATCH ? {{filters}}
ORDER BY score
LIMIT ?
"""


async def query(
    db: Database,
    text: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Search. Raises ``QueryError`` (one line) for a query with nothing to search."""
    match = to_fts5(text)
    filters: list[str] = []
    params: list[Any] = [match]
    if channel:
        filters.append("AND c.username = ?")
        params.append(channel)
    if since:
        filters.append("AND p.date >= ?")
        params.append(to_iso(since))
    if until:
        filters.append("AND p.date < ?")
        params.append(to_iso(until))
    params.append(max(1, limit))
    rows = await db.fetchall(_SQL.format(filters=" ".join(filters)), params)
    return [
        SearchHit(
            post_id=r[0],
            channel=r[1],
            message_id=r[2],
            date=from_iso(r[3]),  # type: ignore[arg-type]
            deleted=r[4] is not None,
            score=-float(r[5]),
            text_snippet=r[6] or "",
            translation_snippet=r[7] or "",
        )
        for r in rows
    ]


def raw_match_sql() -> str:
    """The query the benchmark times raw, to compare our overhead against."""
    return _SQL.format(filters="")
