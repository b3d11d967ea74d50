"""Word forms through the real search: for 200 Ukrainian and Russian words taken from the real
posts (nouns incl. place names, verbs, adjectives), a search for each form present finds the posts
holding any form of the word (recall) and little else (precision). Target: both >= 95%.

The real posts of ../shared/data are stored (with their English translations where the data has
them) through ``storage.posts`` / ``storage.translations`` into a fresh database, so they are
indexed by the same code as in production, and every query goes through ``storage.search.query``.

The oracle (``bench/forms_oracle.py``): a post holds the word when one of its tokens is one of the
forms the dictionary's paradigm table lists for that word (OpenCorpora for Russian, VESUM for
Ukrainian) — the full table, not what any normaliser returns, so a lemma picked wrongly, a reading
left out or a stem that joins two words all count against the search.

    python bench/search_forms.py [--words 200] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.forms_oracle import load_posts, pick_words, relevant, tokens  # noqa: E402
from storage import posts as posts_repo  # noqa: E402
from storage import search, translations  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Post, Translation  # noqa: E402


async def run(n_words: int, verbose: bool) -> None:
    data = load_posts()
    words = pick_words(data, n_words)
    post_tokens = [tokens(t) | tokens(tr) for t, tr in data]
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "forms.db")
        try:
            t0 = datetime(2022, 3, 1, tzinfo=UTC)
            await posts_repo.upsert_many(db, [
                Post(channel="bench", message_id=i + 1, date=t0 + timedelta(hours=i), text=t)
                for i, (t, _) in enumerate(data)])
            ids = {r[0]: r[1] - 1 for r in await db.fetchall("SELECT id, message_id FROM posts")}
            pid = {v: k for k, v in ids.items()}
            for i, (_, tr) in enumerate(data):
                if tr:
                    await translations.upsert(db, Translation(post_id=pid[i], lang="en",
                                                              provider="data", text=tr))
            by: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fn, fp
            n_queries = 0
            for w in words:
                rel = relevant(w, post_tokens)
                for q in w.queries:
                    hits = {ids[h.post_id] for h in await search.query(db, q, limit=5000)}
                    n_queries += 1
                    tp, fn, fp = len(hits & rel), len(rel - hits), len(hits - rel)
                    for key in ("all", w.lang, w.kind):
                        by[key][0] += tp
                        by[key][1] += fn
                        by[key][2] += fp
                    if verbose and (fn or fp):
                        print(f"  {w.lang} {w.kind:9} {w.lemma:18} q={q:18} "
                              f"found {tp}/{tp + fn}, {fp} others")
        finally:
            await db.close()
    print(f"{len(data):,} real posts, {len(words)} words "
          f"({sum(w.lang == 'uk' for w in words)} uk, {sum(w.lang == 'ru' for w in words)} ru), "
          f"{n_queries} queries (every form present in the posts)")
    print(f"{'':12} {'recall':>8} {'precision':>10}   relevant hits")
    for key in ("all", "uk", "ru", "noun", "place", "name", "verb", "adjective"):
        if key not in by:
            continue
        tp, fn, fp = by[key]
        print(f"{key:12} {tp / max(1, tp + fn):8.1%} {tp / max(1, tp + fp):10.1%}   {tp + fn:,}")
    tp, fn, fp = by["all"]
    ok = tp / max(1, tp + fn) >= 0.95 and tp / max(1, tp + fp) >= 0.95
    print(f"target recall >= 95% and precision >= 95%: {'MET' if ok else 'NOT MET'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=200)
    ap.add_argument("--verbose", action="store_true", help="list the queries that miss or over-match")
    a = ap.parse_args()
    asyncio.run(run(a.words, a.verbose))


if __name__ == "__main__":
    main()
