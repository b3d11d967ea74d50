"""The citation pipeline against a real SQLite file: FTS candidates, storing once, alerts atomically."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cite.pipeline import aliases, check_article, check_articles
from bot.config import Settings, load_settings
from bot.errors import CitewatchError
from storage import articles, candidates, citations, posts, readonly, retrieval, translations
from storage.db import Database
from storage.models import Article, ChannelNames, Citation, Post, Translation
from tests.test_cite_detect import (
    EN_TRANSLATION,
    MODEL_ARTICLE,
    POST_TIME,
    SAME_TOPIC_ARTICLE,
    UK_POST,
)


def settings(tmp_path: Path, **extra: str) -> Settings:
    env = {"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": str(tmp_path / "s"),
           "TG_BOT_SESSION": str(tmp_path / "b"), "TRANSLATOR": "none", "ALERT_CHAT": "@analysts"}
    env.update(extra)
    return load_settings(env, dotenv_path=None)


async def seed(db: Database) -> int:
    """The cited post, plus unrelated posts of two channels; returns the cited post's id."""
    others = [
        Post("DIUkraine", 1900 + i, POST_TIME - timedelta(hours=3 * i), f"Допис номер {i} про дрони.")
        for i in range(1, 6)
    ] + [Post("rybar", 500 + i, POST_TIME - timedelta(hours=i), f"Сводка за день {i}.") for i in range(5)]
    await posts.upsert_many(db, [Post("DIUkraine", 1908, POST_TIME, UK_POST, lang="uk"), *others])
    p = await posts.get(db, "DIUkraine", 1908)
    assert p and p.id
    await translations.upsert(db, Translation(p.id, "en", "test", EN_TRANSLATION, "uk"), UK_POST)
    return p.id


async def add_article(db: Database, text: str, hours_after: float, **kw: object) -> int:
    art = Article(url=f"https://news.example/{abs(hash(text)) % 10**8}/{hours_after}", text=text,
                  title="Conscripts", published=POST_TIME + timedelta(hours=hours_after), **kw)  # type: ignore[arg-type]
    aid, created = await articles.add(db, art)
    assert created
    return aid


async def alert_rows(db: Database) -> list[tuple[int, str, str]]:
    rows = await db.fetchall("SELECT citation_id, chat, status FROM alerts ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_translated_quote_is_stored_once_with_one_alert(db: Database, tmp_path: Path) -> None:
    post_id = await seed(db)
    aid = await add_article(db, MODEL_ARTICLE, 31)
    s = settings(tmp_path)
    first = await check_article(db, aid, s)
    assert [(c.post_id, c.score >= s.citation_threshold) for c in first] == [(post_id, True)]
    assert any(e["kind"] == "quote" for e in first[0].evidence)
    again = await check_article(db, aid, s)
    assert [c.id for c in again] == [c.id for c in first]
    assert await db.fetchval("SELECT count(*) FROM citations") == 1
    assert await alert_rows(db) == [(first[0].id, "@analysts", "pending")]
    stored = await articles.get(db, aid)
    assert stored and stored.status == "checked"
    listed = await citations.list_recent(db)
    assert [(c.channel, c.message_id, c.article_id) for c in listed] == [("DIUkraine", 1908, aid)]
    assert [c.article_id for c in await citations.for_post(db, post_id)] == [aid]


async def test_below_threshold_is_stored_without_alert(db: Database, tmp_path: Path) -> None:
    await seed(db)
    # a loose paraphrase with no attribution: some evidence, not enough
    aid = await add_article(db, "Reports say that personnel of the 127th motorised division are "
                            "unwilling to replenish the occupation contingent, and dozens have asked "
                            "to be dismissed.", 20)
    found = await check_article(db, aid, settings(tmp_path))
    assert len(found) == 1 and 0 < found[0].score < 0.6
    assert await alert_rows(db) == []
    # the same citation later scored higher (threshold lowered) gets its alert, still one row
    again = await check_article(db, aid, settings(tmp_path, CITATION_THRESHOLD="0.2"))
    assert await db.fetchval("SELECT count(*) FROM citations") == 1
    assert await alert_rows(db) == [(again[0].id, "@analysts", "pending")]


async def test_same_topic_and_later_posts_are_not_cited(db: Database, tmp_path: Path) -> None:
    await seed(db)
    s = settings(tmp_path)
    same_topic = await add_article(db, SAME_TOPIC_ARTICLE, 10)
    assert [c for c in await check_article(db, same_topic, s) if c.score >= s.citation_threshold] == []
    before = await add_article(db, MODEL_ARTICLE + " (early edition)", -2)
    assert await check_article(db, before, s) == []
    assert await alert_rows(db) == []


async def test_linked_post_not_stored_is_fetched_then_cited(db: Database, tmp_path: Path) -> None:
    await seed(db)
    asked: list[tuple[str, int]] = []

    async def fetch_post(channel: str, message_id: int) -> Post | None:
        asked.append((channel, message_id))
        return Post("DIUkraine", message_id, POST_TIME - timedelta(days=2), "Нове відео від ГУР.")

    aid = await add_article(db, "Intelligence released a video.", 5,
                            tg_refs=[{"kind": "link", "channel": "diukraine", "message_id": 2222,
                                      "url": "https://t.me/DIUkraine/2222"}])
    found = await check_article(db, aid, settings(tmp_path), fetch_post=fetch_post)
    assert asked == [("diukraine", 2222)]
    fetched = await posts.get(db, "DIUkraine", 2222)
    assert fetched and [c.post_id for c in found] == [fetched.id]
    assert found[0].score == 1.0 and found[0].evidence[0]["kind"] == "link"
    # without a source the link cannot be stored as a citation (no post row), and nothing breaks
    aid2 = await add_article(db, "Another story.", 6,
                             tg_refs=[{"kind": "link", "channel": "DIUkraine", "message_id": 3333}])
    assert await check_article(db, aid2, settings(tmp_path)) == []


async def test_store_is_atomic(db: Database) -> None:
    post_id = await seed(db)
    aid = await add_article(db, "x", 1)
    good = Citation(article_id=aid, post_id=post_id, score=0.9, evidence=[])
    bad = Citation(article_id=aid, post_id=999_999, score=0.9, evidence=[])  # no such post
    with pytest.raises(sqlite3.IntegrityError):
        await citations.store(db, aid, [good, bad], 0.6, ["me"])
    assert await db.fetchval("SELECT count(*) FROM citations") == 0
    assert await alert_rows(db) == []
    stored = await citations.store(db, aid, [good], 0.6, ["me", "@b", "me"])
    assert len(await alert_rows(db)) == 2 and stored[0].score == 0.9
    # a weaker re-detection never lowers the stored score
    await citations.store(db, aid, [Citation(aid, post_id, 0.4, [{"kind": "x"}])], 0.6, ["me"])
    assert [c.score for c in await citations.for_post(db, post_id)] == [0.9]


async def test_candidates_come_from_fts_inside_the_window(db: Database) -> None:
    post_id = await seed(db)
    window = (POST_TIME - timedelta(days=1), POST_TIME + timedelta(days=1))
    got = await candidates.candidates(db, ["contingent", "replenish", "nonexistentword"], [], *window)
    assert [p.id for p in got] == [post_id] and got[0].translation == EN_TRANSLATION
    # Cyrillic terms hit originals
    got = await candidates.candidates(db, ["контингенту"], [], *window)
    assert [p.id for p in got] == [post_id]
    # outside the window: nothing, unless referenced
    late = (POST_TIME + timedelta(days=2), POST_TIME + timedelta(days=3))
    assert await candidates.candidates(db, ["contingent"], [], *late) == []
    got = await candidates.candidates(db, ["contingent"], [("diukraine", 1908)], *late)
    assert [p.id for p in got] == [post_id]


def test_pick_terms_keeps_the_rarest_within_budget() -> None:
    freqs = {"the": 900_000, "forces": 150_000, "contingent": 40, "budanov": 900, "zzz": 0}
    terms = ["the", "forces", "contingent", "budanov", "zzz", "absent"]
    assert retrieval.pick_terms(freqs, terms, budget=20_000) == ["contingent", "budanov"]
    assert retrieval.pick_terms(freqs, terms, budget=100) == ["contingent"]
    assert retrieval.pick_terms(freqs, terms, budget=10**9, max_terms=3) == [
        "contingent", "budanov", "forces"]
    # a term counted past the cap is too common to single a post out, whatever the budget
    assert retrieval.pick_terms({"budanov": 901, "contingent": 40}, terms, budget=10**9,
                                cap=900) == ["contingent"]


async def test_unknown_article_is_one_clear_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(CitewatchError, match="no article with id 42"):
        await check_article(db, 42, settings(tmp_path))


async def test_window_sees_posts_stored_after_a_check_including_backfill(db: Database) -> None:
    """The window's id range is cached per database; posts stored later (new or backfilled with an
    old date, so a high id for an old day) must still be candidates."""
    await seed(db)
    window = (POST_TIME - timedelta(days=1), POST_TIME + timedelta(days=1))
    assert await candidates.candidates(db, ["kherson"], [], *window) == []
    await posts.upsert_many(db, [Post("rybar", 9001, POST_TIME - timedelta(hours=5),
                                      "Kherson bridge report, backfilled.")])
    got = await candidates.candidates(db, ["kherson"], [], *window)
    assert [(p.channel, p.message_id) for p in got] == [("rybar", 9001)]
    old = (POST_TIME - timedelta(days=400), POST_TIME - timedelta(days=399))
    assert await candidates.candidates(db, ["kherson"], [], *old) == []


async def test_candidates_rank_posts_with_more_rare_terms_first(db: Database) -> None:
    when = POST_TIME - timedelta(hours=1)
    await posts.upsert_many(db, [
        Post("rybar", 1, when, "Kherson report."),
        Post("rybar", 2, when, "Kherson Antonivsky bridge Chornobaivka report."),
        Post("rybar", 3, when, "Chornobaivka airfield."),
    ])
    window = (POST_TIME - timedelta(days=1), POST_TIME + timedelta(days=1))
    got = await candidates.candidates(db, ["kherson", "antonivsky", "chornobaivka"], [], *window,
                                     limit=2)
    assert [p.message_id for p in got][:1] == [2] and len(got) == 2


async def test_ranking_sums_idf_breaks_ties_newest_first_and_skips_posts_outside_the_window(
        db: Database) -> None:
    """The ranking as the engine defines it: posts by the summed IDF of the terms they match, equal
    sums newest first, and posts inside the id range but outside the dates skipped (here the best
    three, so the dates are checked in more than one batch)."""
    texts = {1: ("alpha beta", -5), 2: ("beta", -4), 3: ("alpha beta", 72), 4: ("gamma", -3),
             5: ("beta", -2), 6: ("alpha beta gamma", 72), 7: ("alpha beta gamma", 96),
             8: ("gamma beta", -1)}
    await posts.upsert_many(db, [Post("rybar", m, POST_TIME + timedelta(hours=h), t)
                                 for m, (t, h) in texts.items()])
    pid = {r[1]: r[0] for r in await db.fetchall("SELECT id, message_id FROM posts")}
    conn = sqlite3.connect(db.path)
    whole = (min(pid.values()), max(pid.values()))
    terms = ["alpha", "beta", "gamma"]
    freqs = retrieval.term_frequencies(conn, terms, whole)
    assert freqs == {"alpha": 4, "beta": 7, "gamma": 4}
    chosen = retrieval.pick_terms(freqs, terms)
    since, until = POST_TIME - timedelta(days=1), POST_TIME + timedelta(days=1)

    def ranked(limit: int) -> list[int]:
        got = retrieval.rank_by_idf(conn, chosen, freqs, whole, since, until, limit)
        return [next(m for m, i in pid.items() if i == g) for g in got]

    # 7, 6, 3 match more but are dated after the window; 8 and 1 match a rare term and "beta"
    # (equal sums: the newer first), 4 the other rare term, then "beta" alone, newest first
    assert ranked(3) == [8, 1, 4]
    assert ranked(10) == [8, 1, 4, 5, 2]
    # the counts hand over the posts they read: the ranking reads no posting list again
    rowids: dict[str, str] = {}
    assert retrieval.term_frequencies(conn, terms, whole, cap=5, rowids=rowids) == {
        "alpha": 4, "beta": 6, "gamma": 4}
    assert {t: sorted(int(i) for i in v.split(",")) for t, v in rowids.items()} == {
        "alpha": sorted(pid[m] for m in (1, 3, 6, 7)), "gamma": sorted(pid[m] for m in (4, 6, 7, 8))}
    assert retrieval.rank_by_idf(conn, chosen, freqs, whole, since, until, 10, rowids={
        t: rowids.get(t, ",".join(str(pid[m]) for m in (1, 2, 3, 5, 6, 7, 8))) for t in terms}) == \
        [pid[m] for m in (8, 1, 4, 5, 2)]
    assert retrieval.rank_by_idf(conn, chosen, freqs, whole, since - timedelta(days=9),
                                 since - timedelta(days=8), 5) == []
    conn.close()


async def test_aliases_stored_with_the_channel_are_used(db: Database, tmp_path: Path) -> None:
    from storage import channels

    await posts.upsert_many(db, [Post("mychan", 7, POST_TIME, "Повідомлення про дрони над містом.")])
    await channels.set_aliases(db, "mychan", ["Night Watch Unit"])
    assert await candidates.channel_aliases(db) == {
        "mychan": ChannelNames(aliases=("Night Watch Unit",))}
    s = settings(tmp_path)
    got = aliases(s, ["MyChan"], await candidates.channel_aliases(db))
    assert got["mychan"] == ["Night Watch Unit"]
    spy = {"diukraine": ChannelNames(aliases=("Spy Chief",), removed=("budanov",))}
    assert "Spy Chief" in aliases(s, [], spy)["diukraine"]
    assert "Budanov" not in aliases(s, [], spy)["diukraine"]
    assert "HUR" in aliases(s, [], spy)["diukraine"]


async def test_a_batch_checks_each_article_and_reports_failures(db: Database, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    post_id = await seed(db)
    quoting = await add_article(db, MODEL_ARTICLE, 31)
    other = await add_article(db, SAME_TOPIC_ARTICLE, 31)
    s = settings(tmp_path)
    with ThreadPoolExecutor(2) as pool:  # any Executor; the service would pass a process pool
        out = await check_articles(db, [quoting, other, 4242, quoting], s, concurrency=3,
                                   executor=pool)
    assert list(out) == [quoting, other, 4242]
    assert isinstance(out[4242], CitewatchError)
    first = out[quoting]
    assert not isinstance(first, Exception) and [c.post_id for c in first] == [post_id]
    assert not isinstance(out[other], Exception)
    assert [c for c in out[other] if c.score >= s.citation_threshold] == []


async def test_a_process_pool_finds_the_same_citations_as_one_process(
        db: Database, tmp_path: Path) -> None:
    """With a process pool each worker reads through its own connection, and sees what the main
    process stored after the worker opened it (a post stored later, a linked post fetched)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bot.cite.pipeline import article_input, find_citations, init_worker

    post_id = await seed(db)
    quoting = await add_article(db, MODEL_ARTICLE, 31)
    other = await add_article(db, SAME_TOPIC_ARTICLE, 31)
    s = settings(tmp_path)
    alone = await check_articles(db, [quoting, other], s)
    linking = Article(url="https://news.example/link", text="As the channel posted at "
                      "https://t.me/DIUkraine/2222, nothing else.", published=POST_TIME + timedelta(hours=5))

    async def fetch_post(channel: str, message_id: int) -> Post | None:
        return Post(channel, message_id, POST_TIME, "Окремий допис про щось інше.")

    # spawned, as the service's: forking a process whose database threads may hold a lock can hang a worker
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker,
                             initargs=(str(db.path),)) as pool:
        pooled = await check_articles(db, [quoting, other], s, concurrency=2, executor=pool)
        later = Post("DIUkraine", 3000, POST_TIME, EN_TRANSLATION, lang="en")
        await posts.upsert_many(db, [later])
        again = await find_citations(db, article_input(await articles.get(db, quoting)), s,
                                     executor=pool)  # type: ignore[arg-type]
        linked = await find_citations(db, article_input(linking), s, fetch_post, executor=pool)
    assert {a: [(c.post_id, c.score) for c in v] for a, v in alone.items()  # type: ignore[union-attr]
            } == {a: [(c.post_id, c.score) for c in v] for a, v in pooled.items()}  # type: ignore[union-attr]
    assert post_id in {r.post.id for r in again}
    assert (await posts.get(db, "DIUkraine", 3000)).id in {r.post.id for r in again}  # type: ignore[union-attr]
    stored = await posts.get(db, "DIUkraine", 2222)
    assert stored and [r.post.id for r in linked] == [stored.id]


async def test_worker_and_async_paths_give_the_same_detection(
        db: Database, tmp_path: Path) -> None:
    """The worker reads candidates on its own connection, the async path through the database's
    reader: the same verdicts, the same posts named, and candidate texts equal to whole posts."""
    from bot.cite.pipeline import _candidate, _find_at, _find_here, article_input, to_candidate

    post_id = await seed(db)
    aid = await add_article(db, MODEL_ARTICLE + " See t.me/rybar/501 as well.", 31)
    art = article_input(await articles.get(db, aid))  # type: ignore[arg-type]
    s = settings(tmp_path)
    here = await _find_here(db, art, s, None)
    at = _find_at(str(db.path), art, s)
    assert [(f.post_key, f.score, f.evidence) for f in at.found] == [
        (f.post_key, f.score, f.evidence) for f in here.found]
    assert len(at.found) >= 2  # the quoted post and the linked one
    assert at.posts == here.posts
    assert {(p.channel.lower(), p.message_id) for p in at.posts} == {f.post_key for f in at.found}
    window = (POST_TIME - timedelta(days=30), POST_TIME + timedelta(days=2))
    texts, _ = candidates.candidates_at(str(db.path), ["contingent", "rybar"], [("rybar", 501)],
                                        *window)
    whole = await candidates.candidates(db, ["contingent", "rybar"], [("rybar", 501)], *window)
    assert [_candidate(t) for t in texts] == [to_candidate(p) for p in whole]
    assert {p.message_id for p in whole} >= {1908, 501} and post_id in {t.post_id for t in texts}
    assert candidates.posts_at(str(db.path), [post_id]) == [p for p in whole if p.id == post_id]


def test_init_worker_opens_the_connection_and_collects_garbage_less_often(
        tmp_path: Path) -> None:
    import gc

    from bot.cite import pipeline
    from bot.cite.detect import ArticleInput
    from storage.db import migrate

    path = tmp_path / "w.db"
    conn = sqlite3.connect(path)
    migrate(conn)
    conn.close()
    before = gc.get_threshold()
    try:
        pipeline.init_worker(str(path))
        assert gc.get_threshold() == (pipeline.WORKER_GC_THRESHOLD, *before[1:])
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert readonly.connection(str(path)).conn.execute("PRAGMA query_only").fetchone()[0] == 1
        # what an article leaves behind is frozen out of the collector's scans too
        art = ArticleInput(text=MODEL_ARTICLE, published=POST_TIME + timedelta(hours=2))
        pipeline._find_at(str(path), art, settings(tmp_path))
        assert gc.get_freeze_count() > frozen
        # and a full collection runs once per WORKER_FULL_COLLECT articles
        full = gc.get_stats()[2]["collections"]
        for _ in range(pipeline.WORKER_FULL_COLLECT):
            pipeline._after_article()
        assert gc.get_stats()[2]["collections"] == full + 1
    finally:
        pipeline._worker_articles = None  # this test process is no pool worker
        gc.set_threshold(*before)
        gc.unfreeze()
    # outside a pool worker nothing is frozen
    pipeline._after_article()
    assert gc.get_freeze_count() == 0


async def test_a_term_past_the_cap_in_an_interval_is_not_counted_again(db: Database) -> None:
    when = POST_TIME - timedelta(hours=1)
    await posts.upsert_many(db, [Post("rybar", i, when, f"Kherson report {i}.") for i in range(1, 31)])
    ids = [r[0] for r in await db.fetchall("SELECT id FROM posts ORDER BY id")]
    conn = sqlite3.connect(db.path)
    whole = (ids[0], ids[-1])
    past: dict[str, list[tuple[int, int]]] = {}
    # cap 10: a count goes on to 11 (a tenth more) and remembers where the 11th post is
    got = retrieval.term_frequencies(conn, ["kherson", "report", "absent"], whole, cap=10,
                                     past_cap=past)
    assert got == {"kherson": 11, "report": 11, "absent": 0}
    assert past == {"kherson": [(ids[0], ids[10])], "report": [(ids[0], ids[10])]}
    # the same when the counts also hand over their rowids (the 11th is then their last)
    also: dict[str, list[tuple[int, int]]] = {}
    rowids: dict[str, str] = {}
    assert retrieval.term_frequencies(conn, ["kherson", "report", "absent"], whole, cap=10,
                                      past_cap=also, rowids=rowids) == got
    assert also == past and rowids == {"absent": ""}
    assert retrieval.term_frequencies(conn, ["kherson"], whole, cap=100) == {"kherson": 30}
    # a range holding that interval is past the cap without counting: proven with an interval
    # planted for a term that is in no post at all
    past["absent"] = [(ids[2], ids[5])]
    assert retrieval.term_frequencies(conn, ["absent", "kherson"], (ids[1], ids[29]), cap=10,
                                      past_cap=past) == {"absent": 11, "kherson": 11}
    # a range that does not hold it is counted as usual
    assert retrieval.term_frequencies(conn, ["absent"], (ids[3], ids[29]), cap=10,
                                      past_cap=past) == {"absent": 0}
    # a term past the cap in another range is counted here without handing over its rowids
    # (most likely past the cap again); when it is not, the ranking reads them itself
    past = {"kherson": [(ids[0], ids[10])]}
    rowids = {}
    part = (ids[20], ids[29])
    assert retrieval.term_frequencies(conn, ["kherson", "report"], part, cap=12, past_cap=past,
                                      rowids=rowids) == {"kherson": 10, "report": 10}
    assert set(rowids) == {"report"} and past == {"kherson": [(ids[0], ids[10])]}
    window = (POST_TIME - timedelta(days=1), POST_TIME)
    assert retrieval.rank_by_idf(conn, ["kherson"], {"kherson": 10}, part, *window, 5,
                                 rowids) == ids[29:24:-1]
    # without the memo, nothing is remembered and the counts stop at the cap + 1
    assert retrieval.term_frequencies(conn, ["kherson"], (ids[20], ids[29]), cap=5) == {"kherson": 6}
    conn.close()


async def test_only_posts_that_may_be_outside_the_window_have_their_dates_read(
        db: Database) -> None:
    """Ids in no span of the window's end days or of a day outside it are posts of the days in
    between (``retrieval.sure_inside``): their dates need no reading. A post backfilled onto the
    first day widens that day's span over the others', and the window is still cut exactly."""
    day = POST_TIME.replace(hour=12, minute=0, second=0, microsecond=0)
    # message d1 at 06:00 and d2 at 18:00 of day d
    await posts.upsert_many(db, [Post("rybar", d * 10 + k, day + timedelta(days=d, hours=12 * k - 18),
                                      f"Kherson report {d} {k}.")
                                 for d in range(5) for k in (1, 2)])
    pid = {r[1]: r[0] for r in await db.fetchall("SELECT id, message_id FROM posts")}
    since, until = day + timedelta(days=1), day + timedelta(days=3)  # noon to noon
    conn = sqlite3.connect(db.path)

    async def found() -> list[int]:
        got = await candidates.candidates(db, ["kherson"], [], since, until)
        return sorted(p.message_id for p in got)

    assert await found() == [12, 21, 22, 31]
    retrieval.id_range(conn, db, since, until)
    assert retrieval.sure_inside(db, since, until) == (pid[12], pid[31])  # only day 2's posts
    await posts.upsert_many(db, [Post("rybar", 99, day + timedelta(days=1, hours=-11),
                                      "Kherson report, backfilled.")])
    assert await found() == [12, 21, 22, 31]
    retrieval.id_range(conn, db, since, until)
    pid[99] = (await db.fetchall("SELECT max(id) FROM posts"))[0][0]
    assert retrieval.sure_inside(db, since, until) == (pid[99], pid[31])  # none: all are read
    conn.close()
