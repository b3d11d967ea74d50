"""Search latency over 1M synthetic posts: p50/p95 of 200 mixed queries through
``storage.search.query``, against the same SQL run raw with ``sqlite3``.

The corpus is made of real sentences (Russian/Ukrainian posts, English translations and articles)
read at run time from ../shared/data — never copied into the repository. The 1M-post database is
built once into a cache file (``--db``, default /tmp/citewatch-bench-1m.db); ``--rebuild`` redoes it.

    python bench/search_bench.py [--posts 1000000] [--queries 200] [--rebuild]
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
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import maintenance, search, search_index, wordforms  # noqa: E402
from storage.db import Database, migrate  # noqa: E402
from storage.fts_query import parse  # noqa: E402
from storage.migrations import SCHEMA_VERSION  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
_SENT = re.compile(r"(?<=[.!?…])\s+|\n+")
CHANNELS = ["DIUkraine", "rybar", "DeepStateUA", "mod_russia", "milinfolive", "swodki",
            "SolovievLive", "RKadyrov_95", "operativnoZSU", "ukrpravda_news"]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text or "") if len(s.strip()) > 15]


def load_corpus() -> tuple[list[str], list[str]]:
    """(original sentences in ru/uk, English sentences) from the real shared data."""
    csv.field_size_limit(2**31 - 1)
    orig: list[str] = []
    en: list[str] = []
    with (DATA / "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
          ).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            orig += _sentences(row["message_text"])
    with (DATA / "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
          ).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            orig += _sentences(row["text_original"])
            en += _sentences(row["text_en_google"])
    with (DATA / "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl"
          ).open(encoding="utf-8") as fh:
        for line in fh:
            en += _sentences(json.loads(line)["text"])
    if not orig or not en:
        raise SystemExit(f"no corpus in {DATA}")
    return orig, en


def iter_synthetic_posts(n: int, seed: int = 1) -> Iterator[tuple[str, int, str, str, str]]:
    """n posts, one at a time: (channel, message id, ISO date, original text, English translation)."""
    orig, en = load_corpus()
    rnd = random.Random(seed)
    start = datetime(2022, 2, 24, tzinfo=UTC)
    per_channel: dict[str, int] = {}
    for i in range(n):
        ch = CHANNELS[min(int(rnd.expovariate(0.5)), len(CHANNELS) - 1)]
        mid = per_channel[ch] = per_channel.get(ch, 0) + 1
        date = (start + timedelta(seconds=i * 80 + rnd.randrange(60))).isoformat(timespec="seconds")
        k = rnd.randint(1, 4)
        text = " ".join(rnd.choice(orig) for _ in range(k))
        tr = " ".join(rnd.choice(en) for _ in range(k))
        yield ch, mid, date, text, tr


def synthetic_posts(n: int, seed: int = 1) -> list[tuple[str, int, str, str, str]]:
    """n posts: (channel, message id, ISO date, original text, English translation)."""
    return list(iter_synthetic_posts(n, seed))


#: posts stored (and indexed) per transaction by the builder
BUILD_CHUNK = 50_000


def build_db(path: Path, n: int, *, optimize: bool = True, seed: int = 1,
             base: Path | None = None) -> None:
    """Fill the real schema (migrations) with n posts + translations, through raw sqlite3.

    The rows hold what the write path stores (``storage.posts``: ``search_index.post_words`` of the
    text; ``storage.translations``: ``wordforms.normal_words`` of the translation; tested against
    the write path in tests/test_search_bench_build.py), but written in bulk: no journal, a large
    page cache, the FTS/queue triggers dropped during the load, posts stored and indexed in
    transactions of ``BUILD_CHUNK`` posts (``search_index.index_new`` from the content view, one
    pass of the tokenizer per post), posts generated lazily (3M texts never sit in memory). The
    triggers are then recreated from their own SQL, so the file ends up as the code would have left
    it. ``optimize``: merge the index into one segment at the end (what the service's quiet-time
    maintenance does, ``storage.maintenance``). ``base``: a file built the same way with fewer
    posts (the same first posts: the generator is seeded), copied and extended to n posts.
    """
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    if base is not None:
        shutil.copyfile(base, path)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    done = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    for pragma in ("journal_mode = DELETE", "journal_mode = OFF", "synchronous = OFF",
                   "cache_size = -262144", "temp_store = MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    t0 = time.perf_counter()
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    if not done:
        conn.executemany("INSERT INTO channels (id, username, added_at) VALUES (?, ?, '2024-01-01')",
                         list(enumerate(CHANNELS, 1)))
    conn.execute("COMMIT")
    cid = {c: i for i, c in enumerate(CHANNELS, 1)}
    posts = itertools.islice(iter_synthetic_posts(n, seed), done, None)
    post_words, tr_words = search_index.post_words, wordforms.normal_words
    while done < n:
        chunk = list(itertools.islice(posts, BUILD_CHUNK))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO posts (id, channel_id, message_id, date, text, stored_at, words) "
            "VALUES (?, ?, ?, ?, ?, '2024-01-01', ?)",
            [(done + j + 1, cid[c], m, d, t, post_words(t)) for j, (c, m, d, t, _) in enumerate(chunk)],
        )
        conn.executemany(
            "INSERT INTO translations (post_id, lang, provider, text, created_at, words) "
            "VALUES (?, 'en', 'bench', ?, '2024-01-01', ?)",
            [(done + j + 1, tr, tr_words(tr)) for j, (*_, tr) in enumerate(chunk)],
        )
        search_index.index_new(conn)
        conn.execute("COMMIT")
        done += len(chunk)
        print(f"  stored and indexed {done:,} posts ({time.perf_counter() - t0:.0f}s)", flush=True)
    conn.execute("BEGIN")
    for _, sql in triggers:
        conn.execute(sql)
    # what the post_days trigger (dropped during the load) keeps
    conn.execute("DELETE FROM post_days")
    conn.execute("INSERT INTO post_days (day, lo, hi) SELECT substr(date, 1, 10), min(id), max(id)"
                 " FROM posts INDEXED BY posts_date GROUP BY 1")
    conn.execute("COMMIT")
    if optimize:
        conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")
        print(f"  optimized ({time.perf_counter() - t0:.0f}s)", flush=True)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


ANALYST = ["Бахмуте", "Авдіївці", "Запорожья", "Украины", "Херсонской",
           "Бахмут", "Авдіївка", "Авдеевка", "Херсон", "Kherson", "Bakhmut", "HIMARS", "Leopard",
           "Storm Shadow", "ЗСУ", "ВСУ", "Wagner", "Вагнер", "Пригожин", "Prigozhin", "Zelensky",
           "Зеленский", "Шойгу", "Shoigu", "Crimea", "Крым", "Запорожье", "Zaporizhzhia", "Lancet",
           "Ланцет", "Bayraktar", "93 бригада", "бригада", "brigade", "ПВО", "air defense",
           "\"Black Sea Fleet\"", "Черноморский флот", "Mariupol", "Мариуполь", "Азовсталь", "drone",
           "дрон", "беспилотник", "Kinzhal", "Кинжал", "Belgorod", "Белгород", "mobilization",
           "мобилизация", "counteroffensive", "контрнаступление", "Soledar", "Соледар", "Kupiansk"]


def make_queries(n: int, seed: int = 7) -> list[dict[str, object]]:
    """Mixed queries: common and rare words, two words, phrases, 4-7 letter prefixes of common
    stems, analyst terms (Cyrillic and English), a third with --channel/--since/--until."""
    orig, en = load_corpus()
    rnd = random.Random(seed)
    words_ru: dict[str, int] = {}
    words_en: dict[str, int] = {}
    for s in orig:
        for w in re.findall(r"[^\W\d_]{3,}", s.lower()):
            words_ru[w] = words_ru.get(w, 0) + 1
    for s in en:
        for w in re.findall(r"[^\W\d_]{3,}", s.lower()):
            words_en[w] = words_en.get(w, 0) + 1
    common_ru = sorted(words_ru, key=words_ru.get, reverse=True)[:300]  # type: ignore[arg-type]
    rare_ru = [w for w, c in words_ru.items() if c == 1]
    common_en = sorted(words_en, key=words_en.get, reverse=True)[:300]  # type: ignore[arg-type]
    rare_en = [w for w, c in words_en.items() if c == 1]
    kinds = ["common_ru", "rare_ru", "common_en", "rare_en", "two_words", "phrase_ru", "phrase_en",
             "prefix", "analyst", "inflected"]
    # words typed in a form other than their dictionary form (found by every form)
    inflected = [w for w in sorted(words_ru, key=words_ru.get, reverse=True)[:3000]  # type: ignore[arg-type]
                 if len(w) >= 5 and w not in wordforms.forms(w)]
    out: list[dict[str, object]] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "common_ru":
            q = rnd.choice(common_ru)
        elif kind == "rare_ru":
            q = rnd.choice(rare_ru)
        elif kind == "common_en":
            q = rnd.choice(common_en)
        elif kind == "rare_en":
            q = rnd.choice(rare_en)
        elif kind == "two_words":
            q = f"{rnd.choice(common_ru + rare_ru[:2000])} {rnd.choice(common_ru)}"
        elif kind.startswith("phrase"):
            src = orig if kind == "phrase_ru" else en
            ws = re.findall(r"[^\W\d_]{3,}", rnd.choice(src))
            while len(ws) < 3:
                ws = re.findall(r"[^\W\d_]{3,}", rnd.choice(src))
            j = rnd.randrange(len(ws) - 1)
            q = f'"{ws[j]} {ws[j + 1]}"'
        elif kind == "prefix":
            w = rnd.choice([x for x in common_ru[:200] + common_en[:100] if len(x) >= 8])
            q = w[: rnd.choice([4, 5, 6, 7])] + "*"  # stems of every length an analyst cuts at
        elif kind == "inflected":
            q = rnd.choice(inflected)
            if rnd.random() < 0.3:
                q += " " + rnd.choice(inflected)
        else:  # what an analyst types: names, places, units, weapons, with a context word or two
            q = rnd.choice(ANALYST)
            if rnd.random() < 0.4:
                q += " " + rnd.choice(common_ru[:50] + common_en[:50])
        opts: dict[str, object] = {"text": q, "kind": kind}
        r = rnd.random()
        if r < 0.25:
            opts["channel"] = rnd.choice(CHANNELS[:4])
        elif r < 0.45:  # a date inside the corpus span (1M posts x 80 s = ~925 days)
            opts["since"] = datetime(2022, 2, 24, tzinfo=UTC) + timedelta(days=rnd.randrange(900))
            if rnd.random() < 0.5:
                opts["until"] = opts["since"] + timedelta(days=rnd.choice([1, 7, 30, 90]))
        out.append(opts)
    return out


class _Key:
    """What the raw connection's day spans are cached under."""


BM25_SQL = "SELECT rowid, rank FROM posts_fts WHERE posts_fts MATCH :match ORDER BY rank LIMIT :limit"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def run(db_path: Path, queries: list[dict[str, object]], limit: int, bm25_ref: bool,
              tidy: bool = True) -> None:
    db = await Database.open(db_path)
    size = db_path.stat().st_size
    if tidy:  # what the service does at a quiet moment (storage.maintenance), timed
        t0, c0 = time.perf_counter(), time.process_time()
        report = await maintenance.tidy(db, budget=7200)
        print(f"tidy (service's quiet-time upkeep): {report.merge_steps} merge steps, "
              f"{report.terms} terms kept, {time.perf_counter() - t0:.1f} s "
              f"(CPU {time.process_time() - c0:.1f} s)", flush=True)
    print(f"database: {size / 1e9:.2f} GB; index segments: {await maintenance.segments(db)}")
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA cache_size = -65536")
    raw_key = _Key()  # the raw side's day-spans cache (retrieval.id_range), as ours has the db's
    ours: list[float] = []
    rawt: list[float] = []
    # CPU time of this process (all its threads) per query: what the search costs, whatever else
    # the host runs (the wall-clock figures on a shared 2-core host include waiting for a core)
    ours_cpu: list[float] = []
    raw_cpu: list[float] = []
    cpu_kind: dict[str, list[float]] = {}
    load0 = os.getloadavg()[0]
    by_kind: dict[str, list[float]] = {}
    hits = 0
    capped = 0
    ref: list[float] = []
    ref_kind: dict[str, list[float]] = {}
    # warm both caches the same way
    for q in queries[:20]:
        await search.query(db, str(q["text"]), limit=limit)
        search.run(raw, str(q["text"]), limit=limit, key=raw_key)
    for i, q in enumerate(queries):
        kw = {k: v for k, v in q.items() if k in ("channel", "since", "until")}
        # raw side: search.run on a plain sqlite3 connection — the identical statements ours runs
        # (probe, then the planned search). The side that runs first pays the cold page cache,
        # so the order alternates.
        for side in ("raw", "ours") if i % 2 else ("ours", "raw"):
            t0, c0 = time.perf_counter(), time.process_time()
            if side == "raw":
                rows = search.run(raw, str(q["text"]), limit=limit, key=raw_key,
                                  **kw).rows  # type: ignore[arg-type]
                rawt.append((time.perf_counter() - t0) * 1000)
                raw_cpu.append((time.process_time() - c0) * 1000)
            else:
                res = await search.query(db, str(q["text"]), limit=limit, **kw)  # type: ignore[arg-type]
                ours.append((time.perf_counter() - t0) * 1000)
                ours_cpu.append((time.process_time() - c0) * 1000)
                cpu_kind.setdefault(str(q["kind"]), []).append(ours_cpu[-1])
        assert len(res) == len(rows), q
        hits += len(res)
        capped += bool(res and res[0].capped)
        by_kind.setdefault(str(q["kind"]), []).append(ours[-1])
        by_kind.setdefault("(filtered)" if kw else "(no filter)", []).append(ours[-1])
        if bm25_ref:
            t3 = time.perf_counter()
            raw.execute(BM25_SQL, {"match": parse(str(q["text"])).expression(), "limit": limit}
                        ).fetchall()
            ref.append((time.perf_counter() - t3) * 1000)
            ref_kind.setdefault(str(q["kind"]), []).append(ref[-1])
    await db.close()
    n_posts = raw.execute("SELECT count(*) FROM posts").fetchone()[0]
    raw.close()
    print(f"posts: {n_posts:,}; queries: {len(queries)}; limit {limit}; results returned: {hits:,}"
          f"; searches capped: {capped}")
    print(f"storage.search.query  p50 {pct(ours, 50):7.2f} ms   p95 {pct(ours, 95):7.2f} ms   "
          f"max {max(ours):7.2f} ms")
    print(f"raw sqlite3           p50 {pct(rawt, 50):7.2f} ms   p95 {pct(rawt, 95):7.2f} ms   "
          f"max {max(rawt):7.2f} ms")
    print(f"ours, CPU time        p50 {pct(ours_cpu, 50):7.2f} ms   p95 {pct(ours_cpu, 95):7.2f} ms   "
          f"max {max(ours_cpu):7.2f} ms")
    print(f"raw,  CPU time        p50 {pct(raw_cpu, 50):7.2f} ms   p95 {pct(raw_cpu, 95):7.2f} ms   "
          f"max {max(raw_cpu):7.2f} ms")
    print(f"host load average (1 min) at start / end: {load0:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"ratio ours/raw        p50 {pct(ours, 50) / pct(rawt, 50):.2f}x  "
          f"p95 {pct(ours, 95) / pct(rawt, 95):.2f}x  "
          f"total {sum(ours) / sum(rawt):.2f}x")
    if ref:
        print(f"reference: plain ORDER BY rank over all matches (no filters)  p50 {pct(ref, 50):7.2f} ms"
              f"   p95 {pct(ref, 95):7.2f} ms   max {max(ref):7.2f} ms")
    for kind, xs in sorted(by_kind.items()):
        line = (f"  {kind:<12} n={len(xs):3}  p50 {statistics.median(xs):7.2f} ms  "
                f"p95 {pct(xs, 95):7.2f} ms  max {max(xs):7.2f} ms")
        if kind in cpu_kind:
            line += (f"   CPU p50 {statistics.median(cpu_kind[kind]):6.2f} ms"
                     f"  p95 {pct(cpu_kind[kind], 95):6.2f} ms")
        if kind in ref_kind:
            line += f"   | ORDER BY rank p50 {statistics.median(ref_kind[kind]):8.2f} ms"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--db", type=Path, default=Path("/tmp/citewatch-bench-forms.db"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-bm25-ref", action="store_true", help="skip the plain ORDER BY rank line")
    ap.add_argument("--build-only", action="store_true", help="build (or reuse) the file and stop")
    ap.add_argument("--base", type=Path,
                    help="build by extending a copy of this smaller file built the same way")
    ap.add_argument("--no-tidy", action="store_true",
                    help="measure the index as it is (no merge / term snapshot first)")
    ap.add_argument("--check", action="store_true",
                    help="then check the top 20 of every query against a brute-force search "
                         "(bench/search_reference.py; minutes per 100k posts)")
    ap.add_argument("--no-optimize", action="store_true",
                    help="leave the index in the segments the load wrote (no FTS5 optimize)")
    a = ap.parse_args()
    marker = a.db.with_suffix(".n")
    key = f"{a.posts}:schema {SCHEMA_VERSION}"  # a file of an older schema is migrated at open
    if (a.rebuild or not a.db.exists() or not marker.exists()
            or marker.read_text().split(":")[0] != str(a.posts)):
        print(f"building {a.posts:,} posts into {a.db} ...", flush=True)
        t0 = time.perf_counter()
        build_db(a.db, a.posts, optimize=not a.no_optimize, base=a.base)
        marker.write_text(key)
        print(f"built in {time.perf_counter() - t0:.0f}s, {a.db.stat().st_size / 1e9:.2f} GB",
              flush=True)
    if a.build_only:
        return
    queries = make_queries(a.queries)
    asyncio.run(run(a.db, queries, a.limit, not a.no_bm25_ref, not a.no_tidy))
    if a.check:
        asyncio.run(check(a.db, queries, a.limit))


async def check(path: Path, queries: list[dict[str, object]], limit: int) -> None:
    """The brute-force check (``search_reference.compare``) over the benchmark's own queries."""
    import search_reference

    t0 = time.perf_counter()
    posts = search_reference.load(path)
    specs = [(str(q["kind"]), str(q["text"]),
              {k: v for k, v in q.items() if k in ("channel", "since", "until")}) for q in queries]
    db = await Database.open(path)
    try:
        paths = await search_reference.compare(db, posts, specs, limit)
    finally:
        await db.close()
    print(f"brute-force check: the top {limit} of all {len(specs)} queries equal the reference "
          f"over {len(posts):,} posts ({paths}; {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
