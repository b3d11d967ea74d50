"""The word-forms oracle shared by ``bench/search_forms.py`` and ``bench/wordforms_compare.py``.

What "a form of the same word" means here: the word's paradigm table in the dictionary (the
OpenCorpora dictionary for Russian, VESUM for Ukrainian, as shipped by pymorphy3-dicts), i.e.
every inflected form the dictionary lists for that lexeme — not any normaliser's output. A post
"contains the word" when one of its tokens is one of those forms. The test words are taken from
the real posts in ../shared/data: Ukrainian and Russian nouns (place names included), verbs and
adjectives of 4+ letters with at least two different forms present in the posts; each form
present is one query.

Limits: homonyms share forms ("стали" is a form of both "сталь" and "стать"), and the oracle
counts a post with such a form as containing either word; a name the dictionary does not know
cannot be a test word.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import wordforms  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
_TOKEN = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_KINDS = {"NOUN": "noun", "INFN": "verb", "VERB": "verb", "ADJF": "adjective"}


def load_posts() -> list[tuple[str, str]]:
    """(text, English translation or '') of every real ru/uk post in ../shared/data."""
    csv.field_size_limit(2**31 - 1)
    out: list[tuple[str, str]] = []
    with (DATA / "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
          ).open(encoding="utf-8") as fh:
        out += [(r["message_text"], "") for r in csv.DictReader(fh) if r["message_text"].strip()]
    with (DATA / "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
          ).open(encoding="utf-8") as fh:
        out += [(r["text_original"], r["text_en_google"]) for r in csv.DictReader(fh)
                if r["text_original"].strip()]
    if not out:
        raise SystemExit(f"no posts in {DATA}")
    return out


def tokens(text: str) -> set[str]:
    """A text's words as the oracle compares them (folded like the index: lower case, ё → е,
    apostrophes dropped)."""
    return {wordforms.fold(w) for w in _TOKEN.findall(text)}


@dataclass(frozen=True)
class TestWord:
    lemma: str
    kind: str  # noun | place | verb | adjective
    lang: str  # uk | ru
    forms: frozenset[str]  # every form in the dictionary's paradigm (folded)
    queries: tuple[str, ...]  # the forms present in the posts, as written there


def pick_words(posts: list[tuple[str, str]], n: int = 200, seed: int = 3) -> list[TestWord]:
    """About ``n`` test words, by kind and language in proportion to the posts (seeded)."""
    uk, ru = wordforms._analyzers()
    written: dict[str, str] = {}  # folded token -> first spelling seen
    langs: dict[str, str | None] = {}
    for text, _ in posts:
        lang = wordforms.text_lang(text)
        for w in _TOKEN.findall(text):
            f = wordforms.fold(w)
            if f not in written:
                written[f] = w
                langs[f] = lang
    present = set(written)
    seen: set[tuple[str, str]] = set()
    cands: list[TestWord] = []
    for f, w in written.items():
        if len(f) < 4 or f.isdigit() or not re.search("[а-яіїєґ]", f):
            continue
        lang = langs[f] or ("uk" if set(f) & set("іїєґ") else "ru")
        p = next((p for p in (uk if lang == "uk" else ru).parse(w.lower())
                  if p.is_known and p.tag.POS in _KINDS), None)
        if p is None or (p.normal_form, lang) in seen:
            continue
        seen.add((p.normal_form, lang))
        forms = frozenset(wordforms.fold(x.word) for x in p.lexeme)
        if any(len(x) < 3 for x in forms):
            continue
        here = sorted(forms & present)
        if len(here) < 2:
            continue
        kind = _KINDS[p.tag.POS]
        if kind == "noun" and ("Geox" in p.tag or "Surn" in p.tag or "Name" in p.tag):
            kind = "place" if "Geox" in p.tag else "name"
        cands.append(TestWord(wordforms.fold(p.normal_form), kind, lang, forms,
                              tuple(written[x] for x in here)))
    rnd = random.Random(seed)
    rnd.shuffle(cands)
    places = [c for c in cands if c.kind in ("place", "name")]
    others = [c for c in cands if c.kind not in ("place", "name")]
    return places[: n // 4] + others[: n - min(len(places), n // 4)]


def relevant(word: TestWord, post_tokens: list[set[str]]) -> set[int]:
    """Indices of the posts holding any form of ``word``."""
    return {i for i, ts in enumerate(post_tokens) if ts & word.forms}
