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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, compress

import iuliia
from translitua import UkrainianKMU, translit

from storage import wordforms
from storage.glossary import default_terms

#: a key in the index: the prefix keeps it apart from every real word
KEY_PREFIX = "xn"
#: the rules that make a post's keys; bump on a change that alters them (``search_index.words_version``)
KEYS_RULES = "1"

#: the shortest key kept ("kav" for Kyiv/Kiev joins too much; the glossary has those)
MIN_KEY = 4
_HAS_CYRILLIC = re.compile(r"[а-яіїєґё]", re.IGNORECASE)
_CYRILLIC_WORD = re.compile(r"[А-ЯЁІЇЄҐ][а-яёіїєґʼ'’А-ЯЁІЇЄҐ-]+")
#: a capitalised Latin word (the capital first, the word start checked right after it: ``re``
#: skips to the next capital in C instead of trying every position)
_LATIN_NAME = re.compile(r"[A-Z](?<!\w[A-Z])[a-zA-Z'’-]+")
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


#: capitalised Cyrillic word (apostrophes dropped) → its keys (``_cyrillic_keys``), as a dict so
#: ``post_keys`` looks a post's words up with ``map`` in C, not one cached call per word
_NAME_KEYS: dict[str, tuple[str, ...]] = {}
_NAME_KEYS_MAX = 200_000


def post_keys(text: str) -> list[str]:
    """What the index holds for a post's Cyrillic text to be found from English: the keys of its
    capitalised words (names; each form and its lemmas), of its glossary terms and of its numbered
    units (``term_keys``), in order of first appearance."""
    names = _CYRILLIC_WORD.findall(text)
    if names and ("ʼ" in text or "’" in text or "'" in text):
        names = [w.replace("ʼ", "").replace("’", "").replace("'", "") for w in names]
    memo = _NAME_KEYS
    if len(memo) >= _NAME_KEYS_MAX:
        memo.clear()
    for w in set(names).difference(memo):  # names this process has not met yet
        memo[w] = _cyrillic_keys(w)
    out = dict.fromkeys(chain.from_iterable(map(memo.__getitem__, names)))
    if _HAS_CYRILLIC.search(text):
        out.update(dict.fromkeys(_term_hits(text, _matchers()["cyrillic"], False)))
    return list(out)


def post_names(text: str) -> list[frozenset[str]]:
    """The name keys of each capitalised Cyrillic word of a post that does not start a sentence
    (its names, as far as capitals tell): how many of them an article names says how much of the
    post it tells, where no passage can be compared."""
    out: dict[str, frozenset[str]] = {}
    for sent in _SENTENCE_END.split(text):
        for i, m in enumerate(_CYRILLIC_WORD.finditer(sent)):
            w = m.group(0)
            if w.isupper():
                continue
            if i == 0 and not _LETTER.search(sent, 0, m.start()) and not _NAME_NEXT.match(
                    sent, m.end()):
                continue  # a sentence's first word, unless a name goes on ("Кирило Буданов")
            keys = _cyrillic_keys(w.replace("ʼ", "").replace("’", "").replace("'", ""))
            if keys:
                out.setdefault(w.lower(), frozenset(keys))
    return list(out.values())


@lru_cache(maxsize=64)
def article_names(text: str) -> dict[str, str]:
    """Key → the words that gave it, for an article's capitalised Latin words (names as the press
    spells them; the first spelling of each key), glossary terms and numbered units."""
    out: dict[str, str] = {}
    body = _without_headlines(text)
    # a word the article also writes in lower case is a common word at a sentence's start or in a
    # name ("Group" of "Wagner Group" beside "the group"), not a name of its own
    common = set(_LOWER_WORD.findall(body))
    for w in dict.fromkeys(_LATIN_NAME.findall(body)):
        if w.isupper():
            continue  # abbreviations (AFU, HUR) go through the glossary
        if w.lower() in common:
            continue
        k = name_key(w)
        if k:
            out.setdefault(KEY_PREFIX + k, w.strip("'’-"))
    for k, words in term_keys(text, "latin").items():
        out.setdefault(k, words)
    return out


_LOWER_WORD = re.compile(r"[a-z](?<!\w[a-z])[a-z'’-]+\b")  # the letter first, as _LATIN_NAME
_LATIN_WORD = re.compile(r"\b[A-Za-z][a-zA-Z'’-]*")


def _without_headlines(text: str) -> str:
    """``text`` without its first line when that is a headline in title case ("Video Shows
    Ukrainian Intelligence Snipers Hunting Russian Troops"): there every word is capitalised, names
    or not (the detector and retrieval read an article as its title, a newline, its text)."""
    head, nl, rest = text.partition("\n")
    if not nl:
        return text
    ws = _LATIN_WORD.findall(head)
    if len(ws) >= 4 and sum(w[0].isupper() for w in ws) >= 0.6 * len(ws):
        return rest
    return text


def article_keys(text: str) -> list[str]:
    """Keys of the capitalised Latin words of an article, in order of first use."""
    return list(article_names(text))  # the detector asks again for the same text: memoised


# ---------------------------------------------------------------- glossary terms and units
#: a glossary term's key ("AFU" → ``xgafu``) and a numbered unit's ("110th Brigade" → ``xu110brigade``)
TERM_PREFIX = "xg"
UNIT_PREFIX = "xu"
#: words allowed between a unit's number and its unit word ("110th Separate Mechanised Brigade")
_UNIT_GAP = 3
_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3})(?!\d)(?:-?(?:st|nd|rd|th|[а-яіїєґ]{1,3}))?(?![.,]\d)",
                     re.IGNORECASE)
#: a unit's number written as a capitalised ordinal word ("Third Separate Assault Brigade",
#: "Третя окрема штурмова бригада", "Третьей бригады"): first to tenth, as units are named
_ORDINALS = (("First", "Перш", "Перв"), ("Second", "Друг", "Втор"), ("Third", "Трет"),
             ("Fourth", "Четверт"), ("Fifth", "П'ят", "П’ят", "Пят"), ("Sixth", "Шост", "Шест"),
             ("Seventh", "Сьом", "Седьм"), ("Eighth", "Восьм"),
             ("Ninth", "Дев'ят", "Дев’ят", "Девят"), ("Tenth", "Десят"))
_ORDINAL_VALUE = {w: n for n, words in enumerate(_ORDINALS, 1) for w in words}
_ORDINAL = re.compile(r"\b(?:" + "|".join(sorted(_ORDINAL_VALUE, key=len, reverse=True))
                      + r")(?:(?<=[a-z])\b|[а-яіїєґё]*\b)")
_LETTER = re.compile(r"[^\W\d_]")
_NAME_NEXT = re.compile(r"\s+[А-ЯЁІЇЄҐ][а-яёіїєґ]")
_SENTENCE_END = re.compile(r"[.!?;]\s|\n")
_WORDS_BETWEEN = re.compile(r"[^\W\d_][\w'’-]*")


@dataclass(frozen=True)
class _Entry:
    """One glossary source: its words (lower-cased text, whether a stem), as compiled."""

    words: tuple[tuple[str, bool], ...]
    caps: bool  # an all-capitals source matches only as written
    source: tuple[str, ...]  # the words as written (for ``caps``)
    target: str
    unit: bool


@dataclass(frozen=True)
class _Matcher:
    """One script's glossary sources, found by their first word: exact words in ``exact``, stems
    in ``stems`` under each stem length. Dict lookups per word, not one regex alternation of all
    sources (Python's ``re`` tries each alternative at every position: 13 ms per article)."""

    exact: dict[str, list[_Entry]]
    stems: dict[str, list[_Entry]]
    lengths: tuple[int, ...]
    #: whether the sources are Cyrillic (Latin look-alike letters in a word are folded)
    cyrillic: bool
    #: the first three letters of every first word (the word, if shorter): most words of a text
    #: start otherwise
    starts: frozenset[str]

    #: a word as written → the sources it may start (``at`` of its lower case; () for most words)
    seen: dict[str, tuple[_Entry, ...]] = field(default_factory=dict)

    def at(self, low: str) -> list[_Entry]:
        found = self.exact.get(low, _NONE)
        stems = self.stems
        for n in self.lengths:
            got = stems.get(low[:n]) if n <= len(low) else None
            if got:
                found = [*found, *got]
        return found

    def candidates(self, tokens: Sequence[str]) -> list[tuple[_Entry, ...]]:
        """``at`` of each token's lower case (() when it does not start like a source), memoised
        per word as written and looked up in C: posts share most of their words."""
        seen = self.seen
        if len(seen) >= _SEEN_MAX:
            seen.clear()
        starts = self.starts
        for tok in set(tokens).difference(seen):
            low = tok.lower()
            seen[tok] = tuple(self.at(low)) if low[:3] in starts else ()
        return list(map(seen.__getitem__, tokens))


_SEEN_MAX = 200_000
_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’ʼ][^\W\d_]+)*")
_NONE: list[_Entry] = []
#: Latin letters typed for their Cyrillic look-alikes
_LOOKALIKES = str.maketrans("aeopcxyiAEOPCXTHKMBI", "аеорсхуіАЕОРСХТНКМВІ")
#: any of those letters: a text without one (most posts) has no word to fold, so no pass per word
_ANY_LOOKALIKE = re.compile("[aeopcxyiAEOPCXTHKMBI]")


def _compile(rows: Sequence[tuple[str, str, bool]], cyrillic: bool) -> _Matcher:
    """Rows (source, target, is_unit) → a matcher. A source word ending in ``*`` also matches
    longer words; an all-capitals source matches only in capitals; longer sources first."""
    exact: dict[str, list[_Entry]] = {}
    stems: dict[str, list[_Entry]] = {}
    for source, target, unit in rows:
        raw = tuple(source.split())
        words = tuple((w.rstrip("*").lower(), w.endswith("*")) for w in raw)
        entry = _Entry(words, source.replace("*", "").isupper(), tuple(w.rstrip("*") for w in raw),
                       target, unit)
        first, stem = words[0]
        (stems if stem else exact).setdefault(first, []).append(entry)
    for table in (exact, stems):
        for entries in table.values():
            entries.sort(key=lambda e: (-len(e.words), -sum(len(w) for w, _ in e.words)))
    return _Matcher(exact, stems, tuple(sorted({len(k) for k in stems}, reverse=True)),
                    cyrillic, frozenset(k[:3] for k in (*exact, *stems)))


def _fits(entry: _Entry, tokens: Sequence[str], i: int) -> bool:
    if i + len(entry.words) > len(tokens):
        return False
    for k, (word, stem) in enumerate(entry.words):
        tok = tokens[i + k]
        low = tok.lower()
        if not (low.startswith(word) if stem else low == word):
            return False
        if entry.caps and not tok.startswith(entry.source[k]):
            return False
    return True


#: a word as written → the word with its Latin look-alikes folded (itself when not Cyrillic)
_FOLDED: dict[str, str] = {}


def _unlookalike(tokens: list[str]) -> list[str]:
    """Latin look-alike letters inside Cyrillic words folded to Cyrillic, memoised per word."""
    memo = _FOLDED
    if len(memo) >= _SEEN_MAX:
        memo.clear()
    for t in set(tokens).difference(memo):
        memo[t] = t.translate(_LOOKALIKES) if _HAS_CYRILLIC.search(t) and not t.isascii() else t
    return list(map(memo.__getitem__, tokens))


def _glossary_hits(text: str, m: _Matcher) -> list[tuple[_Entry, int, int]]:
    """(entry, start, end) of each glossary source in ``text``, longest first, not overlapping."""
    return _term_hits(text, m, True)  # type: ignore[return-value]


def _term_hits(text: str, m: _Matcher, where: bool
               ) -> list[tuple[_Entry, int, int]] | Iterator[str]:
    """``_glossary_hits``, or with ``where`` false the keys of ``term_keys`` alone (what a post's
    index words need): a hit is then placed in the text only for a unit word in a text with a
    digit (the number before it makes the key). Words are cut in C (``findall``); only those
    starting like a source are looked at (``candidates``, memoised per word), and only the words
    up to the last source found are placed in the text (``str.find`` from the end of the one
    before: a word starts with a letter, and the first letter after a word starts the next one,
    so that is where it is found), not every word by a second regex pass."""
    raw = _TOKEN.findall(text)
    tokens = raw
    # "ОАeМБр" typed with a Latin e: Latin look-alikes inside a Cyrillic word
    if m.cyrillic and _ANY_LOOKALIKE.search(text):
        tokens = _unlookalike(tokens)
    cands = m.candidates(tokens)
    hits: list[tuple[_Entry, int, int]] = []  # (entry, first token, last token)
    upto = -1  # the last token of the last hit: hits do not overlap
    for i in compress(range(len(cands)), cands):
        if i <= upto:
            continue
        for entry in cands[i]:
            if _fits(entry, tokens, i):
                upto = i + len(entry.words) - 1
                hits.append((entry, i, upto))
                break
    if not hits:
        return []
    if not where and not (_HAS_DIGIT.search(text) and any(e.unit for e, _, _ in hits)):
        return (_term_key(e.target) for e, _, _ in hits if not e.unit)
    located = []
    placed, end = 0, 0  # words placed in the text so far, and where the last of them ends
    for entry, first, last in hits:
        start = 0
        while placed <= last:
            at = text.find(raw[placed], end)
            if placed == first:
                start = at
            end = at + len(raw[placed])
            placed += 1
        located.append((entry, start, end))
    return located if where else iter(_keys_of(text, located))


_HAS_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1)
def _matchers() -> dict[str, _Matcher]:
    """The shipped bilingual glossary (``storage.glossary``: one file for the translation
    glossary and these keys), compiled per script: "cyrillic" (uk and ru rows) and "latin" (the
    targets themselves and the "en" rows)."""
    cyr: dict[tuple[str, str], bool] = {}
    lat: dict[tuple[str, str], bool] = {}
    for t in default_terms():
        unit = t.use == "unit"
        if t.lang in ("uk", "ru"):
            cyr[(t.source, t.target)] = unit
            if not unit and t.target.isascii():
                lat[(t.target, t.target)] = unit
        elif t.lang == "en":
            lat[(t.source, t.target)] = unit
    return {"cyrillic": _compile([(s, g, u) for (s, g), u in cyr.items()], True),
            "latin": _compile([(s, g, u) for (s, g), u in lat.items()], False)}


@lru_cache(maxsize=1)
def _english_by_target() -> dict[str, tuple[str, ...]]:
    """Target → the glossary's English press forms of it (its ``en`` rows, whole words only)."""
    out: dict[str, dict[str, None]] = {}
    for t in default_terms():
        if t.lang == "en" and not t.stem:
            out.setdefault(t.target, {})[t.source] = None
    return {k: tuple(v) for k, v in out.items()}


def leading_term(text: str) -> tuple[str, ...]:
    """The English forms of the glossary term a Cyrillic name starts with ("Національна гвардія
    України" → "National Guard"; "Сили спеціальних операцій ЗСУ" → "SSO", "Special Operations
    Forces"), or () when it does not start with one ("Оперативний ЗСУ": a channel, not the AFU)."""
    hits = _glossary_hits(text, _matchers()["cyrillic"])
    first = _LETTER.search(text)
    if not hits or first is None or hits[0][1] != first.start() or hits[0][0].unit:
        return ()
    target = hits[0][0].target
    return tuple(dict.fromkeys([target, *_english_by_target().get(target, ())]))


def _term_key(target: str) -> str:
    return TERM_PREFIX + _NOT_LETTER.sub("", target.lower())


def term_keys(text: str, script: str) -> dict[str, str]:
    """Glossary and unit keys of ``text`` ("cyrillic" for a post's original, "latin" for an
    English article) → the words that gave each: a term's target (``xgafu`` for ЗСУ or "Armed
    Forces of Ukraine"), and each number written next to a unit word (``xu110brigade`` for
    "110th Separate Mechanised Brigade" and "110-ї окремої механізованої бригади")."""
    return _keys_of(text, _glossary_hits(text, _matchers()[script]))


def _ordinal_value(word: str) -> int:
    """1–10 for an ordinal word ``_ORDINAL`` found ("Третьої" → 3)."""
    return next(v for w, v in sorted(_ORDINAL_VALUE.items(), key=lambda x: -len(x[0]))
                if word.startswith(w))


def _keys_of(text: str, hits: Sequence[tuple[_Entry, int, int]]) -> dict[str, str]:
    """``term_keys`` of ``text`` from its glossary hits (entry, start, end)."""
    out: dict[str, str] = {}
    last_end = 0
    for entry, start, end in hits:
        words = text[start:end]
        if not entry.unit:
            out.setdefault(_term_key(entry.target), words)
            continue
        # the numbers just before the unit word, with at most _UNIT_GAP words between
        before = text[max(last_end, start - 80):start]
        tail = _SENTENCE_END.split(before)[-1]
        numbers = sorted([*_NUMBER.finditer(tail), *_ORDINAL.finditer(tail)], key=lambda n: n.start())
        if numbers and len(_WORDS_BETWEEN.findall(tail[numbers[-1].end():])) <= _UNIT_GAP:
            unit = _NOT_LETTER.sub("", entry.target.lower())
            for n in numbers:
                if len(_WORDS_BETWEEN.findall(tail[n.end():])) <= _UNIT_GAP + 2:
                    value = int(n.group(1)) if n.re is _NUMBER else _ordinal_value(n.group(0))
                    out.setdefault(f"{UNIT_PREFIX}{value}{unit}", f"{n.group(0)} {words}")
        last_end = end
    return out
