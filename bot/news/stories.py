"""Copies of one article are one story: near-duplicate detection on the extracted text.

The same text reaches us at several URLs — syndication, scraped copies with "[ad_1]" junk and
another footer, mirrors — and each copy must not alert again. A text's sketch is the ``K`` smallest
64-bit hashes of its word ``N``-grams (a bottom-k MinHash: one hash function, so it is cheap in pure
Python and the sketch of a union is computable from the two sketches). Two sketches give an
unbiased estimate of the texts' Jaccard similarity; the stored hashes double as the LSH index (a
copy shares many of its smallest hashes with the original, found through one SQLite index).
Why not datasketch: bench/story_dedupe.py measures both on the shared GDELT articles (README).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence

from bot.cite.text import normalize, words

#: Hashes kept per text.
K = 64
#: Words per shingle: long enough that two different articles on one topic share few of them.
N = 4
#: Texts shorter than this are not grouped (a teaser or an error page is not an article).
MIN_WORDS = 40
#: Estimated Jaccard similarity from which two texts are one story (bench/story_dedupe.py).
THRESHOLD = 0.5
#: Smallest-hash overlap a stored text needs to be compared at all (the LSH step).
MIN_SHARED = 4


def _hash(gram: str) -> int:
    # a keyed hash would differ per process; blake2b is stable, and 63 bits fit SQLite's INTEGER
    return int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big") >> 1


def sketch(text: str, k: int = K, n: int = N) -> list[int]:
    """The ``k`` smallest shingle hashes of ``text`` (sorted); [] for a text too short to group."""
    toks = words(normalize(text))
    if len(toks) < MIN_WORDS:
        return []
    grams = {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)}
    return sorted(heapq.nsmallest(k, map(_hash, grams)))


def similarity(a: Sequence[int], b: Sequence[int], k: int = K) -> float:
    """Estimated Jaccard similarity of two texts from their sketches (bottom-k of the union)."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    union = heapq.nsmallest(k, sa | sb)
    return sum(1 for h in union if h in sa and h in sb) / len(union)


def same_story(a: Sequence[int], b: Sequence[int]) -> bool:
    return similarity(a, b) >= THRESHOLD
