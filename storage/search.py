"""Full-text search over posts and translations, best matches first (bm25)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database
from storage.fts_query import to_fts5
from storage.models import HL_END, HL_START, SearchHit, from_iso, to_iso

# Ranking first, decoration after: the inner query orders only (rowid, rank) — FTS5's rank is bm25
# with equal weights for the original and the translation — and keeps the best N; snippets and the
# joins are then computed for those N rows only. Computing snippet() for every match before sorting
# made common words cost hundreds of milliseconds over 1M posts.
#
# bm25 costs about a microsecond per matching post, so a common word over 1M posts took ~1 s.
# A query is therefore ranked among its newest RANK_WINDOW matches (rowid order = storage order;
# FTS5 walks a doclist backwards without ranking): rare words are ranked exactly, and for a word
# found in most posts the best of the newest 10,000 is what an analyst wants anyway.
RANK_WINDOW = 10_000

_SQL = f"""
WITH cand AS (
    SELECT posts_fts.rowid AS id, posts_fts.rank AS score
    FROM posts_fts {{join}}
    WHERE posts_fts MATCH :match {{filters}}
    ORDER BY posts_fts.rowid DESC
    LIMIT :window
), top AS (
    SELECT id, score FROM cand ORDER BY score LIMIT :limit
)
SELECT p.id, c.username, p.message_id, p.date, p.deleted_at, top.score,
       snippet(posts_fts, 0, '{HL_START}', '{HL_END}', '…', 16) AS s_text,
       snippet(posts_fts, 1, '{HL_START}', '{HL_END}', '…', 16) AS s_tr
FROM top
JOIN posts_fts ON posts_fts.rowid = top.id AND posts_fts MATCH :match
JOIN posts p ON p.id = top.id
JOIN channels c ON c.id = p.channel_id
ORDER BY top.score, p.id
"""


def build_sql(
    match: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of one search (the benchmark runs them raw to measure our overhead)."""
    filters: list[str] = []
    params: dict[str, Any] = {"match": match, "limit": max(1, limit), "window": RANK_WINDOW}
    if channel:
        filters.append("AND p.channel_id = (SELECT id FROM channels WHERE username = :channel)")
        params["channel"] = channel
    if since:
        filters.append("AND p.date >= :since")
        params["since"] = to_iso(since)
    if until:
        filters.append("AND p.date < :until")
        params["until"] = to_iso(until)
    join = "JOIN posts p ON p.id = posts_fts.rowid" if filters else ""
    return _SQL.format(join=join, filters=" ".join(filters)), params


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
    sql, params = build_sql(to_fts5(text), channel=channel, since=since, until=until, limit=limit)
    rows = await db.fetchall(sql, params)
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
    return build_sql("")[0]
