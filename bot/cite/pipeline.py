"""Feed the pure detector: candidates from the database, linked posts fetched if missing, results stored.

``find_citations`` does everything but storing (``citewatch check-article`` prints its result);
``check_article`` runs it for a stored article and writes citations plus their alert rows in one
transaction (``storage.citations.store``), then marks the article checked.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cite import aliases as channel_aliases
from bot.cite.candidates import lookup_terms
from bot.cite.detect import (
    ArticleInput,
    CandidatePost,
    Found,
    article_time,
    detect,
    named_channels,
)
from bot.cite.linked import FetchPost, PacedFetch, most_referenced
from bot.config import Settings
from bot.errors import CitewatchError
from bot.tglinks import find_links, refs_from_json
from storage import articles, candidates, citations, posts
from storage.db import Database
from storage.models import Article, CandidateText, ChannelNames, Citation, Post

log = logging.getLogger(__name__)

#: how missing linked posts are fetched: a source's ``fetch_post``, or one behind a channel pace
#: kept across articles (``PacedFetch``; a bare ``fetch_post`` gets a fresh one per article)
PostFetch = FetchPost | PacedFetch

CANDIDATE_LIMIT = 50


@dataclass
class Result:
    """A citation as found (not necessarily stored): the detector's verdict and the post."""

    found: Found
    post: Post


def to_candidate(p: Post) -> CandidatePost:
    return CandidatePost(channel=p.channel, message_id=p.message_id, date=p.date, text=p.text or "",
                         translation=p.translation, post_id=p.id)


def article_input(a: Article) -> ArticleInput:
    return ArticleInput(text=a.text or "", published=a.published, url=a.url, title=a.title or "",
                        tg_refs=list(a.tg_refs))


def aliases(settings: Settings, extra_channels: list[str],
            stored: Mapping[str, ChannelNames] | None = None) -> dict[str, list[str]]:
    """Names per channel: the settings' (CHANNEL_ALIASES or the built-in ones), those derived from
    the stored title and about text, and those stored with the channel (``channels alias add``),
    minus the ones removed from it (``bot.cite.aliases.effective``)."""
    stored = {k.lower(): v for k, v in (stored or {}).items()}
    names = {c.lower() for c in [*settings.channels, *extra_channels, *stored]}
    none = ChannelNames()
    out = {}
    for c in sorted(names):
        got = stored.get(c, none)
        out[c] = channel_aliases.effective(settings.aliases_for(c),
                                           channel_aliases.from_profile(got.title, got.about),
                                           got.aliases, got.removed)
    return out


def _query(article: ArticleInput, settings: Settings,
           ) -> tuple[list[str], list[tuple[str, int]], datetime, datetime]:
    """What to look up for an article: FTS terms, linked (channel, id) pairs, and the time window."""
    when = article_time(article, None)
    since = when - timedelta(days=settings.citation_window_days)
    return lookup_terms(f"{article.title}\n{article.text}"), _post_refs(article), since, when


def _post_refs(article: ArticleInput) -> list[tuple[str, int]]:
    """Every (channel, id) the article links or embeds, once per reference."""
    refs = refs_from_json(article.tg_refs) + list(find_links(article.text))
    return [(r.channel, r.message_id) for r in refs if r.message_id is not None]


def _candidate(t: CandidateText) -> CandidatePost:
    """What ``to_candidate`` gives for the same stored post, without reading the whole post."""
    return CandidatePost(channel=t.channel, message_id=t.message_id, date=t.date, text=t.text or "",
                         translation=t.translation, post_id=t.post_id, words=t.words,
                         translation_words=t.translation_words)


#: the channels an article names as its source ("Ukrenergo said on Telegram") have their latest
#: posts of this span before it compared, at most ``NAMED_POSTS`` each: "X said" in a news report
#: is what X said lately (``bot.cite.detect``), and that post may share no rare word with the
#: report (an untranslated notice: retrieval's terms never reach it)
NAMED_SPAN = timedelta(days=2)
NAMED_POSTS = 10


def _with_recent(cands: list[CandidatePost], recent: list[CandidateText]) -> list[CandidatePost]:
    """The candidates and the named channels' latest posts not among them."""
    have = {c.key for c in cands}
    return cands + [p for t in recent if (p := _candidate(t)).key not in have]


@dataclass
class Detection:
    """One retrieval and detection pass over an article: the verdicts, and the stored posts they
    name (a linked post that is not stored has a verdict but no post)."""

    found: list[Found]
    posts: list[Post]


def _named(found: list[Found], cands: list[CandidatePost]) -> list[int]:
    """Ids of the candidates the detector named."""
    keys = {f.post_key for f in found}
    return [c.post_id for c in cands if c.key in keys and c.post_id is not None]


def _find_at(path: str, article: ArticleInput, settings: Settings) -> Detection:
    """Retrieval and detection of one article in a pool worker, on the worker's own read-only
    connection (``storage.candidates.candidates_at``): term extraction, FTS5 and the detector all
    run off the event loop's core."""
    terms, post_refs, since, when = _query(article, settings)
    counts: dict[str, int] = {}
    texts, stored_aliases = candidates.candidates_at(path, terms, post_refs, since, when,
                                                     CANDIDATE_LIMIT, counts)
    cands = [_candidate(t) for t in texts]
    names = aliases(settings, [c.channel for c in cands], stored_aliases)
    if named := named_channels(article, names):
        cands = _with_recent(cands, candidates.recent_at(
            path, named, max(since, when - NAMED_SPAN), when, NAMED_POSTS))
    found = detect(article, cands, aliases_by_channel=names,
                   window_days=settings.citation_window_days, in_store=counts)
    named = candidates.posts_at(path, _named(found, cands))
    _after_article()
    return Detection(found, named)


async def _find_here(db: Database, article: ArticleInput, settings: Settings,
                     executor: Executor | None) -> Detection:
    """``_find_at`` through the database's own reader; only the pure detector runs in
    ``executor`` when one is given."""
    terms, post_refs, since, when = _query(article, settings)
    counts: dict[str, int] = {}
    texts = await candidates.candidate_texts(db, terms, post_refs, since, when, CANDIDATE_LIMIT,
                                             counts)
    cands = [_candidate(t) for t in texts]
    names = aliases(settings, [c.channel for c in cands], await candidates.channel_aliases(db))
    if named := named_channels(article, names):
        cands = _with_recent(cands, await candidates.recent_texts(
            db, named, max(since, when - NAMED_SPAN), when, NAMED_POSTS))
    call = functools.partial(
        detect, article, cands, aliases_by_channel=names,
        window_days=settings.citation_window_days, in_store=counts)
    found = call() if executor is None else (
        await asyncio.get_running_loop().run_in_executor(executor, call))
    return Detection(found, await candidates.posts_by_id(db, _named(found, cands)))


#: the cyclic collector's first threshold in a pool worker (CPython's default is 700)
WORKER_GC_THRESHOLD = 20_000
#: a pool worker runs a full collection once per this many articles (see ``_after_article``)
WORKER_FULL_COLLECT = 1000
#: articles this process has checked as a pool worker (None: not a pool worker)
_worker_articles: int | None = None


def _after_article() -> None:
    """In a pool worker, after each article: freeze what the article left behind (the entries it
    added to the per-text caches) out of the cyclic collector's scans. An article makes no
    reference cycles (a collection after 200 bench articles finds nothing), yet while the caches
    fill up (every fresh worker, a long run's first minutes) the collector kept scanning their new
    sets and tuples: ~0.7 ms of ~16 ms CPU per article at 1M posts. Frozen objects are still freed
    when their count drops (a cache evicts them); a full collection every ``WORKER_FULL_COLLECT``
    articles frees any cycle that a later change might make. Nothing outside a pool worker."""
    global _worker_articles
    if _worker_articles is None:
        return
    _worker_articles += 1
    if _worker_articles % WORKER_FULL_COLLECT == 0:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def init_worker(path: str) -> None:
    """Initializer of a process pool for ``check_articles`` / ``find_citations``
    (``ProcessPoolExecutor(n, initializer=init_worker, initargs=(path,))``): opens the worker's
    read-only connection up front (``storage.candidates.open_worker``), then makes the cyclic
    garbage collector run less often. An article allocates tens of thousands of short-lived tuples
    and sets (shingles, stem sets), which at the default threshold of 700 set off a collection
    about once per article, scanning the detector's caches: ~1.2 ms of ~15 ms of CPU; at 20,000
    it is ~0.2 ms. Almost nothing an article allocates forms a cycle, so little waits longer to be
    freed. What the worker holds after start-up is frozen out of the collector's scans, and so is
    what each article leaves behind (``_after_article``)."""
    global _worker_articles
    candidates.open_worker(path)
    gc.freeze()
    gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])
    _worker_articles = 0


def _file_of(db: Database) -> str | None:
    """The database file a worker can open itself (not an in-memory database)."""
    return str(db.path) if str(db.path) != ":memory:" and db.path.is_file() else None


async def find_citations(
    db: Database, article: ArticleInput, settings: Settings, fetch_post: PostFetch | None = None,
    *, executor: Executor | None = None,
) -> list[Result]:
    """Detect citations of stored posts; a linked post we do not have is fetched and stored first.

    ``executor`` (a process pool) runs the whole retrieval and detection of the article in a
    worker that reads the database file through its own read-only connection, so with several
    articles in flight (``check_articles``) every core works on one; only fetching a missing linked
    post and storing stay here (the single writer). An in-memory database cannot be opened by a
    worker: then only the pure detector runs in the executor."""
    path = _file_of(db) if executor is not None else None

    async def find() -> Detection:
        if path is None:
            return await _find_here(db, article, settings, executor)
        return await asyncio.get_running_loop().run_in_executor(executor, _find_at, path, article,
                                                                settings)

    det = await find()
    missing = {f.post_key for f in det.found if f.post_id is None}
    if missing and fetch_post is not None:
        # at most LINKED_FETCHES per article, the most-referenced first, channels paced
        ranked = [k for k in most_referenced(_post_refs(article)) if k in missing]
        pace = fetch_post if isinstance(fetch_post, PacedFetch) else PacedFetch(fetch_post, db)
        if await _store_fetched(db, await pace.fetch_many(ranked)):
            det = await find()  # now stored: retrieval finds them by their links
    by_key = {(p.channel.lower(), p.message_id): p for p in det.posts}
    out = []
    unstored = 0
    for f in det.found:
        post = by_key.get(f.post_key)
        if post is None:
            unstored += 1
            continue
        f.post_id = post.id
        out.append(Result(f, post))
    if unstored:
        log.info("%d linked post(s) not stored and not fetched: links only, no citation", unstored)
    return out


async def _store_fetched(db: Database, got: list[Post]) -> list[Post]:
    if not got:
        return []
    await posts.upsert_many(db, got)
    reread = [await posts.get(db, p.channel, p.message_id) for p in got]
    return [p for p in reread if p is not None]


async def check_article(
    db: Database, article_id: int, settings: Settings, fetch_post: PostFetch | None = None,
    *, executor: Executor | None = None,
) -> list[Citation]:
    """Detect and store the citations of one stored article; alerts are queued in the same
    transaction for those at or above CITATION_THRESHOLD."""
    art = await articles.get(db, article_id)
    if art is None:
        raise CitewatchError(f"no article with id {article_id}")
    results = await find_citations(db, article_input(art), settings, fetch_post, executor=executor)
    rows = [Citation(article_id=article_id, post_id=r.post.id or 0, score=r.found.score,
                     evidence=r.found.evidence) for r in results]
    stored = await citations.store(db, article_id, rows, settings.citation_threshold,
                                   [settings.alert_chat])
    await articles.mark_checked(db, article_id)
    return stored


async def check_articles(
    db: Database, article_ids: Sequence[int], settings: Settings,
    fetch_post: PostFetch | None = None, *, concurrency: int = 4, executor: Executor | None = None,
) -> dict[int, list[Citation] | Exception]:
    """``check_article`` for a batch, ``concurrency`` at a time. With a process pool as
    ``executor`` each worker retrieves and compares a whole article on its own read-only
    connection (see ``find_citations``; ``init_worker`` as the pool's initializer opens it up
    front) while this process only stores results: keep ``concurrency`` about twice the
    pool size so no worker waits. Each article's outcome is its citations or the exception it
    raised, so one bad article does not stop the others."""
    sem = asyncio.Semaphore(max(1, concurrency))
    out: dict[int, list[Citation] | Exception] = {}

    async def one(aid: int) -> None:
        async with sem:
            try:
                out[aid] = await check_article(db, aid, settings, fetch_post, executor=executor)
            except Exception as exc:  # reported per article; the caller records it
                out[aid] = exc

    await asyncio.gather(*(one(a) for a in dict.fromkeys(article_ids)))
    return {a: out[a] for a in dict.fromkeys(article_ids)}
