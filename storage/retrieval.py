"""The one retrieval engine over ``posts_fts``: capped term probes and rare-term ranking.

Both full-text consumers stand on it: ``storage.search`` (user queries) probes each word of a query
with ``count_capped`` to tell rare parts from common ones, and ``storage.candidates`` (posts an
article may cite) counts its terms inside a time window, keeps the rarest (``pick_terms``) and ranks
posts by the IDF they match (``rank_by_idf``); ``ranked_ids`` is that whole windowed path.

Why capped: FTS5 has no document frequencies, and counting a common word's posts means walking
its whole posting list (seconds at 1M posts). A count that stops after ``limit`` entries reads only
the head of the list, so a common word costs no more than a rare one — and a common word is never
what singles a post out.

Windows: post ids grow with time, so a time window becomes a rowid range (``id_range``) that FTS5
can skip to instead of walking whole doclists. The per-day id spans behind it are cached per
database (or worker connection) in ``DaySpans``, with the intervals where a term is known to be
past the cap (``term_frequencies``).
"""

from __future__ import annotations

import bisect
import itertools
import math
import sqlite3
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from storage.models import to_iso

#: at most this many posts matched by the chosen terms (each is ranked)
MATCH_BUDGET = 4000
#: a term in more posts of the window than this cannot single a post out: it is not counted further
#: (counting stops there, which halves the cost of the counts) and never chosen
TERM_CAP = 1000
#: at most this many terms are ranked
MAX_TERMS = 24
#: day spans (and what is known past the cap) are rebuilt from scratch this often: ids of
#: hard-deleted rows can be reused
SPANS_TTL = 3600.0
#: intervals kept per term (ordered by start), how many of them a window looks at (those that
#: start first in it), and terms per cache before starting over
PAST_CAP_INTERVALS = 256
PAST_CAP_TRIED = 4
PAST_CAP_TERMS = 50_000

#: one capped count: how many posts (at most ``LIMIT``) match, and when asked the last rowid
#: counted (``max(rowid)`` costs a third more than the count alone, so only when asked) and the
#: rowids counted, as one comma-separated string
_COUNT_ONE = ("SELECT ?, count(*){last}{ids} FROM (SELECT {col} FROM posts_fts"
              " WHERE posts_fts MATCH ?{bounds} ORDER BY rowid LIMIT ?)")
_IN_RANGE = " AND rowid BETWEEN ? AND ?"
#: the posts matching one term inside a rowid range, as one comma-separated string (one row per term
#: instead of one per post: the ranking is made in Python, see ``rank_by_idf``)
_IDS_ONE = ("SELECT ?, group_concat(rowid) FROM posts_fts WHERE posts_fts MATCH ?"
            " AND rowid BETWEEN ? AND ?")


def quote(term: str) -> str:
    """One FTS5 string token (a word or phrase as typed, never syntax)."""
    return '"' + term.replace('"', '""') + '"'


def count_capped(conn: sqlite3.Connection, expressions: Sequence[str], limit: int,
                 id_range: tuple[int, int] | None = None, *,
                 last: bool = False) -> list[tuple[int, int | None]]:
    """For each FTS5 expression, in one statement: its matching posts counted up to ``limit``
    (inside ``id_range`` when given), and with ``last`` the last rowid counted (else, and when
    none match, None).

    Give single words or explicit prefixes: a capped count of one term reads only the head of its
    posting list, where counting a phrase or an OR group would evaluate it in full."""
    return [(n, at) for n, at, _ in _counted(conn, expressions, limit, id_range, last, False)]


def _counted(conn: sqlite3.Connection, expressions: Sequence[str], limit: int,
             id_range: tuple[int, int] | None, last: bool, ids: bool,
             ) -> list[tuple[int, int | None, str | None]]:
    """``count_capped``, and with ``ids`` the rowids counted (comma-separated; None if none).
    With both, the last rowid is the list's last: the counted rows come in rowid order, and the
    ``max(rowid)`` aggregate over them cost ~0.3 ms per article at 1M posts."""
    if not expressions:
        return []
    one = _COUNT_ONE.format(last=", max(rowid)" if last and not ids else ", NULL",
                            ids=", group_concat(rowid)" if ids else ", NULL",
                            col="rowid" if last or ids else "1",
                            bounds=_IN_RANGE if id_range else "")
    params: list[object] = []
    for i, e in enumerate(expressions):
        params += [i, e, *(id_range or ()), limit]
    got = {int(r[0]): (int(r[1]), r[2], r[3])
           for r in conn.execute(" UNION ALL ".join([one] * len(expressions)), params)}
    if last and ids:
        return [(n, int(s[s.rfind(",") + 1:]) if s else None, s)
                for n, _, s in (got[i] for i in range(len(expressions)))]
    return [got[i] for i in range(len(expressions))]


@dataclass
class DaySpans:
    """Per UTC day, the smallest and largest post id dated that day (ids of posts up to ``upto``)."""

    upto: int = 0
    built: float = 0.0
    days: dict[str, tuple[int, int]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    #: term → id intervals (ordered) holding a tenth more than TERM_CAP of its posts: a window
    #: containing one is past the cap for the term, which is not counted again (forgotten with the
    #: spans, hourly or when the newest id goes down)
    past_cap: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: per day of ``order``: the largest id of its span and those before it, and the smallest id
    #: of its span and those after it (``sure_inside``)
    hi_upto: list[int] = field(default_factory=list)
    lo_from: list[int] = field(default_factory=list)


#: one per open database (or worker connection), keyed by that object
_SPANS: weakref.WeakKeyDictionary[object, DaySpans] = weakref.WeakKeyDictionary()


def day_spans(conn: sqlite3.Connection, key: object) -> DaySpans:
    """The day spans of the database ``key`` stands for, built or brought up to date on ``conn``.

    Why not ``SELECT min(id), max(id) ... WHERE date BETWEEN``: the date index is ordered by date,
    so min/max of id visits every post of the window (8 ms at 1M posts). Day spans are read once
    from ``post_days`` (kept by a trigger on every stored post; a few thousand rows: building them
    from the date index instead took ~0.5 s per million posts, paid by the first filtered search of
    each process and hourly), then extended with the posts stored since (``id > upto``, a rowid
    range), so a window costs one ``max(id)`` lookup and a dict walk. Spans are supersets: a post
    deleted for good leaves its day's span as it was."""
    spans = _SPANS.get(key)
    top = conn.execute("SELECT max(id) FROM posts").fetchone()[0] or 0
    if spans is None or top < spans.upto or time.monotonic() - spans.built > SPANS_TTL:
        spans = DaySpans(built=time.monotonic())
        rows = conn.execute("SELECT day, lo, hi FROM post_days").fetchall()
        _SPANS[key] = spans
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
    spans.hi_upto = list(itertools.accumulate((spans.days[d][1] for d in spans.order), max))
    spans.lo_from = list(itertools.accumulate((spans.days[d][0] for d in reversed(spans.order)),
                                              min))[::-1]
    spans.upto = max(spans.upto, top)
    return spans


def id_range(conn: sqlite3.Connection, key: object, since: datetime | None,
             until: datetime | None) -> tuple[int, int] | None:
    """Post ids stored inside the window (a superset: whole UTC days). Ids grow with time, so FTS5
    can skip by rowid to this range instead of walking whole doclists (a backfilled channel just
    widens it); callers still filter on the exact dates."""
    spans = day_spans(conn, key)
    lo_day = (to_iso(since) or "")[:10]
    hi_day = (to_iso(until) or "9999")[:10]
    a = bisect.bisect_left(spans.order, lo_day)
    b = bisect.bisect_right(spans.order, hi_day)
    if a >= b:
        return None
    picked = [spans.days[d] for d in spans.order[a:b]]
    return min(p[0] for p in picked), max(p[1] for p in picked)


def sure_inside(key: object, since: datetime | None, until: datetime | None) -> tuple[int, int]:
    """Post ids ``(lo, hi)`` (both excluded) whose posts are surely dated inside the window: ids
    in no span of the window's first or last day or of a day outside it, so dated on a day
    strictly between (every post's id lies in its own day's span). Only the others need their
    date read (``rank_by_idf``). Call after ``id_range`` for the same window (it brings the
    spans up to date)."""
    spans = _SPANS[key]
    lo_day = (to_iso(since) or "")[:10]
    hi_day = (to_iso(until) or "9999")[:10]
    a = bisect.bisect_right(spans.order, lo_day)  # days up to the first one
    b = bisect.bisect_left(spans.order, hi_day)  # the last day and after
    return (spans.hi_upto[a - 1] if a > 0 else -1,
            spans.lo_from[b] if b < len(spans.order) else spans.upto + 1)


def term_frequencies(conn: sqlite3.Connection, terms: Sequence[str], id_range: tuple[int, int],
                     cap: int = TERM_CAP,
                     past_cap: dict[str, list[tuple[int, int]]] | None = None,
                     rowids: dict[str, str] | None = None) -> dict[str, int]:
    """Posts per FTS term inside ``id_range``, counted up to ``cap`` (so a common word costs no
    more than a rare one; a count past it is ``cap + 1``). Terms as FTS5 stores them: lower-case,
    Latin diacritics removed.

    With ``past_cap`` (kept per connection), a term seen in ``cap + margin`` posts of an id
    interval inside ``id_range`` is past the cap here as well (a count can only grow with the
    range) and is not counted again: those common words were over half of the counting work. A
    count that goes past the cap continues to ``cap + margin`` (a tenth more) and remembers the
    interval from the range's start to that post; the margin keeps the shortcut true unless that
    many of those posts lose the word (edited or deleted) before the intervals are forgotten.

    ``rowids``, when given, receives the posts of each term counted within the cap (its rowids
    in the range, comma-separated; "" for none): the ranking then reads no posting list again."""
    if not terms:
        return {}
    lo, hi = id_range
    sure = cap + max(1, cap // 10) if past_cap is not None else cap + 1
    out: dict[str, int] = {}
    todo, common = [], []
    for t in terms:
        known = past_cap.get(t) if past_cap else None
        if known:
            at = bisect.bisect_left(known, (lo, 0))  # the intervals starting in the range, first
            if any(b <= hi for _, b in known[at : at + PAST_CAP_TRIED]):
                out[t] = cap + 1
                continue
            common.append(t)  # past the cap elsewhere: most likely here too
        else:
            todo.append(t)
    # a term past the cap in another window is counted without its rowids: joining a thousand
    # of them for nothing was a fifth of the counting (if it is not past the cap here after all
    # and the ranking picks it, ``rank_by_idf`` reads them)
    counts = _counted(conn, [quote(t) for t in todo], sure, id_range, past_cap is not None,
                      rowids is not None)
    handed = len(todo)
    counts += _counted(conn, [quote(t) for t in common], sure, id_range, True, False)
    for k, (t, (n, last, ids)) in enumerate(zip([*todo, *common], counts, strict=True)):
        out[t] = min(n, cap + 1)
        if rowids is not None and n <= cap and k < handed:
            rowids[t] = ids or ""
        if past_cap is not None and n >= sure and last is not None:
            known = past_cap.setdefault(t, [])
            bisect.insort(known, (lo, last))
            if len(known) > PAST_CAP_INTERVALS:
                del known[0]  # the oldest start
    return {t: out[t] for t in terms}


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


def rank_by_idf(conn: sqlite3.Connection, chosen: Sequence[str], freqs: dict[str, int],
                id_range: tuple[int, int], since: datetime | None, until: datetime | None,
                limit: int, rowids: dict[str, str] | None = None,
                inside: tuple[int, int] | None = None) -> list[int]:
    """The ids of the ``limit`` posts dated in the window matching the most IDF of the chosen
    terms (ties: newest first).

    Why not ``ORDER BY bm25()`` over the OR query: bm25 loads every term's position lists for every
    matching row (14 ms for 4000 rows at 1M posts); summing per-term IDF over the rowids alone
    ranks the same posts first (a post quoting the article's rare names and numbers). Why not sum
    in SQL (``GROUP BY id ORDER BY sum(w)``): two temporary b-trees over ~3,400 rows took 4 of its
    5 ms; here each term's rowids come as one string (from the counts, ``rowids``, else read by
    ``_IDS_ONE``) and the sums are made only for the few posts that match several terms
    (``_by_score``). The dates are checked best first, ``1.5 * limit`` posts and then ``4 * limit``
    at a time (the id range is a superset of the window: a backfilled channel), until ``limit``
    are inside it; ``inside`` (``sure_inside``) are ids whose dates need no reading."""
    got = dict(rowids or {})
    unread = [t for t in chosen if t not in got]
    if unread:
        params: list[object] = []
        for i, t in enumerate(unread):
            params += [i, quote(t), *id_range]
        got.update((unread[int(r[0])], r[1] or "") for r in conn.execute(
            " UNION ALL ".join([_IDS_ONE] * len(unread)), params))
    n = id_range[1] - id_range[0] + 1
    postings = [(math.log(1.0 + n / max(1, freqs[t])), got[t].split(",") if got[t] else [])
                for t in chosen]
    ranked = _ranked(*_by_score(postings))
    window = [to_iso(since) or "", to_iso(until) or "9999"]
    sure_lo, sure_hi = inside or (0, 0)
    out: list[int] = []
    size = limit + limit // 2  # most of the best are inside: the window cuts only its end days
    while len(out) < limit:
        head = list(itertools.islice(ranked, size))
        if not head:
            break
        check = [i for i in head if not sure_lo < i < sure_hi]
        dated = {r[0] for r in conn.execute(
            f"SELECT id FROM posts WHERE id IN ({','.join('?' * len(check))})"
            " AND date >= ? AND date <= ?", check + window)} if check else set()
        out += [i for i in head if sure_lo < i < sure_hi or i in dated]
        size = 4 * limit
    return out[:limit]


#: posts of one score: a term's posting list (only its posts that match no other term count), or
#: posts whose sum it is
_Part = tuple[list[str], bool]


def _by_score(postings: Sequence[tuple[float, list[str]]],
              ) -> tuple[dict[float, list[_Part]], set[str]]:
    """Posts by the sum of the weights of the terms they match (``postings``: each term's weight
    and rowids, as the decimal strings SQLite gave: only the posts the ranking reaches become
    numbers). Most posts match one term: they stay in that term's list, under its weight, until
    the ranking reaches it (``_ranked``; the lists of common terms seldom are); the sums of the
    others are added in the terms' order, so posts matching the same terms get the very same
    float (their tie is then broken by id, as one ``sum()`` per post would). Also returns the
    posts that match several terms."""
    seen: set[str] = set()
    several: set[str] = set()
    for _, ids in postings:
        several |= seen.intersection(ids)
        seen.update(ids)
    sums: dict[str, float] = {}
    out: dict[float, list[_Part]] = {}
    for w, ids in postings:
        if several:
            for i in several.intersection(ids):
                sums[i] = sums.get(i, 0.0) + w
        out.setdefault(w, []).append((ids, True))
    by_sum: dict[float, list[str]] = {}
    for i, total in sums.items():
        by_sum.setdefault(total, []).append(i)
    for total, ids in by_sum.items():
        out.setdefault(total, []).append((ids, False))
    return out, several


def _ranked(by_score: dict[float, list[_Part]], several: set[str]) -> Iterator[int]:
    """Post ids best first: by score, then newest (highest id) first; each score's posts become
    numbers and are sorted only when the ranking gets there (``several``: the posts that are
    not ranked under a term's weight, as they match more terms)."""
    for s in sorted(by_score, reverse=True):
        got: list[str] = []
        for ids, one_term in by_score[s]:
            got += set(ids).difference(several) if one_term and several else ids
        yield from sorted(map(int, got), reverse=True)


def ranked_ids(conn: sqlite3.Connection, key: object, terms: Sequence[str],
               since: datetime | None, until: datetime | None, limit: int,
               counts: dict[str, int] | None = None) -> list[int]:
    """The best ``limit`` posts of the window for ``terms`` (index terms, most distinctive first):
    count each inside the window's id range (capped), keep the rarest up to ``MATCH_BUDGET``
    matching posts, rank by the IDF they match. ``key`` is what the window cache is kept under
    (the ``Database``, or a worker's connection holder). ``counts``, when given, receives each
    term's posts in the window as counted (capped: ``TERM_CAP + 1`` means more), so the caller can
    weigh what an article shares with a post by its rarity in the store at no further cost."""
    if not terms:
        return []
    window = id_range(conn, key, since, until)
    if window is None:
        return []
    past_cap = _SPANS[key].past_cap
    if len(past_cap) > PAST_CAP_TERMS:
        past_cap.clear()
    rowids: dict[str, str] = {}
    freqs = term_frequencies(conn, terms, window, past_cap=past_cap, rowids=rowids)
    if counts is not None:
        counts.update(freqs)
    chosen = pick_terms(freqs, terms, cap=TERM_CAP)
    if not chosen:
        return []
    return rank_by_idf(conn, chosen, freqs, window, since, until, limit, rowids,
                       sure_inside(key, since, until))
