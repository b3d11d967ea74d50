"""Proper names across scripts: romanisation and one coarse key a name has in every spelling (pure).

An English article writes "Kurakhove", "Nova Kakhovka", "Artemovsk", "Kiev" or "Kyiv"; the Ukrainian
post writes "Курахове", "Новій Каховці", the Russian one "Курахово", "Артемовск", "Киев". The
romanisations come from libraries, not a hand table (README, "Dependencies and why"; measured in
``bench/translit_compare.py``): Ukrainian by the national system of 2010 (``translitua``,
Cabinet of Ministers resolution No. 55: Kyiv, Kharkiv, Zaporizhzhia, Syrskyi — what the Ukrainian
government, BGN/PCGN and the press write), Russian by the Wikipedia system (``iuliia``: Solovyov,
Shoigu, Kadyrov — the press spelling), plus BGN/PCGN (``iuliia``) for the rest.

No two systems agree letter for letter, so names are compared by ``name_key``: the romanisation
folded to a consonant skeleton where every vowel run is one vowel, ``kh``/``h``/``g`` are one sound,
doubled letters one letter and a final vowel (an ending) dropped — "Zaporizhzhia", "Zaporozhye" and
"Запоріжжя" all become ``zaparaz``; "Kurakhove", "Kurakhovo" and "Курахового" ``karahav``. Keys are
words of at least ``MIN_KEY`` letters (shorter ones join unrelated names) with a prefix no word has,
so they live in the full-text index beside the words (``posts_fts`` column ``keys``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import iuliia
from translitua import UkrainianKMU, translit

from storage import wordforms

#: a key in the index: the prefix keeps it apart from every real word
KEY_PREFIX = "xn"
#: the shortest key kept ("kav" for Kyiv/Kiev joins too much; the glossary has those)
MIN_KEY = 4
_LETTER = re.compile(r"[^\W\d_]")
_NAME_NEXT = re.compile(r"\s+[А-ЯЁІЇЄҐ][а-яёіїєґ]")
_SENTENCE_END = re.compile(r"[.!?;]\s|\n")
_CYRILLIC_WORD = re.compile(r"[А-ЯЁІЇЄҐ][а-яёіїєґʼ'’А-ЯЁІЇЄҐ-]+")
_LATIN_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+")
_UK_ONLY = frozenset("іїєґІЇЄҐ")
_RU_ONLY = frozenset("ыэъЫЭЪ")
#: letters and digraphs of any romanisation, to one sound each (longest first)
_SOUNDS = (("shch", "s"), ("sch", "s"), ("zh", "z"), ("kh", "h"), ("sh", "s"), ("ch", "c"),
           ("ts", "c"), ("tz", "c"), ("ph", "f"), ("ck", "k"), ("w", "v"), ("x", "ks"),
           ("q", "k"), ("g", "h"), ("j", "y"))
_VOWELS = re.compile(r"[aeiouy]+")
_DOUBLE = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z]")
_RU_SCHEMES = (iuliia.WIKIPEDIA, iuliia.BGN_PCGN)


def language(word: str) -> str | None:
    """"uk" or "ru" when the letters say so (і ї є ґ / ы э ъ), else None (either)."""
    chars = set(word)
    if chars & _UK_ONLY:
        return "uk"
    if chars & _RU_ONLY:
        return "ru"
    return None


@lru_cache(maxsize=65536)
def romanise(text: str, lang: str | None = None) -> tuple[str, ...]:
    """The Latin spellings of a Cyrillic ``text``: Ukrainian national (KMU 2010) for ``uk``,
    Wikipedia and BGN/PCGN for ``ru``, all three when the language is unknown."""
    lang = lang or language(text)
    out: list[str] = []
    if lang in (None, "uk"):
        out.append(translit(text, UkrainianKMU))
    if lang in (None, "ru"):
        out.extend(s.translate(text) for s in _RU_SCHEMES)
    return tuple(dict.fromkeys(s for s in out if s))


@lru_cache(maxsize=65536)
def name_key(latin: str) -> str:
    """The coarse key of one Latin word ("" when too short): see the module docstring."""
    s = _NOT_LETTER.sub("", latin.lower())
    for a, b in _SOUNDS:
        s = s.replace(a, b)
    s = _DOUBLE.sub(r"\1", _VOWELS.sub("a", s))
    if s.endswith("a") and len(s) > 1:
        s = s[:-1]
    return s if len(s) >= MIN_KEY else ""


@lru_cache(maxsize=65536)
def _cyrillic_keys(word: str) -> tuple[str, ...]:
    keys = []
    for form in dict.fromkeys([word.lower(), *wordforms.forms(word)]):
        if not form or not form[0].isalpha() or form.isascii():
            continue
        for latin in romanise(form, language(word)):
            k = name_key(latin)
            if k:
                keys.append(KEY_PREFIX + k)
    return tuple(dict.fromkeys(keys))


def post_keys(text: str) -> list[str]:
    """Keys of the capitalised Cyrillic words of a post (names), each form and its lemmas."""
    out: dict[str, None] = {}
    for w in dict.fromkeys(_CYRILLIC_WORD.findall(text)):
        for k in _cyrillic_keys(w.replace("ʼ", "").replace("’", "").replace("'", "")):
            out[k] = None
    return list(out)


def post_names(text: str) -> list[frozenset[str]]:
    """The name keys of each capitalised Cyrillic word of a post that does not start a sentence
    (unless a name goes on: "Кирило Буданов") and is not all capitals ("БАХМУТ ніч", a "МАДЯР"
    signature): its names, as far as capitals tell. How many of them an article names says how
    much of the post it tells, where no passage can be compared."""
    out: dict[str, frozenset[str]] = {}
    for sent in _SENTENCE_END.split(text):
        for i, m in enumerate(_CYRILLIC_WORD.finditer(sent)):
            w = m.group(0)
            if w.isupper():
                continue
            if i == 0 and not _LETTER.search(sent, 0, m.start()) and not _NAME_NEXT.match(
                    sent, m.end()):
                continue  # a sentence's first word
            keys = _cyrillic_keys(w.replace("ʼ", "").replace("’", "").replace("'", ""))
            if keys:
                out.setdefault(w.lower(), frozenset(keys))
    return list(out.values())


@lru_cache(maxsize=64)
def article_names(text: str) -> dict[str, str]:
    """Key → the word that gave it, for the capitalised Latin words of an article (names as the
    press spells them; the first spelling of each key). Memoised: retrieval and the detector ask
    for the same text."""
    out: dict[str, str] = {}
    for w in dict.fromkeys(_LATIN_NAME.findall(text)):
        if w.isupper():
            continue  # abbreviations (AFU, HUR): not names
        k = name_key(w)
        if k:
            out.setdefault(KEY_PREFIX + k, w.strip("'’-"))
    return out


def article_keys(text: str) -> list[str]:
    """Keys of the capitalised Latin words of an article, in order of first use."""
    return list(article_names(text))
