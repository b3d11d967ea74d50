"""Full-text search over posts and translations, best matches first (bm25 of the informative terms).

Why not plain ``ORDER BY rank``: FTS5's bm25 reads the position list of every matching post, and
for each phrase it scans that phrase's whole posting list to compute its IDF — so a query with one
common word cost O(posts containing it) (2 s for "the" over 1M posts), even with LIMIT and even
when ANDed with a rare word. A search therefore runs in three steps:

1. **Probe** each word of the query as typed (and each explicit prefix) with a capped count of the
   retrieval engine (``storage.retrieval.count_capped``) — reading at most ``RARE_CAP`` entries
   of its posting list, never a whole list; a phrase is as rare as its rarest word at most.
2. **Rank by the rare parts.** Parts found in fewer than ``RARE_CAP`` posts are the informative
   ones; common parts carry little IDF in bm25 anyway. Matches of the full query are ranked by
   bm25 of the AND of the rare parts only, so ranking touches at most ~``RARE_CAP`` posts.
3. **Newest first when nothing is rare.** If every part is common (e.g. ``ukraine army``), bm25
   would barely separate the matches and would cost a pass over all of them, so the results are the
   most recently stored matches first (score 0.0); FTS5 streams them with ``ORDER BY rowid DESC``.

README: *A search ranks by its rarest words; a search made only of very common words (found in
more than 2,000 posts each) lists the most recent matches first instead.*

A bare word is looked up as written and by its normal forms (``storage.fts_query``); bm25 weighs
a written form four times a normal form (``BM25``), so posts with the form typed come first.

Snippets are built with the full expression, so every term is highlighted, and only for the rows
returned.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import retrieval, wordforms
from storage.db import Database
from storage.fold import unfold_snippet
from storage.fts_query import FtsQuery, parse
from storage.models import HL_END, HL_START, SearchHit, from_iso, to_iso

#: A part found in at least this many posts is "common": left out of ranking.
RARE_CAP = 2_000
#: Date filters matching fewer posts than this bound the newest-first walk by rowid.
DATE_CAP = 20_000
#: bm25 with the columns' weights (text, translation, words): written forms over normal forms
BM25 = "bm25(posts_fts, 1.0, 1.0, 0.25)"

_SNIPPETS = (f"snippet(posts_fts, 0, '{HL_START}', '{HL_END}', '…', 16), "
             f"snippet(posts_fts, 1, '{HL_START}', '{HL_END}', '…', 16)")

# Rare path. `m` (what the whole query matches) is materialised once: an `IN (subquery)` on the
# virtual table's rowid made SQLite re-run the MATCH per value (seconds). Decoration looks the top
# rows up one by one (`rowid = ?`), except for prefix queries: each lookup would re-merge the
# prefix's posting lists (430 ms for 20 rows of a common prefix), so those scan the top rows'
# rowid range with one cursor instead (a full pass for phrases of common words, hence not always).
_DECO_ROWS = """
    FROM top JOIN posts_fts ON posts_fts.rowid = top.id AND posts_fts MATCH :match"""
_DECO_RANGE = """
    FROM posts_fts
    WHERE posts_fts MATCH :match
      AND posts_fts.rowid BETWEEN (SELECT min(id) FROM top) AND (SELECT max(id) FROM top)
      AND +posts_fts.rowid IN (SELECT id FROM top)"""
_RANKED = f"""
WITH {{m}}top AS MATERIALIZED (
    SELECT posts_fts.rowid AS id, {BM25} AS score
    FROM posts_fts {{join}}
    WHERE posts_fts MATCH :rank {{in_m}} {{filters}}
    ORDER BY score LIMIT :limit
), deco AS MATERIALIZED (
    SELECT posts_fts.rowid AS id, {_SNIPPETS}
    {{deco}}
)
SELECT p.id, c.username, p.message_id, p.date, p.deleted_at, top.score, deco.*, p.text
FROM top
JOIN deco ON deco.id = top.id
JOIN posts p ON p.id = top.id
JOIN channels c ON c.id = p.channel_id
ORDER BY top.score, p.id
"""

# Common path: FTS5 walks the matches newest first and stops after :limit rows that pass the
# filters; snippets are computed for the returned rows only. A date filter that few posts pass
# would make that walk read every match, so the walk is bounded by the rowid range of the posts in
# the date range when there are fewer than DATE_CAP of them (read from the date index; exact, as
# the bound is computed from the posts themselves, not assumed from id order).
_NEWEST = f"""
SELECT p.id, c.username, p.message_id, p.date, p.deleted_at, 0.0, posts_fts.rowid, {_SNIPPETS},
       p.text
FROM posts_fts
JOIN posts p ON p.id = posts_fts.rowid
JOIN channels c ON c.id = p.channel_id
WHERE posts_fts MATCH :match {{bounds}} {{filters}}
ORDER BY posts_fts.rowid DESC
LIMIT :limit
"""


@dataclass(frozen=True)
class Plan:
    """How one query runs: the expression that decides matches and the one that ranks (or None)."""

    match: str
    rank: str | None


def plan(q: FtsQuery, counts: list[int]) -> Plan:
    """Choose the match and rank expressions from the probe counts (see module docstring).

    A part's frequency is bounded from above — a phrase by its rarest word, an OR group by the
    sum of its terms — so a phrase made only of common words counts as common (listed newest
    first when nothing else is rare: ranking it would cost evaluating the phrase everywhere)."""
    n = dict(zip(q.probes(), counts, strict=True))
    match = q.expression()
    rare = [i for i, g in enumerate(q.positives) if sum(t.bound(n) for t in g.terms) < RARE_CAP]
    if not rare:
        return Plan(match, None)
    return Plan(match, q.expression(only=rare, negate=False))


def build_sql(
    p: Plan,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of one planned search (the benchmark runs them raw)."""
    filters: list[str] = []
    params: dict[str, Any] = {"match": p.match, "limit": max(1, limit)}
    if channel:
        filters.append("AND p.channel_id = (SELECT id FROM channels WHERE username = :channel)")
        params["channel"] = channel
    if since:
        filters.append("AND p.date >= :since")
        params["since"] = to_iso(since)
    if until:
        filters.append("AND p.date < :until")
        params["until"] = to_iso(until)
    where = " ".join(filters)
    if p.rank is None:
        bounds = ""
        if since or until:
            params["date_cap"] = DATE_CAP
            dates = " AND ".join(x for x, on in (("date >= :since", since), ("date < :until", until))
                                 if on)
            box = (f"(SELECT {{}} FROM (SELECT id FROM posts INDEXED BY posts_date WHERE {dates} "
                   "LIMIT :date_cap) HAVING count(*) < :date_cap)")
            # NULL (no bound) when the range holds DATE_CAP posts or more; empty when none
            bounds = (f"AND posts_fts.rowid >= coalesce({box.format('coalesce(min(id), 1)')}, 0) "
                      f"AND posts_fts.rowid <= coalesce({box.format('coalesce(max(id), 0)')}, "
                      f"{2**63 - 1})")
        return _NEWEST.format(bounds=bounds, filters=where), params
    params["rank"] = p.rank
    same = p.rank == p.match
    sql = _RANKED.format(
        m="" if same else
        "m AS MATERIALIZED (SELECT rowid AS id FROM posts_fts WHERE posts_fts MATCH :match), ",
        in_m="" if same else "AND +posts_fts.rowid IN m",
        deco=_DECO_RANGE if "*" in p.match else _DECO_ROWS,
        join="JOIN posts p ON p.id = posts_fts.rowid" if filters else "",
        filters=where,
    )
    return sql, params


def run(
    conn: sqlite3.Connection,
    text: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[Any]:
    """Probe, plan and search on one connection: the rows behind ``query`` (the benchmark runs
    this on a raw sqlite3 connection, so both sides execute identical statements)."""
    q = parse(text)
    counts = [n for n, _ in retrieval.count_capped(conn, q.probes(), RARE_CAP)]
    sql, params = build_sql(plan(q, counts), channel=channel, since=since, until=until, limit=limit)
    return conn.execute(sql, params).fetchall()


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
    # probe + search in one hop to the reader's thread (two awaited statements cost ~2 ms more)
    rows = await db.read(run, text, channel=channel, since=since, until=until, limit=limit)
    want = parse(text).normal_forms() if rows else frozenset()
    return [
        SearchHit(
            post_id=r[0],
            channel=r[1],
            message_id=r[2],
            date=from_iso(r[3]),  # type: ignore[arg-type]
            deleted=r[4] is not None,
            score=0.0 - float(r[5]),
            text_snippet=mark_forms(unfold_snippet(r[7] or "", r[9] or ""), want),  # ё as е
            translation_snippet=mark_forms(r[8] or "", want),
        )
        for r in rows
    ]


_MARKS = re.compile(f"([{HL_START}{HL_END}])")


def mark_forms(snippet: str, want: frozenset[str]) -> str:
    """Highlight, in an FTS5 snippet, the words that matched by one of their other forms (FTS5
    marks only what the written columns matched: the form typed, not "України" for "Україна")."""
    if not want or not snippet:
        return snippet

    def one(m: re.Match[str]) -> str:
        w = m.group(0)
        return f"{HL_START}{w}{HL_END}" if want.intersection(wordforms.forms(w)) else w

    out: list[str] = []
    inside = False
    for part in _MARKS.split(snippet):
        if part in (HL_START, HL_END):
            inside = part == HL_START
            out.append(part)
        else:
            out.append(part if inside else wordforms.WORD.sub(one, part))
    return "".join(out)
