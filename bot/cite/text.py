"""Pure text features for citation matching: normalisation, stems, shingles, numbers, dates, names.

Why stems and not words: a post and the article that cites it rarely share exact wording — a second
translation says "replenish the ranks" where ours says "replenishment of the composition", and Russian
or Ukrainian inflect every noun. Each word becomes its normal form from the one normaliser that search
and candidate retrieval use too (``storage.wordforms``: dictionary lemmas for Ukrainian and Russian,
Snowball stems for English and unknown words), so "контингенту" meets "контингент" and "replenishment"
meets "replenish". Everything here takes strings and returns values; there is no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import chain, pairwise
from typing import TypeVar

from bot.cite.variants import variant_groups
from storage.wordforms import normal

_C = TypeVar("_C")

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_FOLD = str.maketrans({
    "ё": "е", "Ё": "Е", "’": "'", "‘": "'", "ʼ": "'", "`": "'", "«": '"', "»": '"', "“": '"', "”": '"',
    "„": '"', "–": "-", "—": "-", "\u00a0": " ",
})
#: the same mappings as (from, to) pairs: ``str.translate`` with a dict costs ~150 µs on a 3 kB
#: non-ASCII text, a ``str.replace`` per character present ~2 µs (no target is also a source, so
#: the order does not matter and the result is the same)
_ZERO_WIDTH_PAIRS = tuple((chr(c), "") for c in _ZERO_WIDTH)
_FOLD_PAIRS = tuple((chr(c), v) for c, v in _FOLD.items())
#: runs of spaces that squeezing changes (a lone " " is left as it is: same result, half the work)
_SPACES = re.compile(r"[\t\r\f\v][ \t\r\f\v]*| [ \t\r\f\v]+")
#: "n't" after a letter, the same matches as ``\b(\w+)n't\b`` without re-reading the word
#: (the letter before "n" looked at after it, so ``re`` skips to each "n" in C)
_CONTRACTIONS = re.compile(r"n(?<=\wn)'t\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
#: the same tokens for a text without an apostrophe, a third faster
_PLAIN_WORD = re.compile(r"[^\W_]+")
#: every ASCII character that is no letter or digit as a space (and the same but the apostrophe),
#: for ``bytes.translate`` of UTF-8 (the bytes of other characters are left as they are)
_BREAKS = bytes(b if b > 127 or chr(b).isalnum() else 32 for b in range(256))
_BREAKS_BUT_APOSTROPHE = bytes(b if b > 127 or chr(b).isalnum() or b == 39 else 32
                               for b in range(256))
#: another character that is no letter or digit (an emoji, "№", "…")
_OTHER_BREAK = re.compile(r"[^\x00-\x7f\w]")
#: an apostrophe with no letter or digit on one side (never inside a token), and a run of letters
#: and digits between two apostrophes
_LOOSE_APOSTROPHE = re.compile(r"'(?:(?<![^\W_]')|(?![^\W_]))")
_TWO_APOSTROPHES = re.compile(r"'[^\W_]+'")
_NOT_CYRILLIC_LEAD = bytes(b for b in range(256) if not 0xD0 <= b <= 0xD3)
_NOT_LATIN = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))

#: letters that ``re.IGNORECASE`` matches to a Latin or Cyrillic letter while ``str.lower`` does
#: not lower them to it (dotted/dotless i, long s, old Cyrillic letter forms); İ is also the only
#: character ``str.lower`` lengthens (tests/test_cite_text.py derives the set from ``re`` itself)
ODD_CASE_LETTERS = re.compile("[\u0130\u0131\u017f\u1c80-\u1c88]")
_UPPER_ESCAPE = re.compile(r"\\[A-Z]")


class Caseless:
    """A case-insensitive pattern, searched as its lower-case twin in the lower-cased text.

    Why: an IGNORECASE alternation tests each character both ways and costs about three times
    as much ("said on Telegram" and the interview venues are looked for in every sentence of every
    article). The matches are the same: ``str.lower`` keeps every position and lowers letters as
    ``re`` folds them, except for the letters of ``ODD_CASE_LETTERS``; a text holding one of those
    is searched with the IGNORECASE pattern. Patterns must not use upper-case escapes (``\\W``,
    ``\\S``…), which lower-casing would turn into their opposites."""

    def __init__(self, pattern: str, needles: tuple[str, ...] = ()) -> None:
        """``needles``: lower-case strings one of which every match holds, looked for first (a
        substring test per needle runs at memory speed, a pattern's scan far slower)."""
        if _UPPER_ESCAPE.search(pattern):
            raise ValueError(f"an upper-case escape cannot be lower-cased: {pattern!r}")
        self.pattern = re.compile(pattern, re.IGNORECASE)
        self.lower = re.compile(pattern.lower())
        self.needles = needles

    def search(self, text: str, low: str | None = None) -> re.Match[str] | None:
        """The first match in ``text`` (``low``: ``text.lower()`` when the caller has it). Its
        positions are those in ``text``; its groups are lower-cased."""
        if not text.isascii() and ODD_CASE_LETTERS.search(text):  # all of them are non-ASCII
            return self.pattern.search(text)
        if low is None:
            low = text.lower()
        if self.needles and not any(map(low.__contains__, self.needles)):
            return None
        return self.lower.search(low)


def _wordset(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Function words and reporting boilerplate in English, Russian and Ukrainian: they carry no evidence.
STOPWORDS: frozenset[str] = _wordset("""
a an the and or but if then than that this these those there here of in on at to from by for with
without about into onto over under after before during as is are was were be been being am do does
did doing have has had having not no nor so such too very can could will would shall should may might
must it its it's he him his she her hers they them their theirs we us our ours you your yours i me my
which who whom whose what when where why how all any both each few more most other some own same
only just also again further once out up down off s t d ll m o re ve y also said says say told according
per via while because until against between through above below ever every one two
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было
вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас
нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их
чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой
совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при
наконец два об другой хоть после над больше тот через эти нас про всего них какая много разве три
эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно
всю между это также которые который которая которых
і й та що не на в у з зі до від по за як це ці цей ця той ті але або чи бо же ж його її їх їм
він вона воно вони ми ви ти я мене нас вас тебе собі свій своє свої своїх був була було були буде
є також вже ще які який яка яке яких коли де там тут так для при про через після перед між над під
""")

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate([
    "jan january січ січня январ января", "feb february лют лютого феврал февраля",
    "mar march берез березня март марта", "apr april квіт квітня апрел апреля",
    "may травн травня мая май", "jun june черв червня июн июня", "jul july лип липня июл июля",
    "aug august серп серпня август августа", "sep sept september верес вересня сентябр сентября",
    "oct october жовт жовтня октябр октября", "nov november листоп листопада ноябр ноября",
    "dec december груд грудня декабр декабря",
], start=1):
    for _m in _names.split():
        _MONTHS[_m] = _n

#: a number not glued to a word: "M777" and "Kh-101", "S-300", "Ка-52" (a model's designation,
#: shared by every report of the kind) are names, not figures
_NUMBER = re.compile(
    r"(\d(?<![\w.,]\d)(?<![^\W\d_]-\d)(?:\d{0,2}(?:[ ,.\u202f]\d{3})+|\d*(?:[.,]\d+)?))"
    r"(?:st|nd|rd|th|-?(?:mm|cm|km|kg)|-?[а-яіїєґ]{1,3})?(?![\w.]\d)(?!\w)"
)
_DATE_DM = re.compile(r"(\d(?<!\w\d)\d?)(?:st|nd|rd|th)?\s+(?:of\s+)?([^\W\d_]{3,})", re.UNICODE)
#: "february 24" in lower-cased text: a word that starts like an English month (every Latin key of
#: ``_MONTHS`` does, so no other word can give a month), found by its first three letters (the
#: scan skips to them in C: ~3x faster than trying every word start), then the day
_MONTH_DAY = re.compile(r"((?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?<!\w...)[a-z]*+)"
                        r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = "0123456789"


def has_digit(s: str) -> bool:
    """Whether ``_DIGIT`` finds a digit in ``s``. An ASCII digit is looked for first, by substring
    tests in C (each stops at the first it finds: ~0.4 µs for an article, ~11 µs for the pattern's
    Unicode category test of every character); a text of ASCII has no other; another text with
    none may hold another script's digits, which only the pattern finds."""
    return any(map(s.__contains__, _ASCII_DIGITS)) or (
        not s.isascii() and _DIGIT.search(s) is not None)
_GROUPED = re.compile(r"\d{1,3}(?:[ ,.\u202f]\d{3})+")
_GROUP_SEP = re.compile(r"[ ,.\u202f]")
#: "24.02" or "24.02.22" (a two-digit month) — but not "2.04 million" or "1.5 gigawatts": a
#: number, counted once as a number
_DATE_NUM = re.compile(
    r"(\d(?<!\w\d)\d?)\.(\d{2})(?:\.(?:\d{2}|\d{4}))?\b"
    r"(?!\s*(?:%|percent|per cent|million|billion|thousand|trillion|mln|bn|gigawatt|megawatt|"
    r"млн|млрд|тис|тыс|відсот|процент))"
)
#: every character ``\s`` matches (``str.isspace``), as the inside of a character class
WHITESPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: a sentence end: spaces after [.!?…] (and closing quotes or brackets), or line breaks; written to
#: start with one character class (the break's first character, its look-behinds after it) so
#: ``re`` skips to the next candidate in C: half the time of ``(?<=[.!?…])["')\]]*\s+|\n+``; that
#: class spells out ``\s`` (``WHITESPACE``): a bitmap test per character in the scan instead of a
#: list of tests and a category look-up (a sixth less time; the same split)
_SENTENCE = re.compile(r"[\"')\]" + WHITESPACE
                       + r"](?:(?<=[.!?…][\"')\]])[\"')\]]*\s+|(?<=[.!?…]\s)\s*|(?<=\n)\n*)")
_CAPITALISED = re.compile(r"([A-ZА-ЯІЇЄҐ](?<!\w\w)(?:(?<=[A-Z])(?:[a-z]{2,}|[A-Z]{1,5})"
                          r"|(?<=[А-ЯІЇЄҐ])[а-яіїєґ']{2,}))\b")


def _replace_all(s: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for a, b in pairs:
        if a in s:
            s = s.replace(a, b)
    return s


def _fold_text(text: str) -> str:
    """NFKC, zero-width characters dropped, look-alikes folded, "n't" expanded (not lower-cased)."""
    s = _fold_chars(text)
    if "n't" in s:
        s = _CONTRACTIONS.sub(" not", s)
    return s


def _fold_chars(s: str) -> str:
    """``_fold_text`` but for "n't": NFKC, zero-width characters dropped, look-alikes folded."""
    if not s.isascii():
        s = _replace_all(unicodedata.normalize("NFKC", s), _ZERO_WIDTH_PAIRS)
        return _replace_all(s, _FOLD_PAIRS)
    if "`" in s:  # the only ASCII character folded
        return s.replace("`", "'")
    return s


def normalize(text: str) -> str:
    """NFKC, fold look-alike punctuation and ё, expand "n't", lower-case, squeeze spaces."""
    return _SPACES.sub(" ", _fold_text(text)).lower()


def words(text: str) -> list[str]:
    """Word tokens of already-normalised text (letters and digits; inner apostrophes kept).

    A text with no characters other than letters and digits outside ASCII (English ones, and
    folded posts without emoji) is split in C, in a third of the time of the regex scan for an
    English text, with the same tokens: a token never spans a character that is no letter, digit
    or apostrophe, nor an apostrophe that is not between two of them (``_LOOSE_APOSTROPHE``), so
    those become spaces (one ``bytes.translate`` of the UTF-8); a run left with one apostrophe is
    one token, and a text with a run of two (``_TWO_APOSTROPHES``, rare) takes the regex."""
    apostrophe = "'" in text
    if not text.isascii() and _OTHER_BREAK.search(text):
        return (_WORD if apostrophe else _PLAIN_WORD).findall(text)
    spaced = text.encode("utf-8", "surrogatepass").translate(
        _BREAKS_BUT_APOSTROPHE if apostrophe else _BREAKS).decode("utf-8", "surrogatepass")
    if apostrophe:
        spaced = _LOOSE_APOSTROPHE.sub(" ", spaced)
        if _TWO_APOSTROPHES.search(spaced):
            return _WORD.findall(text)
    return spaced.split()


def stem(word: str) -> str:
    """The word's normal form (``storage.wordforms.normal``; numbers as they are), an English
    near-synonym's as its group's (``_VARIANT_OF``), as ``content_stems`` reads it."""
    w = word.replace("'", "")
    if w.isdigit():
        return w
    s = normal(w)
    return _VARIANT_OF.get(s, s)


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order (stop words and 1-letter tokens dropped).

    Same result as ``stem`` over ``words(normalize(text))``, in one pass: this runs for every
    candidate post of every article, so it skips the space squeezing words do not need, and looks
    each word's stem up in a memo (posts share most of their words) instead of re-deriving it."""
    return _kept_stems(words(_fold_text(text).lower()), list)


def content_stems_each(texts: Sequence[str]) -> list[list[str]]:
    """``[content_stems(t) for t in texts]``, the texts (sentences, none with a line break) folded
    as one text joined by line breaks, then split there again.

    Why: NFKC and the look-alike folds cost a call and a dozen substring tests per text, which a
    non-ASCII article paid for each of its ~100 sentences. The pieces are the texts as folded
    alone: a line break is a character NFKC neither composes with a neighbour nor makes, and no
    fold makes or takes one; "n't" and lower-casing are then done piece by piece, as before."""
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:
        return [content_stems(t) for t in texts]
    out = []
    for s in _fold_chars(joined).split("\n"):
        if "n't" in s:
            s = _CONTRACTIONS.sub(" not", s)
        out.append(_kept_stems(words(s.lower()), list))
    return out


def stem_set(text: str) -> frozenset[str]:
    """The set of ``content_stems(text)``, for when order does not matter (a candidate post's
    stems, for every candidate of every article)."""
    return _kept_stems(words(_fold_text(text).lower()), frozenset)


def _kept_stems(ws: list[str], into: Callable[[Iterable[str]], _C]) -> _C:
    """``into`` the kept stems of ``ws``, in order: the words go through the memo with ``map`` and
    ``filter`` in C instead of a Python step per word; only a text with words not seen before
    takes a second pass, after they are added."""
    memo = _STEM_OF
    try:
        return into(filter(None, map(memo.__getitem__, ws)))
    except KeyError:
        pass
    _memo_add(memo, ws, _word_stem)
    return into(filter(None, map(memo.__getitem__, ws)))


#: word → its stem, or "" for a word that is dropped (a stop word, a single letter)
_STEM_OF: dict[str, str] = {}
_STEM_MEMO_MAX = 200_000


def _memo_add(memo: dict[str, str], keys: Iterable[str], value: Callable[[str], str]) -> None:
    """Adds ``value(k)`` for the ``keys`` not in ``memo`` yet. A memo that would grow past
    ``_STEM_MEMO_MAX`` starts again: a long-running service keeps meeting new words."""
    keys = set(keys)
    missing = keys.difference(memo)
    if len(memo) + len(missing) > _STEM_MEMO_MAX:
        memo.clear()
        missing = keys
    for k in missing:
        memo[k] = value(k)


def stored_stem_set(text: str, stored: str) -> frozenset[str]:
    """``stem_set(text)`` from what the index stores beside the text (``stored``: the normal forms
    of its words that are not written in it, ``storage.wordforms.normal_words``), without the
    dictionary: each word as written (folded as ``stem_set`` folds it; Latin words and numbers get
    their exact stem, a cheap Snowball one), plus the stored forms of Cyrillic words.

    Why: lemmatising every candidate's Cyrillic words was most of the detector's time, and the
    write path has already done it. The set holds the stem ``stem_set`` gives each word wherever
    the stored forms hold it (the dictionary of the text's language knows it, or neither does),
    and also the Cyrillic words as written and their other readings: for the shortlist, a superset
    can only let a post share more of the article's stems, never fewer."""
    ws = words(_fold_text(text).lower())
    memo = _WRITTEN_OF
    # the stored forms of Cyrillic words (Latin ones are stemmed here; cross-script name keys are
    # no stems): the space-separated forms holding a Cyrillic letter, each told once per process
    # (``_CYRILLIC_FORM``; posts share most of their forms) instead of a regex search per form
    parts = stored.split()
    cyrillic = _CYRILLIC_FORM
    try:
        return frozenset(chain(filter(None, map(memo.__getitem__, ws)),
                               filter(None, map(cyrillic.__getitem__, parts))))
    except KeyError:
        pass
    _memo_add(memo, ws, _written_stem)
    _memo_add(cyrillic, parts, _cyrillic_form)
    return frozenset(chain(filter(None, map(memo.__getitem__, ws)),
                           filter(None, map(cyrillic.__getitem__, parts))))


#: word → its stem for ``stored_stem_set``: ``_word_stem`` where that needs no dictionary, a
#: Cyrillic word as written, "" for a dropped word
_WRITTEN_OF: dict[str, str] = {}
_CYRILLIC_LETTER = re.compile(r"[а-яіїєґ]")
#: a whole token of ``words`` (a run of letters and digits: not next to another) in folded,
#: lower-cased text without an apostrophe, holding no Cyrillic letter
_NOT_CYRILLIC_WORD = re.compile(r"(?<![^\W_])[^\W_а-яіїєґ]+(?![^\W_])")


def has_cyrillic(stem: str) -> bool:
    """Whether a stem holds a Cyrillic letter (``latin_stem_set`` leaves those out)."""
    return not stem.isascii() and _CYRILLIC_LETTER.search(stem) is not None


#: characters that folding (``_fold_text``) and lower-casing leave a word of, or a break between
#: words, except for the case of a letter and ё: ASCII but apostrophes, the Cyrillic letters of
#: ``_CYRILLIC_LETTER`` in either case, and (added as met, ``_plain``) punctuation, symbols and
#: spaces that NFKC and ``str.lower`` leave as they are and that no fold maps to an apostrophe
_PLAIN_CHARS: set[str] = (
    {chr(c) for c in range(128)} - {"'", "`"}
    | set("абвгдежзийклмнопрстуфхцчшщъыьэюяіїєґёАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЇЄҐЁ")
    | set("«»“”„–—\u00a0\ufe0f"))  # folded to another break; an emoji's variation selector
_UNPLAIN_CHARS: set[str] = {"'", "`"}


def _unplain_pattern() -> re.Pattern[str]:
    return re.compile("[^" + "".join(map(re.escape, sorted(_PLAIN_CHARS))) + "]")


#: a character not (yet) in ``_PLAIN_CHARS``: one scan in C tells most texts plain
_UNPLAIN = _unplain_pattern()
#: a whole run of ASCII letters and digits (no other letter or digit next to it), found from its
#: first character (a scan in C skips to it)
_ASCII_WORD = re.compile(r"[A-Za-z0-9](?<![^\W_][A-Za-z0-9])[A-Za-z0-9]*(?![^\W_])")


def _plain(text: str) -> bool:
    """Whether ``text`` is, word for word, what ``_fold_text`` and lower-casing make of it but for
    the case of its letters and ё (all its characters in ``_PLAIN_CHARS``). A character not met
    before is judged once: a combining mark, a letter or digit outside ASCII and ``_CYRILLIC_LETTER``
    (another Cyrillic one too), a zero-width or apostrophe-like character is not plain."""
    global _UNPLAIN
    if _UNPLAIN.search(text) is None:
        return True
    new = set(_UNPLAIN.findall(text))
    if not new.isdisjoint(_UNPLAIN_CHARS):
        return False
    for c in new:
        if (unicodedata.category(c)[0] in "PSZ" and not "\u0400" <= c <= "\u052f"
                and ord(c) not in _FOLD and ord(c) not in _ZERO_WIDTH and not c.isalnum()
                and c.lower() == c and unicodedata.normalize("NFKC", c) == c):
            _PLAIN_CHARS.add(c)
        else:
            _UNPLAIN_CHARS.add(c)
            return False
    _UNPLAIN = _unplain_pattern()
    return True


def latin_stem_set(text: str) -> frozenset[str]:
    """The stems of ``stored_stem_set(text, stored)`` (whatever ``stored`` holds) without a
    Cyrillic letter: those of its words that have none (a Cyrillic word's stem is the word as
    written, and the stored forms added are Cyrillic ones).

    Why: a Latin article can share no other stem with a Russian or Ukrainian post, and finding
    its few Latin words and numbers costs a fraction of splitting and looking up all its words
    (most of the detector's time per candidate). In a text of ASCII, Cyrillic letters, and
    punctuation and symbols folding leaves alone (``_plain``: most posts), those words are its
    runs of ASCII letters and digits, lower-cased; another is folded and scanned, and one with an
    apostrophe (a Cyrillic word with one goes through the dictionary) is filtered from the full
    set."""
    if _plain(text):
        ws = [w.lower() for w in _ASCII_WORD.findall(text)]
    else:
        low = _fold_text(text).lower()
        if "'" in low:
            return frozenset(s for s in stored_stem_set(text, "") if not has_cyrillic(s))
        ws = _NOT_CYRILLIC_WORD.findall(low)
    memo = _WRITTEN_OF
    try:
        return frozenset(filter(None, map(memo.__getitem__, ws)))
    except KeyError:
        pass
    _memo_add(memo, ws, _written_stem)
    return frozenset(filter(None, map(memo.__getitem__, ws)))
#: a stored form → itself if it holds a Cyrillic letter, else ""
_CYRILLIC_FORM: dict[str, str] = {}


def _cyrillic_form(form: str) -> str:
    return form if _CYRILLIC_LETTER.search(form) else ""


def _written_stem(w: str) -> str:
    if "'" not in w and len(w) > 1 and _CYRILLIC_LETTER.search(w):
        return w  # stop words too: "быть" is also the lemma of "будут", and then not stored
    return _word_stem(w)  # the dictionary only for a Cyrillic word with an apostrophe (rare)


def _word_stem(w: str) -> str:
    if (len(w) < 2 and not w.isdigit()) or w in STOPWORDS:
        return ""
    if "'" in w:
        w = w.replace("'", "")
    if w.isdigit():
        return w
    if w.isascii():
        if "our" in w or "ence" in w:  # what ``_BRITISH`` needs, tested in C first
            w = _BRITISH.sub(_american, w)
        if (num := _NUMBER_WORDS.get(w)) is not None:
            return num
        s = normal(w)
        return _VARIANT_OF.get(s, s)
    return normal(w)


#: British spellings a UK outlet uses and a machine translation does not ("armoured", "defence")
_BRITISH = re.compile(r"^(arm|hon|fav|behavi|lab|neighb|col|harb|rum|endeav|val|savi)our|"
                      r"^(def|off|lic)ence")


def _american(m: re.Match[str]) -> str:
    return f"{m.group(1)}or" if m.group(1) else f"{m.group(2)}ense"


def _variant_map(groups: Iterable[Sequence[str]]) -> dict[str, str]:
    """Each English word's stem → its group's stem (the first word's), for ``_word_stem``: a
    machine translation's "servicemen" and a journalist's "soldiers" become one stem on both sides,
    so every comparison (shortlist, passages, quoted spans, numbers' unit words) sees them alike."""
    out: dict[str, str] = {}
    for group in groups:
        head = normal(_BRITISH.sub(_american, group[0]))
        for w in group[1:]:
            s = normal(_BRITISH.sub(_american, w))
            if s != head:
                out[s] = head
    return out


_VARIANT_OF = _variant_map(variant_groups())


#: English number words as the digits a post or its translation writes ("at least seven" ↔ "at
#: least 7"); one and two are stop words
_NUMBER_WORDS = dict(zip(
    ("three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
     "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
     "forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
    map(str, [*range(3, 21), *range(30, 100, 10)]), strict=True))


def shingles(tokens: Sequence[str], n: int = 2, skip: bool = True) -> set[tuple[str, ...]]:
    """Word n-grams; with ``skip`` also pairs one word apart, which survives small rewordings."""
    if n != 2:
        return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
    out: set[tuple[str, ...]] = set(pairwise(tokens))  # the same pairs, built in C
    if skip:
        out.update(zip(tokens, tokens[2:], strict=False))
    return out


def shingle_set(tokens: Sequence[str]) -> frozenset[tuple[str, ...]]:
    """``frozenset(shingles(tokens))``, built at once (no set made to be copied)."""
    return frozenset(chain(pairwise(tokens), zip(tokens, tokens[2:], strict=False)))


def containment(part: Iterable[object], whole: set[object] | frozenset[object]) -> float:
    """Share of ``part`` found in ``whole`` (asymmetric: a short quote inside a long article is 1.0)."""
    items = set(part)
    if not items:
        return 0.0
    return len(items & whole) / len(items)


@lru_cache(maxsize=256)
def _chunks(text: str) -> tuple[tuple[str, int], ...]:
    """The text's sentences and lines as written (stripped), each with its number of words.
    Memoised for the few texts at hand: ``sentences`` reads a text twice (in windows of 40 words
    for passages, whole for names), and the split was a scan of the text each time."""
    out = []
    for chunk in _SENTENCE.split(text):
        chunk = chunk.strip()
        if chunk:
            out.append((chunk, len(chunk.split())))
    return tuple(out)


def sentences(text: str, max_words: int = 40) -> list[str]:
    """Sentences (and lines); very long ones are cut into windows so one match stays local."""
    out: list[str] = []
    for chunk, n in _chunks(text):
        if n <= max_words:
            out.append(chunk)
            continue
        ws = chunk.split()
        step = max_words // 2
        for i in range(0, len(ws) - step, step):
            out.append(" ".join(ws[i : i + max_words]))
    return out


def script_of(text: str) -> str:
    """"cyrillic", "latin" or "" — which index (original or translation) an article can match."""
    # counted on the UTF-8 bytes with C-speed deletions: ASCII letters are themselves, and the lead
    # bytes 0xD0-0xD3 start exactly the characters U+0400-U+04FF (no other byte of UTF-8 is one)
    b = text.encode("utf-8", "surrogatepass")
    cyr = len(b.translate(None, _NOT_CYRILLIC_LEAD))
    lat = len(b.translate(None, _NOT_LATIN))
    if not cyr and not lat:
        return ""
    return "cyrillic" if cyr > lat else "latin"


_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
#: an English number word from ten to ninety-nine ("forty-one shells" is "41 снаряд")
_NUMBER_WORD = Caseless(
    rf"\b(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_ONES)}))?|({'|'.join(_TEENS)}))\b")


def _number_word(m: re.Match[str]) -> str:
    tens, ones, teen = m.group(1), m.group(2), m.group(3)
    if teen:
        return str(10 + _TEENS.index(teen.lower()))
    return str(10 * (2 + _TENS.index(tens.lower())) + (_ONES.index(ones.lower()) + 1 if ones else 0))


@lru_cache(maxsize=8)
def _numeric_text(text: str) -> str | None:
    """``text`` as numbers are matched in (NFKC, no-break spaces as spaces, English number words
    from ten to ninety-nine as digits: an own translation writes "ten hours" for "10 годин"),
    None without a digit. Memoised for the few texts at hand: ``numbers`` and ``number_units``
    read each text one after the other."""
    s = text if text.isascii() else unicodedata.normalize("NFKC", text).replace("\u00a0", " ")
    if _may_have_number_word(s) and _NUMBER_WORD.search(s):
        s = _NUMBER_WORD.pattern.sub(_number_word, s)
    return s if has_digit(s) else None


#: the words of ``_NUMBER_WORD`` looked for as substrings ("ten" is in "often": by ``_TEN``)
_NUMBER_WORDS_BUT_TEN = tuple(w for w in [*_TENS, *_TEENS] if w != "ten")
_TEN = re.compile(r"ten(?<!\wten)\b")


def _may_have_number_word(s: str) -> bool:
    """False when ``_NUMBER_WORD`` cannot match in ``s``: none of its words is in the lower-cased
    text, or only "ten" inside other words. A substring test per word (in C) costs a third of the
    pattern's scan of every word start, which most texts (no number word) needed in full; a text
    with a letter that case folding treats apart (``ODD_CASE_LETTERS``) is always scanned."""
    if not s.isascii() and ODD_CASE_LETTERS.search(s):
        return True
    low = s.lower()
    return any(map(low.__contains__, _NUMBER_WORDS_BUT_TEN)) or (
        "ten" in low and _TEN.search(low) is not None)


def _plain_number(raw: str) -> str:
    """One spelling of a written number: "1,200" and "1 200" become "1200", "2,5" becomes "2.5"."""
    return _GROUP_SEP.sub("", raw) if _GROUPED.fullmatch(raw) else raw.replace(",", ".")


def numbers(text: str) -> set[str]:
    """Numbers worth comparing (two or more digits; "1,200" and "1 200" both become "1200")."""
    out: set[str] = set()
    s = _numeric_text(text)
    if s is None:
        return out
    for m in _NUMBER.finditer(s):
        raw = _plain_number(m.group(1))
        if len(raw.replace(".", "")) >= 2:
            out.add(raw)
    return out


#: a number and the word after it ("12 occupiers", "1,000 troops", "30 окупантів")
_NUMBER_UNIT = re.compile(
    r"(\d(?<![\w.,]\d)(?<![^\W\d_]-\d)(?:\d{0,2}(?:[ ,.\u202f]\d{3})+|\d*(?:[.,]\d+)?))"
    r"(?:\s*\([^)]*\))?\s+"
    r"(?:(?:more|than|of|additional|other|russian|ukrainian|enemy)\s+)?([^\W\d_]{3,})"
)


def figures(text: str, days: Iterable[str] | None = None) -> set[str]:
    """``numbers(text)`` without the days of its dates ("on Nov. 10", "24 лютого"): an article's
    date is when it happened, not a figure a post could share by chance ("10 drones"). ``days``:
    the days of ``dates(text)`` as strings, when the caller has them. A number written both as a
    day and as a figure stays."""
    out: set[str] = set()
    s = _numeric_text(text)
    if s is None:
        return out
    if days is None:
        days = {str(d) for _, d in dates(text)}
    days = set(days)
    for m in _NUMBER.finditer(s):
        raw = _plain_number(m.group(1))
        if len(raw.replace(".", "")) < 2:
            continue
        if raw in days and _a_day(s, m):
            continue
        out.add(raw)
    return out


_MONTH_AFTER = re.compile(r"(?:st|nd|rd|th)?\s+(?:of\s+)?([^\W\d_]{3,})")
_MONTH_BEFORE = re.compile(r"([^\W\d_]{3,})\.?\s+$")


def _a_day(s: str, m: re.Match[str]) -> bool:
    """Whether the number ``m`` in ``s`` is a date's day: a month name right after or before it."""
    after = _MONTH_AFTER.match(s, m.end())
    if after and _month(after.group(1)):
        return True
    before = _MONTH_BEFORE.search(s, max(0, m.start() - 16), m.start())
    return bool(before and _month(before.group(1)))


def number_units(text: str) -> set[tuple[str, str]]:
    """(number, stem of the word after it) pairs: a shared "12 occupiers" says more than a shared
    12. Numbers as ``numbers`` writes them; the word's stem as ``content_stems`` does."""
    out: set[tuple[str, str]] = set()
    s = _numeric_text(text)
    if s is None:
        return out
    for m in _NUMBER_UNIT.finditer(s):
        raw = _plain_number(m.group(1))
        unit = _word_stem(m.group(2).lower())
        if unit and not _month(unit) and len(raw.replace(".", "")) >= 1:
            out.add((raw, unit))
    return out


def dates(text: str) -> set[tuple[int, int]]:
    """(month, day) pairs written as "24 February", "February 24", "24 лютого" or "24.02"."""
    out: set[tuple[int, int]] = set()
    if not any(map(text.__contains__, _ASCII_DIGITS)) and (
            text.isascii() or not _DIGIT.search(unicodedata.normalize("NFKC", text))):
        return out  # every form has a day number: skip normalising and three scans
    s = normalize(text)
    for m in _DATE_DM.finditer(s):
        month = _month(m.group(2))
        if month and 1 <= int(m.group(1)) <= 31:
            out.add((month, int(m.group(1))))
    for m in _MONTH_DAY.finditer(s):
        month = _month(m.group(1))
        if month and 1 <= int(m.group(2)) <= 31:
            out.add((month, int(m.group(2))))
    for m in _DATE_NUM.finditer(s):
        day, month = int(m.group(1)), int(m.group(2))
        if 1 <= day <= 31 and 1 <= month <= 12:
            out.add((month, day))
    return out


def _month(word: str) -> int | None:
    w = word.lower()
    return _MONTHS.get(w) or _MONTHS.get(w[:6]) or _MONTHS.get(w[:5])


def names(text: str) -> set[str]:
    """Stems of capitalised words that do not start a sentence (people, places, units)."""
    out: set[str] = set()
    if text.islower():
        return out  # no capital letter at all (no sentences to split)
    memo = _NAME_OF
    for sent in sentences(text, max_words=10_000):
        for i, m in enumerate(_CAPITALISED.finditer(sent)):
            if i == 0 and m.start() == _first_word_start(sent):
                continue
            word = m.group(1)
            s = memo.get(word)
            if s is None:
                if len(memo) >= _STEM_MEMO_MAX:
                    memo.clear()
                s = memo[word] = _name_stem(word)
            if s:
                out.add(s)
    return out


def name_stems(text: str) -> frozenset[str]:
    """Stems of every capitalised word of a short name run ("Energy Minister German Galushchenko"),
    its first word too (``names`` skips a sentence's first word)."""
    out = set()
    for m in _CAPITALISED.finditer(text):
        word = m.group(1)
        s = _NAME_OF.get(word)
        if s is None:
            s = _NAME_OF[word] = _name_stem(word)
        if s:
            out.add(s)
    return frozenset(out)


#: capitalised word → its stem as a name, or "" (a stop word, a topic word): names recur
_NAME_OF: dict[str, str] = {}


def _name_stem(word: str) -> str:
    w = normalize(word)
    if w in STOPWORDS:
        return ""
    s = stem(w)
    return "" if s in COMMON_TOPIC else s


def _first_word_start(sent: str) -> int:
    m = _WORD.search(sent)
    return m.start() if m else -1


# Words every war report shares; matching on them says nothing about *which* post is cited.
COMMON_TOPIC: frozenset[str] = frozenset(stem(w) for w in _wordset("""
ukraine ukrainian ukrainians russia russian russians war military army forces force troops soldiers
region regions city attack attacks killed people country president government minister ministry
defense defence kyiv moscow front line today yesterday year years day days week time new
україна україни українські росія росії війна військові армія зсу область області
украина украины украинские россия россии война военные армия всу область области
"""))
