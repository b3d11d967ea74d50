"""Counts for ``citewatch stats`` and ``status``."""

from __future__ import annotations

from typing import TypedDict

from storage.db import Database


class ChannelCounts(TypedDict):
    channel: str
    posts: int
    translated: int
    translated_share: float
    deleted: int
    newest: str | None  # ISO date of the newest post


class Summary(TypedDict):
    """Field names are the ``stats --json`` keys; the mappings are counts per status."""

    channels: list[ChannelCounts]
    posts: int
    translated: int
    translated_share: float
    translation_queue: dict[str, int]
    feeds: int
    articles: dict[str, int]
    articles_total: int
    citations: int
    alerts: dict[str, int]


async def summary(db: Database) -> Summary:
    per_channel = await db.fetchall(
        """
        SELECT c.username,
               count(p.id) AS posts,
               count(t.post_id) AS translated,
               sum(p.deleted_at IS NOT NULL) AS deleted,
               max(p.date) AS newest
        FROM channels c
        LEFT JOIN posts p ON p.channel_id = c.id
        LEFT JOIN (SELECT DISTINCT post_id FROM translations) t ON t.post_id = p.id
        GROUP BY c.id ORDER BY c.username
        """
    )
    alerts = await db.fetchall("SELECT status, count(*) FROM alerts GROUP BY status")
    articles = await db.fetchall("SELECT status, count(*) FROM articles GROUP BY status")
    total = sum(r["posts"] for r in per_channel)
    translated = sum(r["translated"] for r in per_channel)
    return {
        "channels": [
            {
                "channel": r["username"],
                "posts": r["posts"],
                "translated": r["translated"],
                "translated_share": round(r["translated"] / r["posts"], 4) if r["posts"] else 0.0,
                "deleted": r["deleted"] or 0,
                "newest": r["newest"],
            }
            for r in per_channel
        ],
        "posts": total,
        "translated": translated,
        "translated_share": round(translated / total, 4) if total else 0.0,
        "translation_queue": {
            r[0]: r[1]
            for r in await db.fetchall(
                "SELECT status, count(*) FROM translation_queue GROUP BY status"
            )
        },
        "feeds": await db.fetchval("SELECT count(*) FROM feeds"),
        "articles": {r[0]: r[1] for r in articles},
        "articles_total": sum(r[1] for r in articles),
        "citations": await db.fetchval("SELECT count(*) FROM citations"),
        "alerts": {r[0]: r[1] for r in alerts},
    }
