"""Full-text search over posts and translations: best matches first, at a cost that depends on the
answer, not on the size of the archive.

Why not plain ``ORDER BY rank``: FTS5's bm25 reads the position list of every matching post, and
for each phrase it scans that phrase's whole posting list to compute its IDF — so a query with one
common word cost O(posts containing it) (2 s for "the" over 1M posts), even with LIMIT and even
when ANDed with a rare word. A search therefore runs in these steps (``run``):

0. **Window.** ``--since``/``--until`` become a rowid range first (``retrieval.id_range``: per-day
   id spans, cached per database), and every later step works inside it. A common prefix
   (its completions in ``RARE_CAP`` posts or more, by the ``search_terms`` snapshot that
   ``storage.maintenance`` refreshes) becomes its ``PREFIX_TERMS`` most frequent completions
   (``cap_prefixes``): FTS5 would merge the posting lists of every completion before the first row.
1. **Probe** each word of the query as typed (and each normal form, explicit prefix) with a
   capped count of the retrieval engine (``retrieval.count_capped``) — reading at most ``RARE_CAP``
   entries of its posting list inside the window; a phrase is as rare as its rarest word at most.
2. **Rank by the rare parts.** Parts found in fewer than ``RARE_CAP`` posts are the informative
   ones; matches of the full query are ranked by bm25 of the AND of the rare parts only (ties:
   newest first), so ranking touches at most ~``RARE_CAP`` posts.
3. **Newest first when nothing is rare** (score 0.0): bm25 would barely separate the matches and
   cost a pass over all of them. FTS5 streams matches ``ORDER BY rowid DESC``, but a phrase of
   common words, or common words that rarely meet, would be checked on every post holding them;
   so the walk goes down in slices, each holding the next ``WALK_CAP`` (doubling) posts of the
   query's rarest part (``FtsQuery`` term ``cover``), for at most ``WALK_ROUNDS`` slices.

Two searches are *capped* (``Found.capped``, ``SearchHit.capped``, said by the CLI and the chat):
a prefix looked up by its most frequent completions, and a walk that ran out of slices before
``limit`` rows (older matches may exist).

README: *A search ranks by its rarest words; a search made only of very common words (found in
more than 2,000 posts each) lists the most recent matches first instead.*

A bare word is looked up as written and by its normal forms (``storage.fts_query``); bm25 weighs
a written form four times a normal form (``BM25``), so posts with the form typed come first.

Snippets are built with the full expression, so every term is highlighted, and only for the rows
returned. bench/search_reference.py checks every kind of query against a brute-force search.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from storage import retrieval, search_index, wordforms
from storage.db import Database
from storage.fold import unfold_snippet
from storage.fts_query import FtsQuery, Group, parse
from storage.models import HL_END, HL_START, SearchHit, from_iso, to_iso
from storage.retrieval import quote

#: A part found in at least this many posts is "common": left out of ranking.
RARE_CAP = 2_000
#: a common prefix is looked up by this many of its most frequent completions
PREFIX_TERMS = 12
#: a newest-first walk looks at the next this-many (doubling) posts of the query's rarest part per
#: round, for at most WALK_ROUNDS rounds (then the search says it was capped)
WALK_CAP = 256
WALK_ROUNDS = 5
_MAX_ID = 2**63 - 1
#: what the CLI and the chat say about a capped search (``Found``)
CAPPED_NOTE = ("a common prefix was looked up by its most frequent completions, or only the "
               "newest part of the archive was searched: other matches may exist")
#: bm25 with the columns' weights (text, translation, words): written forms over normal forms
BM25 = "bm25(posts_fts, 1.0, 1.0, 0.25)"

_SNIPPETS = (f"snippet(posts_fts, 0, '{HL_START}', '{HL_END}', '…', 16), "
             f"snippet(posts_fts, 1, '{HL_START}', '{HL_END}', '…', 16)")

# Rare path. `m` (what the whole query matches) is materialised once: an `IN (subquery)` on the
# virtual table's rowid made SQLite re-run the MATCH per value (seconds). Decoration looks the top
# rows up one by one (`rowid = ?`), except for prefix queries: each lookup would re-merge the
# prefix's posting lists (430 ms for 20 rows of a common prefix), so those scan the top rows'
# rowid range with one cursor instead (a full pass for phrases of common words, hence not always).
# CROSS JOIN: the top rows drive the lookups (left to the planner, it scanned every match, or
# every post: 200 ms at 100k posts).
_DECO_ROWS = """
    FROM top CROSS JOIN posts_fts ON posts_fts.rowid = top.id AND posts_fts MATCH :match"""
_DECO_RANGE = """
    FROM posts_fts
    WHERE posts_fts MATCH :match
      AND posts_fts.rowid BETWEEN (SELECT min(id) FROM top) AND (SELECT max(id) FROM top)
      AND +posts_fts.rowid IN (SELECT id FROM top)"""
# Both plans end alike: snippets for the rows of `top` only, then the rows joined in that order.
_DECORATED = f""", deco AS MATERIALIZED (
    SELECT posts_fts.rowid AS id, {_SNIPPETS}
    {{deco}}
)
SELECT p.id, c.username, p.message_id, p.date, p.deleted_at, top.score, deco.*, p.text
FROM top
CROSS JOIN posts p ON p.id = top.id
CROSS JOIN channels c ON c.id = p.channel_id
CROSS JOIN deco ON deco.id = top.id
"""
_RANKED = f"""
WITH {{m}}top AS MATERIALIZED (
    SELECT posts_fts.rowid AS id, {BM25} AS score
    FROM posts_fts {{join}}
    WHERE posts_fts MATCH :rank AND posts_fts.rowid BETWEEN :lo AND :hi {{in_m}} {{filters}}
    ORDER BY score, posts_fts.rowid DESC LIMIT :limit
){_DECORATED}ORDER BY top.score, p.id DESC
"""

# Common path, one slice of the rowid range: the matches in the slice, read in FTS5's ascending
# order (FTS5 seeks to the slice's start; asked for `ORDER BY rowid DESC` with a rowid range it
# walked a phrase's lists from the end: 63 ms for one slice of "there need" at 3M, 0.5 ms
# ascending), then the newest `:limit` of them that pass the filters; snippets for those only.
_NEWEST = f"""
WITH hits AS MATERIALIZED (
    SELECT posts_fts.rowid AS id
    FROM posts_fts {{join}}
    WHERE posts_fts MATCH :match AND posts_fts.rowid BETWEEN :lo AND :hi {{filters}}
), top AS MATERIALIZED (
    SELECT id, 0.0 AS score FROM hits ORDER BY id DESC LIMIT :limit
){_DECORATED}ORDER BY p.id DESC
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


@dataclass
class Found:
    """The rows of one search, and whether it was capped: a common prefix looked up by its
    ``PREFIX_TERMS`` most frequent completions only, or a newest-first walk that stopped after
    ``WALK_ROUNDS`` rounds with fewer than ``limit`` rows (older matches may exist)."""

    rows: list[Any]
    capped: bool = False
    #: the expression the rows were ranked by (bm25), None when listed newest first
    rank: str | None = None


def _filters(channel: str | None, since: datetime | None, until: datetime | None,
             params: dict[str, Any]) -> str:
    filters: list[str] = []
    if channel:
        filters.append("AND p.channel_id = (SELECT id FROM channels WHERE username = :channel)")
        params["channel"] = channel
    if since:
        filters.append("AND p.date >= :since")
        params["since"] = to_iso(since)
    if until:
        filters.append("AND p.date < :until")
        params["until"] = to_iso(until)
    return " ".join(filters)


def build_sql(
    p: Plan,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    window: tuple[int, int] = (0, _MAX_ID),
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of one planned search inside the rowid ``window`` (a newest-first
    search walks its rowids from the top down; ``run`` gives it one slice at a time)."""
    params: dict[str, Any] = {"match": p.match, "limit": max(1, limit), "lo": window[0],
                              "hi": window[1]}
    where = _filters(channel, since, until, params)
    # CROSS JOIN keeps the index the outer loop (SQLite may otherwise walk the posts of a date
    # range and look each up in the index)
    join = "CROSS JOIN posts p ON p.id = posts_fts.rowid" if where else ""
    deco = _DECO_RANGE if "*" in p.match else _DECO_ROWS
    if p.rank is None:
        return _NEWEST.format(join=join, filters=where, deco=deco), params
    params["rank"] = p.rank
    same = p.rank == p.match
    sql = _RANKED.format(
        m="" if same else
        "m AS MATERIALIZED (SELECT rowid AS id FROM posts_fts WHERE posts_fts MATCH :match"
        " AND rowid BETWEEN :lo AND :hi), ",
        in_m="" if same else "AND +posts_fts.rowid IN m",
        deco=deco,
        join=join,
        filters=where,
    )
    return sql, params


def _completions(conn: sqlite3.Connection, prefix: str) -> list[tuple[str, int]]:
    """The frequent index terms starting with ``prefix`` (``search_terms``), most frequent first."""
    return conn.execute(
        "SELECT term, docs FROM search_terms WHERE term >= ? AND term < ? ORDER BY docs DESC, term",
        (prefix, prefix + "\U0010ffff")).fetchall()


def cap_prefixes(conn: sqlite3.Connection, q: FtsQuery) -> tuple[FtsQuery, bool]:
    """``q`` with each common one-word prefix (its completions in ``RARE_CAP`` posts or more, by
    the ``search_terms`` snapshot) replaced by its ``PREFIX_TERMS`` most frequent completions,
    and whether any was. FTS5 merges the posting lists of every completion of a prefix before
    the first row (10-30 ms for a common stem at 1M posts); a handful of whole terms is read like
    any word. Exclusions keep the whole prefix (excluding less would add wrong results); with no
    snapshot yet (a new database) prefixes stay whole."""
    capped = False
    groups = []
    for g in q.positives:
        terms = []
        for t in g.terms:
            if t.prefix and len(t.words) == 1 and not t.any_of:
                folded = search_index.terms(t.words[0])
                got = _completions(conn, folded[0]) if len(folded) == 1 else []
                if got and sum(n for _, n in got) >= RARE_CAP:
                    t = replace(t, any_of=tuple(term for term, _ in got[:PREFIX_TERMS]))
                    capped = True
            terms.append(t)
        groups.append(Group(tuple(terms)))
    return (FtsQuery(tuple(groups), q.negatives), capped) if capped else (q, False)


def _floor(conn: sqlite3.Connection, probes: list[str], lo: int, hi: int, n: int) -> int:
    """The lowest rowid among the ``n`` newest posts (in ``lo..hi``) of each probe, the highest
    of those over the probes: ``floor..hi`` holds at least the ``n`` newest posts matching any of
    them (``lo`` when a probe has fewer)."""
    one = ("SELECT coalesce((SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? AND rowid"
           " BETWEEN ? AND ? ORDER BY rowid DESC LIMIT 1 OFFSET ?), ?) AS x")
    params: list[object] = []
    for p in probes:
        params += [p, lo, hi, n - 1, lo]
    got = conn.execute("SELECT max(x) FROM (" + " UNION ALL ".join([one] * len(probes)) + ")",
                       params).fetchone()[0]
    return max(lo, int(got))


def _newest(conn: sqlite3.Connection, q: FtsQuery, n: dict[str, int], p: Plan,
            window: tuple[int, int], limit: int, **filters: Any) -> Found:
    """Newest matches first, walking down from the top of the window in slices that each hold
    the next ``WALK_CAP`` (doubling) posts of the query's rarest part (``cover``): a phrase of
    common words or words that rarely meet cost what those posts cost, not a pass over the archive."""
    g = min(q.positives, key=lambda g: sum(t.bound(n) for t in g.terms))
    cover = list(dict.fromkeys(c for t in g.terms for c in t.cover(n)))
    lo, hi = window
    rows: list[Any] = []
    budget = WALK_CAP
    for _ in range(WALK_ROUNDS):
        floor = _floor(conn, cover, lo, hi, budget)
        sql, params = build_sql(p, limit=limit - len(rows), window=(floor, hi), **filters)
        rows += conn.execute(sql, params).fetchall()
        if len(rows) >= limit or floor <= lo:
            return Found(rows)
        hi, budget = floor - 1, budget * 2
    return Found(rows, capped=True)


def run(
    conn: sqlite3.Connection,
    text: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    key: object | None = None,
) -> Found:
    """Window, probe, plan and search on one connection: the rows behind ``query`` (the benchmark
    runs this on a raw sqlite3 connection, so both sides execute identical statements). ``key``:
    what the day spans of the date filters are cached under (``retrieval.id_range``)."""
    q, capped = cap_prefixes(conn, parse(text))
    window = (0, _MAX_ID)
    if since or until:
        got = retrieval.id_range(conn, key if key is not None else _SpansKey(), since, until)
        if got is None:
            return Found([], capped)
        window = got
    probes = q.probes()
    # a capped prefix's completions are common by construction (the snapshot counted them):
    # counting a dozen of them again would read RARE_CAP entries of each
    common = {quote(c) for g in q.positives for t in g.terms for c in t.any_of}
    todo = [x for x in probes if x not in common]
    got = dict(zip(todo, (c for c, _ in retrieval.count_capped(conn, todo, RARE_CAP, window)),
                   strict=True))
    counts = [got.get(x, RARE_CAP) for x in probes]
    if window != (0, _MAX_ID) and todo:
        # rank only by parts rare in the whole archive: bm25 counts each ranked part's posts over
        # the whole index (a word rare in the window but in 500k posts overall: 70 ms at 3M)
        every = dict(zip(todo, (c for c, _ in retrieval.count_capped(conn, todo, RARE_CAP)),
                         strict=True))
        p = plan(q, [every.get(x, RARE_CAP) for x in probes])
    else:
        p = plan(q, counts)
    filters = {"channel": channel, "since": since, "until": until}
    if p.rank is None:
        found = _newest(conn, q, dict(zip(probes, counts, strict=True)), p, window, max(1, limit),
                        **filters)
        found.capped = found.capped or capped
        return found
    sql, params = build_sql(p, limit=limit, window=window, **filters)
    return Found(conn.execute(sql, params).fetchall(), capped, p.rank)


class _SpansKey:
    """A cache key for one call's day spans (a plain sqlite3 connection cannot be one)."""


async def query(
    db: Database,
    text: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Search. Raises ``QueryError`` (one line) for a query with nothing to search. Each hit
    says whether the search was capped (``SearchHit.capped``, see ``Found``)."""
    # probe + search in one hop to the reader's thread (two awaited statements cost ~2 ms more)
    found = await db.read(run, text, channel=channel, since=since, until=until, limit=limit,
                          key=db)
    rows = found.rows
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
            capped=found.capped,
        )
        for r in rows
    ]


_MARKS = re.compile(f"([{HL_START}{HL_END}])")


def mark_forms(snippet: str, want: frozenset[str]) -> str:
    """Highlight, in an FTS5 snippet, the words that matched by one of their other forms (FTS5
    marks only what the written columns matched: the form typed, not "України" for "Україна").

    Only words beginning with the first two letters of a wanted form are looked up (a word's
    forms share their start; suppletive ones such as "люди"/"человек" stay unmarked): a
    dictionary lookup costs ~0.3 ms per new word, and a CLI search is a new process."""
    if not want or not snippet:
        return snippet
    candidates = _starting_like(want)

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
            out.append(part if inside else candidates.sub(one, part))
    return "".join(out)


@lru_cache(maxsize=256)
def _starting_like(want: frozenset[str]) -> re.Pattern[str]:
    """Whole words (as ``wordforms.WORD`` cuts them) that begin with the first two letters of one
    of ``want`` (ё or е alike, any case): the only ones worth a dictionary lookup."""
    starts = sorted({re.escape(f[:2]).replace("е", "[её]") for f in want if f})
    if not starts:
        return re.compile(r"(?!)")
    # the start, then the rest of the word as wordforms.WORD cuts it (apostrophes inside)
    return re.compile(r"(?<![^\W_])(?:" + "|".join(starts) + r")[^\W_]*(?:['’ʼ`][^\W_]+)*",
                      re.IGNORECASE)
