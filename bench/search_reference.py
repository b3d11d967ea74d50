"""A brute-force search over the same posts, in plain Python: the reference the search engine's
shortcuts (capped probes, windows, slices, capped prefixes) are checked against (``compare``) —
in tests/test_search_reference.py on a small sample, and by bench/search_bench.py --check at 100k.

What a post holds is computed here from its texts, not read from the index: its written tokens
(as the index's tokenizer cuts them), the normal forms of its words (``storage.wordforms.forms``
in the text's language) and the cross-script keys of its names. The query is parsed by
``storage.fts_query.parse`` (the user language is tested on its own).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from storage import crossscript, search, search_index, wordforms
from storage.db import Database
from storage.fts_query import FtsQuery, Term, parse
from storage.models import to_iso


def tokens(text: str) -> list[str]:
    """Written tokens as the index holds them: ё as е, then cut by SQLite's own unicode61
    tokenizer (``search_index.terms``; its tables differ from Python's character categories
    for symbols such as "🏴", which it keeps inside a word)."""
    return search_index.terms(text.replace("ё", "е").replace("Ё", "Е"))


@dataclass
class RefPost:
    id: int
    channel: str
    date: str
    columns: tuple[list[str], list[str]]  # written tokens: text, translation
    every: frozenset[str]  # written tokens, their normal forms and name keys

    @classmethod
    def of(cls, pid: int, channel: str, date: str, text: str, translation: str) -> RefPost:
        cols = (tokens(text), tokens(translation))
        every = set(cols[0]) | set(cols[1])
        for part in (text, translation):
            lang = wordforms.text_lang(part.lower())
            every.update(f for w in wordforms.WORD.findall(part)
                         for f in wordforms.forms(w, lang))
        every.update(crossscript.post_keys(text))
        return cls(pid, channel, date, cols, frozenset(every))


def _phrase(col: list[str], words: list[str]) -> bool:
    n = len(words)
    return any(col[i : i + n] == words for i in range(len(col) - n + 1))


@lru_cache(maxsize=4096)
def _query_words(t: Term) -> tuple[list[str], list[str]]:
    """A term's words and normal forms as index tokens."""
    return ([w for x in t.words for w in tokens(x)],
            [tokens(f)[0] for f in t.forms if tokens(f)])


def term_matches(t: Term, post: RefPost) -> bool:
    """Whether ``post`` holds the term (the semantics README states for each kind)."""
    words, forms = _query_words(t)
    if t.any_of:
        return any(set(col) & set(t.any_of) for col in post.columns)
    if t.prefix:
        if len(words) == 1:
            return any(tok.startswith(words[0]) for col in post.columns for tok in col)
        return any(any(col[i : i + len(words) - 1] == words[:-1]
                       and col[i + len(words) - 1].startswith(words[-1])
                       for i in range(len(col) - len(words) + 1)) for col in post.columns)
    if len(words) > 1 or t.exact:
        if any(_phrase(col, words) for col in post.columns):
            return True
    elif words and words[0] in post.every:
        return True
    return any(f in post.every for f in forms)


def matches(q: FtsQuery, post: RefPost) -> bool:
    return (all(any(term_matches(t, post) for t in g.terms) for g in q.positives)
            and not any(term_matches(t, post) for t in q.negatives))


def search_ids(posts: list[RefPost], q: FtsQuery, *, channel: str | None = None,
           since: datetime | None = None, until: datetime | None = None) -> list[int]:
    """Ids of every post matching ``q`` and the filters, newest (highest id) first."""
    lo = to_iso(since) or ""
    hi = to_iso(until) or "9999"
    return [p.id for p in sorted(posts, key=lambda p: -p.id)
            if (channel is None or p.channel == channel) and lo <= p.date < hi and matches(q, p)]


def load(path: Path) -> list[RefPost]:
    """Every post of the file with its translation, as the reference sees them."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT p.id, c.username, p.date, p.text, coalesce(t.text, '') FROM posts p "
        "JOIN channels c ON c.id = p.channel_id LEFT JOIN translations t ON t.post_id = p.id"
    ).fetchall()
    conn.close()
    return [RefPost.of(*r) for r in rows]


def _best_by_bm25(path: Path, rank: str, ids: list[int], n: int) -> list[int]:
    """The ``n`` best of ``ids`` by bm25 of ``rank`` (as the search weighs the columns), ties
    newest first: the order a ranked search must give over every match, without shortcuts."""
    conn = sqlite3.connect(path)
    scores: dict[int, float] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        scores.update(conn.execute(
            f"SELECT rowid, {search.BM25} FROM posts_fts WHERE posts_fts MATCH ?"
            f" AND rowid IN ({','.join('?' * len(chunk))})", [rank, *chunk]).fetchall())
    conn.close()
    assert set(scores) == set(ids), "a match without the ranked parts"
    return sorted(ids, key=lambda i: (scores[i], -i))[:n]


async def compare(db: Database, posts: list[RefPost], queries: list[tuple[str, str, dict[str, Any]]],
                  limit: int = 20) -> dict[str, int]:
    """Run each (kind, text, filters) through ``storage.search.query`` and check its top ``limit``
    against the reference: newest-first searches give exactly the reference's newest matches;
    ranked ones the ``limit`` best of every reference match by bm25 of the ranked parts; capped
    ones real matches only. AssertionError (naming the query) on the first difference; returns
    how many searches took each path."""
    paths = {"ranked": 0, "newest": 0, "capped": 0}
    for kind, text, kw in queries:
        hits = await search.query(db, text, limit=limit, **kw)
        got = [h.post_id for h in hits]
        rank = (await db.read(search.run, text, limit=limit, key=db, **kw)).rank
        want = search_ids(posts, parse(text), **kw)
        where = (kind, text, kw)
        assert len(set(got)) == len(got), where
        assert set(got) <= set(want), where  # every hit is a real match
        if hits and hits[0].capped:
            paths["capped"] += 1
            continue
        assert len(got) == min(limit, len(want)), where  # nothing missing
        if rank is None:
            paths["newest"] += 1
            assert got == want[:limit], where
        else:
            paths["ranked"] += 1
            assert got == _best_by_bm25(db.path, rank, want, limit), where
    return paths
