"""Normal forms of words, so any form of a word finds every other (pure; the one normaliser).

Ukrainian and Russian inflect every noun, adjective and verb ("Україна", "України", "Україні"…), so
the full-text index keeps, beside the text as written, the *normal forms* of its words, and a query
word is looked up as written and by its normal forms. Search (``storage.search``), the index writer
(``storage.search_index``) and the citation retrieval and detector (``bot.cite``) all normalise
through this module, so a word and its forms meet the same way everywhere.

How (measured against Snowball and simplemma in ``bench/wordforms_compare.py``; README):

* A Cyrillic word known to the OpenCorpora (Russian) or VESUM (Ukrainian) dictionary of pymorphy3
  becomes **every lemma** its dictionary parses give: Ukrainian parses carry no probabilities, so
  the first one is often wrong ("війни" → "війнути" before "війна", "Макіївці" → "макіївець"
  before "Макіївка"); all of them keep every reading findable.
* Which dictionary: a word with letters only Ukrainian (і ї є ґ) or only Russian (ы э ъ) has uses
  that one; otherwise the one that knows the word, and if both do, the text's language (the letter
  count of the whole text) — a query word alone gets both.
* A word no dictionary knows (names, slang, transliterations) falls back to its Snowball stem
  (Russian rules for Cyrillic, English for Latin): "Пригожина" and "Пригожину" → "пригожин".
* A Latin word becomes its English Snowball stem ("strikes", "striking" → "strike").

Words are first folded as the index folds them (lower case, ё → е, apostrophes dropped:
"Мар'їнки" → "марїнки"). Results are memoised: posts share most of their words.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import version

import pymorphy3
import Stemmer

#: identifies the normal forms the index holds: a change of rules or dictionaries re-indexes
VERSION = "1:" + ",".join(
    f"{p}={version(p)}" for p in ("pymorphy3", "pymorphy3-dicts-ru", "pymorphy3-dicts-uk",
                                  "PyStemmer"))

#: a word as the normaliser sees it: letters and digits, with apostrophes inside (Ukrainian "м'ясо")
_WORD = re.compile(r"[^\W_]+(?:['’ʼ`][^\W_]+)*")
_APOSTROPHES = str.maketrans("", "", "'’ʼ`")
_ONE_APOSTROPHE = str.maketrans("’ʼ`", "'''")
#: a token as FTS5's unicode61 tokenizer cuts it (apostrophes split words)
_FTS_TOKEN = re.compile(r"[^\W_]+")
_FOLD = str.maketrans("ёЁ", "еЕ")
_UK_ONLY = frozenset("іїєґ")
_RU_ONLY = frozenset("ыэъ")
_CYRILLIC = re.compile(r"[а-яіїєґ]")
#: British "-ise" spellings ("motorised", "mobilisation") meet the "-ize" ones Snowball knows
_BRITISH_ISE = re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations)$")
#: shorter words are kept as they are: stems of 1-2 letters join unrelated words
MIN_LEN = 3
#: lemmas kept per word (a handful of homonyms at most; more would only add noise)
MAX_LEMMAS = 3


@lru_cache(maxsize=1)
def _analyzers() -> tuple[pymorphy3.MorphAnalyzer, pymorphy3.MorphAnalyzer]:
    """(Ukrainian, Russian) analysers, loaded once per process (~0.2 s)."""
    return pymorphy3.MorphAnalyzer(lang="uk"), pymorphy3.MorphAnalyzer(lang="ru")


_STEMMERS: dict[str, Stemmer.Stemmer] = {}


def _stem(word: str, lang: str) -> str:
    s = _STEMMERS.get(lang)
    if s is None:
        s = _STEMMERS[lang] = Stemmer.Stemmer(lang)
    return s.stemWord(word)


def fold(word: str) -> str:
    """A word as the index's tokenizer holds it (lower case, ё → е), apostrophes dropped."""
    return word.lower().translate(_FOLD).translate(_APOSTROPHES)


def words(text: str) -> list[str]:
    """The words of ``text`` as written (apostrophes kept inside words), in order."""
    return _WORD.findall(text)


def text_lang(text: str) -> str | None:
    """"uk" or "ru" by the letters only one of them has, or None when neither shows."""
    low = text.lower()
    uk = sum(low.count(c) for c in _UK_ONLY)
    ru = sum(low.count(c) for c in _RU_ONLY) + low.count("ё")
    if uk == ru:
        return None
    return "uk" if uk > ru else "ru"


def _known_lemmas(analyzer: pymorphy3.MorphAnalyzer, word: str) -> list[str]:
    out: list[str] = []
    for p in analyzer.parse(word):
        if not p.is_known:
            break  # predictions come after the dictionary's parses
        lemma = fold(p.normal_form)
        if lemma not in out:
            out.append(lemma)
            if len(out) == MAX_LEMMAS:
                break
    return out


def _forms(low: str, lang: str | None) -> tuple[str, ...]:
    """Normal forms of one lower-cased word (apostrophes kept, ё kept), given the text's language
    (None: the word stands alone, as in a query — both dictionaries may answer)."""
    key = low.translate(_FOLD).translate(_APOSTROPHES)
    if len(key) < MIN_LEN or key.isdigit():
        return (key,)
    if not _CYRILLIC.search(key):
        return (_stem(_BRITISH_ISE.sub(r"iz\1", key), "english"),) if key.isascii() else (key,)
    letters = set(low)
    uk, ru = _analyzers()
    if letters & _UK_ONLY:
        order = [uk]
    elif letters & _RU_ONLY or "ё" in letters:
        order = [ru]
    else:
        order = [uk, ru] if lang == "uk" else [ru, uk]
    found = [(a, _known_lemmas(a, low)) for a in order]
    known = [(a, ls) for a, ls in found if ls]
    if known:
        if lang is None:  # a lone word: every reading of both languages
            merged = list(dict.fromkeys(x for _, ls in known for x in ls))
            return tuple(merged[: 2 * MAX_LEMMAS])
        return tuple(known[0][1])
    return (_stem(key, "russian"),)


_MEMO: dict[tuple[str, str | None], tuple[str, ...]] = {}
_MEMO_MAX = 500_000


def forms(word: str, lang: str | None = None) -> tuple[str, ...]:
    """Normal forms of ``word`` (never empty). ``lang``: the language of the text it comes from
    ("uk", "ru" or None when unknown or for a word typed alone)."""
    low = word.lower().translate(_ONE_APOSTROPHE)
    got = _MEMO.get((low, lang))
    if got is None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        got = _MEMO[(low, lang)] = _forms(low, lang)
    return got


def normal_words(text: str, *more: str) -> str:
    """The index's normalised-words column for a post: each distinct normal form of the words of
    ``text`` (and of ``more``: its translations) that is not already one of those words as the
    index holds them, space-separated. Forms equal to a written word are left out (a query looks
    for its normal forms in the written columns too), which keeps the column about a third of
    the text."""
    out: dict[str, None] = {}
    written: set[str] = set()
    for part in (text, *more):
        if not part:
            continue
        lang = text_lang(part)
        memo = _EXTRA.setdefault(lang, {})
        low = part.lower().translate(_ONE_APOSTROPHE)
        written.update(_FTS_TOKEN.findall(low.translate(_FOLD)))
        for w in _WORD.findall(low):
            extra = memo.get(w)
            if extra is None:
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                fs = forms(w, lang)
                as_written = w.translate(_FOLD)
                extra = memo[w] = tuple(f for f in fs if f != as_written)
            for f in extra:
                out[f] = None
    return " ".join(f for f in out if f not in written)


#: per text language: word → its normal forms other than itself
_EXTRA: dict[str | None, dict[str, tuple[str, ...]]] = {}


def normal(word: str) -> str:
    """One normal form per word (the smallest of ``forms(word)``), for callers that need a single
    key, such as the citation detector's stem sets and shingles."""
    fs = forms(word)
    return fs[0] if len(fs) == 1 else min(fs)
