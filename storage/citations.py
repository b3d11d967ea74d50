"""Citations: candidate posts for an article (through FTS5, never a scan), and the citations found.

``candidates`` keeps the full-text query bounded whatever the size of the archive: it restricts FTS5
to the rowid range of the time window (ids grow with time), counts each term's posts there (capped),
and ORs only the rarest terms up to a budget of matching rows, so ranking never sees more than a few
thousand rows, ranked by the IDF of the terms they match. ``store`` writes each citation once
per (article, post) — a re-check keeps the best score — and, in the same transaction, one pending
``alerts`` row per chat for citations at or above the threshold (the outbox the sender drains).
"""

from __future__ import annotations

import bisect
import json
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from storage.db import Database, _configure
from storage.models import Citation, Post, from_iso, to_iso, utcnow
from storage.posts import _post

#: at most this many posts matched by the chosen terms (each is ranked)
MATCH_BUDGET = 4000
#: a term in more posts of the window than this cannot single a post out: it is not counted further
#: (counting stops there, which halves the cost of the counts) and never chosen
TERM_CAP = 1000
MAX_TERMS = 24
#: terms whose frequency is looked up (the most distinctive of the article, chosen by the caller)
MAX_LOOKUPS = 40


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


@dataclass
class _DaySpans:
    """Per UTC day, the smallest and largest post id dated that day (ids of posts up to ``upto``)."""

    upto: int = 0
    built: float = 0.0
    days: dict[str, tuple[int, int]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    #: term → id intervals (ordered) holding a tenth more than TERM_CAP of its posts: a window
    #: containing one is past the cap for the term, which is not counted again (forgotten with the
    #: spans, hourly or when the newest id goes down)
    past_cap: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


#: one per open database (or worker connection); rebuilt from scratch this often (ids of
#: hard-deleted rows can be reused)
_SPANS: weakref.WeakKeyDictionary[object, _DaySpans] = weakref.WeakKeyDictionary()
SPANS_TTL = 3600.0


def _day_spans(conn: sqlite3.Connection, db: object) -> _DaySpans:
    """Why not ``SELECT min(id), max(id) ... WHERE date BETWEEN``: the date index is ordered by date,
    so min/max of id visits every post of the window (8 ms at 1M posts). Day spans are built once
    from the covering date index, then extended with the posts stored since (``id > upto``, a rowid
    range), so a window costs one ``max(id)`` lookup and a dict walk."""
    spans = _SPANS.get(db)
    top = conn.execute("SELECT max(id) FROM posts").fetchone()[0] or 0
    if spans is None or top < spans.upto or time.monotonic() - spans.built > SPANS_TTL:
        spans = _DaySpans(built=time.monotonic())
        rows = conn.execute(
            "SELECT substr(date, 1, 10), min(id), max(id) FROM posts INDEXED BY posts_date GROUP BY 1"
        ).fetchall()
        _SPANS[db] = spans
    elif top > spans.upto:
        rows = conn.execute(
            "SELECT substr(date, 1, 10), min(id), max(id) FROM posts WHERE id > ? GROUP BY 1",
            (spans.upto,)).fetchall()
    else:
        return spans
    for day, lo, hi in rows:
        old = spans.days.get(day)
        spans.days[day] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    spans.order = sorted(spans.days)
    spans.upto = max(spans.upto, top)
    return spans


def _id_range(conn: sqlite3.Connection, db: object, since: datetime | None,
              until: datetime | None) -> tuple[int, int] | None:
    """Post ids stored inside the window (a superset: whole UTC days). Ids grow with time, so FTS5
    can skip by rowid to this range instead of walking whole doclists (a backfilled channel just
    widens it); callers still filter on the exact dates."""
    spans = _day_spans(conn, db)
    lo_day = (to_iso(since) or "")[:10]
    hi_day = (to_iso(until) or "9999")[:10]
    a = bisect.bisect_left(spans.order, lo_day)
    b = bisect.bisect_right(spans.order, hi_day)
    if a >= b:
        return None
    picked = [spans.days[d] for d in spans.order[a:b]]
    return min(p[0] for p in picked), max(p[1] for p in picked)


def term_frequencies(conn: sqlite3.Connection, terms: Sequence[str], id_range: tuple[int, int],
                     cap: int = TERM_CAP,
                     past_cap: dict[str, list[tuple[int, int]]] | None = None) -> dict[str, int]:
    """Posts per FTS term inside ``id_range``, counted up to ``cap`` (so a common word costs no
    more than a rare one; a count past it is ``cap + 1``). Terms as FTS5 stores them: lower-case,
    Latin diacritics removed.

    With ``past_cap`` (kept per connection), a term seen in ``cap + margin`` posts of an id
    interval inside ``id_range`` is past the cap here as well (a count can only grow with the
    range) and is not counted again: those common words were over half of the counting work. A
    count that goes past the cap continues to ``cap + margin`` (a tenth more) and remembers the
    interval from the range's start to that post; the margin keeps the shortcut true unless that
    many of those posts lose the word (edited or deleted) before the intervals are forgotten."""
    if not terms:
        return {}
    lo, hi = id_range
    sure = cap + max(1, cap // 10) if past_cap is not None else cap + 1
    out: dict[str, int] = {}
    todo = []
    for t in terms:
        known = past_cap.get(t) if past_cap else None
        if known:
            at = bisect.bisect_left(known, (lo, 0))  # the intervals starting in the range, first
            if any(b <= hi for _, b in known[at : at + _PAST_CAP_TRIED]):
                out[t] = cap + 1
                continue
        todo.append(t)
    if todo:
        one = ("SELECT ?, count(*), max(rowid) FROM (SELECT rowid FROM posts_fts WHERE posts_fts"
               " MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?)")
        params: list[object] = []
        for t in todo:
            params += [t, _quote(t), lo, hi, sure]
        for t, n, last in conn.execute(" UNION ALL ".join([one] * len(todo)), params).fetchall():
            out[t] = min(int(n), cap + 1)
            if past_cap is not None and n >= sure:
                known = past_cap.setdefault(t, [])
                bisect.insort(known, (lo, last))
                if len(known) > _PAST_CAP_INTERVALS:
                    del known[0]  # the oldest start
    return {t: out[t] for t in terms}


#: intervals kept per term (ordered by start), how many of them a window looks at (those that
#: start first in it), and terms per connection before starting over
_PAST_CAP_INTERVALS = 256
_PAST_CAP_TRIED = 4
_PAST_CAP_TERMS = 50_000


def pick_terms(freqs: dict[str, int], terms: Sequence[str], budget: int = MATCH_BUDGET,
               max_terms: int = MAX_TERMS, cap: int | None = None) -> list[str]:
    """The rarest terms that exist, while their documents add up to at most ``budget``; a term
    counted past ``cap`` is left out."""
    present = sorted((freqs[t], i, t) for i, t in enumerate(terms)
                     if freqs.get(t) and (cap is None or freqs[t] <= cap))
    out, total = [], 0
    for df, _, t in present:
        if total + df > budget or len(out) >= max_terms:
            break
        out.append(t)
        total += df
    return out


def _rank(conn: sqlite3.Connection, chosen: Sequence[str], freqs: dict[str, int],
                id_range: tuple[int, int], since: datetime | None, until: datetime | None,
                limit: int) -> list[int]:
    """The ``limit`` posts dated in the window matching the most IDF of the chosen terms (ties:
    newest first).

    Why not ``ORDER BY bm25()`` over the OR query: bm25 loads every term's position lists for every
    matching row (14 ms for 4000 rows at 1M posts); summing per-term IDF over the rowids alone takes
    ~2 ms and ranks the same posts first (a post quoting the article's rare names and numbers). The
    dates are checked only for the best few (the id range is a superset of the window); if too few
    of those are inside it (a backfilled channel), the whole ranking is checked."""
    n = id_range[1] - id_range[0] + 1
    one = "SELECT rowid AS id, ? AS w FROM posts_fts WHERE posts_fts MATCH ? AND rowid BETWEEN ? AND ?"
    params: list[object] = []
    for t in chosen:
        params += [math.log(1.0 + n / max(1, freqs[t])), _quote(t), *id_range]
    ranked = ("SELECT id, sum(w) AS s FROM (" + " UNION ALL ".join([one] * len(chosen)) + ")"
              " GROUP BY id ORDER BY s DESC, id DESC")
    window = [to_iso(since) or "", to_iso(until) or "9999", limit]
    for head in (4 * limit, -1):
        rows = conn.execute(
            f"SELECT g.id FROM ({ranked} LIMIT {head}) g JOIN posts p ON p.id = g.id"
            " WHERE p.date >= ? AND p.date <= ? ORDER BY g.s DESC, g.id DESC LIMIT ?",
            params + window).fetchall()
        if len(rows) >= limit or head < 0:
            break
        total = conn.execute(f"SELECT count(*) FROM ({ranked})", params).fetchone()[0]
        if total <= head:
            break
    return [r[0] for r in rows]


async def candidates(
    db: Database,
    fts_terms: Sequence[str],
    refs: Iterable[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    limit: int = 50,
) -> list[Post]:
    """Posts an article may cite: the best matches of its rare terms inside the time window,
    plus every post it references by (channel, message_id) whatever its date. All statements run
    in one hop to the reader thread (each awaited statement costs a hop)."""
    terms, pairs = _clean(fts_terms, refs)
    return await db.read(_candidates, db, terms, pairs, since, until, max(1, limit))


class _WorkerConn:
    """A worker's own read-only connection to one database file, and the key its day spans are
    cached under (a ``sqlite3.Connection`` cannot be weakly referenced)."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        _configure(self.conn)
        self.conn.execute("PRAGMA query_only = ON")
        # reads through the OS page cache, shared by all workers, instead of copying each page into
        # a private cache: the FTS5 work of an article drops from ~8 to ~6 ms at 1M posts
        self.conn.execute(f"PRAGMA mmap_size = {WORKER_MMAP}")
        self.conn.row_factory = sqlite3.Row


_LOCAL = threading.local()
#: bytes of the file a worker maps (SQLite clamps it to its compile-time maximum, 2 GB by default)
WORKER_MMAP = 1 << 31


def _worker_conn(path: str) -> _WorkerConn:
    """This thread's connection to ``path``, opened once: a pool worker keeps it (and its day
    spans and page cache) from article to article."""
    conns: dict[str, _WorkerConn] = _LOCAL.__dict__.setdefault("conns", {})
    wc = conns.get(path)
    if wc is None:
        wc = conns[path] = _WorkerConn(path)
    return wc


def open_worker(path: str) -> None:
    """Open this worker's connection and build its day spans (~0.5 s at 1M posts) before the first
    article: a ``ProcessPoolExecutor(initializer=open_worker, initargs=(path,))`` (the citation
    pipeline's ``bot.cite.pipeline.init_worker`` calls it and also tunes the worker)."""
    wc = _worker_conn(path)
    _day_spans(wc.conn, wc)


def candidates_at(
    path: str,
    fts_terms: Sequence[str],
    refs: Iterable[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    limit: int = 50,
) -> tuple[list[sqlite3.Row], dict[str, list[str]]]:
    """``candidates`` and ``channel_aliases``, synchronously, on this thread's own read-only
    connection to the database file at ``path``. For a process pool worker: the FTS5 work of one
    article then runs on another core than the event loop and the other workers (WAL readers do not
    block each other, nor the single writer).

    Returns the posts as rows (``id``, ``username``, ``message_id``, ``date``, ``text``,
    ``translation`` and the rest of a post): the detector needs six fields of the ~50 candidates,
    and only the few it names become ``Post`` objects (``post_of``), which parses each post's
    JSON columns and dates."""
    wc = _worker_conn(path)
    terms, pairs = _clean(fts_terms, refs)
    found = _candidate_rows(wc.conn, wc, terms, pairs, since, until, max(1, limit))
    return found, _aliases(wc.conn.execute(_ALIASES).fetchall())


def post_of(row: sqlite3.Row) -> Post:
    """A ``Post`` from a row of ``candidates_at``."""
    return _post(row)


def _clean(fts_terms: Sequence[str], refs: Iterable[tuple[str, int]],
           ) -> tuple[list[str], list[tuple[str, int]]]:
    terms = list(dict.fromkeys(t.lower() for t in fts_terms if t and t.strip()))[:MAX_LOOKUPS]
    return terms, list(dict.fromkeys((c.lower(), int(m)) for c, m in refs))


def _candidates(conn: sqlite3.Connection, db: object, terms: list[str],
                pairs: list[tuple[str, int]], since: datetime | None, until: datetime | None,
                limit: int) -> list[Post]:
    return [_post(r) for r in _candidate_rows(conn, db, terms, pairs, since, until, limit)]


def _candidate_rows(conn: sqlite3.Connection, db: object, terms: list[str],
                    pairs: list[tuple[str, int]], since: datetime | None, until: datetime | None,
                    limit: int) -> list[Any]:
    ids: list[int] = []
    id_range = _id_range(conn, db, since, until) if terms else None
    past_cap = _SPANS[db].past_cap if id_range else None
    if past_cap is not None and len(past_cap) > _PAST_CAP_TERMS:
        past_cap.clear()
    freqs = term_frequencies(conn, terms, id_range, past_cap=past_cap) if id_range else {}
    chosen = pick_terms(freqs, terms, cap=TERM_CAP)
    if id_range and chosen:
        ids.extend(_rank(conn, chosen, freqs, id_range, since, until, limit))
    if pairs:
        cond = " OR ".join("(c.username = ? AND p.message_id = ?)" for _ in pairs)
        rows = conn.execute(
            "SELECT p.id FROM posts p JOIN channels c ON c.id = p.channel_id WHERE " + cond,
            [x for pair in pairs for x in pair],
        ).fetchall()
        ids.extend(r[0] for r in rows)
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return conn.execute(_LOAD.format(marks=marks), ids + ids).fetchall()


#: posts with their latest translation, joined once (not two correlated subqueries per row);
#: ``max(t.id)`` makes SQLite take the other columns from that same row. Not ``raw``: the whole
#: Telegram message as JSON, parsed for nothing on every candidate
_LOAD = """
SELECT p.id, p.message_id, p.date, p.text, p.lang, p.views, p.forwards, p.reply_to, p.grouped_id,
       p.fwd_from, p.media_kind, p.media, p.links, p.edit_date, p.deleted_at, p.source,
       c.username, t.text AS translation, t.lang AS translation_lang
FROM posts p JOIN channels c ON c.id = p.channel_id
LEFT JOIN (SELECT post_id, text, lang, max(id) FROM translations WHERE post_id IN ({marks})
           GROUP BY post_id) t ON t.post_id = p.id
WHERE p.id IN ({marks})
"""


async def channel_aliases(db: Database) -> dict[str, list[str]]:
    """Aliases stored per channel (lower-cased username → names), only channels that have some.
    One small query (``channels.list_all`` also counts every channel's posts)."""
    return _aliases(await db.fetchall(_ALIASES))


_ALIASES = "SELECT username, aliases FROM channels WHERE aliases NOT IN ('', '[]')"


def _aliases(rows: Iterable[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for username, raw in rows:
        try:
            names = json.loads(raw)
        except ValueError:
            continue
        if isinstance(names, list) and (clean := [n for n in names if isinstance(n, str) and n]):
            out[username.lower()] = clean
    return out


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


_LIST = """
SELECT ci.id, ci.article_id, ci.post_id, ci.score, ci.evidence, ci.created_at,
       c.username, p.message_id, a.url, a.title
FROM citations ci
JOIN posts p ON p.id = ci.post_id
JOIN channels c ON c.id = p.channel_id
JOIN articles a ON a.id = ci.article_id
"""


def _citation(r: Any) -> Citation:
    return Citation(
        id=r[0], article_id=r[1], post_id=r[2], score=float(r[3]), evidence=json.loads(r[4]),
        created_at=from_iso(r[5]), channel=r[6], message_id=r[7], article_url=r[8],
        article_title=r[9],
    )


async def list_recent(db: Database, since: datetime | None = None, limit: int = 50,
                      min_score: float = 0.0) -> list[Citation]:
    """Newest first."""
    rows = await db.fetchall(
        _LIST + " WHERE ci.created_at >= ? AND ci.score >= ? ORDER BY ci.created_at DESC, ci.id DESC"
        " LIMIT ?",
        (to_iso(since) or "", min_score, max(1, limit)),
    )
    return [_citation(r) for r in rows]


async def for_post(db: Database, post_id: int) -> list[Citation]:
    """Every article that cites one post, best first."""
    rows = await db.fetchall(_LIST + " WHERE ci.post_id = ? ORDER BY ci.score DESC, ci.id",
                             (post_id,))
    return [_citation(r) for r in rows]


async def for_article(db: Database, article_id: int) -> list[Citation]:
    rows = await db.fetchall(_LIST + " WHERE ci.article_id = ? ORDER BY ci.score DESC, ci.id",
                             (article_id,))
    return [_citation(r) for r in rows]
