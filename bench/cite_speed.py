"""How fast is citation detection for one article against 1M stored posts? Prints p50/p95 and rate.

    python bench/cite_speed.py [--posts 1000000] [--db /tmp/citewatch-cite-bench-1m.db] [--articles 447]
                               [--concurrency 4] [--workers 2] [--rebuild]

The database is synthetic but shaped like the real thing: 1M posts over two years in 20 channels
(ids growing with time, as the service stores them),
each with a Russian/Ukrainian original and an English translation whose words are drawn (Zipf-like)
from the real texts in ../shared/data, so term frequencies look natural, and the normal forms of its
words stored beside each text as the write path stores them (``posts.words``, ``translations.words``:
retrieval looks them up, the detector builds candidates' stems from them). It is built once with raw
sqlite3 executemany into a file created by ``storage.db.migrate`` and reused on later runs. The
articles are the 447 real GDELT news texts, each dated at a random time inside the posts' range, and
each goes through the same code path as the service (``bot.cite.pipeline.find_citations``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import random
import re
import resource
import sqlite3
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cite.detect import ArticleInput
from bot.cite.pipeline import find_citations, init_worker
from bot.config import load_settings
from storage.db import Database, migrate
from storage.fold import fold
from storage.search_index import post_words
from storage.wordforms import normal_words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GDELT = DATA / "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl"
KKRUGLIK = DATA / "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
COON = DATA / "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
START = datetime(2022, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730
_BULK_TRIGGERS = ("posts_fts_insert", "posts_queue_insert", "translations_fts_insert",
                  "translations_dequeue")


def _vocab(texts: list[str]) -> tuple[list[str], list[float]]:
    counts: dict[str, int] = {}
    for t in texts:
        for w in re.findall(r"[^\W\d_]{2,}", t.lower()):
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])
    # Zipf by rank, so a few words are everywhere and most are rare, as in real channels
    return words, list(itertools.accumulate(1.0 / (r + 1) ** 1.05 for r in range(len(words))))


def build(path: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with KKRUGLIK.open(encoding="utf-8") as f:
        originals = [r["message_text"] for r in csv.DictReader(f) if r["message_text"]]
    with COON.open(encoding="utf-8") as f:
        coon = list(csv.DictReader(f))
    originals += [r["text_original"] for r in coon]
    english = [r["text_en_google"] for r in coon]
    english += [json.loads(line)["text"] for line in GDELT.open(encoding="utf-8")]
    ru_words, ru_cw = _vocab(originals)
    en_words, en_cw = _vocab(english)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    triggers = {name: sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'") if name in _BULK_TRIGGERS}
    for name in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO channels (id, username, added_at) VALUES (?, ?, ?)",
                     [(i + 1, f"bench_channel_{i:02d}", now) for i in range(20)])
    batch = 50_000
    for start in range(0, n, batch):
        posts, trs, fts = [], [], []
        for i in range(start + 1, min(n, start + batch) + 1):
            # ids grow with time, as when the service stores posts as they appear (with jitter)
            jitter = rnd.randrange(-3600, 3600)
            date = START + timedelta(seconds=max(0, i * SPAN_DAYS * 86400 // n + jitter))
            text = " ".join(rnd.choices(ru_words, cum_weights=ru_cw, k=rnd.randint(15, 60)))
            tr = " ".join(rnd.choices(en_words, cum_weights=en_cw, k=rnd.randint(15, 60)))
            # the normal forms of the words, as the write path stores them (storage.posts,
            # storage.translations): retrieval looks them up and the detector compares them
            words, tr_words = post_words(text), normal_words(tr)
            posts.append((i, i % 20 + 1, i, date.isoformat(timespec="seconds"), text, "ru", now,
                          words))
            trs.append((i, "ru", "en", "bench", tr, now, tr_words))
            fts.append((i, fold(text), tr, f"{words} {tr_words}"))  # as posts_fts_content reads
        conn.executemany("INSERT INTO posts (id, channel_id, message_id, date, text, lang, stored_at,"
                         " words) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", posts)
        conn.executemany("INSERT INTO translations (post_id, source_lang, lang, provider, text,"
                         " created_at, words) VALUES (?, ?, ?, ?, ?, ?, ?)", trs)
        conn.executemany("INSERT INTO posts_fts (rowid, text, translation, words)"
                         " VALUES (?, ?, ?, ?)", fts)
        print(f"  {min(n, start + batch):,} posts", file=sys.stderr, end="\r")
    for sql in triggers.values():
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.close()


def _pool_cpu(pool: ProcessPoolExecutor | None) -> float | None:
    """CPU seconds used so far by the pool's live workers (Linux ``/proc``; None elsewhere): read
    before and after the measured articles, it leaves out the workers' start-up and warm-up."""
    if pool is None:
        return None
    total = 0.0
    try:
        for pid in list(pool._processes or {}):  # a benchmark may look inside
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return total


async def measure(path: Path, n_articles: int, seed: int = 11, concurrency: int = 1,
                  workers: int = 0, span_days: int = SPAN_DAYS - 30,
                  verdicts: dict[int, list[tuple[str, int, float]]] | None = None,
                  ) -> tuple[list[float], float, float, float, float | None]:
    """Per-article latency (ms), total wall time (s), CPU time of this process (s) and of the pool's
    workers (s, from their start: includes their warm-up), and the workers' CPU time during the
    measured articles only (s; None if it cannot be read).

    With ``concurrency`` > 1 that many articles are in flight at once (as ``check_articles`` does);
    with ``workers`` each article's retrieval and detection run in a process pool of that size (each
    worker with its own read-only connection, opened by its initializer). Articles are dated at random
    in the last ``span_days`` of the posts' range: the whole range by default (every article sees
    other candidate posts: the detector's per-post caches stay cold), 30 for a month of news as the
    service sees it (articles about the same weeks share candidates). ``verdicts``, when given, gets
    each measured article's citations (channel, message id, score to 4 places) by its index: two
    versions of the code can be checked to decide alike on the same database."""
    rnd = random.Random(seed)
    texts = [json.loads(line)["text"] for line in GDELT.open(encoding="utf-8")][:n_articles]
    first = SPAN_DAYS - span_days
    arts = [ArticleInput(text=t, published=START + timedelta(days=first + rnd.random() * span_days),
                         url="https://news.example/x") for t in texts]
    settings = load_settings({"CITEWATCH_DB": str(path), "TG_SESSION": "/tmp/cw-bench.session",
                              "TG_BOT_SESSION": "/tmp/cw-bench-bot.session"}, dotenv_path=None)
    db = await Database.open(path)
    pool = (ProcessPoolExecutor(workers, initializer=init_worker, initargs=(str(path),))
            if workers else None)
    times: list[float] = []
    try:
        # warm-up outside the figures: the per-day id spans are built once per open database, and
        # the pool's workers start and import the detector
        await find_citations(db, arts[0], settings)
        if pool:
            await asyncio.gather(*(find_citations(db, a, settings, executor=pool)
                                   for a in arts[:2 * workers]))
        queue = iter(enumerate(arts))

        async def worker() -> None:
            for i, art in queue:
                t0 = time.perf_counter()
                got = await find_citations(db, art, settings, executor=pool)
                times.append((time.perf_counter() - t0) * 1000)
                if verdicts is not None:
                    verdicts[i] = sorted((r.found.post_key[0], r.found.post_key[1], round(r.found.score, 4))
                                         for r in got)

        p0 = _pool_cpu(pool)
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        p1 = _pool_cpu(pool)
    finally:
        if pool:
            pool.shutdown()
        await db.close()
    during = p1 - p0 if p0 is not None and p1 is not None else None
    return times, wall, cpu, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, during


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/citewatch-cite-bench-1m.db"))
    ap.add_argument("--articles", type=int, default=447)
    ap.add_argument("--concurrency", type=int, default=1, help="articles in flight at once")
    ap.add_argument("--workers", type=int, default=0,
                    help="process pool size (retrieval + detection per article)")
    ap.add_argument("--span-days", type=int, default=SPAN_DAYS - 30,
                    help="articles dated within the last N days of the posts (30: a month of news)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--dump", type=Path, help="write each article's citations here (JSON), to compare"
                    " two versions of the code")
    a = ap.parse_args()
    if not GDELT.exists():
        sys.exit(f"shared data not found: {DATA}")
    if a.rebuild or not a.db.exists():
        for p in (a.db, Path(f"{a.db}-wal"), Path(f"{a.db}-shm")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build(a.db, a.posts)
        print(f"built {a.posts:,} posts in {time.perf_counter() - t0:.0f} s → {a.db}", file=sys.stderr)
    else:
        print(f"reusing {a.db} (--rebuild to build it again)", file=sys.stderr)
    verdicts: dict[int, list[tuple[str, int, float]]] = {}
    times, wall, cpu, child_cpu, during = asyncio.run(measure(
        a.db, a.articles, concurrency=a.concurrency, workers=a.workers, span_days=a.span_days,
        verdicts=verdicts))
    if a.dump:
        a.dump.write_text(json.dumps([verdicts[i] for i in sorted(verdicts)]) + "\n")
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    posts = sqlite3.connect(a.db).execute("SELECT max(id) FROM posts").fetchone()[0]
    pool = f", {a.workers} worker processes" if a.workers else ", one process"
    mode = f"articles over {a.span_days} days, {a.concurrency} in flight{pool}"
    print(f"posts: {posts:,}  articles: {len(times)}  cpus: {os.cpu_count()}  ({mode})")
    print(f"per article: p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {times[-1]:.1f} ms")
    print(f"throughput: {len(times) / wall:.0f} articles/s  "
          f"(main process CPU {cpu * 1000 / len(times):.1f} ms/article"
          + (f", workers {child_cpu * 1000 / len(times):.1f} ms/article incl. start-up" if a.workers
             else "")
          + (f", {during * 1000 / len(times):.1f} without" if a.workers and during is not None else "")
          + ")")


if __name__ == "__main__":
    main()
