"""News articles and every URL each was seen under (``article_urls``), so one article is stored once
however many links, redirects and tracking parameters lead to it. Article text is untrusted and only
ever travels as bound parameters."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from storage.db import Database
from storage.models import Article, from_row, to_iso, utcnow


def _row(r: aiosqlite.Row) -> Article:
    return from_row(Article, r)


def _values(a: Article) -> tuple[object, ...]:
    return (
        a.feed_id, a.url, a.canonical_url or a.url, a.entry_id, a.title, a.author, a.outlet,
        to_iso(a.published), a.lang, a.text, json.dumps(a.tg_refs, ensure_ascii=False), a.status,
        a.error, to_iso(a.fetched_at or utcnow()),
    )


async def _find(conn: aiosqlite.Connection, urls: list[str]) -> tuple[int, str] | None:
    marks = ",".join("?" * len(urls))
    sql = (
        f"SELECT a.id, a.status FROM articles a WHERE a.canonical_url IN ({marks}) "
        f"UNION ALL SELECT a.id, a.status FROM article_urls u JOIN articles a ON a.id = u.article_id "
        f"WHERE u.url IN ({marks}) LIMIT 1"
    )
    async with conn.execute(sql, [*urls, *urls]) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def add(db: Database, article: Article, urls: Iterable[str] = ()) -> tuple[int, bool]:
    """Store an article unless it is already known by its canonical URL or any of ``urls``.

    Returns (id, created). Every URL is remembered for the article either way. A stored *failed*
    fetch (status 'error') is replaced by a good one, and that counts as created.
    """
    canonical = article.canonical_url or article.url
    all_urls = list(dict.fromkeys([canonical, article.url, *urls]))
    async with db.transaction() as conn:
        found = await _find(conn, all_urls)
        if found is None:
            cur = await conn.execute(
                "INSERT INTO articles (feed_id, url, canonical_url, entry_id, title, author, outlet,"
                " published, lang, text, tg_refs, status, error, fetched_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _values(article),
            )
            article_id, created = int(cur.lastrowid or 0), True
        else:
            article_id, status = found
            created = status == "error" and article.status != "error"
            if created:
                # canonical_url is left as is: the new one may belong to another stored row
                await conn.execute(
                    "UPDATE articles SET feed_id = coalesce(?, feed_id), url = ?, entry_id = "
                    "coalesce(?, entry_id), title = ?, author = ?, outlet = ?, published = ?, lang = ?,"
                    " text = ?, tg_refs = ?, status = ?, error = ?, fetched_at = ? WHERE id = ?",
                    (*_values(article)[:2], *_values(article)[3:], article_id),
                )
        await conn.executemany(
            "INSERT INTO article_urls (url, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(u, article_id) for u in all_urls],
        )
    return article_id, created


async def get(db: Database, article_id: int) -> Article | None:
    r = await db.fetchone("SELECT * FROM articles WHERE id = ?", (article_id,))
    return _row(r) if r else None


async def get_by_url(db: Database, url: str) -> Article | None:
    """The article known under ``url`` (canonical or any other URL it was seen under)."""
    r = await db.fetchone(
        "SELECT a.* FROM articles a WHERE a.canonical_url = ? UNION ALL "
        "SELECT a.* FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ? LIMIT 1",
        (url, url),
    )
    return _row(r) if r else None


async def urls_of(db: Database, article_id: int) -> list[str]:
    rows = await db.fetchall("SELECT url FROM article_urls WHERE article_id = ? ORDER BY url",
                             (article_id,))
    return [r[0] for r in rows]


async def known_urls(db: Database, urls: Iterable[str]) -> set[str]:
    """Which of ``urls`` already lead to a stored article (fetched, or failed with a reason)."""
    wanted = list(dict.fromkeys(urls))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        rows = await db.fetchall(
            f"SELECT url FROM article_urls WHERE url IN ({','.join('?' * len(chunk))})", chunk
        )
        out.update(r[0] for r in rows)
    return out


async def known_entries(db: Database, feed_id: int, entry_ids: Iterable[str]) -> set[str]:
    """Which feed entry ids of this feed were already turned into articles."""
    wanted = list(dict.fromkeys(entry_ids))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        rows = await db.fetchall(
            "SELECT entry_id FROM articles WHERE feed_id = ? AND entry_id IN "
            f"({','.join('?' * len(chunk))})",
            [feed_id, *chunk],
        )
        out.update(r[0] for r in rows)
    return out


async def unchecked(db: Database, limit: int = 100) -> list[Article]:
    """Fetched articles not yet run through citation detection, oldest first."""
    rows = await db.fetchall(
        "SELECT * FROM articles WHERE status = 'new' ORDER BY id LIMIT ?", (limit,)
    )
    return [_row(r) for r in rows]


async def mark_checked(db: Database, article_id: int, when: datetime | None = None) -> None:
    await db.execute(
        "UPDATE articles SET status = 'checked', checked_at = ? WHERE id = ?",
        (to_iso(when or utcnow()), article_id),
    )


async def record_error(db: Database, article_id: int, error: str) -> None:
    """Keep the article row (and its URLs) with a one-line reason instead of its text."""
    await db.execute(
        "UPDATE articles SET status = 'error', error = ? WHERE id = ?", (error[:500], article_id)
    )


async def recent(db: Database, limit: int = 50, *, feed_id: int | None = None) -> list[Article]:
    """Newest fetched first."""
    if feed_id is None:
        rows = await db.fetchall("SELECT * FROM articles ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = await db.fetchall(
            "SELECT * FROM articles WHERE feed_id = ? ORDER BY id DESC LIMIT ?", (feed_id, limit)
        )
    return [_row(r) for r in rows]


async def checked_since(db: Database, since: datetime, limit: int = 100) -> list[Article]:
    """Checked articles fetched after ``since``, newest first: the ones worth checking again when
    posts they may quote were stored or translated after them."""
    rows = await db.fetchall(
        "SELECT * FROM articles WHERE status = 'checked' AND fetched_at >= ?"
        " ORDER BY id DESC LIMIT ?",
        (to_iso(since), limit),
    )
    return [_row(r) for r in rows]


async def fetched_since(db: Database, since: datetime) -> int:
    """Article pages fetched (or tried) since ``since``: the ARTICLES_PER_HOUR budget's use."""
    return int(await db.fetchval("SELECT count(*) FROM articles WHERE fetched_at >= ?",
                                 (to_iso(since),)) or 0)
