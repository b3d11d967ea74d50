"""Translations of posts (one per post and target language) and the durable translation queue."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import aiosqlite

from storage.db import Database
from storage.models import Translation, from_iso, to_iso, utcnow


def text_hash(text: str) -> str:
    """Identifies the original a translation was made from, so edits are re-translated."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_UPSERT = """
INSERT INTO translations (post_id, source_lang, lang, provider, text, source_text_hash, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (post_id, lang) DO UPDATE SET
    source_lang = excluded.source_lang, provider = excluded.provider, text = excluded.text,
    source_text_hash = excluded.source_text_hash, created_at = excluded.created_at
WHERE translations.text IS NOT excluded.text
"""


async def upsert_in(
    conn: aiosqlite.Connection, items: Sequence[tuple[Translation, str | None]]
) -> None:
    """Inside a transaction: store (translation, original text it was made from) pairs."""
    now = to_iso(utcnow())
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
            )
            for t, src in items
        ],
    )
    # an unchanged translation (ON CONFLICT ... WHERE false) still answers the queue entry
    await conn.executemany(
        "DELETE FROM translation_queue WHERE post_id = ?", [(t.post_id,) for t, _ in items]
    )


async def upsert(db: Database, t: Translation, source_text: str | None = None) -> None:
    async with db.transaction() as conn:
        await upsert_in(conn, [(t, source_text)])


async def for_post(db: Database, post_id: int) -> list[Translation]:
    rows = await db.fetchall(
        "SELECT * FROM translations WHERE post_id = ? ORDER BY lang", (post_id,)
    )
    return [
        Translation(
            post_id=r["post_id"],
            lang=r["lang"],
            provider=r["provider"],
            text=r["text"],
            source_lang=r["source_lang"],
            created_at=from_iso(r["created_at"]),
        )
        for r in rows
    ]
