"""Which normaliser: pymorphy3 (+ dicts uk/ru), simplemma and Snowball (PyStemmer), measured on the
real posts in ../shared/data for quality (recall/precision of "one form finds every form" against
the dictionary-paradigm oracle of ``bench/forms_oracle.py``) and speed (distinct words per second,
no memo). Matching is simulated the way the index works: a post matches a query word when it
holds the word as written, or when one of the query's normal forms is among the normal forms of
the post's words.

    python bench/wordforms_compare.py [--words 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simplemma  # noqa: E402
import Stemmer  # noqa: E402

from bench.forms_oracle import load_posts, pick_words, relevant, tokens  # noqa: E402
from storage import wordforms  # noqa: E402

Norm = Callable[[str, "str | None"], tuple[str, ...]]
_RU = Stemmer.Stemmer("russian")
_EN = Stemmer.Stemmer("english")


def _lang(word: str, lang: str | None) -> str:
    if set(word) & set("іїєґ"):
        return "uk"
    if set(word) & set("ыэъ"):
        return "ru"
    return lang or "ru"


def snowball(word: str, lang: str | None) -> tuple[str, ...]:
    w = wordforms.fold(word)
    return (_EN.stemWord(w) if w.isascii() else _RU.stemWord(w),)


def simplemma_forms(word: str, lang: str | None) -> tuple[str, ...]:
    w = wordforms.fold(word)
    if w.isascii():
        return (simplemma.lemmatize(w, lang="en").lower(),)
    first = _lang(w, lang)
    langs = (first, "ru" if first == "uk" else "uk")
    return (wordforms.fold(simplemma.lemmatize(word.lower(), lang=langs)),)


def pymorphy_first(word: str, lang: str | None) -> tuple[str, ...]:
    """The first parse's lemma (the usual use), predictions for unknown words included."""
    uk, ru = wordforms._analyzers()
    w = word.lower()
    if wordforms.fold(w).isascii():
        return (_EN.stemWord(wordforms.fold(w)),)
    a = uk if _lang(w, lang) == "uk" else ru
    return (wordforms.fold(a.parse(w)[0].normal_form),)


def chosen(word: str, lang: str | None) -> tuple[str, ...]:
    wordforms._LEMMAS[0].clear()  # measured without the memo, as the others
    wordforms._LEMMAS[1].clear()
    return wordforms._forms(word.lower(), lang)


def exact_prefix(word: str, lang: str | None) -> tuple[str, ...]:
    return ()  # today's behaviour: handled in evaluate() as a prefix match


CANDIDATES: dict[str, Norm] = {
    "today (exact + auto-prefix)": exact_prefix,
    "Snowball russian/english": snowball,
    "simplemma uk/ru": simplemma_forms,
    "pymorphy3 first lemma": pymorphy_first,
    "pymorphy3 all lemmas + Snowball fallback (chosen)": chosen,
}


def evaluate(name: str, norm: Norm, posts: list[tuple[str, str]], words: list) -> dict[str, float]:
    post_tokens = [tokens(t) | tokens(tr) for t, tr in posts]
    langs = [wordforms.text_lang(t) for t, _ in posts]
    distinct = {(w, lang) for ts, lang in zip(post_tokens, langs, strict=True) for w in ts}
    t0 = time.perf_counter()
    memo = {(w, lang): norm(w, lang) for w, lang in distinct}
    dt = time.perf_counter() - t0
    index = [ts.union(*(memo[(w, lang)] for w in ts)) for ts, lang in zip(post_tokens, langs,
                                                                          strict=True)]
    tp = fn = fp = 0
    for tw in words:
        rel = relevant(tw, post_tokens)
        for q in tw.queries:
            f = wordforms.fold(q)
            if name.startswith("today"):
                hits = {i for i, ts in enumerate(post_tokens)
                        if f in ts or (len(f) >= 4 and any(t.startswith(f) for t in ts))}
            else:
                want = {f, *norm(q, None)}
                hits = {i for i, ix in enumerate(index) if ix & want}
            tp += len(hits & rel)
            fn += len(rel - hits)
            fp += len(hits - rel)
    return {"recall": tp / max(1, tp + fn), "precision": tp / max(1, tp + fp),
            "words_per_s": len(distinct) / dt if dt else float("inf"), "distinct": len(distinct)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=200)
    a = ap.parse_args()
    posts = load_posts()
    words = pick_words(posts, a.words)
    wordforms._analyzers()
    nq = sum(len(w.queries) for w in words)
    print(f"{len(posts):,} real posts, {len(words)} test words, {nq} queries (one per form present)")
    print(f"{'normaliser':52} {'recall':>7} {'precision':>9} {'words/s (no memo)':>18}")
    for name, norm in CANDIDATES.items():
        r = evaluate(name, norm, posts, words)
        speed = "-" if name.startswith("today") else f"{r['words_per_s']:,.0f}"
        print(f"{name:52} {r['recall']:7.1%} {r['precision']:9.1%} {speed:>18}")


if __name__ == "__main__":
    main()
