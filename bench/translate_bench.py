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


def synthetic_model(tmp: Path, sp_model: bytes) -> Path:
    """A package with a Transformer-base shaped model (6+6 layers, d 512, ffn 2048, 8 heads) and
    random int8 weights over ``sp_model``'s vocabulary grown to 32k entries: the compute of a
    mid-sized Argos model, not its output."""
    import numpy as np
    import sentencepiece as spm
    from ctranslate2.specs import transformer_spec

    rng = np.random.default_rng(0)
    sp = spm.SentencePieceProcessor(model_proto=sp_model)
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab += [f"▁x{i}" for i in range(32000 - len(vocab))]
    d, ff, layers = 512, 2048, 6
    spec = transformer_spec.TransformerSpec.from_config(num_layers=layers, num_heads=8)


    # shapes by role (the spec leaves weights as None until set)
    def lin(spec_lin: object, out_dim: int, in_dim: int) -> None:
        spec_lin.weight = (rng.standard_normal((out_dim, in_dim)) * 0.02).astype(np.float32)
        spec_lin.bias = np.zeros(out_dim, dtype=np.float32)

    def ln(spec_ln: object) -> None:
        spec_ln.gamma = np.ones(d, dtype=np.float32)
        spec_ln.beta = np.zeros(d, dtype=np.float32)

    v = len(vocab)
    spec.encoder.embeddings[0].weight = (rng.standard_normal((v, d)) * 0.02).astype(np.float32)
    spec.decoder.embeddings.weight = spec.encoder.embeddings[0].weight
    ln(spec.encoder.layer_norm)
    ln(spec.decoder.layer_norm)
    for layer in spec.encoder.layer:
        ln(layer.self_attention.layer_norm)
        lin(layer.self_attention.linear[0], 3 * d, d)
        lin(layer.self_attention.linear[1], d, d)
        ln(layer.ffn.layer_norm)
        lin(layer.ffn.linear_0, ff, d)
        lin(layer.ffn.linear_1, d, ff)
    for layer in spec.decoder.layer:
        ln(layer.self_attention.layer_norm)
        lin(layer.self_attention.linear[0], 3 * d, d)
        lin(layer.self_attention.linear[1], d, d)
        ln(layer.attention.layer_norm)
        lin(layer.attention.linear[0], d, d)
        lin(layer.attention.linear[1], 2 * d, d)
        lin(layer.attention.linear[2], d, d)
        ln(layer.ffn.layer_norm)
        lin(layer.ffn.linear_0, ff, d)
        lin(layer.ffn.linear_1, d, ff)
    lin(spec.decoder.projection, v, d)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.optimize(quantization="int8")
    pkg = tmp / "models" / "translate-xx_en"
    (pkg / "model").mkdir(parents=True)
    spec.save(str(pkg / "model"))
    (pkg / "sentencepiece.model").write_bytes(sp_model)
    (pkg / "metadata.json").write_text('{"from_code": "uk", "to_code": "en", "package_version": "synthetic"}')
    return pkg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200, help="posts per language")
    ap.add_argument("--models-dir", type=Path, default=Path(os.environ.get("MODELS_DIR", "./data/models")))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--synthetic", action="store_true",
                    help="also time a Transformer-base shaped model with random int8 weights")
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

    from tests.argos_model import package_files, train_sentencepiece

    if args.synthetic:
        print("\n1b. synthetic Transformer-base (6+6 layers, d 512, ffn 2048, 32k vocab, random "
              "int8 weights; output length held at 1.2 x the source, as real translations run):")
        with tempfile.TemporaryDirectory() as tmp_name:
            # a tokenizer trained on these posts, so pieces per sentence are like a real model's
            lines = [ln for t in posts["uk"] + posts["ru"] for ln in t.splitlines() if ln.strip()]
            pkg = synthetic_model(Path(tmp_name), train_sentencepiece(lines, vocab_size=8000))
            model = OfflineModel(packages.read_package(pkg), threads)
            model.max_decoding_ratio, model.max_decoding_extra = 1.2, 1
            bench_model(model, posts["uk"], glossary, "uk")

    print("\n2. pipeline overhead with the test copy-model (tests/argos_model.py):")

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
