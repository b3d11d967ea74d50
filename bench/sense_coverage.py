"""How much of real Ukrainian and Russian posts the word-sense list can read in English.

    python bench/sense_coverage.py [--missing N]

Why: a post with no stored translation is compared with an English article through its words'
English senses (``bot/cite/data/cyrillic_english.csv``, ``bot.cite.bilingual``); a content word
with no sense on file only counts against the match. This reads every real post of
../shared/data (kkruglik originals, CoonAndFriends originals), takes each sentence's content
words as the detector does (``text.content_stems``: the one normaliser, stop words dropped) and
reports, per language (by the letters only one language has), the share of Cyrillic content-word
tokens that have a sense: of all of them, and of the lower-case ones (capitalised words are mostly
names, read by their transliteration keys instead). ``--missing N`` lists the N most frequent
lower-case words with no sense, with how many posts use them, to grow the list from.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cite import bilingual
from bot.cite import text as tx
from storage.wordforms import text_lang

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KKRUGLIK = "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
COON = "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
_CYRILLIC = re.compile(r"[а-яіїєґё]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ`][^\W\d_]+)*")


def real_posts(folder: Path = DATA) -> list[str]:
    """The original texts of the real posts (kkruglik, CoonAndFriends), duplicates once."""
    csv.field_size_limit(10**8)
    texts: list[str] = []
    with (folder / KKRUGLIK).open(encoding="utf-8") as f:
        texts += [r["message_text"] for r in csv.DictReader(f)]
    with (folder / COON).open(encoding="utf-8") as f:
        texts += [r["text_original"] for r in csv.DictReader(f)]
    return list(dict.fromkeys(t for t in texts if t and _CYRILLIC.search(t)))


def coverage(texts: list[str]) -> dict[str, dict[str, Any]]:
    """Per language ("uk", "ru", "?"): counters of tokens by class ("sense", "none") for all
    Cyrillic content words and for the lower-case ones, and the lower-case words with no sense
    (stem → posts using it) with the forms they are written in (stem → form → count)."""
    senses = bilingual.senses()
    out: dict[str, dict[str, Any]] = {}
    for text in texts:
        lang = text_lang(text) or "?"
        acc = out.setdefault(lang, {"all": Counter(), "lower": Counter(), "missing": Counter(),
                                    "example": {}})
        seen: set[str] = set()
        for raw in _WORD.findall(text):
            if not _CYRILLIC.search(raw):
                continue
            stems = tx.content_stems(raw)
            if not stems:
                continue  # a stop word, a single letter
            s = stems[0]
            has = s in senses
            acc["all"]["sense" if has else "none"] += 1
            if raw[0].islower():
                acc["lower"]["sense" if has else "none"] += 1
                if not has and s not in seen:
                    seen.add(s)
                    acc["missing"][s] += 1
                    acc["example"].setdefault(s, Counter())[raw.lower()] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--missing", type=int, default=0, metavar="N",
                    help="list the N most frequent lower-case words with no sense")
    args = ap.parse_args(argv)
    texts = real_posts()
    cov = coverage(texts)
    print(f"{len(texts)} real posts, {len(bilingual.senses())} Cyrillic forms with senses")
    print(f"{'lang':<5} {'posts':>6} {'tokens':>7} {'with sense':>10} {'lower-case':>10} "
          f"{'with sense':>10}")
    for lang in sorted(cov, key=lambda k: ("uk", "ru", "?").index(k)):
        acc = cov[lang]
        n_posts = sum(1 for t in texts if (text_lang(t) or "?") == lang)
        a, lo = acc["all"], acc["lower"]
        na, nl = a.total(), lo.total()
        print(f"{lang:<5} {n_posts:>6} {na:>7} {a['sense'] / na:>10.1%} {nl:>10} "
              f"{lo['sense'] / nl:>10.1%}")
    if args.missing:
        for lang in ("uk", "ru"):
            if lang not in cov:
                continue
            top = cov[lang]["missing"].most_common(args.missing)
            print(f"\n{lang}: most frequent lower-case words with no sense (posts using them)")
            ex = cov[lang]["example"]
            print(" ".join(f"{w}({ex[w].most_common(1)[0][0]}):{n}" for w, n in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
