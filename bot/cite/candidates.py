"""Which words of an article to look up in the full-text index (pure).

FTS5 stores lower-cased tokens with Latin diacritics removed and ё as е, split at anything not a letter or
digit, so the terms are produced the same way. Names, numbers and long words come first: they are
the ones that single out a post. Storage then keeps only the rarest of them (``storage.retrieval``),
which is what keeps one article against a million posts fast.
"""

from __future__ import annotations

import re
import unicodedata

from bot.cite.text import COMMON_TOPIC, ODD_CASE_LETTERS, STOPWORDS, Caseless, sentences, stem
from storage import wordforms
from storage.candidates import MAX_LOOKUPS
from storage.crossscript import KEY_PREFIX, TERM_PREFIX, UNIT_PREFIX, article_names
from storage.fold import fold

#: a run of letters or digits: what FTS5's unicode61 tokenizer keeps as one token
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: index terms looked up per article, at most
MAX_TERMS = 80
#: of the lookups, at most this many are cross-script keys: units, names, terms (``lookup_terms``)
MAX_KEYS = 12
MAX_TERM_KEYS = 4
#: where an article says it is quoting Telegram: the words around it are the ones to look up
_TELEGRAM_ATTRIBUTION = Caseless(r"telegram|телеграм|in a post|channel|канал|допис")
#: added once to the score of a term used in or next to such a sentence
_QUOTED_BONUS = 4.0
#: the alternatives of ``_TELEGRAM_ATTRIBUTION``, for the quick substring test
_ATTRIBUTION_WORDS = ("telegram", "телеграм", "in a post", "channel", "канал", "допис")
#: a number that reads as a year (says little: "2022" is in half the war coverage)
_YEAR = re.compile(r"(19|20)\d\d")
#: folded spellings of the words seen lately (see ``_fold``), emptied when it holds this many
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 65536


def _may_attribute(text: str) -> bool:
    """Whether ``_TELEGRAM_ATTRIBUTION`` can match in ``text``, by substring tests on the
    lower-cased text (~10 µs; the case-insensitive alternation costs ~250 µs on a 3 kB article)."""
    if ODD_CASE_LETTERS.search(text):  # with none of them, the lower-cased text holds one of
        return _TELEGRAM_ATTRIBUTION.search(text) is not None  # the words exactly when it matches
    low = text.lower()
    return any(w in low for w in _ATTRIBUTION_WORDS)


def _fold(word: str) -> str:
    """Lower-case; strip combining marks from Latin letters only (as unicode61 does). Memoised
    (``_FOLDED``): articles share most of their words, and NFD/NFC per token was a tenth of an
    article's time."""
    got = _FOLDED.get(word)
    if got is None:
        if len(_FOLDED) >= _FOLDED_MAX:
            _FOLDED.clear()
        got = _FOLDED[word] = _fold_word(word)
    return got



def _fold_word(word: str) -> str:
    if word.isascii():
        return word.lower()
    out = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return fold(unicodedata.normalize("NFC", "".join(out)))  # the index holds ё as е


def _scored(raw: str) -> tuple[str, float | None]:
    """A spelling's term and its score as a first spelling (None: a stop word, or not worth a
    lookup), memoised like ``_fold`` (``_SCORED``): articles share most of their spellings."""
    if len(_SCORED) >= _FOLDED_MAX:
        _SCORED.clear()
    term = _fold(raw)
    got = _SCORED[raw] = (term, None if term in STOPWORDS else _base_score(term, raw))
    return got


#: spelling → its term and score (``_scored``)
_SCORED: dict[str, tuple[str, float | None]] = {}


def _base_score(term: str, raw: str) -> float | None:
    """A term's score from its first spelling in the text, or None if it is not worth a lookup."""
    if term.isdigit():
        if len(term) < 2:
            return None
        return 3.0 if not _YEAR.fullmatch(term) else 1.0
    if len(term) < 4 and not (len(term) == 3 and raw.isupper()):
        return None
    return min(len(term), 12) / 6 + (1.5 if raw[0].isupper() else 0.0)



def fts_terms(text: str, max_terms: int = MAX_TERMS) -> list[str]:
    """Distinct index terms of ``text``, most distinctive first (names, numbers, long words).

    Words of the sentences that attribute something to Telegram or quote it (and the sentence on
    either side) come before all others: in a long article the quoted passage is a few lines, and
    without the bonus its words lost their place among the article's own names. A term's score
    comes from its first kept spelling, plus the bonus once if that or any later occurrence is in
    such a sentence."""
    scored: dict[str, float] = {}
    cited = _cited_spans(text)
    if not cited:  # most articles: no positions needed, and each spelling once, in order of use
        known = _SCORED.get
        for raw in dict.fromkeys(_WORD.findall(text)):
            term, score = known(raw) or _scored(raw)
            if score is not None and term not in scored:
                scored[term] = score
    else:
        boosted: dict[str, bool] = {}
        tokens = _WORD.findall(text)
        known = _SCORED.get
        for raw, quoted in zip(tokens, _quoted(text, len(tokens), cited), strict=True):
            term, score = known(raw) or _scored(raw)
            if term in scored:
                if quoted and not boosted[term]:
                    scored[term] += _QUOTED_BONUS
                    boosted[term] = True
                continue
            if score is not None:
                scored[term] = score + (_QUOTED_BONUS if quoted else 0.0)
                boosted[term] = quoted
    ranked = sorted(scored.items(), key=lambda kv: -kv[1])
    # looked up by their normal forms, as the index holds every post's (storage.wordforms): any
    # form in the post is found by any form in the article
    lang = wordforms.text_lang(text)
    out: dict[str, None] = {}
    for t, _ in ranked:  # the first max_terms forms: the rest are never looked up
        out.update(dict.fromkeys(wordforms.forms(t, lang)))
        if len(out) >= max_terms:
            break
    return list(out)[:max_terms]


def _quoted(text: str, n: int, spans: list[tuple[int, int]]) -> list[bool]:
    """For each of the ``n`` tokens of ``text`` (``_WORD.findall``), whether it starts inside one
    of ``spans`` (ordered by start). Tokens are counted up to each edge of the spans' union by
    ``findall`` over the stretch between edges, not placed one by one (a match object per token
    was half the time of an article that quotes Telegram): a stretch that starts inside a token
    finds that token's tail first, which was counted before."""
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        elif lo < hi:
            merged.append([lo, hi])
    out = [False] * n
    done, at = 0, 0  # tokens starting before ``at``
    for lo, hi in merged:
        first = done = done + _starting(text, at, lo)
        done += _starting(text, lo, hi)
        out[first:done] = [True] * (done - first)
        at = hi
    return out


def _starting(text: str, lo: int, hi: int) -> int:
    """How many tokens of ``text`` start at or after ``lo`` and before ``hi``."""
    if hi <= lo:
        return 0
    got = len(_WORD.findall(text, lo, hi))
    if got and lo > 0 and _WORD.fullmatch(text, lo - 1, lo + 1):
        got -= 1  # the tail of a token that starts before ``lo``
    return got


def _cited_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of attributing/quoting sentences and their neighbours."""
    if not _may_attribute(text):
        return []  # most articles: no sentence can match if the whole text does not
    sents = sentences(text, max_words=10_000)
    hot = {i for i, s in enumerate(sents) if _TELEGRAM_ATTRIBUTION.search(s)}
    if not hot:
        return []
    near = sorted({j for i in hot for j in (i - 1, i, i + 1) if 0 <= j < len(sents)})
    spans, pos = [], 0
    starts = []
    for s in sents:  # sentences are in order; find each one's position in the text
        at = text.find(s, pos)
        starts.append(at if at >= 0 else pos)
        pos = starts[-1] + len(s) if at >= 0 else pos
    for j in near:
        spans.append((starts[j], starts[j] + len(sents[j])))
    return spans


def lookup_terms(text: str) -> list[str]:
    """What retrieval looks up for an article: its index terms (``fts_terms``) and its cross-script
    keys (``storage.crossscript``: "Kurakhove" finds a post that writes "Курахове", "110th Brigade"
    one that writes "110-ї ОМБр": no English term reaches them), within
    ``storage.candidates.MAX_LOOKUPS``. Keys go in order of use: numbered units first (the most
    specific), then names in the order ``fts_terms`` ranks their words (near the attribution first;
    words every war report has, days and months are left out), within ``MAX_KEYS``; then up to
    ``MAX_TERM_KEYS`` glossary terms, ranked the same way; retrieval then keeps the rarest of all."""
    words = fts_terms(text)
    found = article_names(text)
    rank = {t: i for i, t in enumerate(words)}

    def place(word: str) -> int:
        low = word.lower()
        return min((rank[f] for f in (low, *wordforms.forms(low)) if f in rank),
                   default=len(words))

    units = [k for k in found if k.startswith(UNIT_PREFIX)]
    names = sorted((k for k in found if k.startswith(KEY_PREFIX) and not _topical(found[k])),
                   key=lambda k: place(found[k]))
    # glossary terms in slots of their own, by the place of their best-placed word: behind a dozen
    # names of background paragraphs, "Special Operations Forces (SSO) said" was never looked up
    terms = sorted((k for k in found if k.startswith(TERM_PREFIX)),
                   key=lambda k: min(map(place, found[k].split())))
    keys = [*[*units, *names][:MAX_KEYS], *terms[:MAX_TERM_KEYS]]
    kept = [t for t in words if t not in keys]
    return kept[: MAX_LOOKUPS - len(keys)] + keys


def _topical(word: str) -> bool:
    """A word every war report has ("Russian"), a day or month name, "Telegram": its key singles
    out nothing."""
    low = word.lower()
    return low in STOPWORDS or low in _NOT_NAMES or stem(low) in COMMON_TOPIC


#: capitalised words that are no names: days and months (a date, which a post writes in its own
#: language and lower case) and the medium every citing article names
_NOT_NAMES = frozenset({
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "telegram"})
