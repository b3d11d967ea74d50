"""Numbered schema migrations, keyed on ``PRAGMA user_version``.

Migration N takes a database at version N-1 to version N. They run at open, all pending ones in one
transaction, so a crash leaves the file at its old version. Never edit a released migration: add one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from storage import search_index

#: Marks the file as citewatch's ("CITW"); other SQLite files are refused.
APPLICATION_ID = 0x43495457

#: migration 16 (below)
IMPORT_QUEUES_TRIGGER = """
    DROP TRIGGER posts_queue_insert;
    CREATE TRIGGER posts_queue_insert AFTER INSERT ON posts
    WHEN new.text != '' AND NOT EXISTS (SELECT 1 FROM meta WHERE key = 'import_queues')
    BEGIN
        INSERT INTO translation_queue (post_id, enqueued_at)
        VALUES (new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ON CONFLICT (post_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = '',
            last_error = NULL, enqueued_at = excluded.enqueued_at;
    END;
    """

#: migration 17 (below)
IMPORT_DAYS_TRIGGER = """
    DROP TRIGGER post_days_insert;
    CREATE TRIGGER post_days_insert AFTER INSERT ON posts
    WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'import_days')
    BEGIN
        INSERT INTO post_days (day, lo, hi) VALUES (substr(new.date, 1, 10), new.id, new.id)
        ON CONFLICT (day) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);
    END;
    """

#: SQL, or a function run on the connection inside the migration's transaction (for steps that need
#: Python, such as computing word forms)
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # 1: the whole initial schema
    """
    CREATE TABLE channels (
        id              INTEGER PRIMARY KEY,
        username        TEXT NOT NULL COLLATE NOCASE UNIQUE,
        tg_id           INTEGER UNIQUE,
        access_hash     INTEGER,
        title           TEXT,
        last_message_id INTEGER NOT NULL DEFAULT 0,
        joined          INTEGER NOT NULL DEFAULT 0,
        active          INTEGER NOT NULL DEFAULT 1,
        aliases         TEXT NOT NULL DEFAULT '[]',
        added_at        TEXT NOT NULL,
        resolved_at     TEXT,
        last_success_at TEXT,
        last_error      TEXT,
        last_error_at   TEXT,
        paused_until    TEXT
    );

    CREATE TABLE posts (
        id          INTEGER PRIMARY KEY,
        channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        message_id  INTEGER NOT NULL,
        date        TEXT NOT NULL,
        text        TEXT NOT NULL DEFAULT '',
        lang        TEXT,
        views       INTEGER,
        forwards    INTEGER,
        reply_to    INTEGER,
        grouped_id  INTEGER,
        fwd_from    TEXT,
        media_kind  TEXT,
        media       TEXT,
        links       TEXT NOT NULL DEFAULT '[]',
        edit_date   TEXT,
        deleted_at  TEXT,
        raw         TEXT,
        source      TEXT NOT NULL DEFAULT 'import',
        stored_at   TEXT NOT NULL,
        UNIQUE (channel_id, message_id)
    );
    CREATE INDEX posts_date ON posts(date);
    CREATE INDEX posts_grouped ON posts(grouped_id) WHERE grouped_id IS NOT NULL;

    -- every earlier text of an edited post; an edit never overwrites history
    CREATE TABLE post_versions (
        id          INTEGER PRIMARY KEY,
        post_id     INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        text        TEXT NOT NULL,
        edit_date   TEXT,
        replaced_at TEXT NOT NULL,
        translation TEXT  -- the translation of this text, if it had one: re-translation replaces it
    );
    CREATE INDEX post_versions_post ON post_versions(post_id);

    CREATE TRIGGER posts_keep_version BEFORE UPDATE OF text ON posts
    WHEN old.text IS NOT new.text
    BEGIN
        INSERT INTO post_versions (post_id, text, edit_date, replaced_at, translation)
        VALUES (old.id, old.text, old.edit_date, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                (SELECT text FROM translations WHERE post_id = old.id ORDER BY id DESC LIMIT 1));
    END;

    CREATE TABLE translations (
        id          INTEGER PRIMARY KEY,
        post_id     INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        source_lang TEXT,
        lang        TEXT NOT NULL,
        provider    TEXT NOT NULL,
        text        TEXT NOT NULL,
        source_text_hash TEXT,
        created_at  TEXT NOT NULL,
        UNIQUE (post_id, lang)
    );

    -- a post waiting for translation is a row, not an in-memory task
    CREATE TABLE translation_queue (
        post_id         INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL DEFAULT '',
        last_error      TEXT,
        enqueued_at     TEXT NOT NULL
    );
    CREATE INDEX translation_queue_due ON translation_queue(status, next_attempt_at);

    -- full-text index over the original and its translation(s), kept in sync by triggers;
    -- the original is indexed with ё folded to е (storage/fold.py)
    CREATE VIRTUAL TABLE posts_fts USING fts5(
        text, translation,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
        INSERT INTO posts_fts (rowid, text, translation)
        VALUES (new.id, replace(replace(new.text, 'ё', 'е'), 'Ё', 'Е'), '');
    END;
    CREATE TRIGGER posts_fts_update AFTER UPDATE OF text ON posts
    WHEN old.text IS NOT new.text
    BEGIN
        UPDATE posts_fts SET text = replace(replace(new.text, 'ё', 'е'), 'Ё', 'Е')
        WHERE rowid = new.id;
    END;
    CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
        DELETE FROM posts_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER translations_fts_insert AFTER INSERT ON translations BEGIN
        UPDATE posts_fts SET translation = (
            SELECT group_concat(text, char(10)) FROM translations WHERE post_id = new.post_id
        ) WHERE rowid = new.post_id;
    END;
    CREATE TRIGGER translations_fts_update AFTER UPDATE OF text ON translations BEGIN
        UPDATE posts_fts SET translation = (
            SELECT group_concat(text, char(10)) FROM translations WHERE post_id = new.post_id
        ) WHERE rowid = new.post_id;
    END;
    CREATE TRIGGER translations_fts_delete AFTER DELETE ON translations BEGIN
        UPDATE posts_fts SET translation = coalesce((
            SELECT group_concat(text, char(10)) FROM translations WHERE post_id = old.post_id
        ), '') WHERE rowid = old.post_id;
    END;

    -- new and edited posts with text wait for translation; a stored translation takes them out
    -- Not "INSERT OR REPLACE": inside a trigger the outer statement's conflict policy overrides it,
    -- so an upsert that edits a post still waiting in the queue failed with a UNIQUE error.
    CREATE TRIGGER posts_queue_insert AFTER INSERT ON posts WHEN new.text != '' BEGIN
        INSERT INTO translation_queue (post_id, enqueued_at)
        VALUES (new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ON CONFLICT (post_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = '',
            last_error = NULL, enqueued_at = excluded.enqueued_at;
    END;
    CREATE TRIGGER posts_queue_edit AFTER UPDATE OF text ON posts
    WHEN old.text IS NOT new.text AND new.text != ''
    BEGIN
        INSERT INTO translation_queue (post_id, enqueued_at)
        VALUES (new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ON CONFLICT (post_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = '',
            last_error = NULL, enqueued_at = excluded.enqueued_at;
    END;
    CREATE TRIGGER translations_dequeue AFTER INSERT ON translations BEGIN
        DELETE FROM translation_queue WHERE post_id = new.post_id;
    END;

    CREATE TABLE feeds (
        id              INTEGER PRIMARY KEY,
        url             TEXT NOT NULL UNIQUE,
        title           TEXT,
        etag            TEXT,
        last_modified   TEXT,
        interval        INTEGER,
        next_poll_at    TEXT NOT NULL DEFAULT '',
        error_count     INTEGER NOT NULL DEFAULT 0,
        last_success_at TEXT,
        last_error      TEXT,
        last_error_at   TEXT,
        added_at        TEXT NOT NULL
    );

    CREATE TABLE articles (
        id            INTEGER PRIMARY KEY,
        feed_id       INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
        url           TEXT NOT NULL,
        canonical_url TEXT NOT NULL UNIQUE,
        entry_id      TEXT,
        title         TEXT,
        author        TEXT,
        outlet        TEXT,
        published     TEXT,
        lang          TEXT,
        text          TEXT NOT NULL DEFAULT '',
        tg_refs       TEXT NOT NULL DEFAULT '[]',
        status        TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'checked', 'error')),
        error         TEXT,
        fetched_at    TEXT NOT NULL,
        checked_at    TEXT
    );
    CREATE INDEX articles_status ON articles(status);
    CREATE INDEX articles_feed_entry ON articles(feed_id, entry_id);
    -- every URL an article was seen under, so the same article is stored once
    CREATE TABLE article_urls (
        url        TEXT PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE citations (
        id         INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        post_id    INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
        score      REAL NOT NULL,
        evidence   TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        UNIQUE (article_id, post_id)
    );
    CREATE INDEX citations_created ON citations(created_at);
    CREATE INDEX citations_post ON citations(post_id);

    -- an outbox: a row per (citation, chat); the sender delivers and marks it
    CREATE TABLE alerts (
        id              INTEGER PRIMARY KEY,
        citation_id     INTEGER NOT NULL REFERENCES citations(id) ON DELETE CASCADE,
        chat            TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL DEFAULT '',
        last_error      TEXT,
        message_id      INTEGER,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        UNIQUE (citation_id, chat)
    );
    CREATE INDEX alerts_status ON alerts(status, next_attempt_at);
    """,
    # 2: a channel's about text (names are derived from it) and the aliases removed from it
    """
    ALTER TABLE channels ADD COLUMN about TEXT;
    ALTER TABLE channels ADD COLUMN aliases_removed TEXT NOT NULL DEFAULT '[]';
    """,
    # 3: an alert shown on stdout (no Telegram credentials) is 'printed', not 'sent'; SQLite cannot
    # change a CHECK constraint in place, so the table is rebuilt with the same columns
    """
    CREATE TABLE alerts_v3 (
        id              INTEGER PRIMARY KEY,
        citation_id     INTEGER NOT NULL REFERENCES citations(id) ON DELETE CASCADE,
        chat            TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'printed', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL DEFAULT '',
        last_error      TEXT,
        message_id      INTEGER,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        UNIQUE (citation_id, chat)
    );
    INSERT INTO alerts_v3 (id, citation_id, chat, status, attempts, next_attempt_at, last_error,
                           message_id, created_at, sent_at)
        SELECT id, citation_id, chat, status, attempts, next_attempt_at, last_error, message_id,
               created_at, sent_at FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v3 RENAME TO alerts;
    CREATE INDEX alerts_status ON alerts(status, next_attempt_at);
    """,
    # 4: channels an import brought in are archives (searchable, never polled) until watched
    """
    ALTER TABLE channels ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: what made each translation: the model (e.g. translate-uk_en@1.9) and the glossary version
    """
    ALTER TABLE translations ADD COLUMN model TEXT;
    ALTER TABLE translations ADD COLUMN glossary TEXT;
    """,
    # 6: one FTS row per post (text, translation, normal forms of the words) over external content
    search_index.convert,
    # 7: discovery and stories (issue #14): what each feed turned out to be, which channel a
    # discovered GDELT query belongs to, copies of one article grouped into a story, and an alert
    # only once per (story, post, chat)
    """
    ALTER TABLE feeds ADD COLUMN kind TEXT;
    ALTER TABLE feeds ADD COLUMN discovered_for TEXT COLLATE NOCASE;
    -- the last poll after which no entry was left over (fetch caps): a GDELT search looks back to it
    ALTER TABLE feeds ADD COLUMN covered_at TEXT;
    CREATE INDEX feeds_discovered ON feeds(discovered_for) WHERE discovered_for IS NOT NULL;

    ALTER TABLE articles ADD COLUMN story_id INTEGER;
    CREATE INDEX articles_story ON articles(story_id) WHERE story_id IS NOT NULL;
    -- the smallest shingle hashes of each article's text (bot/news/stories.py): its sketch, and
    -- through the primary key the index of texts that may be copies
    CREATE TABLE article_sketch (
        hash       INTEGER NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (hash, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX article_sketch_article ON article_sketch(article_id);

    -- a copy of a story already alerted to this chat for this post is stored, never alerted again
    CREATE TRIGGER alerts_once_per_story BEFORE INSERT ON alerts
    WHEN EXISTS (
        SELECT 1 FROM citations cn
        JOIN articles rn ON rn.id = cn.article_id
        JOIN articles r ON r.story_id = rn.story_id AND r.id != rn.id
        JOIN citations c ON c.article_id = r.id AND c.post_id = cn.post_id
        JOIN alerts a ON a.citation_id = c.id AND a.chat = new.chat
        WHERE cn.id = new.citation_id AND rn.story_id IS NOT NULL
    )
    BEGIN
        SELECT RAISE(IGNORE);
    END;
    """,
    # 8: cross-script keys of each post's Cyrillic names in its index words
    search_index.add_cross_script_keys,
    # 9: errors in a row per channel (a channel that keeps answering "no such channel" is paused)
    """
    ALTER TABLE channels ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
    """,
    # 10: keys of each post's glossary terms and numbered units in its index words
    search_index.add_glossary_keys,
    # 11: the index's terms as FTS5 counts them (a view of the index itself, no storage), and a
    # snapshot of the frequent written ones refreshed at quiet moments (storage/maintenance.py): a
    # prefix search expands to its most frequent completions instead of merging every one
    """
    CREATE VIRTUAL TABLE posts_fts_terms USING fts5vocab(posts_fts, col);
    CREATE TABLE search_terms (
        term TEXT PRIMARY KEY,
        docs INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 12: per UTC day, the smallest and largest post id dated that day, kept by a trigger: a date
    # filter becomes a rowid range without a pass over the date index (storage/retrieval.py)
    """
    CREATE TABLE post_days (
        day TEXT PRIMARY KEY,
        lo  INTEGER NOT NULL,
        hi  INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO post_days (day, lo, hi)
        SELECT substr(date, 1, 10), min(id), max(id) FROM posts INDEXED BY posts_date GROUP BY 1;
    CREATE TRIGGER post_days_insert AFTER INSERT ON posts
    BEGIN
        INSERT INTO post_days (day, lo, hi) VALUES (substr(new.date, 1, 10), new.id, new.id)
        ON CONFLICT (day) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);
    END;
    """,
    # 13: the index keeps up to 8 MiB of new terms in memory per transaction (FTS5 'hashsize',
    # default 1 MiB): an import's batch of 2,000 posts is flushed as one segment, not several to
    # merge later (bench/import_bench.py: the index's CPU time -30%); small writes are unchanged
    """
    INSERT INTO posts_fts (posts_fts, rank) VALUES ('hashsize', 8388608);
    """,
    # 14: facts about the file as a whole (``meta``); 15: the first of them, which normaliser, key
    # rules and glossary the index words were made with (the migrations before made them all with
    # this code, so it is this code's version)
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 15: (see 14)
    search_index.stamp_words_version,
    # 16: an import stores each post with its translation in one transaction; the insert trigger
    # queued every such post and the translation's trigger took it off again (a queue row and its
    # index entry written and deleted per post). While the 'import_queues' fact exists (only ever
    # inside an import's transaction, ``translations.queued_by_import``), the trigger leaves new
    # posts alone and the import queues those left untranslated itself; every other write is
    # queued exactly as before
    IMPORT_QUEUES_TRIGGER,
    # 17: likewise, the day ranges of an import's new posts are widened once per day and batch
    # (``posts.days_by_import``), not by an upsert per post; the trigger holds back while the
    # 'import_days' fact exists
    IMPORT_DAYS_TRIGGER,
]

SCHEMA_VERSION = len(MIGRATIONS)
