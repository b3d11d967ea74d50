"""The import's words worker (``storage.words_ahead``): the words it makes are the ones this process
makes, an import that uses it writes the same index as one that does not, and a worker that dies
costs nothing but time."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.archive import ImportRecord, import_records
from storage import search_index, wordforms
from storage.db import Database
from storage.words_ahead import WordsAhead
from tests.test_import_index import _hits, _index, _records


def _texts() -> tuple[list[str], list[str]]:
    recs = _records()
    return ([r.post.text or "" for r in recs],
            [r.translation for r in recs if r.translation])


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_worker_makes_the_words_this_process_makes(share: float) -> None:
    """All of a batch's words come back, whichever part of them this process made itself."""
    posts, trs = _texts()
    ahead = WordsAhead()
    try:
        assert ahead.ready(wait=30)
        assert ahead.send(posts, trs, share=share)
        made_posts, made_trs = ahead.receive()
        assert 0.0 <= ahead.share <= 0.5
    finally:
        ahead.close()
    assert made_posts == {t: search_index.post_words(t) for t in posts}
    assert made_trs == {t: wordforms.normal_words(t) for t in trs}
    assert any("xn" in w for w in made_posts.values())  # cross-script keys came along
    assert ahead.pid not in {p.pid for p in multiprocessing.active_children()}


def test_a_dead_worker_answers_nothing() -> None:
    posts, trs = _texts()
    ahead = WordsAhead()
    try:
        assert ahead.ready(wait=30)
        assert ahead.pid is not None
        os.kill(ahead.pid, signal.SIGKILL)
        sent = ahead.send(posts[:5], trs[:5], share=0.0)
        assert ahead.receive() == ({}, {})  # the importer makes them itself
        assert not sent or not ahead.ready()
    finally:
        ahead.close()


def _words(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return (conn.execute("SELECT id, words FROM posts ORDER BY id").fetchall(),
                conn.execute("SELECT id, words FROM translations ORDER BY id").fetchall())


async def test_an_import_with_the_worker_writes_the_same_index(tmp_path: Path) -> None:
    recs = _records()
    children: list[int] = []

    def watched() -> Iterator[ImportRecord]:
        for r in recs:  # the worker is a child of this process while the import runs
            children.append(len(multiprocessing.active_children()))
            yield r

    ahead_db = await Database.open(tmp_path / "ahead.db")
    here_db = await Database.open(tmp_path / "here.db")
    try:
        # several batches: the worker makes each next batch's words from the first on
        result, issues = await import_records(ahead_db, watched(), batch_size=64, words_after=0)
        assert result.inserted == len(recs) and not issues
        assert max(children) >= 1
        result, issues = await import_records(here_db, recs, batch_size=64,
                                              words_after=10**9)
        assert result.inserted == len(recs) and not issues
        # the same records again: nothing new, nothing sent to a worker, nothing changed
        again, issues = await import_records(ahead_db, recs, batch_size=64, words_after=0)
        assert again.unchanged == len(recs) and not issues
        ahead_hits, here_hits = await _hits(ahead_db), await _hits(here_db)
    finally:
        await ahead_db.close()
        await here_db.close()
    assert not multiprocessing.active_children()
    assert ahead_hits == here_hits
    assert _words(tmp_path / "ahead.db") == _words(tmp_path / "here.db")
    assert _index(tmp_path / "ahead.db") == _index(tmp_path / "here.db")


def test_the_last_batch_is_stored_in_halves() -> None:
    """An import of several batches stores its last one in parts of a half, a quarter, ...
    (written while the worker makes the next part's words); every record once, in order; a
    one-batch import stays one transaction."""
    from bot.archive import _tail_halved

    recs = _records()[:250]

    def parts(size: int, smallest: int, n: int = len(recs)) -> list[list[ImportRecord]]:
        return list(_tail_halved(iter([recs[i:min(i + size, n)] for i in range(0, n, size)]),
                                 smallest))

    got = parts(100, 10)
    assert [len(p) for p in got] == [100, 100, 25, 12, 13]
    assert [r for p in got for r in p] == recs
    assert [len(p) for p in parts(100, 10, n=200)] == [100, 50, 25, 12, 13]
    assert [len(p) for p in parts(250, 10)] == [250]  # one batch: no worker, one transaction
    assert parts(100, 10, n=0) == []
