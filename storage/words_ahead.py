"""The index words of an import's next batch, made in a second process while this batch is written.

A post's index words (``search_index.post_words``, ``wordforms.normal_words`` of its translation)
are pure Python (in this process they would take turns with the writing for the GIL); writing a
batch is mostly SQLite. On two cores a large import therefore runs as a pipeline of two processes:
this process writes batch k while the worker makes the words of batch k+1
(``bot.archive.import_records``). The worker only computes: it never opens the database, so a
crash loses what it always lost (the open transaction), and any text it was not asked about, or
whose words did not come back, is done in this process as before.

What it costs and when it pays (measured, ``bench/RESULTS-storage.md``): the worker is ready
~0.3 s after it starts (imports, two dictionaries); the first batch's words are split half and half
between the two processes, later ones by ``share``, which follows whichever side waited; only
texts not stored already are sent (re-importing an export sends nothing). The words and the writing
each take about half of an import's CPU, so the pipeline pays only when a second core is free: on a
host whose two cores are busy with other programs (load 3 or more) the two processes got one core
between them, and the import took as long as in one process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from multiprocessing import get_context
from multiprocessing.connection import Connection

from storage import search_index, wordforms

#: an import of more than one batch starts the worker once it has read this many records: below,
#: the worker's start-up (~0.3 s, most of it loading the dictionaries) would cost more than it saves
START_AFTER = 4000

_READY = "ready"
#: how far ``share`` moves after each batch, and its ceiling
SHARE_STEP = 0.02
MAX_SHARE = 0.5


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _serve(conn: Connection) -> None:
    """The worker: warm up, say so, then answer (post texts, translation texts) with their words
    until the importing process closes its end (or dies: the pipe reports EOF)."""
    from storage import crossscript

    wordforms._analyzers()
    crossscript._matchers()
    conn.send(_READY)
    post_words, normal_words = search_index.post_words, wordforms.normal_words
    while True:
        try:
            posts, trs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(([post_words(t) for t in posts], [normal_words(t) for t in trs]))
        except OSError:  # the importing process is gone
            return


class WordsAhead:
    """One worker process and its pipe; ``send`` a batch's texts, later ``receive`` their words."""

    def __init__(self) -> None:
        ctx = get_context("spawn")  # a clean interpreter: this one runs the database's threads
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                                 name="citewatch-index-words")
        self._proc.start()
        child.close()
        self._ready = False
        self._asked: tuple[list[str], list[str]] | None = None
        self._own: tuple[list[str], list[str]] = ([], [])
        #: the part of each batch this process makes itself (writing the batch before costs it
        #: about as much as the words cost the worker; the split follows who waited)
        self.share = 0.1

    def ready(self, wait: float = 0.0) -> bool:
        """Whether the worker has started, waiting up to ``wait`` seconds for it (blocks: a
        thread for more than a moment)."""
        if not self._ready and self._proc.is_alive():
            try:
                if self._conn.poll(wait):
                    self._ready = self._conn.recv() == _READY
            except (EOFError, OSError):
                pass
        return self._ready

    def send(self, posts: Sequence[str], trs: Sequence[str], share: float | None = None) -> bool:
        """Ask for the words of these post and translation texts (one batch at a time): the
        worker makes all but the first ``share`` of each list (default: the adapted ``share``),
        which ``receive`` makes here. False when the worker is gone (the caller makes them)."""
        part = self.share if share is None else share
        keep_posts, keep_trs = round(len(posts) * part), round(len(trs) * part)
        self._own = (list(posts[:keep_posts]), list(trs[:keep_trs]))
        self._asked = (list(posts[keep_posts:]), list(trs[keep_trs:]))
        try:
            self._conn.send(self._asked)
        except OSError:
            self._ready = False
            self._asked = None
        return self._asked is not None

    def receive(self) -> tuple[dict[str, str], dict[str, str]]:
        """The words asked for by the last ``send``, text → words, as (posts, translations): this
        process's share made here meanwhile, then the worker's (none when it died: the caller makes
        them). ``share`` moves towards the split where neither side waits. Blocks: run it in a
        thread."""
        asked, self._asked = self._asked, None
        if asked is None:
            return {}, {}
        own_posts = {t: search_index.post_words(t) for t in self._own[0]}
        own_trs = {t: wordforms.normal_words(t) for t in self._own[1]}
        try:
            if self._conn.poll():  # the worker was done first: give it more next time
                self.share = max(0.0, self.share - SHARE_STEP)
            else:
                self.share = min(MAX_SHARE, self.share + SHARE_STEP)
            posts, trs = self._conn.recv()
        except (EOFError, OSError):
            self._ready = False
            return own_posts, own_trs
        own_posts.update(zip(asked[0], posts, strict=True))
        own_trs.update(zip(asked[1], trs, strict=True))
        return own_posts, own_trs

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self._proc.pid

    def close(self) -> None:
        """Stop the worker (it holds nothing to save; one still starting is not waited for)."""
        self._conn.close()
        self._proc.join(timeout=5 if self._ready else 0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

