"""Offline translation speed on real posts (../shared/data, kkruglik scrape: Ukrainian and Russian).

1. With every model installed in MODELS_DIR (``citewatch models install uk ru``): sentences/s and
   posts/s through ``OfflineModel.translate`` — all sentences of a batch of posts in one model call —
   against one call per post, as argostranslate does.
2. The pipeline's own cost, with the test copy-model (tests/argos_model.py, whose model time is
   tiny): sentence splitting, the glossary, tokenizing and re-joining per post, and the whole queue
   (detection, SQLite, storing) per post, next to the model call itself.

    python bench/translate_bench.py [--posts 200] [--models-dir ./data/models] [--threads 0]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.translate import packages  # noqa: E402
from bot.translate.detect import detect_language  # noqa: E402
from bot.translate.glossary import Glossary  # noqa: E402
from bot.translate.offline import OfflineModel  # noqa: E402
from bot.translate.providers import ArgosTranslator, default_threads  # noqa: E402
from bot.translate.queue import TranslationQueue  # noqa: E402
from bot.translate.sentences import join_sentences, split_sentences  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
POSTS_CSV = DATA / "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"


def real_posts(n: int) -> dict[str, list[str]]:
    """Up to ``n`` posts per language (uk, ru), detected as the service would."""
    csv.field_size_limit(10**9)
    out: dict[str, list[str]] = {"uk": [], "ru": []}
    with POSTS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            text = (row.get("message_text") or "").strip()
            lang = detect_language(text) if text else None
            if lang in out and len(out[lang]) < n:
                out[lang].append(text)
    return out


def bench_model(model: OfflineModel, texts: list[str], glossary: Glossary, lang: str) -> None:
    texts = [glossary.protect(t, lang) for t in texts]
    n_sent = sum(len(split_sentences(t)[0]) for t in texts)
    model.translate(texts[:4])  # warm-up
    t0 = time.perf_counter()
    for lo in range(0, len(texts), 32):  # the translator's batch: 32 posts a call
        model.translate(texts[lo:lo + 32])
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        model.translate([t])
    single = time.perf_counter() - t0
    print(f"  batched (32 posts a call): {n_sent / batched:7.1f} sentences/s  "
          f"{len(texts) / batched:6.2f} posts/s  ({batched:.1f} s for {len(texts)} posts, "
          f"{n_sent} sentences)")
    print(f"  one post a call:           {n_sent / single:7.1f} sentences/s  "
          f"{len(texts) / single:6.2f} posts/s  (batching: x{single / batched:.2f})")


def overhead(texts: list[str], glossary: Glossary, model: OfflineModel, lang: str) -> None:
    t0 = time.perf_counter()
    for t in texts:
        sentences, joins = split_sentences(glossary.protect(t, lang))
        tokens = [model.tokenizer.encode(s) for s in sentences]
        join_sentences([model.tokenizer.decode(tok) for tok in tokens], joins)
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    for lo in range(0, len(texts), 32):
        model.translate(texts[lo:lo + 32])
    total = time.perf_counter() - t0
    print(f"  split + glossary + tokenize + re-join: {prep / len(texts) * 1000:6.2f} ms/post")
    print(f"  OfflineModel.translate with the copy model (all of it): "
          f"{total / len(texts) * 1000:6.2f} ms/post")


async def queue_overhead(texts: list[str], tmp: Path, package_dir: Path) -> None:
    from storage import posts as posts_repo
    from storage.db import Database
    from storage.models import Post

    s = load_settings({"CITEWATCH_DB": str(tmp / "q.db"), "MODELS_DIR": str(package_dir.parent),
                       "AUTO_INSTALL_MODELS": "false", "TRANSLATE_BATCH": "64"}, dotenv_path=None)
    db = await Database.open(s.citewatch_db)
    try:
        now = datetime.now(UTC)
        await posts_repo.upsert_many(db, [Post(channel="BenchChannel", message_id=i + 1, date=now,
                                                text=t) for i, t in enumerate(texts)])
        tr = ArgosTranslator(package_dir.parent, threads=s.translate_threads,
                             glossary=Glossary.load())
        q = TranslationQueue(db, tr, s)
        await tr.translate(["прогрів"], "uk", "en")  # load the model outside the measurement
        t0 = time.perf_counter()
        done = 0
        while await q.run_batch():
            done += q.last.translated
        dt = time.perf_counter() - t0
        print(f"  whole queue (detect, SQLite, translate, store): {dt / len(texts) * 1000:6.2f} "
              f"ms/post ({done} translated)")
    finally:
        await db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200, help="posts per language")
    ap.add_argument("--models-dir", type=Path, default=Path(os.environ.get("MODELS_DIR", "./data/models")))
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    threads = args.threads or default_threads()
    posts = real_posts(args.posts)
    glossary = Glossary.load()
    print(f"posts: {len(posts['uk'])} uk, {len(posts['ru'])} ru from {POSTS_CSV.name}; "
          f"{threads} threads, int8")

    print(f"\n1. installed models in {args.models_dir}:")
    found = [p for p in packages.installed(args.models_dir) if p.from_code in posts]
    if not found:
        print("  none (install with: citewatch models install uk ru)")
    for package in found:
        t0 = time.perf_counter()
        model = OfflineModel(package, threads)
        print(f"- {package.version}: loaded in {time.perf_counter() - t0:.1f} s")
        bench_model(model, posts[package.from_code], glossary, package.from_code)

    print("\n2. pipeline overhead with the test copy-model (tests/argos_model.py):")
    from tests.argos_model import package_files

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = package_files("uk", "en", tmp=tmp)
        pkg_dir = tmp / "models" / "translate-uk_en"
        for rel, data in files.items():
            (pkg_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (pkg_dir / rel).write_bytes(data)
        model = OfflineModel(packages.read_package(pkg_dir), threads)
        # the copy model has 96 positions and decoding may run to 2 × source + 16: keep what fits
        texts = [t for t in posts["uk"]
                 if all(len(model.tokenizer.encode(s)) <= 40 for s in split_sentences(t)[0])]
        print(f"  ({len(texts)} uk posts whose sentences fit the copy model)")
        overhead(texts, glossary, model, "uk")
        asyncio.run(queue_overhead(texts, tmp, pkg_dir))


if __name__ == "__main__":
    main()
