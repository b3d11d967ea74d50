"""Candidate retrieval: the stored posts an article may cite, found through FTS5, never a scan.

An article's index terms go to the retrieval engine (``storage.retrieval.ranked_ids``: the rarest
terms inside the time window, ranked by the IDF they match), plus every post it links to by
(channel, message_id) whatever its date. The detector needs only the text of the ~50 candidates
(``CandidateText``, with the stored normal forms of their words); only the few it names are read
as whole ``Post``s (``posts_by_id``).

Everything runs either in one hop to the ``Database`` reader thread, or synchronously in a pool
worker on its own read-only connection (``*_at(path, ...)``, ``storage.readonly``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from storage import retrieval
from storage.db import Database
from storage.models import CandidateText, ChannelNames, Post, from_iso, to_iso
from storage.posts import post_from_row
from storage.readonly import connection

#: terms whose frequency is looked up (the most distinctive of the article, chosen by the caller)
MAX_LOOKUPS = 40

#: posts with their latest translation, joined once (not two correlated subqueries per row);
#: ``max(t.id)`` makes SQLite take the other columns from that same row. Not ``raw``: the whole
#: Telegram message as JSON, parsed for nothing on every candidate
_POSTS_WITH_TRANSLATION = """
SELECT p.id, p.message_id, p.date, p.text, p.lang, p.views, p.forwards, p.reply_to, p.grouped_id,
       p.fwd_from, p.media_kind, p.media, p.links, p.edit_date, p.deleted_at, p.source,
       c.username, t.text AS translation, t.lang AS translation_lang, p.words,
       t.words AS translation_words
FROM posts p JOIN channels c ON c.id = p.channel_id
LEFT JOIN (SELECT post_id, text, lang, words, max(id) FROM translations WHERE post_id IN ({marks})
           GROUP BY post_id) t ON t.post_id = p.id
WHERE p.id IN ({marks})
"""
#: only what ``CandidateText`` holds of each candidate and its latest translation: the rows
#: ``_POSTS_WITH_TRANSLATION`` gives, in the same order, with no materialised subquery and
#: automatic index per statement (the latest translation by a lookup in its post_id index),
#: and none of the columns the detector never reads (~0.2 ms less per article at 1M posts)
_TEXTS_WITH_TRANSLATION = """
SELECT p.id, p.message_id, p.date, p.text, c.username, t.text, p.words, t.words
FROM posts p JOIN channels c ON c.id = p.channel_id
LEFT JOIN translations t ON t.id = (SELECT max(id) FROM translations WHERE post_id = p.id)
WHERE p.id IN ({marks})
"""
#: linked posts looked up per statement. One OR term per link made SQLite refuse an article with
#: ~1,000 links ("Expression tree is too large"); a VALUES row per link, in batches, has no such
#: depth and stays far inside the bound-variable limit
LINKED_BATCH = 300
#: posts by (channel, message_id), in the order of the links (``n``)
_LINKED = """
WITH linked(n, username, message_id) AS (VALUES {rows})
SELECT p.id FROM linked JOIN channels c ON c.username = linked.username
JOIN posts p ON p.channel_id = c.id AND p.message_id = linked.message_id ORDER BY linked.n
"""
#: channels with anything their press names come from (stored aliases, removals, title, about)
_ALIASES = ("SELECT username, aliases, aliases_removed, title, about FROM channels"
            " WHERE aliases NOT IN ('', '[]') OR aliases_removed NOT IN ('', '[]')"
            " OR title IS NOT NULL OR about IS NOT NULL")


def _clean(fts_terms: Sequence[str], refs: Iterable[tuple[str, int]],
           ) -> tuple[list[str], list[tuple[str, int]]]:
    terms = list(dict.fromkeys(t.lower() for t in fts_terms if t and t.strip()))[:MAX_LOOKUPS]
    return terms, list(dict.fromkeys((c.lower(), int(m)) for c, m in refs))


def _candidate_ids(conn: sqlite3.Connection, key: object, fts_terms: Sequence[str],
                   refs: Iterable[tuple[str, int]], since: datetime | None,
                   until: datetime | None, limit: int,
                   counts: dict[str, int] | None = None) -> list[int]:
    terms, pairs = _clean(fts_terms, refs)
    ids = retrieval.ranked_ids(conn, key, terms, since, until, max(1, limit), counts)
    for start in range(0, len(pairs), LINKED_BATCH):
        batch = pairs[start:start + LINKED_BATCH]
        sql = _LINKED.format(rows=",".join("(?, ?, ?)" for _ in batch))
        params = [x for n, (channel, mid) in enumerate(batch) for x in (n, channel, mid)]
        ids.extend(r[0] for r in conn.execute(sql, params).fetchall())
    return list(dict.fromkeys(ids))


def _posts_on(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Post]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(_POSTS_WITH_TRANSLATION.format(marks=marks), [*ids, *ids]).fetchall()
    return [post_from_row(r) for r in rows]


def _texts_on(conn: sqlite3.Connection, key: object, fts_terms: Sequence[str],
              refs: Iterable[tuple[str, int]], since: datetime | None, until: datetime | None,
              limit: int, counts: dict[str, int] | None = None) -> list[CandidateText]:
    return _texts_of(conn, _candidate_ids(conn, key, fts_terms, refs, since, until, limit, counts))


def _texts_of(conn: sqlite3.Connection, ids: Sequence[int]) -> list[CandidateText]:
    """What the detector compares of the posts ``ids``, in their order."""
    if not ids:
        return []
    rows = conn.execute(_TEXTS_WITH_TRANSLATION.format(marks=",".join("?" * len(ids))),
                        ids).fetchall()
    return [CandidateText(post_id=r[0], channel=r[4], message_id=r[1],
                          date=from_iso(r[2]),  # type: ignore[arg-type]
                          text=r[3], translation=r[5], words=r[6], translation_words=r[7])
            for r in rows]


#: a channel's latest posts inside a time span, newest first, by the date index: the span's posts
#: of every channel (two days: a few thousand at 1M posts) rather than all the channel's posts
#: later than the span, which SQLite's own choice (the (channel_id, message_id) index) walks: 90 ms
#: for an article of two years ago at 1M posts, 0.3 ms by date
_RECENT = """
SELECT p.id FROM posts p INDEXED BY posts_date
WHERE p.date >= ? AND p.date <= ? AND p.channel_id = (SELECT id FROM channels WHERE username = ?)
ORDER BY p.date DESC LIMIT ?
"""


def _recent_on(conn: sqlite3.Connection, channels: Sequence[str], since: datetime,
               until: datetime, per_channel: int) -> list[CandidateText]:
    window = (to_iso(since), to_iso(until))
    return _texts_of(conn, [r[0] for ch in channels
                            for r in conn.execute(_RECENT, (*window, ch, per_channel))])


async def recent_texts(db: Database, channels: Sequence[str], since: datetime, until: datetime,
                       per_channel: int) -> list[CandidateText]:
    """The latest posts (at most ``per_channel`` each, inside ``since``..``until``) of channels an
    article names as its source: they are candidates whatever words they share with it (an
    untranslated notice shares no rare word with an English report of it)."""
    return await db.read(_recent_on, list(channels), since, until, per_channel)


def recent_at(path: str, channels: Sequence[str], since: datetime, until: datetime,
              per_channel: int) -> list[CandidateText]:
    """``recent_texts`` on this thread's own read-only connection to ``path``."""
    return _recent_on(connection(path).conn, list(channels), since, until, per_channel)


def _names(raw: str | None) -> tuple[str, ...]:
    try:
        names = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(n for n in names if isinstance(n, str) and n) if isinstance(names, list) else ()


def _aliases(rows: Iterable[Any]) -> dict[str, ChannelNames]:
    return {username.lower(): ChannelNames(_names(raw), _names(removed), title, about)
            for username, raw, removed, title, about in rows}


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
    def run(conn: sqlite3.Connection) -> list[Post]:
        return _posts_on(conn, _candidate_ids(conn, db, fts_terms, refs, since, until, limit))
    return await db.read(run)


async def candidate_texts(
    db: Database,
    fts_terms: Sequence[str],
    refs: Iterable[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    limit: int = 50,
    counts: dict[str, int] | None = None,
) -> list[CandidateText]:
    """The posts of ``candidates``, only what the detector compares (one hop to the reader);
    ``counts`` receives the terms' posts in the window (``retrieval.ranked_ids``)."""
    return await db.read(_texts_on, db, fts_terms, refs, since, until, limit, counts)


async def posts_by_id(db: Database, ids: Sequence[int]) -> list[Post]:
    """Whole posts (latest translation, no ``raw``) of candidates the detector named."""
    return await db.read(_posts_on, list(ids))


async def channel_aliases(db: Database) -> dict[str, ChannelNames]:
    """What each channel's press names come from (lower-cased username → stored aliases, removed
    names, title, about), only channels that have any. One small query (``channels.list_all``
    also counts every channel's posts)."""
    return _aliases(await db.fetchall(_ALIASES))


def open_worker(path: str) -> None:
    """Open this worker's read-only connection and build its day spans (~0.5 s at 1M posts)
    before the first article: a ``ProcessPoolExecutor(initializer=open_worker, initargs=(path,))``
    (the citation pipeline's ``bot.cite.pipeline.init_worker`` calls it and also tunes the worker)."""
    rc = connection(path)
    retrieval.day_spans(rc.conn, rc)


def candidates_at(
    path: str,
    fts_terms: Sequence[str],
    refs: Iterable[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    limit: int = 50,
    counts: dict[str, int] | None = None,
) -> tuple[list[CandidateText], dict[str, ChannelNames]]:
    """``candidate_texts`` and ``channel_aliases``, synchronously, on this thread's own read-only
    connection to the database file at ``path`` (a process pool worker)."""
    rc = connection(path)
    found = _texts_on(rc.conn, rc, fts_terms, refs, since, until, limit, counts)
    return found, _aliases(rc.conn.execute(_ALIASES).fetchall())


def posts_at(path: str, ids: Sequence[int]) -> list[Post]:
    """``posts_by_id`` on this thread's own read-only connection to ``path``."""
    return _posts_on(connection(path).conn, list(ids))
