"""The full-text index: one FTS5 row per post — its text, its translation(s) and the normal forms of
their words — with external content, written once per event.

Layout (migration 6, ``convert``):

* ``posts.words`` and ``translations.words`` hold the normal forms of each text's words that are not
  already written in it (``storage.wordforms.normal_words``), computed in Python when the row is
  written. Stored, not computed by SQL, so that every tool (Datasette, sqlite-utils, the ``sqlite3``
  shell) reads the same index content, and deleting a row's old tokens never depends on the
  dictionary version that is installed now.
* ``posts_fts_content`` is a plain-SQL view: per post, the text (ё folded to е, as before), the
  translations joined by newlines (in language order), and the words of the post and its
  translations. ``posts_fts`` (columns ``text``, ``translation``, ``words``) uses it as external
  content, so the texts are not stored a second time inside the index.
* A new post is indexed by ``index_new_in`` at the end of the transaction that stores it — after its
  translations when they come along (an import), so such a post is tokenized once, not inserted and
  then deleted and re-inserted when its translation follows. Triggers keep an indexed post right
  when its text, a translation or a words column changes (delete the old tokens, insert the new:
  FTS5 cannot rewrite one column), and drop it when the post is deleted.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import aiosqlite

from storage import crossscript, glossary, meta, wordforms

if TYPE_CHECKING:
    from storage.db import Database

#: the view and index; the migration's SQL (never edit: add a migration)
SCHEMA = r"""
CREATE VIEW posts_fts_content AS
SELECT p.id AS id,
       replace(replace(p.text, 'ё', 'е'), 'Ё', 'Е') AS text,
       coalesce((SELECT group_concat(x.text, char(10)) FROM
                 (SELECT t.text FROM translations t WHERE t.post_id = p.id ORDER BY t.lang) x), '')
           AS translation,
       p.words || coalesce((SELECT ' ' || group_concat(x.words, ' ') FROM
                 (SELECT t.words FROM translations t WHERE t.post_id = p.id ORDER BY t.lang) x), '')
           AS words
FROM posts p;

CREATE VIRTUAL TABLE posts_fts USING fts5(
    text, translation, words,
    content = "posts_fts_content", content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER posts_fts_edit AFTER UPDATE OF text, words ON posts
WHEN (old.text IS NOT new.text OR old.words IS NOT new.words)
 AND EXISTS (SELECT 1 FROM posts_fts_docsize WHERE id = new.id)
BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text, translation, words)
    SELECT 'delete', old.id, replace(replace(old.text, 'ё', 'е'), 'Ё', 'Е'), c.translation,
           old.words || substr(c.words, length(new.words) + 1)
    FROM posts_fts_content c WHERE c.id = new.id;
    INSERT INTO posts_fts (rowid, text, translation, words)
    SELECT id, text, translation, words FROM posts_fts_content WHERE id = new.id;
END;

CREATE TRIGGER posts_fts_delete BEFORE DELETE ON posts
WHEN EXISTS (SELECT 1 FROM posts_fts_docsize WHERE id = old.id)
BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text, translation, words)
    SELECT 'delete', id, text, translation, words FROM posts_fts_content WHERE id = old.id;
END;

CREATE TRIGGER translations_fts_insert AFTER INSERT ON translations
WHEN EXISTS (SELECT 1 FROM posts_fts_docsize WHERE id = new.post_id)
BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text, translation, words)
    SELECT 'delete', p.id, replace(replace(p.text, 'ё', 'е'), 'Ё', 'Е'),
           coalesce((SELECT group_concat(x.text, char(10)) FROM
                     (SELECT t.text FROM translations t WHERE t.post_id = p.id AND t.id != new.id
                      ORDER BY t.lang) x), ''),
           p.words || coalesce((SELECT ' ' || group_concat(x.words, ' ') FROM
                     (SELECT t.words FROM translations t WHERE t.post_id = p.id AND t.id != new.id
                      ORDER BY t.lang) x), '')
    FROM posts p WHERE p.id = new.post_id;
    INSERT INTO posts_fts (rowid, text, translation, words)
    SELECT id, text, translation, words FROM posts_fts_content WHERE id = new.post_id;
END;

CREATE TRIGGER translations_fts_update AFTER UPDATE OF text, words, lang ON translations
WHEN (old.text IS NOT new.text OR old.words IS NOT new.words OR old.lang IS NOT new.lang)
 AND EXISTS (SELECT 1 FROM posts_fts_docsize WHERE id = new.post_id)
BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text, translation, words)
    SELECT 'delete', p.id, replace(replace(p.text, 'ё', 'е'), 'Ё', 'Е'),
           coalesce((SELECT group_concat(x.text, char(10)) FROM
                     (SELECT text FROM (SELECT lang, text FROM translations WHERE post_id = p.id
                                        AND id != new.id UNION ALL SELECT old.lang, old.text)
                      ORDER BY lang) x), ''),
           p.words || coalesce((SELECT ' ' || group_concat(x.words, ' ') FROM
                     (SELECT words FROM (SELECT lang, words FROM translations WHERE post_id = p.id
                                         AND id != new.id UNION ALL SELECT old.lang, old.words)
                      ORDER BY lang) x), '')
    FROM posts p WHERE p.id = new.post_id;
    INSERT INTO posts_fts (rowid, text, translation, words)
    SELECT id, text, translation, words FROM posts_fts_content WHERE id = new.post_id;
END;

CREATE TRIGGER translations_fts_delete AFTER DELETE ON translations
WHEN EXISTS (SELECT 1 FROM posts_fts_docsize WHERE id = old.post_id)
BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, text, translation, words)
    SELECT 'delete', p.id, replace(replace(p.text, 'ё', 'е'), 'Ё', 'Е'),
           coalesce((SELECT group_concat(x.text, char(10)) FROM
                     (SELECT text FROM (SELECT lang, text FROM translations WHERE post_id = p.id
                                        UNION ALL SELECT old.lang, old.text)
                      ORDER BY lang) x), ''),
           p.words || coalesce((SELECT ' ' || group_concat(x.words, ' ') FROM
                     (SELECT words FROM (SELECT lang, words FROM translations WHERE post_id = p.id
                                         UNION ALL SELECT old.lang, old.words)
                      ORDER BY lang) x), '')
    FROM posts p WHERE p.id = old.post_id;
    INSERT INTO posts_fts (rowid, text, translation, words)
    SELECT id, text, translation, words FROM posts_fts_content WHERE id = old.post_id;
END;
"""

#: the index's tokenizer (as in SCHEMA)
TOKENIZE = "unicode61 remove_diacritics 2"
_TOKENIZER: list[sqlite3.Connection] = []
_TOKENIZER_LOCK = threading.Lock()


def terms(text: str) -> list[str]:
    """The terms the index makes of ``text``, in order: FTS5's own tokenizer run on an in-memory
    table (lower case, diacritics removed exactly as the index removes them: "й" is "и" there),
    for lookups in the index's vocabulary."""
    with _TOKENIZER_LOCK:
        if not _TOKENIZER:
            conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{TOKENIZE}')")
            conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
            _TOKENIZER.append(conn)
        conn = _TOKENIZER[0]
        conn.execute("INSERT INTO t (rowid, x) VALUES (1, ?)", (text,))
        try:
            return [r[0] for r in conn.execute("SELECT term FROM v ORDER BY offset")]
        finally:
            conn.execute("DELETE FROM t")


def post_words(text: str) -> str:
    """What the index holds beside a post's text: the normal forms of its words and the
    cross-script keys of its Cyrillic names, glossary terms and numbered units
    (``storage.crossscript``: "Курахове" is found from "Kurakhove", "110-ї ОМБр" from "110th
    Brigade")."""
    keys = crossscript.post_keys(text)
    words = wordforms.normal_words(text)
    return f"{words} {' '.join(keys)}" if keys and words else words or " ".join(keys)


def words_of(texts: Sequence[str], stored: Sequence[tuple[str, str] | None],
             words: Callable[[str], str], made: Mapping[str, str] | None = None) -> list[str]:
    """The index words of each of ``texts`` (``words``: ``post_words`` or
    ``wordforms.normal_words``): a row's ``stored`` (text, words) when its text is unchanged — so
    re-importing an export or re-fetching a post recomputes nothing and re-indexes nothing — else
    ``made[text]`` when given (made beforehand by the same function: ``storage.words_ahead``),
    else ``words(text)``, once per distinct text."""
    given: Mapping[str, str] = made or {}
    done: dict[str, str] = {}  # made here (``made`` is not copied: a batch's worth of texts)
    out: list[str] = []
    for text, old in zip(texts, stored, strict=True):
        if old is not None and old[0] == text:
            out.append(old[1])
            continue
        got = given.get(text)
        if got is None:
            got = done.get(text)
            if got is None:
                got = done[text] = words(text)
        out.append(got)
    return out


#: posts not in the index yet: every post below the highest indexed id is indexed (ids only grow)
_INDEX_NEW = """
INSERT INTO posts_fts (rowid, text, translation, words)
SELECT id, text, translation, words FROM posts_fts_content
WHERE id > (SELECT coalesce(max(id), 0) FROM posts_fts_docsize) {upto}
ORDER BY id
"""


async def index_new_in(conn: aiosqlite.Connection) -> None:
    """Inside the transaction that stored them: index the posts stored since the last call (with
    the translations stored in the same transaction), one FTS5 row each."""
    await conn.execute(_INDEX_NEW.format(upto=""))


def index_new(conn: sqlite3.Connection, upto: int | None = None) -> None:
    """``index_new_in`` on a plain connection, optionally only up to post id ``upto``."""
    conn.execute(_INDEX_NEW.format(upto="AND id <= ?" if upto else ""), (upto,) if upto else ())


Progress = Callable[[int], None]


def words_version() -> str:
    """What a post's index words are made of: the normaliser (``wordforms.VERSION``), the
    cross-script key rules and the shipped glossary (its matching rows give keys). The version a
    file's words were made with is kept in ``meta`` (``index_words``); ``status`` compares them and
    ``citewatch reindex`` brings the file up to date."""
    digest = hashlib.sha256(glossary.shipped_text().encode()).hexdigest()[:12]
    return f"{wordforms.VERSION};keys={crossscript.KEYS_RULES};glossary={digest}"


def stamp_words_version(conn: sqlite3.Connection) -> None:
    """Record that every post's words are those of this code (a migration, a finished reindex)."""
    conn.execute(meta.SET, ("index_words", words_version()))


async def stored_words_version(db: Database) -> str | None:
    """The version the file's index words were made with (None: made before it was recorded)."""
    value = await db.fetchval("SELECT value FROM meta WHERE key = 'index_words'")
    return str(value) if value is not None else None


def _progress(total: int, desc: str) -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar on a terminal (nothing otherwise): ``(update(n), close())``."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=" posts", disable=None, file=sys.stderr, leave=False)

    def close() -> None:
        # the finished count is drawn once before the bar clears: an update within tqdm's minimum
        # interval is otherwise never shown, and a fast run would end on "0/N"
        bar.refresh()
        bar.close()

    return bar.update, close


def convert(conn: sqlite3.Connection, batch: int = 5000) -> None:
    """Migration 6: from the index that stored its own copy of every text (and re-indexed the whole
    post when a translation came) to the layout above. Inside the migration's transaction; shows a
    progress bar on a terminal. Nothing is lost: the texts and translations are the tables' own,
    and every post is indexed again from them."""
    for stmt in (
        "DROP TRIGGER IF EXISTS posts_fts_insert",
        "DROP TRIGGER IF EXISTS posts_fts_update",
        "DROP TRIGGER IF EXISTS posts_fts_delete",
        "DROP TRIGGER IF EXISTS translations_fts_insert",
        "DROP TRIGGER IF EXISTS translations_fts_update",
        "DROP TRIGGER IF EXISTS translations_fts_delete",
        "DROP TABLE IF EXISTS posts_fts",
        "ALTER TABLE posts ADD COLUMN words TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE translations ADD COLUMN words TEXT NOT NULL DEFAULT ''",
    ):
        conn.execute(stmt)
    from storage.db import _statements  # the migration runner's splitter (triggers hold ';')

    for stmt in _statements(SCHEMA):
        conn.execute(stmt)
    # a written form weighs four times a normal form: exact forms first for ORDER BY rank (Datasette)
    conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.25)')")
    # the triggers leave posts that are not indexed yet alone: fill their words, then index them
    total = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    update, close = _progress(total, "indexing word forms")
    try:
        last = 0
        while True:
            rows = conn.execute(
                "SELECT id, text FROM posts WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            conn.executemany("UPDATE posts SET words = ? WHERE id = ?",
                             [(wordforms.normal_words(text), pid) for pid, text in rows])
            trs = conn.execute(
                "SELECT id, text FROM translations WHERE post_id BETWEEN ? AND ?",
                (rows[0][0], last)).fetchall()
            conn.executemany("UPDATE translations SET words = ? WHERE id = ?",
                             [(wordforms.normal_words(text), tid) for tid, text in trs])
            index_new(conn, upto=last)
            update(len(rows))
    finally:
        close()


def add_cross_script_keys(conn: sqlite3.Connection, batch: int = 5000) -> None:
    """Migration: each post's index words gain its cross-script keys (``post_words``), so English
    articles find posts stored before (their Cyrillic names).
    Only posts whose words change are rewritten; the edit trigger re-indexes each. Inside the
    migration's transaction, with a progress bar on a terminal."""
    _rewrite_words(conn, "indexing cross-script keys", batch)


def add_glossary_keys(conn: sqlite3.Connection, batch: int = 5000) -> None:
    """Migration: each post's index words gain the keys of its glossary terms and numbered units
    (``crossscript.term_keys``: "110-ї ОМБр" is found from "110th Brigade"), for posts stored
    before. As ``add_cross_script_keys``: only changed posts are rewritten."""
    _rewrite_words(conn, "indexing glossary keys", batch)


#: a post's new words, only while its text is the one they were computed from
_SET_POST_WORDS = "UPDATE posts SET words = ? WHERE id = ? AND text IS ?"


def _changed(rows: Sequence[tuple[int, str, str]], words: Callable[[str], str]
             ) -> list[tuple[str, int, str]]:
    """(new words, id, text) of the rows (id, text, stored words) whose ``words(text)`` differ."""
    return [(w, rid, text) for rid, text, old in rows if (w := words(text or "")) != old]


def _rewrite_words(conn: sqlite3.Connection, desc: str, batch: int) -> None:
    """Every post whose ``post_words`` differ from its stored words gets the new ones (the edit
    trigger re-indexes it), in batches, with a progress bar on a terminal."""
    total = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    update, close = _progress(total, desc)
    try:
        last = 0
        while True:
            rows = conn.execute("SELECT id, text, words FROM posts WHERE id > ? ORDER BY id LIMIT ?",
                                (last, batch)).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            conn.executemany(_SET_POST_WORDS, _changed(rows, post_words))
            update(len(rows))
    finally:
        close()


async def reindex(db: Database, batch: int = 2000) -> tuple[int, int, int]:
    """After the normaliser changed (new rules or dictionaries: ``wordforms.VERSION``): compute
    every post's and translation's index words again and rewrite the rows whose words differ; the
    triggers re-index exactly those posts (old tokens out, new in). Returns (posts checked, posts
    rewritten, translations rewritten); a progress bar on a terminal.

    The words are computed outside the write lock (``citewatch run`` may keep storing posts
    meanwhile) and each batch is its own transaction, written only where the text is still the
    one the words came from: an interrupted run leaves a consistent index, and a second run does
    only what is left."""
    total = int(await db.fetchval("SELECT count(*) FROM posts") or 0)
    update, close = _progress(total, "re-indexing word forms")
    checked = posts_done = trs_done = 0
    try:
        last = 0
        while True:
            rows, trs = await db.read(_texts_after, last, batch)
            if not rows:
                break
            last = rows[-1][0]
            posts_new = _changed(rows, post_words)
            trs_new = _changed(trs, wordforms.normal_words)
            if posts_new or trs_new:
                async with db.transaction() as conn:
                    await conn.executemany(_SET_POST_WORDS, posts_new)
                    await conn.executemany(
                        "UPDATE translations SET words = ? WHERE id = ? AND text IS ?", trs_new)
            checked += len(rows)
            posts_done += len(posts_new)
            trs_done += len(trs_new)
            update(len(rows))
        # every post was checked: the file's words are this code's now (an interrupted run never
        # gets here, so status keeps saying a reindex is due)
        await db.execute(meta.SET, ("index_words", words_version()))
    finally:
        close()
    return checked, posts_done, trs_done


def _texts_after(conn: sqlite3.Connection, last: int, batch: int
                 ) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """The next ``batch`` posts after id ``last`` and their translations: (id, text, words)."""
    rows = conn.execute("SELECT id, text, words FROM posts WHERE id > ? ORDER BY id LIMIT ?",
                        (last, batch)).fetchall()
    if not rows:
        return [], []
    trs = conn.execute("SELECT id, text, words FROM translations WHERE post_id BETWEEN ? AND ?",
                       (rows[0][0], rows[-1][0])).fetchall()
    return [tuple(r) for r in rows], [tuple(r) for r in trs]  # type: ignore[misc]
