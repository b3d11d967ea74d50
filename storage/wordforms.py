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

import logging
import re
from functools import lru_cache
from importlib.metadata import version
from itertools import chain

import pymorphy3
import Stemmer

#: identifies the normal forms the index holds: a change of rules or dictionaries re-indexes
VERSION = "1:" + ",".join(
    f"{p}={version(p)}" for p in ("pymorphy3", "pymorphy3-dicts-ru", "pymorphy3-dicts-uk",
                                  "PyStemmer"))

#: a word as the normaliser sees it: letters and digits, with apostrophes inside (Ukrainian "м'ясо")
WORD = re.compile(r"[^\W_]+(?:['’ʼ`][^\W_]+)*")
_WORD = WORD
_APOSTROPHES = str.maketrans("", "", "'’ʼ`")
_ONE_APOSTROPHE = str.maketrans("’ʼ`", "'''")
_ODD_APOSTROPHES = "’ʼ`"
#: a token as FTS5's unicode61 tokenizer cuts it (apostrophes split words)
_FTS_TOKEN = re.compile(r"[^\W_]+")
#: the same in lower-case ASCII text, where it is exactly this class (re matches it twice as fast)
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
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
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)  # not a line per dictionary loaded
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
    low = text if text.islower() else text.lower()
    uk = low.count("і") + low.count("ї") + low.count("є") + low.count("ґ")
    ru = low.count("ы") + low.count("э") + low.count("ъ") + low.count("ё")
    if uk == ru:
        return None
    return "uk" if uk > ru else "ru"


def _known_lemmas(analyzer: pymorphy3.MorphAnalyzer, word: str) -> tuple[str, ...]:
    """The lemmas of every dictionary reading of ``word`` (none for a word it does not know).

    Straight from the dictionary (the lookup behind ``MorphAnalyzer.parse``, without building
    tags and scores for every reading: a third of the time)."""
    d = analyzer.dictionary
    out: list[str] = []
    for fixed, readings in d.words.similar_items(word, analyzer.char_substitutes):
        for para_id, idx in readings:
            lemma = fold(d.build_normal_form(para_id, idx, fixed))
            if lemma not in out:
                out.append(lemma)
                if len(out) == MAX_LEMMAS:
                    return tuple(out)
    return tuple(out)


#: per analyser (0 Ukrainian, 1 Russian): word → its lemmas; words are looked up once whatever
#: the language of the text they come from
_LEMMAS: tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]] = ({}, {})


def _lemmas(which: int, word: str) -> tuple[str, ...]:
    memo = _LEMMAS[which]
    got = memo.get(word)
    if got is None:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        got = memo[word] = _known_lemmas(_analyzers()[which], word)
    return got


def _forms(low: str, lang: str | None) -> tuple[str, ...]:
    """Normal forms of one lower-cased word (apostrophes kept, ё kept), given the text's language
    (None: the word stands alone, as in a query — both dictionaries may answer)."""
    key = low.translate(_FOLD).translate(_APOSTROPHES)
    if len(key) < MIN_LEN or key.isdigit():
        return (key,)
    if not _CYRILLIC.search(key):
        if not key.isascii():
            return (key,)
        # "is" tested in C first: most words have none, and a substitution with a template costs
        # a call into ``re``'s Python code per word
        return (_stem(_BRITISH_ISE.sub(r"iz\1", key) if "is" in key else key, "english"),)
    letters = set(low)
    if letters & _UK_ONLY:
        order = (0,)
    elif letters & _RU_ONLY or "ё" in letters:
        order = (1,)
    else:
        order = (0, 1) if lang == "uk" else (1, 0)
    if lang is not None:  # the first dictionary that knows the word (the other is not asked)
        for i in order:
            if ls := _lemmas(i, low):
                return ls
        return (_stem(key, "russian"),)
    known = [ls for ls in (_lemmas(i, low) for i in order) if ls]
    if known:  # a lone word: every reading of both languages
        return tuple(dict.fromkeys(x for ls in known for x in ls))
    return (_stem(key, "russian"),)


_MEMO: dict[tuple[str, str | None], tuple[str, ...]] = {}
_MEMO_MAX = 500_000


def forms(word: str, lang: str | None = None) -> tuple[str, ...]:
    """Normal forms of ``word`` (never empty). ``lang``: the language of the text it comes from
    ("uk", "ru" or None when unknown or for a word typed alone)."""
    low = word.lower()
    got = _MEMO.get((low, lang))
    if got is not None:
        return got
    low = low.translate(_ONE_APOSTROPHE)
    got = _MEMO.get((low, lang))
    if got is None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        got = _MEMO[(low, lang)] = _forms(low, lang)
    return got


def normal_words(text: str, *more: str) -> str:
    """The index's normalised-words column for a post: each distinct normal form of the words of
    ``text`` (and of ``more``: its translations) that is not already one of those words as the
    index holds them, sorted (the same text gives the same column in every process, so a rewrite
    can tell that nothing changed), space-separated. Forms equal to a written word are left out (a
    query looks for its normal forms in the written columns too), which keeps the column short.

    Runs for every post stored (and, at 1M posts, for every post of a migration), so it works on
    the distinct words of the text, with ``str.replace`` only for the characters present (a
    ``str.translate`` per text cost more than the lookups), and looks its words up in C (set
    difference against the memo, ``map`` over it): a Python loop per word was half its time."""
    out: set[str] = set()
    written: set[str] = set()
    for part in (text, *more):
        if not part:
            continue
        low = part.lower()
        plain = low.isascii()  # most English translations: no language letters, no ё
        if plain:
            lang = None
            if "`" in low:
                low = low.replace("`", "'")
        else:
            lang = text_lang(low)
            if "ё" in low:
                low = low.replace("ё", "е")
            for a in _ODD_APOSTROPHES:
                if a in low:
                    low = low.replace(a, "'")
        if "'" in low:
            ws = set(_WORD.findall(low))
            written.update(t for w in ws for t in w.split("'"))
        else:
            ws = set((_ASCII_TOKEN if plain else _FTS_TOKEN).findall(low))
            written.update(ws)
        memo = _EXTRA.get(lang)
        if memo is None or len(memo) >= _MEMO_MAX:
            memo = _EXTRA[lang] = {}
        for w in ws.difference(memo):  # words this process has not met yet
            memo[w] = tuple(f for f in forms(w, lang) if f != w)
        out.update(chain.from_iterable(map(memo.__getitem__, ws)))
    out.difference_update(written)
    return " ".join(sorted(out))


#: per text language: word → its normal forms other than itself
_EXTRA: dict[str | None, dict[str, tuple[str, ...]]] = {}


def normal(word: str) -> str:
    """One normal form per word (the smallest of ``forms(word)``), for callers that need a single
    key, such as the citation detector's stem sets and shingles."""
    fs = forms(word)
    return fs[0] if len(fs) == 1 else min(fs)


@lru_cache(maxsize=4096)
def given_name(word: str) -> bool:
    """Whether a Cyrillic word is a given name in the nominative ("Юрій", "Александр"): the first
    parse of either dictionary has pymorphy3's ``Name`` grammeme and is nominative. Tells a
    person's channel title ("Юрий Котенок") from a place's or a brand's ("Двіж Миколаїв")."""
    for analyzer in _analyzers():
        parses = analyzer.parse(word)
        if parses and {"Name", "nomn"} <= set(parses[0].tag.grammemes):
            return True
    return False
