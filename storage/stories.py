"""Stories: the copies of one article. ``articles.story_id`` is the id of the story's first stored
article; ``article_sketch`` holds each article's near-duplicate sketch (bot/news/stories.py), and
its index on the hash is the lookup of stored texts that may be copies.

A trigger (migration 2) lets an alert through only once per (story, post, chat): a later copy's
citations are stored, but do not alert again."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from storage.articles import _row
from storage.db import Database
from storage.models import Article

#: Stored texts compared per new article (the ones sharing the most smallest hashes).
MAX_CANDIDATES = 20


async def attach(
    db: Database,
    article_id: int,
    sketch: Sequence[int],
    same_story: Callable[[Sequence[int], Sequence[int]], bool],
    *,
    min_shared: int,
) -> int:
    """Put the article into the story of a stored copy (``same_story`` decides), else found a new
    one; returns its story id. One transaction, so two copies stored at once cannot both found."""
    hashes = list(dict.fromkeys(sketch))
    async with db.transaction() as conn:
        async with conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise ValueError(f"no article {article_id}")
        story = row[0]
        if hashes and story is None:
            marks = ",".join("?" * len(hashes))
            async with conn.execute(
                f"SELECT s.article_id, count(*) AS n, a.story_id FROM article_sketch s"
                f" JOIN articles a ON a.id = s.article_id"
                f" WHERE s.hash IN ({marks}) AND s.article_id != ?"
                f" GROUP BY s.article_id HAVING n >= ? ORDER BY n DESC, s.article_id LIMIT ?",
                [*hashes, article_id, min_shared, MAX_CANDIDATES],
            ) as cur:
                candidates = list(await cur.fetchall())
            for cand_id, _n, cand_story in candidates:
                async with conn.execute("SELECT hash FROM article_sketch WHERE article_id = ?",
                                        (cand_id,)) as cur:
                    other = [r[0] for r in await cur.fetchall()]
                if same_story(hashes, other):
                    story = cand_story or cand_id
                    break
        if story is None:
            story = article_id
        await conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story, article_id))
        await conn.executemany(
            "INSERT INTO article_sketch (hash, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(h, article_id) for h in hashes],
        )
    return int(story)


async def members(db: Database, story_id: int) -> list[Article]:
    """Every stored copy of a story, the first published first (then the first stored)."""
    rows = await db.fetchall(
        "SELECT * FROM articles WHERE story_id = ? AND status != 'error'"
        " ORDER BY coalesce(published, fetched_at), id",
        (story_id,),
    )
    return [_row(r) for r in rows]


async def story_of(db: Database, article_id: int) -> int | None:
    return await db.fetchval("SELECT story_id FROM articles WHERE id = ?", (article_id,))
