"""Near-duplicate detection for stories: our bottom-k sketch vs datasketch's MinHash, measured.

Texts: the 447 real GDELT-found articles of ../shared/data. Copies of each, made the way content
farms and syndication make them: "[ad_1]" junk between paragraphs with another header and footer;
the first 70% with "Continue reading"; 5% of the words changed. Reports, per method: recall of
copies at the story threshold, the highest similarity between two different articles (false
positives), and the time to sketch one article.

    python bench/story_dedupe.py            (datasketch is optional: pip install datasketch)
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cite.text import normalize, words
from bot.news import stories

DATA = (Path(__file__).resolve().parents[2] / "shared" / "data"
        / "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl")


def junk_copy(text: str, rng: random.Random) -> str:
    paras = [p for p in text.split("\n") if p.strip()]
    out = ["Home » World » Europe", "[ad_1]"]
    for i, p in enumerate(paras):
        out.append(p)
        if i % 3 == 2:
            out.append("[ad_2]")
    out += ["Source link", "Related posts: " + " ".join(rng.sample(words(normalize(text)), 12))]
    return "\n".join(out)


def truncated_copy(text: str, _rng: random.Random) -> str:
    ws = text.split()
    return " ".join(ws[: int(len(ws) * 0.7)]) + " Continue reading"


def edited_copy(text: str, rng: random.Random) -> str:
    ws = text.split()
    for i in rng.sample(range(len(ws)), max(1, len(ws) // 20)):
        ws[i] = rng.choice(["reportedly", "officials", "Monday", "said", "new"])
    return " ".join(ws)


COPIES = {"junk": junk_copy, "truncated": truncated_copy, "edited": edited_copy}


def ours(texts: list[str]) -> tuple[list[list[int]], float]:
    t0 = time.perf_counter()
    sk = [stories.sketch(t) for t in texts]
    return sk, (time.perf_counter() - t0) / len(texts)


def report_pairs(sims: list[float], same: list[bool]) -> None:
    dup = sum(s >= stories.THRESHOLD for s, d in zip(sims, same, strict=True) if d)
    other = [s for s, d in zip(sims, same, strict=True) if not d]
    fp = sum(s >= stories.THRESHOLD for s in other)
    print(f"  pairs of records: {len(sims)}; identical texts found {dup}/{sum(same)}; different texts"
          f" over the threshold {fp} (max {max(other):.2f})")


def main() -> None:
    rng = random.Random(14)
    originals = [json.loads(line)["text"] for line in DATA.open(encoding="utf-8")]
    originals = [t for t in originals if len(words(normalize(t))) >= stories.MIN_WORDS]
    copies = {k: [f(t, rng) for t in originals] for k, f in COPIES.items()}
    n = len(originals)
    # the data set itself holds some texts twice (one article found under two GDELT records)
    same = [a == b for a, b in combinations(originals, 2)]
    print(f"{n} articles, {len(COPIES)} copies each; threshold {stories.THRESHOLD}")

    sk, per = ours(originals)
    print(f"\nbottom-k sketch (k={stories.K}, {stories.N}-word shingles, blake2b): "
          f"{per * 1000:.2f} ms per article")
    for kind, texts in copies.items():
        csk, _ = ours(texts)
        sims = [stories.similarity(a, b) for a, b in zip(sk, csk, strict=True)]
        shared = [len(set(a) & set(b)) for a, b in zip(sk, csk, strict=True)]
        found = sum(s >= stories.THRESHOLD and h >= stories.MIN_SHARED
                    for s, h in zip(sims, shared, strict=True))
        print(f"  {kind:9} recall {found / n:.3f}  similarity median {statistics.median(sims):.2f}"
              f" min {min(sims):.2f}")
    report_pairs([stories.similarity(a, b) for a, b in combinations(sk, 2)], same)

    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        print("\ndatasketch not installed: skipped")
        return

    def mh(text: str) -> MinHash:
        toks = words(normalize(text))
        m = MinHash(num_perm=128)
        m.update_batch([" ".join(toks[i:i + stories.N]).encode() for i in range(len(toks) - stories.N + 1)])
        return m

    t0 = time.perf_counter()
    mo = [mh(t) for t in originals]
    per = (time.perf_counter() - t0) / n
    print(f"\ndatasketch MinHash (128 permutations, same shingles): {per * 1000:.2f} ms per article")
    lsh = MinHashLSH(threshold=stories.THRESHOLD, num_perm=128)
    for i, m in enumerate(mo):
        lsh.insert(str(i), m)
    for kind, texts in copies.items():
        mc = [mh(t) for t in texts]
        sims = [a.jaccard(b) for a, b in zip(mo, mc, strict=True)]
        hits = sum(str(i) in lsh.query(m) and s >= stories.THRESHOLD
                   for i, (m, s) in enumerate(zip(mc, sims, strict=True)))
        print(f"  {kind:9} recall {hits / n:.3f}  similarity median {statistics.median(sims):.2f}"
              f" min {min(sims):.2f}")
    report_pairs([a.jaccard(b) for a, b in combinations(mo, 2)], same)


if __name__ == "__main__":
    main()
