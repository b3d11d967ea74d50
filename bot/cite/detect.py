"""The citation detector: given an article and candidate posts, say which posts it cites and why.

PURE: values in, values out, no clock unless ``now`` is omitted and the article has no date. The
pipeline (bot/cite/pipeline.py) does the I/O. Evidence weights combine as a noisy-OR, so independent
weak signals add up while none alone (a mention, a shared number) reaches the alert threshold:

- link / embed of channel/id ............ 1.0 (certain, even if the post is not stored yet)
- quote: the article's quoted spans ("…", «…», '…' of three or more words) matched by how much of
  the *span* a passage of the post holds (short and trimmed quotes count in full), and its sentences
  matching the post's by stems and skip-bigrams (robust to another translation, reordering,
  paraphrase; a short post sentence also read with its neighbour, as a reporter tells two in one);
  every matching passage adds up with diminishing returns, each article sentence once ... up to
  0.95. A passage the article puts in the mouth of a source outside Telegram (a
  briefing, an interview, a televised address) counts half. A Cyrillic post with no translation is
  read word by word through its words' English senses (``bilingual``: "знищили" → destroy/kill)
  and matched the same way, × 0.8 (no word order to compare; a word with no sense on file counts
  half against the match). A name a candidate romanises otherwise ("Blagodatne") is read as the
  article's ("Blahodatne") when their transliteration keys agree
- mention: the channel's username or an alias near an attribution ("on Telegram", "said"; not in
  the paragraph before: that cue is its own subject's) .. ≤ 0.45
  (halved when no text of the post matches: it cannot tell one of the channel's posts from another)
  ("Join us on Telegram" footers and links to the outlet's own channel do not count); next to
  "said / wrote / according to" 0.4, a bare name nothing; "in a Telegram post on February 11"
  gives the mention only to the channel's posts of that day (±1 for time zones); an organisation
  named once and referred back to ("the ministry said on Telegram") counts as its alias next to the
  cue. The mention points at one post (0.55, not halved) when the facts single it out: of the
  channel's posts compared only it shares them — three facts of which two exact (figures of two or
  more digits, names or units across scripts, names at most 5 posts of the store's window have by
  retrieval's counts, not the channel's own; at least one not such a name), a numbered unit
  across scripts and one more ("72 ОМБр … Павлівки" for "the 72nd Brigade … Pavlivka, DeepState
  said"), or two rare names across scripts — or when the article dates the post and it is the
  channel's only post of that day here sharing facts. "X said" is of the channel's recent words:
  a post more than two days older than the article keeps its mention in full only when the article
  dates it or the facts single it out, one more than a week older only when dated; and a post the
  channel told again later, which the article reads as well, leaves the mention to the later one
- shared: numbers (not years; with their unit word, "12 occupiers", worth more; long figures more
  than short), dates and names the post and the article have in common, each weighed by how many
  candidates share it ... ≤ 0.4 (0.55 for three or more long exact figures). A Cyrillic post with
  no translation meets a Latin article by its names' transliteration keys (storage.crossscript);
  then the channel's mention is not halved, since such a post cannot be quoted word for word;
  numbered units meet the same way ("110-ї ОМБр" / "110th Brigade", by rarity, ≤ 0.12 each)
- time: the post precedes the article within the window (a post after the article is never cited)

Only per-post evidence (link, embed, quote, shared) makes a post a citation; a mention or the timing
just strengthens it, because they say nothing about *which* of a channel's posts is meant.

Guards against look-alikes, for a post whose channel the article neither links nor names: quotes
count less in an article that never says it took anything from Telegram; a one-line post, or one
that relays someone else's statement, cannot alert without a distinctive quoted passage (score ≤ 0.5).
For any post not linked: a passage the article puts in the mouth of someone whose words the post
hands on ("Energy Minister Galushchenko said" beside a relay "— наголосив Герман Галущенко"; not the
channel's own names, not a post's signature) counts half and that name is no shared fact; a post
whose long figures (3+ of three or more digits) none agree with the article's is another day's
report (passages half, the mention halved; "599,6 тысячи" agrees with "600,000"); a post
neither named nor quoted that names 4+ people or places of which the article tells at most one,
sharing no other fact, is another place's report (passages half); a post more than a week older
than the article, which does not date it, counts its loose passages (partial or read through word
senses, not a whole sentence or a distinctive quote) half: the channel's weekly story told again.
A loose reading (word senses) un-halves a mention only for the channel's post the article reads
best. Each guard that applies is in the evidence (kind "guard", weight 0), so the verdict explains
itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain, compress, pairwise
from operator import neg
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.cite import bilingual
from bot.cite import text as tx
from bot.cite.spans import (
    Span,
    mentions_telegram,
    offline_sentences,
    quoted_spans,
    relayed_names,
    relays,
    speakers,
)
from bot.tglinks import TelegramRef, find_links, refs_from_json
from storage import crossscript
from storage.models import Evidence

PostKey = tuple[str, int]  # (channel username lower-cased, message id)
_CYRILLIC = re.compile("[\u0400-\u04ff]")

_STRONG_CUE = re.compile(
    r"telegram|телеграм|in a post|a post|posted|channel|канал|допис|пост", re.IGNORECASE
)
_WEAK_CUE = re.compile(
    r"\b(?:said|says|wrote|writes|stated|reported|reports|according to|announced|claimed|claims|"
    r"published|shared|noted|added|told|citing|cited|quoting|quoted)\b"
    r"|заяв|сообщ|повідом|написа|зазначи|отмети|опублік|опублик",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"join us|follow us|follow our|subscribe(?!rs)|our coverage|our channel|sign up|"
    r"підписуй|подписыв|приєднуй|присоединя",
    re.IGNORECASE,
)
_CUE_SPAN = 160  # characters either side of a mention searched for an attribution
_DAY_SPAN = 40  # characters after "Telegram"/"post" searched for the day it was posted
#: a channel's username (or an alias) named next to "Telegram / channel / post"; either next to
#: "said / wrote / according to" (was 0.25: a name the article attributes the post's words to)
MENTION_STRONG = 0.45
MENTION_ALIAS_STRONG = 0.4
MENTION_SAID = 0.4
#: a name held by at most this many posts of the store's window is rare: an exact fact (two such
#: across scripts single a post out like a numbered unit does: ``_singled_out``)
RARE_IN_STORE = 5
#: a channel named as the source whose only post here telling the article's names and units
#: across scripts is this one (``_singled_out``)
MENTION_SINGLED = 0.55


@dataclass(frozen=True)
class ArticleInput:
    text: str
    published: datetime | None = None
    url: str = ""
    title: str = ""
    tg_refs: Sequence[TelegramRef | Mapping[str, Any]] = ()  # refs, or their stored dicts


@dataclass(frozen=True)
class CandidatePost:
    channel: str
    message_id: int
    date: datetime
    text: str = ""
    translation: str | None = None
    post_id: int | None = None
    #: the stored normal forms of the text's and the translation's words (``posts.words``,
    #: ``translations.words``): the shortlist's stem sets come from them (``tx.stored_stem_set``);
    #: None or "" (not read, or a row stored before they existed): the text is lemmatised. Not
    #: compared: the same post whatever was read with it
    words: str | None = field(default=None, compare=False)
    translation_words: str | None = field(default=None, compare=False)

    @property
    def key(self) -> PostKey:
        return (self.channel.lower(), self.message_id)


@dataclass
class Found:
    post_key: PostKey
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    post_id: int | None = None  # None: linked but not stored (the pipeline may fetch it)


# ---------------------------------------------------------------- article preparation


@dataclass
class _Side:
    """The article prepared once: sentences as stem lists, an inverted index, features."""

    sents: list[list[str]]
    index: dict[str, set[int]]
    numbers: set[str]
    dates: set[tuple[int, int]]
    names: set[str]
    raw_sents: list[str]
    units: set[tuple[str, str]] = field(default_factory=set)
    #: quoted spans: (span, its stems, its adjacent word pairs, the sentence it stands in)
    spans: list[tuple[Span, list[str], set[tuple[str, ...]], int]] = field(default_factory=list)
    #: sentences that attribute their words to a source outside Telegram (an interview, a briefing)
    offline: set[int] = field(default_factory=set)
    #: whether the article says anywhere that something comes from Telegram or a channel
    telegram: bool = False
    #: the index's stems as a set, for C-speed intersections with a post's stems
    stems: frozenset[str] = frozenset()
    _windows: dict[int, tuple[set[str], set[tuple[str, ...]]]] = field(default_factory=dict)
    _shingles: dict[int, set[tuple[str, ...]]] = field(default_factory=dict)

    def _bigrams(self, j: int) -> set[tuple[str, ...]]:
        """Shingles of sentence j, made only for sentences a post lands near (most never are)."""
        got = self._shingles.get(j)
        if got is None:
            got = self._shingles[j] = tx.shingles(self.sents[j])
        return got

    _text: str = ""
    _keys: frozenset[str] | None = None
    _speakers: dict[int, tuple[frozenset[str], frozenset[str]]] | None = None

    @property
    def speakers(self) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
        """Sentences whose words the article puts in someone's mouth ("Galushchenko said"): the
        name stems and cross-script keys of who spoke them, per sentence; made only when a post
        that hands on someone's words shares names with the article."""
        if self._speakers is None:
            self._speakers = _speakers(self.raw_sents)
            self._speaker_names = frozenset().union(*chain.from_iterable(
                self._speakers.values()))
        return self._speakers

    _speaker_names: frozenset[str] = frozenset()

    @property
    def speaker_names(self) -> frozenset[str]:
        """Every speaker's name stems and keys (``speakers``), as one set."""
        _ = self.speakers
        return self._speaker_names
    _unit_keys: frozenset[str] | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Cross-script keys of the article (``storage.crossscript``: its names as the press spells
        them, glossary terms, numbered units), made only when a post in another script with no
        translation is compared (memoised there: retrieval asked for the same text), and kept
        (read for every candidate compared)."""
        if self._keys is None:
            self._keys = frozenset(crossscript.article_names(self._text))
        return self._keys

    @property
    def unit_keys(self) -> frozenset[str]:
        """The article's numbered-unit keys ("110th Brigade": ``xu110brigade``), made once."""
        if self._unit_keys is None:
            self._unit_keys = frozenset(k for k in crossscript.article_names(self._text)
                                        if k.startswith(crossscript.UNIT_PREFIX))
        return self._unit_keys

    def spell_alike(self, spelled: str, ours: str) -> None:
        """Read ``spelled`` (a candidate's romanisation of a name, "Blagodatne") wherever the
        article has ``ours`` ("Blahodatne"), before any passage is compared."""
        where = self.index.get(ours)
        if not where or spelled in self.index:
            return
        self.index[spelled] = set(where)
        for j in where:
            self.sents[j].append(spelled)
        self.stems = self.stems | {spelled}

    def spelled(self, key: str) -> str:
        """The article's words that gave a key ("Kupiansk", "110th Brigade")."""
        return crossscript.article_names(self._text).get(key, key)

    def window(self, i: int) -> tuple[set[str], set[tuple[str, ...]]]:
        """Stems and shingles of sentences i-1..i+1, built once per article (every post sentence
        that lands on sentence i reuses them)."""
        got = self._windows.get(i)
        if got is None:
            lo, hi = max(0, i - 1), min(len(self.sents), i + 2)
            got = (set().union(*self.sents[lo:hi]),
                   set().union(*(self._bigrams(j) for j in range(lo, hi))))
            self._windows[i] = got
        return got


def _prepare(text: str) -> _Side:
    raw = tx.sentences(text)
    sents = tx.content_stems_each(raw)
    index: dict[str, set[int]] = {}
    for i, ss in enumerate(sents):
        for s in ss:
            if s in index:  # not ``setdefault(s, set())``: a new set per word made for nothing
                index[s].add(i)
            else:
                index[s] = {i}
    dates = tx.dates(text)
    return _Side(
        sents=sents,
        index=index,
        stems=frozenset(index),
        numbers=tx.figures(text, {str(d) for _, d in dates}),
        dates=dates,
        names=tx.names(text),
        raw_sents=raw,
        units=tx.number_units(text),
        spans=_span_features(text, raw),
        offline=offline_sentences(raw),
        telegram=_cites_telegram(raw),
        _text=text,
    )


def _speakers(raw: list[str]) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """Who speaks in each sentence (``spans.speakers``) as name stems and cross-script keys."""
    out = {}
    for i, runs in speakers(raw).items():
        joined = " ".join(runs)
        keys = frozenset(crossscript.KEY_PREFIX + k for w in joined.split()
                         if (k := crossscript.name_key(w)))
        out[i] = (tx.name_stems(joined), keys)
    return out


def _span_features(text: str, raw: list[str]) -> list[tuple[Span, list[str], set[tuple[str, ...]],
                                                              int]]:
    """Quoted spans with their stems, adjacent pairs (within each piece between ellipses) and the
    article sentence they stand in."""
    out = []
    for sp in quoted_spans(text):
        stems: list[str] = []
        pairs: set[tuple[str, ...]] = set()
        for part in sp.parts:
            ps = tx.content_stems(part)
            stems += ps
            pairs |= tx.shingles(ps, skip=False)
        if len(set(stems)) < 2:
            continue
        head = sp.parts[0][:40]
        at = next((i for i, r in enumerate(raw) if head in r), -1)
        out.append((sp, stems, pairs, at))
    return out


class _Weights(dict[str, int]):
    """Stem → its weight in tenths: a number 15, a topic word (everywhere, or shared by most
    candidates) 3, a numbered unit's cross-script key 30 (so an untranslated post that tells the
    article's unit is compared, not crowded out of the shortlist by translated posts sharing a few
    more ordinary words), any other 10. Integers, so a sum over a set is exact whatever order the set
    iterates in (that order follows the per-process string hash seed: float sums made ties and
    threshold checks differ from one process to the next); memoised per article, and summed with
    ``map`` over ``__getitem__`` in C instead of a Python call per stem."""

    def __init__(self, common: set[str], cyrillic: Callable[[], set[str]] | None = None):
        super().__init__()
        self.common = common
        #: when ``common`` was counted over the stems without a Cyrillic letter only: what gives
        #: the topic words counted over all of them, asked for when such a stem is first weighed
        self._cyrillic = cyrillic

    def __missing__(self, stem: str) -> int:
        if stem.startswith(crossscript.UNIT_PREFIX):
            w = 30  # a numbered unit across scripts ("110th Brigade"): a number and what it numbers
        else:
            if self._cyrillic is not None and tx.has_cyrillic(stem):
                self.common, self._cyrillic = self._cyrillic(), None
            w = 15 if stem.isdigit() else 3 if (stem in tx.COMMON_TOPIC or stem in self.common) \
                else 10
        self[stem] = w
        return w

    def mass(self, stems: Iterable[str]) -> int:
        return sum(map(self.__getitem__, stems))


# ---------------------------------------------------------------- quote matching

_MIN_SENT_STEMS = 4
_MATCH_AT = 0.55
_MIN_MASS = 30  # tenths: three ordinary stems
_PARTIAL_AT = 0.4
_WINDOWS_TRIED = 4


@dataclass(frozen=True)
class _PostSent:
    raw: str
    uniq: frozenset[str]
    shingles: frozenset[tuple[str, ...]]


@lru_cache(maxsize=8192)
def _post_stems(text: str) -> frozenset[str]:
    """All stems of a post text. Cached by text: the same posts are candidates for article after
    article (a memo of a pure function; no I/O)."""
    return tx.stem_set(text)


@lru_cache(maxsize=4096)
def _post_sents(text: str) -> tuple[_PostSent, ...]:
    """A post text's sentences as stem sets and shingles (only for shortlisted posts; cached)."""
    raws = tx.sentences(text)
    return tuple(_PostSent(raw, frozenset(ss), tx.shingle_set(ss))
                 for raw, ss in zip(raws, tx.content_stems_each(raws), strict=True))


#: a post sentence with fewer content words than this (read from its translation, or through
#: its words' senses) is also read with its neighbour (``_short_pairs``)
_PAIRED_BELOW = 5

_S = TypeVar("_S")


def _short_pairs(sents: Sequence[_S], size: Callable[[_S], int],
                 join: Callable[[_S, _S], _S]) -> list[_S]:
    """Each two adjacent post sentences of which one is short, read as one passage: a reporter's
    sentence often tells two short sentences of the post ("According to preliminary information,
    there is a victim. Operational services are on the spot." → "one person had been hurt,
    according to initial information, and emergency services were at the scene"; "70% of
    consumers are without power. There is no water in any district." → "70% of consumers had been
    left without electricity, and water had stopped running in every district"), which alone are
    too light to count."""
    return [join(a, b) for a, b in pairwise(sents) if min(size(a), size(b)) < _PAIRED_BELOW]


@lru_cache(maxsize=4096)
def _post_passages(text: str) -> tuple[_PostSent, ...]:
    """A post text's sentences, then its short ones with their neighbours (``_short_pairs``)."""
    sents = _post_sents(text)
    return (*sents, *_short_pairs(
        sents, lambda s: len(s.uniq),
        lambda a, b: _PostSent(f"{a.raw} {b.raw}", a.uniq | b.uniq, a.shingles | b.shingles)))


@lru_cache(maxsize=4096)
def _post_names(text: str) -> tuple[frozenset[str], ...]:
    """The name keys of each name of a post (``storage.crossscript.post_names``: not a sentence's
    first word, not all capitals), cached."""
    return tuple(crossscript.post_names(text))


@lru_cache(maxsize=4096)
def _post_keys(text: str) -> frozenset[str]:
    """Cross-script keys of a post's capitalised Cyrillic words (``storage.crossscript``)."""
    return frozenset(crossscript.post_keys(text))


_KEY_PREFIXES = (crossscript.KEY_PREFIX, crossscript.TERM_PREFIX, crossscript.UNIT_PREFIX)


def _keys_of(c: CandidatePost) -> frozenset[str]:
    """A candidate's cross-script keys: those stored with it (``posts.words`` holds them beside
    the normal forms, ``storage.search_index.post_words``), else made from its text."""
    if c.words:
        return _stored_keys(c.words)
    return _post_keys(c.text)


@lru_cache(maxsize=4096)
def _english_units(text: str) -> frozenset[str]:
    """The numbered-unit keys of an English text (a stored translation), cached."""
    return frozenset(k for k in crossscript.term_keys(text, "latin")
                     if k.startswith(crossscript.UNIT_PREFIX))


@lru_cache(maxsize=8192)
def _stored_keys(words: str) -> frozenset[str]:
    return frozenset(w for w in words.split() if w.startswith(_KEY_PREFIXES))


@lru_cache(maxsize=8192)
def _post_facts(text: str) -> tuple[frozenset[str], frozenset[tuple[int, int]], frozenset[str],
                                    frozenset[tuple[str, str]]]:
    """Numbers, dates, names and number+unit pairs of a post text (cached like ``_post_sents``)."""
    return (frozenset(tx.numbers(text)), frozenset(tx.dates(text)), frozenset(tx.names(text)),
            frozenset(tx.number_units(text)))


#: each further passage counts this much less than the one before (evidence adds up, with
#: diminishing returns: five half-matching sentences are worth more than one, not five times more)
_DECAY = 0.7
#: a passage the article attributes to a source outside Telegram (a briefing, an interview)
_OFFLINE_FACTOR = 0.5


def _add_up(weights: Iterable[float], cap: float = 0.95) -> float:
    """Noisy-OR of the weights, best first, each further one discounted by ``_DECAY``."""
    p = 1.0
    for k, w in enumerate(sorted(weights, reverse=True)):
        p *= 1.0 - w * _DECAY**k
    return min(cap, 1.0 - p)


def _which(against: str) -> str:
    return "translated post" if against == "translation" else "original post"


_Passages = dict[int, float]  # article sentence -> the weight of what matched there


def _quote(art: _Side, post_text: str, weights: _Weights, against: str,
           offline: set[int] | None = None) -> tuple[Evidence | None, _Passages, float]:
    """How much of one post text (translation or original) the article's sentences carry: the
    weight of whole-sentence matches by coverage, and of every matching passage on its own (to be
    added up with the quoted spans, each article sentence once)."""
    none: tuple[Evidence | None, _Passages, float] = (None, {}, 0.0)
    offline = art.offline if offline is None else offline
    post_stems = _post_stems(post_text)
    # an upper bound first: a passage needs _MIN_MASS of stems the article has at all (every
    # weight is positive, so an empty post ends here too)
    if weights.mass(post_stems & art.stems) < _MIN_MASS:
        return none
    post_mass = weights.mass(post_stems)
    matched: set[str] = set()
    best = (0.0, "", "")
    partial_mass = 0
    index = art.index
    #: article sentence -> (match, weight) of the best post sentence landing there (each article
    #: passage counts once, whatever number of post sentences it resembles)
    passages: dict[int, tuple[float, float]] = {}
    for ps in _post_passages(post_text):
        uniq = ps.uniq
        if len(uniq) < _MIN_SENT_STEMS:
            continue
        present = uniq & art.stems
        if weights.mass(present) < _MIN_MASS:
            continue  # no window can share more than the whole article does
        hits = Counter(chain.from_iterable(map(index.__getitem__, present)))
        mass = weights.mass(uniq)
        pb = ps.shingles
        best_m, best_i, best_common = 0.0, -1, frozenset[str]()
        for i in _most_hit(hits):
            window, wb = art.window(i)
            shared = uniq & window
            c_uni = weights.mass(shared) / mass
            c_bi = len(pb & wb) / len(pb) if pb else 0.0
            m = 0.65 * c_uni + 0.35 * c_bi
            if m > best_m:
                best_m, best_i, best_common = m, i, shared
        common_mass = weights.mass(best_common)
        if common_mass < _MIN_MASS:
            continue
        factor = _OFFLINE_FACTOR if best_i in offline else 1.0
        if best_m >= _MATCH_AT and factor == 1.0:
            matched |= best_common
        if best_m >= _PARTIAL_AT:
            w = factor * 0.6 * best_m * math.sqrt(min(1.0, common_mass / 100))
            if w > passages.get(best_i, (0.0, 0.0))[1]:
                passages[best_i] = (best_m, w)
        if best_m > best[0]:
            best = (best_m, art.raw_sents[best_i], ps.raw)
            partial_mass = common_mass
    if not passages:
        return none
    # loose paraphrases of several sentences: each weak alone, together they add up
    partial = _add_up((w for _, w in passages.values()), cap=0.9)
    strong = 0.0
    coverage = 0.0
    if matched:
        matched_mass = weights.mass(matched)
        coverage = matched_mass / post_mass
        strong = min(0.95, best[0] * math.sqrt(min(1.0, matched_mass / 100)) + 0.25 * coverage)
        # the passages below the match bar (not in ``matched``) still add to it
        strong = _add_up([strong, *(w for m, w in passages.values() if m < _MATCH_AT)])
    weight = max(strong, partial)
    n = len(passages)
    if strong >= partial:
        text = f"quotes {round(coverage * 100)}% of the {_which(against)}"
    elif n > 1:
        text = f"partly matches {n} sentences of the {_which(against)} (best {round(best[0] * 100)}%)"
    else:
        text = f"partly matches a sentence of the {_which(against)} ({round(best[0] * 100)}%)"
    return {
        "kind": "quote",
        "text": text,
        "weight": round(weight, 3),
        "containment": round(coverage if matched else partial_mass / post_mass, 3),
        "passage_match": round(best[0], 3),
        "passages": n,
        "article_passage": best[1][:300],
        "post_passage": best[2][:300],
        "against": against,
    }, {i: w for i, (_, w) in passages.items()}, strong


#: a quoted span matches a post passage when this share of its (weighted) stems is there
_SPAN_AT = 0.6
_SPAN_MIN_MASS = 25  # tenths: more than two ordinary stems found (not a stock phrase)


@lru_cache(maxsize=4096)
def _post_windows(text: str) -> tuple[tuple[str, frozenset[str], frozenset[tuple[str, ...]]], ...]:
    """A post text's passages for quoted spans: each sentence joined with the next (a quote may run
    over a sentence end), with stems and word pairs (adjacent and one apart)."""
    sents = _post_sents(text)
    out = []
    for j, ps in enumerate(sents):
        nxt = sents[j + 1] if j + 1 < len(sents) else None
        if nxt is None:
            out.append((ps.raw, ps.uniq, ps.shingles))
        else:
            out.append((f"{ps.raw} {nxt.raw}", ps.uniq | nxt.uniq, ps.shingles | nxt.shingles))
    return tuple(out)


def _spans(art: _Side, post_text: str, weights: _Weights, against: str,
           offline: set[int] | None = None) -> tuple[Evidence | None, _Passages]:
    """The article's quoted spans found in one post text: each span is matched by how much of the
    *span* a passage of the post contains (so a short or trimmed quote counts in full). Returns the
    evidence and the weight per article sentence the matched spans stand in."""
    if not art.spans:
        return None, {}
    offline = art.offline if offline is None else offline
    post_stems = _post_stems(post_text)
    found = []
    used: _Passages = {}
    for sp, stems, pairs, at in art.spans:
        uniq = set(stems)
        if weights.mass(uniq & post_stems) < _SPAN_MIN_MASS:
            continue
        mass = weights.mass(uniq)
        best = (0.0, 0.0, 0, "")
        best_shared: set[str] = set()
        for raw, wstems, wpairs in _post_windows(post_text):
            shared = uniq & wstems
            c_uni = weights.mass(shared) / mass
            if c_uni < _SPAN_AT:
                continue
            c_bi = len(pairs & wpairs) / len(pairs) if pairs else c_uni
            m = 0.6 * c_uni + 0.4 * c_bi
            if m > best[0]:
                best = (m, c_uni, weights.mass(shared), raw)
                best_shared = shared
        m, c_uni, got, raw = best
        if m <= 0 or got < _SPAN_MIN_MASS:
            continue
        if sum(not x.isdigit() for x in best_shared) < 2:
            continue  # "3 out of 10", "at least 7": figures and a word are not a passage
        factor = _OFFLINE_FACTOR if at in offline else 1.0
        w = factor * 0.75 * m * min(1.0, got / 45)
        found.append((w, sp.text, raw, round(m, 3), got))
        key = at if at >= 0 else -1 - len(found)  # a span placed in no sentence stands alone
        used[key] = _add_up([used[key], w]) if key in used else w
    if not found:
        return None, {}
    found.sort(key=lambda f: (-f[0], f[1]))
    weight = _add_up((f[0] for f in found), cap=0.9)
    _, span, raw, m0, _ = found[0]
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return {
        "kind": "quote",
        "text": f"quoted \u201c{span[:80]}\u201d{more} is in the {_which(against)} ({round(m0 * 100)}%)",
        "weight": round(weight, 3),
        "span": span[:300],
        "spans": [{"span": f[1][:300], "post_passage": f[2][:300], "match": f[3]} for f in found],
        "passage_match": m0,
        "article_passage": span[:300],
        "post_passage": raw[:300],
        "against": against,
        "distinctive": max(f[4] for f in found) >= 50 and m0 >= 0.75,
    }, used


#: a passage matched through the words' English senses (``bilingual``) is looser than one matched
#: against a translation: a word-for-word reading, with no word order to compare
_GLOSS_FACTOR = 0.8
_GLOSS_MIN_WORDS = 3
#: what a passage read through the senses weighs at the match bar with a full sentence's mass:
#: less says the channel's topic, not which of its posts (``_tells_which``)
_GLOSS_TELLS = _GLOSS_FACTOR * 0.6 * _MATCH_AT
#: a post word with no English sense on file (nor a name or a number) counts this much of an
#: ordinary word against a sentence's match: the article may say it in words the file lacks
_UNKNOWN_WEIGHT = 5


#: a glossed post sentence: its text, its words read (each a set of English stems), how many of
#: its words have no sense
_Glossed = tuple[str, tuple[frozenset[str], ...], int]


@lru_cache(maxsize=4096)
def _glossed(text: str) -> tuple[_Glossed, ...]:
    """A Cyrillic post text's sentences, each with its words that have English senses
    (``bilingual.senses``) as those senses' stems, its numbers and Latin words as themselves, its
    names as their transliteration keys (``storage.crossscript``; not those a glossary term
    covers), and how many of its other words have none of these (cached)."""
    senses = bilingual.senses()
    out = []
    for ps in _post_sents(text):
        units = [senses.get(s) or _rounded(s) for s in sorted(ps.uniq)
                 if s.isascii() or senses.get(s)]
        # glossary terms ("Харківської": Kharkiv, "ССО") are the topic, as in ``_shared``: the
        # words they cover neither match nor count against the match
        terms = crossscript.term_keys(ps.raw, "cyrillic")
        covered = frozenset(chain.from_iterable(map(crossscript.post_keys, terms.values())))
        names = [ks for ks in _post_names(ps.raw) if ks and ks.isdisjoint(covered)]
        silent = sum(1 for s in ps.uniq if s in senses and not senses[s])  # "два": "two"
        out.append((ps.raw, (*units, *names),
                    max(0, len(ps.uniq) - len(units) - len(names) - silent - len(terms))))
    return tuple(out)


#: how far a report's round figure may be from the post's exact one ("понад 220 рятувальників":
#: "more than 200 rescuers", "до 385 военнослужащих": "nearly 400 soldiers")
_ROUNDED_WITHIN = 0.1


@lru_cache(maxsize=4096)
def _rounded(stem: str) -> frozenset[str]:
    """A post's word as a glossed unit: itself, and for a number of three or more digits (not a
    year) the round figures a report writes for it (one or two significant digits, down or to the
    nearest); a count under 100 is left exact (the report's "50" is any number)."""
    if not stem.isdigit() or len(stem) < 3 or stem.startswith("0") or _YEAR.fullmatch(stem):
        return frozenset((stem,))
    n = int(stem)
    out = {stem}
    for digits in (1, 2):
        scale = 10 ** max(0, len(stem) - digits)
        for r in (n // scale * scale, (n + scale // 2) // scale * scale):
            if r and r != n and abs(n - r) <= _ROUNDED_WITHIN * n:
                out.add(str(r))
    return frozenset(out)


def _with_pairs(sents: tuple[_Glossed, ...]) -> tuple[_Glossed, ...]:
    """Each glossed post sentence, then its short ones with their neighbours (``_short_pairs``)."""
    return (*sents, *_short_pairs(
        sents, lambda s: len(s[1]),
        lambda a, b: (f"{a[0]} {b[0]}", (*a[1], *(u for u in b[1] if u not in a[1])), a[2] + b[2])))


@lru_cache(maxsize=8192)
def _sense_stems(stems: frozenset[str]) -> frozenset[str]:
    """The English stems of the senses of a Cyrillic post's words (``bilingual.senses``), so the
    shortlist sees what an untranslated post says, not only its names (cached: the stem sets of
    candidates are cached per text)."""
    senses = bilingual.senses()
    return frozenset().union(*(senses[s] for s in stems if s in senses))


def _unit_weight(weights: _Weights, unit: frozenset[str]) -> int:
    return max(map(weights.__getitem__, unit))


def _gloss(art: _Side, post_text: str, weights: _Weights, offline: set[int] | None = None
           ) -> Evidence | None:
    """A Cyrillic post with no translation against an English article, word by word through the
    English senses of its words: each post sentence matched by the share of its (weighted) words
    whose sense the article's sentences around one place hold, each quoted span by the share of its
    stems the senses of a post passage hold; every match adds up, each article sentence once, as
    ``_best_quotes`` adds up a translation's."""
    offline = art.offline if offline is None else offline
    # an upper bound first (most candidates end here): what any passage can find at all
    stems = _post_stems(post_text)
    if weights.mass((stems | _sense_stems(stems)) & art.stems) + weights.mass(
            _post_keys(post_text) & art.keys) < min(_MIN_MASS, _SPAN_MIN_MASS):
        return None
    sents = _glossed(post_text)
    if not sents:
        return None
    index = art.index
    keys = art.keys
    passages: dict[int, float] = {}
    best = (0.0, "", "")
    stems_here = art.stems
    for raw, units, unknown in _with_pairs(sents):
        if len(units) < _GLOSS_MIN_WORDS:
            continue
        masses = [_unit_weight(weights, u) for u in units]
        total = sum(masses) + _UNKNOWN_WEIGHT * unknown
        # the words found anywhere in the article bound what any window can hold
        found = [not (u.isdisjoint(stems_here) and u.isdisjoint(keys)) for u in units]
        most = sum(compress(masses, found))
        if most < _MIN_MASS or most < _PARTIAL_AT * total:
            continue
        hits: Counter[int] = Counter()
        for u in compress(units, found):
            hits.update(set().union(*(index.get(s, ()) for s in u)))
        if not hits:
            continue
        got, at = 0, -1
        for i in _most_hit(hits):
            window = art.window(i)[0]  # names: anywhere in the article (its keys)
            g = sum(w for u, w in zip(units, masses, strict=True)
                    if not (u.isdisjoint(window) and u.isdisjoint(keys)))
            if g > got:
                got, at = g, i
        m = got / total
        if got < _MIN_MASS or m < _PARTIAL_AT:
            continue
        factor = _OFFLINE_FACTOR if at in offline else 1.0
        w = _GLOSS_FACTOR * factor * 0.6 * m * math.sqrt(min(1.0, got / 100))
        if w > passages.get(at, 0.0):
            passages[at] = w
        if m > best[0]:
            best = (m, art.raw_sents[at], raw)
    n_sent = len(passages)
    spans = []
    if art.spans:
        windows = [frozenset().union(*units, *(sents[j + 1][1] if j + 1 < len(sents) else ()))
                   for j, (_, units, _) in enumerate(sents)]
        for sp, stems, _, at in art.spans:
            uniq = set(stems)
            mass = weights.mass(uniq)
            got, j_best = 0, -1
            for j, senses in enumerate(windows):
                g = weights.mass(uniq & senses)
                if g > got:
                    got, j_best = g, j
            c = got / mass if mass else 0.0
            shared = uniq & windows[j_best] if j_best >= 0 else set()
            if c < _SPAN_AT or got < _SPAN_MIN_MASS or sum(not x.isdigit() for x in shared) < 2:
                continue
            factor = _OFFLINE_FACTOR if at in offline else 1.0
            w = _GLOSS_FACTOR * factor * 0.75 * c * min(1.0, got / 45)
            spans.append((w, sp.text, sents[j_best][0], round(c, 3)))
            key = at if at >= 0 else -1 - len(spans)
            passages[key] = max(passages.get(key, 0.0), w)
    if not passages:
        return None
    weight = _add_up(passages.values(), cap=0.9)
    parts = []
    if n_sent:
        parts.append(f"its words read in English match {n_sent} sentence{'s' * (n_sent > 1)} "
                     f"(best {round(best[0] * 100)}%)")
    if spans:
        spans.sort(key=lambda f: (-f[0], f[1]))
        parts.append(f"quoted \u201c{spans[0][1][:80]}\u201d is in the post's words read in "
                     f"English ({round(spans[0][3] * 100)}%)")
        if not n_sent:
            best = (spans[0][3], spans[0][1], spans[0][2])
    return {"kind": "quote", "text": "; ".join(parts), "weight": round(weight, 3),
            "passage_match": round(best[0], 3), "passages": len(passages),
            "article_passage": best[1][:300], "post_passage": best[2][:300],
            "against": "original", "glossed": True,
            **({"spans": [{"span": f[1][:300], "post_passage": f[2][:300], "match": f[3]}
                          for f in spans]} if spans else {})}


# ---------------------------------------------------------------- channel mentions


@lru_cache(maxsize=1024)
def _username_pattern(channel: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])@?" + re.escape(channel) + r"(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _alias_pattern(alias: str) -> re.Pattern[str]:
    # short all-caps aliases (HUR, GUR) only as written; longer names in any case
    flags = 0 if (alias.isupper() and len(alias) <= 5) else re.IGNORECASE
    return re.compile(r"(?<![\w/@])" + re.escape(alias) + r"(?:'s|’s)?(?!\w)", flags)


def _posted_on(mention: Evidence, post_time: datetime) -> bool:
    """Whether the post can be the one the mention dates ("in a Telegram post on February 11"):
    no day given, or the post's UTC day within one day of it (time zones)."""
    days = mention.get("on")
    if not days:
        return True
    near = {(post_time + timedelta(days=k)).strftime("%m-%d") for k in (-1, 0, 1)}
    return bool(near.intersection(days))


def _own_channel(channel: str, article_url: str) -> bool:
    """A link to the outlet's own channel (kyivpost.com ↔ @Kyivpost_official) is promotion."""
    host = urlsplit(article_url).hostname or ""
    labels = [p for p in host.lower().split(".") if p not in {"www", "com", "org", "net", "ua", "co",
                                                              "uk", "news", "m"}]
    ch = channel.lower()
    return any(len(p) >= 4 and p in ch for p in labels)


def _cites_telegram(sentences: Sequence[str]) -> bool:
    """Whether the article says, outside a "join us on Telegram" footer, that something comes from
    Telegram or a channel."""
    return any(mentions_telegram(s) and not _FOOTER.search(s) for s in sentences)


def _mentions(
    article: ArticleInput, refs: Sequence[TelegramRef], channels: Iterable[str],
    aliases_by_channel: Mapping[str, Sequence[str]], *, indirect: bool = True,
) -> dict[str, Evidence]:
    """Channel-level evidence: the strongest attributed mention per channel (lower-cased key).
    ``indirect``: also an organisation referred back to, a place then its body, a unit named."""
    text = f"{article.title}\n{article.text}"
    lowered = text.lower()
    out: dict[str, Evidence] = {}
    for ch in channels:
        names = [ch, *aliases_by_channel.get(ch, ())]
        best: Evidence | None = None
        for name in names:
            if name.lower() not in lowered:
                continue  # a substring test first: most channels are not named in most articles
            pat = _alias_pattern(name) if name != ch else _username_pattern(ch)
            for m in pat.finditer(text):
                # not before the paragraph: a cue in the one before belongs to its own subject
                # ("… posted the statement on its Telegram channel." ¶ "Russia's defence ministry
                # said …"); the next one may go on with this one ("… according to Ramzan
                # Kadyrov." ¶ "In a Telegram post, the Chechen leader said …")
                lo = max(text.rfind("\n", 0, m.start()) + 1, m.start() - _CUE_SPAN)
                hi = min(len(text), m.end() + _CUE_SPAN)
                ctx = text[lo:hi]
                if _FOOTER.search(ctx):
                    continue
                strong = _STRONG_CUE.search(ctx)
                weak = _WEAK_CUE.search(ctx)
                if not (strong or weak):
                    continue
                # "said on Telegram", "wrote in a post", "said": a name next to them attributes
                # (a bare name does not count at all)
                w = (MENTION_STRONG if name == ch else MENTION_ALIAS_STRONG) if strong \
                    else MENTION_SAID
                # "in a Telegram post on February 11": the day the article says it was posted;
                # "the General Staff said in its evening update on Tuesday": the day it said it
                said = None if strong else _WEAK_CUE.search(text, m.end(), hi)
                after = (text[lo + strong.end():lo + strong.end() + _DAY_SPAN] if strong
                         else text[said.end():said.end() + _DAY_SPAN] if said else "")
                days = tx.dates(after) or _weekday(after, article.published) if after else set()
                if best is None or w > best["weight"] or (
                        w == best["weight"] and days and "on" not in best):
                    cue = "Telegram" if strong else (weak.group(0) if weak else "")
                    best = {"kind": "mention", "text": f"mentions {m.group(0).strip()} + {cue}",
                            "weight": w, "name": name, "cue": cue}
                    if days:
                        best["on"] = sorted(f"{mo:02d}-{d:02d}" for mo, d in days)
            if best is None and name != ch and indirect:
                best = _referred_back(text, name)
        if best is None and indirect:
            for name in aliases_by_channel.get(ch, ()):
                best = (_place_then_body(text, lowered, name) or _place_then_titled(text, name)
                        or _unit_named(text, name))
                if best is not None:
                    break
        for r in refs:
            if r.message_id is None and r.channel.lower() == ch and not _own_channel(ch, article.url):
                w = 0.3
                if best is None or w > best["weight"]:
                    best = {"kind": "mention", "text": f"links to t.me/{r.channel}", "weight": w,
                            "name": r.channel, "cue": "link"}
        if best:
            out[ch] = best
    return out


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=8192)
def _name_words(name: str) -> frozenset[str]:
    """A name's words, lower-cased ("ukraine", "s", "military", "intelligence")."""
    return frozenset(_WORD.findall(name.lower()))


def named_channels(article: ArticleInput, aliases_by_channel: Mapping[str, Sequence[str]]
                   ) -> list[str]:
    """The channels (lower-cased) the article names as a source, by username or alias next to
    "said / wrote / on Telegram" ("grid operator Ukrenergo said on Telegram"), as the detector
    reads a mention: retrieval adds their latest posts to the candidates, since the post meant may
    share no rare word with the article (an untranslated notice, a signed statement). Only
    channels with a name all of whose words the article holds are looked at (a set test each:
    most channels are named in no article)."""
    text = f"{article.title}\n{article.text}"
    words = set(_WORD.findall(text.lower()))
    chosen = {ch.lower(): names for ch, names in aliases_by_channel.items()
              if _name_words(ch) <= words or any(_name_words(n) <= words for n in names)}
    if tx.script_of(article.text) == "latin":
        # "Klitschko" where the title romanises "Кличко" as "Klychko" (as ``detect`` reads it)
        for ch, spelled in _press_spellings(text, aliases_by_channel, aliases_by_channel).items():
            chosen[ch.lower()] = [*aliases_by_channel[ch], *spelled]
    if not chosen:
        return []
    # its names as written next to a cue (not the detector's indirect readings: a place, then "the
    # regional administration"; a unit; "the ministry" referred back), which cost ~1 ms an article
    found = _mentions(article, [], sorted(chosen), chosen, indirect=False)
    return sorted(ch for ch, m in found.items() if m.get("cue") != "link")


#: a one-word name (a person's surname) this long at least is looked for by its transliteration
#: key: shorter keys are too coarse to tell names apart
_KEYED_ALIAS = 5


def _press_spellings(text: str, aliases: Mapping[str, Sequence[str]], channels: Iterable[str]
                     ) -> dict[str, list[str]]:
    """The article's own spelling of a channel's one-word Latin name ("Klitschko" where the title
    romanises "Кличко" as "Klychko"): a capitalised word of the article with the same
    transliteration key (``storage.crossscript``). Only the candidates' channels are looked at."""
    names = crossscript.article_names(text)  # memoised: retrieval asked for the same text
    out: dict[str, list[str]] = {}
    for ch in channels:
        for alias in aliases.get(ch, ()):
            if len(alias) < _KEYED_ALIAS or not alias.isascii() or not alias.isalpha():
                continue
            spelled = names.get(crossscript.KEY_PREFIX + crossscript.name_key(alias))
            if spelled and spelled.lower() != alias.lower() and len(spelled) >= _KEYED_ALIAS:
                out.setdefault(ch, []).append(spelled)
    return out


_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+){1,2}\b")


def _spelled_out(text: str, channels: Iterable[str]) -> dict[str, str]:
    """Channels whose username the article writes as words ("Roma Broma" for @romabroma): the
    words as written, by channel, to be looked for as an alias."""
    # only a channel whose letters the article holds with its spaces and hyphens taken out, and
    # not as one word (most articles name none: one pass over the text decides)
    compact = text.lower().replace(" ", "").replace("-", "")
    lowered = text.lower()
    names = {ch for ch in channels if ch in compact and ch not in lowered}
    out: dict[str, str] = {}
    if not names:
        return out
    for m in _CAPITALISED_RUN.finditer(text):
        joined = m.group(0).replace(" ", "").replace("-", "").lower()
        if joined in names and joined not in out:
            out[joined] = m.group(0)
    return out


_WEEKDAY = re.compile(r"\bon (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _weekday(text: str, published: datetime | None) -> set[tuple[int, int]]:
    """"in a Telegram post on Monday": the (month, day) of the last such weekday on or before the
    article's date (none without a date)."""
    m = _WEEKDAY.search(text)
    if m is None or published is None:
        return set()
    back = (published.weekday() - _WEEKDAYS.index(m.group(1))) % 7
    day = published - timedelta(days=back)
    return {(day.month, day.day)}


#: "the ministry said on Telegram" after "Russia's Defense Ministry released footage": an
#: organisation named once, then referred back to by the head noun of its name
_HEAD_NOUN = re.compile(r"([a-z]{5,})(?:'s|’s)?$")


def _referred_back(text: str, name: str) -> Evidence | None:
    """A mention of ``name`` (an alias) with no cue near it, whose head noun ("Ministry" of
    "Russia's Defense Ministry") comes back later as "the ministry" next to "Telegram / post / channel":
    the article attributes to the organisation it named. As much as the alias next to a cue."""
    head = _HEAD_NOUN.search(name.lower())
    if head is None or name.isupper():
        return None
    first = _alias_pattern(name).search(text)
    if first is None:
        return None
    for m in _back_pattern(head.group(1)).finditer(text, first.end()):
        ctx = text[m.start():min(len(text), m.end() + _CUE_SPAN // 2)]
        if _STRONG_CUE.search(ctx) and not _FOOTER.search(ctx):
            return {"kind": "mention", "weight": MENTION_ALIAS_STRONG, "name": name,
                    "cue": "Telegram", "text": f"mentions {first.group(0).strip()}, then "
                    f"{m.group(0).strip()} + Telegram"}
    return None


#: characters before "the regional military administration" searched for the place it belongs to
_PLACE_SPAN = 300


def _place_then_body(text: str, lowered: str, name: str) -> Evidence | None:
    """An alias "<Place> <body of three or more words>" ("Kherson regional military
    administration") told in two parts: the place, then "the regional military administration"
    next to "said / reported" or "Telegram" within the next sentence or so. The place must come
    first, within ``_PLACE_SPAN`` characters, and be a place, not a country's possessive or
    adjective ("Ukraine's", "Russian")."""
    place, _, body = name.partition(" ")
    if len(body.split()) < 2 or not place[:1].isupper() or name.isupper():
        return None
    if place.endswith(("'s", "’s")) or place.lower().endswith(("ian", "ish", "ese")):
        # "Ukraine's", "Russian": a country or nationality, named in every war report, does not
        # tell whose "defence ministry" or "military intelligence" the article means
        return None
    if f"the {body.lower()}" not in lowered:
        return None
    for m in _back_pattern(body.lower()).finditer(text):
        before = text[max(0, m.start() - _PLACE_SPAN):m.start()]
        if not _word_pattern(place).search(before):
            continue
        ctx = text[m.start():min(len(text), m.end() + _CUE_SPAN)]
        if _FOOTER.search(ctx):
            continue
        strong, weak = _STRONG_CUE.search(ctx), _WEAK_CUE.search(ctx)
        if strong or weak:
            cue = "Telegram" if strong else weak.group(0) if weak else ""
            return {"kind": "mention", "weight": MENTION_ALIAS_STRONG if strong else MENTION_SAID,
                    "name": name, "cue": cue,
                    "text": f"mentions {place}, then {m.group(0).strip()} + {cue}"}
    return None


#: "Governor Viacheslav Chaus": a one-word title written before a person's name
_TITLED = re.compile(r"\b(?:[Gg]overnor)((?: [A-Z][\w'’-]+){1,3})")


def _place_then_titled(text: str, name: str) -> Evidence | None:
    """An alias "<Place> governor" told as the wires tell it: "In the northern Chernihiv region,
    a man was killed …, Governor Viacheslav Chaus said" — the place, then "Governor <name>" next
    to "said / reported" in the same sentence (the governor of that place is the one speaking)."""
    place, _, body = name.partition(" ")
    if body != "governor" or "overnor" not in text:
        return None
    for m in _TITLED.finditer(text):
        start = max(text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
        if not _word_pattern(place).search(text, start, m.start()):
            continue
        end = text.find(". ", m.end())
        ctx = text[m.end():end if end >= 0 else len(text)][:_CUE_SPAN]
        strong, weak = _STRONG_CUE.search(ctx), _WEAK_CUE.search(ctx)
        if (strong or weak) and not _FOOTER.search(ctx):
            cue = "Telegram" if strong else weak.group(0) if weak else ""
            return {"kind": "mention", "weight": MENTION_ALIAS_STRONG if strong else MENTION_SAID,
                    "name": name, "cue": cue, "person": m.group(1).strip(),
                    "text": f"mentions {place}, then {m.group(0).strip()} + {cue}"}
    return None


@lru_cache(maxsize=4096)
def _unit_of(name: str) -> str | None:
    """The numbered unit a channel's Cyrillic name is ("Третя окрема штурмова бригада",
    "93 ОМБр Холодний Яр" → its unit key), or None."""
    if name.isascii() or not any(ch.isdigit() or ch.isupper() for ch in name[:1]):
        return None
    units = [k for k in crossscript.term_keys(name, "cyrillic") if k.startswith(crossscript.UNIT_PREFIX)]
    return units[0] if len(units) == 1 else None


#: an English sentence's end (for a unit named next to "said" in one sentence)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def _unit_named(text: str, name: str) -> Evidence | None:
    """A unit's channel (titled "Третя окрема штурмова бригада") named as the press names the
    unit ("Ukraine's Third Separate Assault Brigade said", "the 3rd Assault Brigade wrote"): the
    same numbered unit (its key) next to "said / Telegram" in one sentence."""
    key = _unit_of(name)
    if key is None or not re.search(r"(?i)brigade|battalion|regiment|division|corps|army", text):
        return None
    for sent in _SENTENCE_SPLIT.split(text):
        if key not in crossscript.term_keys(sent, "latin") or _FOOTER.search(sent):
            continue
        strong, weak = _STRONG_CUE.search(sent), _WEAK_CUE.search(sent)
        if strong or weak:
            cue = "Telegram" if strong else weak.group(0) if weak else ""
            said = crossscript.term_keys(sent, "latin")[key]
            return {"kind": "mention", "weight": MENTION_ALIAS_STRONG if strong else MENTION_SAID,
                    "name": name, "cue": cue, "text": f"mentions {said} (the unit) + {cue}"}
    return None


@lru_cache(maxsize=256)
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(word)}\b")


@lru_cache(maxsize=256)
def _back_pattern(head: str) -> re.Pattern[str]:
    return re.compile(rf"\b[Tt]he (?i:{re.escape(head)})\b")


# ---------------------------------------------------------------- shared facts


def _fact_frequencies(candidates: Sequence[CandidatePost], shortlist: set[int], art_script: str,
                      keys_of: Mapping[int, frozenset[str]] | None = None) -> Counter[str]:
    """In how many candidates each number and name occurs. The candidates are the posts that share
    the article's rarer words, so a name most of them carry ("Putin", "NATO") is the topic, not
    evidence that this post is the one cited: a local rarity, without I/O."""
    df: Counter[str] = Counter()
    for i, c in enumerate(candidates):
        if i in shortlist or len(candidates) <= 2 * MAX_COMPARED:
            text = _facts_text(c, art_script)
            nums, _, nms, _ = _post_facts(text)
            df.update(nums)
            df.update(nms)
            if keys_of and i in keys_of:
                df.update(keys_of[i])  # "Україна" is in every one of them
    return df


def _facts_text(c: CandidatePost, art_script: str) -> str:
    return c.translation if art_script != "cyrillic" and c.translation else c.text


_YEAR = re.compile(r"(?:19|20)\d\d")
#: shared facts alone never make a citation, however many
_SHARED_CAP = 0.4
#: shared facts that identify a post in another script with no translation (with its channel named)
_CROSS_FACTS = 0.15
#: added to those facts in proportion to the share of the post's names and units the article tells
_CROSS_TOLD = 0.1
_LATIN = "abcdefghijklmnopqrstuvwxyz"
#: a numbered unit both tell ("110-ї ОМБр", "110th Brigade"): as specific as a rare name, by rarity
_UNIT_WEIGHT = 0.12
_SHARED_CAP_FIGURES = 0.55


def _number_weight(num: str) -> float:
    """A shared number's weight by its length: "12" is everywhere, "162560" almost nowhere."""
    digits = len(num.replace(".", ""))
    return 0.05 * min(3, max(1, digits - 1))


def _shared(art: _Side, post_text: str, df: Mapping[str, int] | None = None,
            cross: bool = False, post_keys: frozenset[str] | None = None,
            drop: frozenset[str] = frozenset()) -> Evidence | None:
    """Numbers (with their unit word: "12 occupiers"), dates and names the post and the article
    share, each weighed by its rarity among the candidates; a number that is a shared date's day,
    or part of a number+unit pair, is counted once. ``drop``: names (stems, keys) not to count."""
    numbers, dates, names, units = _post_facts(post_text)
    df = df or {}
    dts = sorted(art.dates & dates)
    days = {str(d) for _, d in dts}
    pairs = sorted(p for p in art.units & units if not _YEAR.fullmatch(p[0]))
    paired = {num for num, _ in pairs}
    # years say little ("2014", "2022" are in half the war coverage)
    nums = sorted(x for x in art.numbers & numbers
                  if not _YEAR.fullmatch(x) and x not in days and x not in paired)
    # names as two romanisations write them ("Valuiki" / "Valuyki", "Kupiansk" / "Kupyansk": the
    # journalist's spelling and the machine translation's) meet by their transliteration key
    nms = sorted(art.names & names | _same_names(art.names - names, names - art.names))
    if drop:
        nms = [x for x in nms if x not in drop]
    # a Cyrillic post with no translation against a Latin article: names meet by their
    # transliteration key ("Кліщіївці" and "Klishchiivka" are both "klasavk") — names as the post
    # writes names (not a sentence's first word, not capitals: "БАХМУТ ніч", a "МАДЯР"
    # signature) — and numbered units by theirs ("110-ї ОМБр" and "110th Brigade": xu110brigade)
    if cross and post_keys is None:
        post_keys = _post_keys(post_text)
    if cross:
        hits = (art.keys & post_keys) - _topic_keys() - drop if post_keys else frozenset()
    else:
        # a translation names a unit its own way ("the 110th separate mechanized brigade" for the
        # article's "110th Brigade"): numbered units meet by their key here too
        hits = art.unit_keys & _english_units(post_text) if art.unit_keys else frozenset()
    named = frozenset().union(*_post_names(post_text)) if hits else frozenset()
    keys = sorted(k.removeprefix(crossscript.KEY_PREFIX) for k in hits
                  if k.startswith(crossscript.KEY_PREFIX) and k in named)
    cross_units = sorted((k.removeprefix(crossscript.UNIT_PREFIX).rstrip(_LATIN), art.spelled(k), k)
                         for k in hits if k.startswith(crossscript.UNIT_PREFIX))
    nums = [x for x in nums if x not in {n for n, _, _ in cross_units}]
    # glossary terms both use ("ГУР" and "military intelligence": xghur) found the post and are
    # told here, and count as facts, but weigh nothing: they are the topic ("AFU", "occupiers");
    # a term that is also a name met above ("Bakhmut") is that name
    spelled = {art.spelled(crossscript.KEY_PREFIX + k) for k in keys}
    terms = sorted(k.removeprefix(crossscript.TERM_PREFIX) for k in hits
                   if k.startswith(crossscript.TERM_PREFIX) and art.spelled(k) not in spelled)
    count = (len(nums) + len(dts) + len(nms) + len(pairs) + len(keys) + len(cross_units)
             + len(terms))
    if count < 2:
        return None

    def rare(fact: str, base: float) -> float:
        return base / max(1, df.get(fact, 1))

    w = (sum(rare(num, _number_weight(num) + 0.04) for num, _ in pairs)
         + sum(rare(x, _number_weight(x)) for x in nums)
         + 0.08 * len(dts) + sum(rare(x, 0.05) for x in nms)
         + sum(rare(crossscript.KEY_PREFIX + k, 0.08) for k in keys)
         + sum(rare(k, _UNIT_WEIGHT) for _, _, k in cross_units))
    if len(keys) + len(cross_units) >= 2:
        # the share of the post's names and units the article tells: where no passage can be
        # compared, it says how much of the post the article reports (as containment does)
        told = _post_names(post_text)
        post_units = sum(1 for k in post_keys or () if k.startswith(crossscript.UNIT_PREFIX))
        shown = sum(1 for ks in told if ks & hits) + len(cross_units)
        w += _CROSS_TOLD * shown / max(1, len(told) + post_units)
    # several long exact figures (a losses report's "162560", "3468", "6740") are the post's content
    long_figures = sum(len(x.replace(".", "")) >= 4 for x in [*nums, *(a for a, _ in pairs)])
    w = min(_SHARED_CAP_FIGURES if long_figures >= 3 else _SHARED_CAP, w)
    parts = []
    if pairs:
        parts.append(f"{len(pairs)} number{'s' * (len(pairs) > 1)} with unit "
                     f"({', '.join(f'{a} {b}' for a, b in pairs[:5])})")
    if nums:
        parts.append(f"{len(nums)} number{'s' * (len(nums) > 1)} ({', '.join(nums[:5])})")
    if dts:
        parts.append(f"{len(dts)} date{'s' * (len(dts) > 1)}")
    if nms:
        parts.append(f"{len(nms)} name{'s' * (len(nms) > 1)} ({', '.join(nms[:5])})")
    if keys:
        parts.append(f"{len(keys)} name{'s' * (len(keys) > 1)} across scripts "
                     f"(transliteration keys {', '.join(keys[:5])})")
    if cross_units:
        parts.append(f"{len(cross_units)} numbered unit{'s' * (len(cross_units) > 1)} across "
                     f"scripts ({', '.join(w for _, w, _ in cross_units[:5])})")
    if terms:
        parts.append(f"glossary term{'s' * (len(terms) > 1)} {', '.join(terms[:5])} (no weight)")
    return {"kind": "shared", "text": "shares " + ", ".join(parts), "weight": round(w, 3),
            "numbers": [*(a for a, _ in pairs), *nums], "dates": [f"{m:02d}-{d:02d}" for m, d in dts],
            "names": nms, "units": [*(f"{a} {b}" for a, b in pairs), *(w for _, w, _ in cross_units)],
            "keys": keys, "cross_units": [k.removeprefix(crossscript.UNIT_PREFIX)
                                          for _, _, k in cross_units], "terms": terms}



def _spell_names_alike(art: _Side, texts: Iterable[str]) -> None:
    """A machine translation romanises names its own way ("Blagodatne", "Kupyansk") where the
    journalist writes "Blahodatne", "Kupiansk": a name of a candidate text whose transliteration
    key (``storage.crossscript.name_key``) is that of one of the article's names is read as that
    name in every passage comparison (as ``_same_names`` does for shared facts)."""
    ours: dict[str, str] = {}
    for n in sorted(art.names):
        if n.isascii() and n in art.index and (k := crossscript.name_key(n)):
            ours.setdefault(k, n)
    if not ours:
        return
    for text in texts:
        for n in sorted(_post_facts(text)[2] - art.stems):
            if n.isascii() and (k := crossscript.name_key(n)) and k in ours:
                art.spell_alike(n, ours[k])


@lru_cache(maxsize=1)
def _topic_keys() -> frozenset[str]:
    """The cross-script keys of the countries and capitals every war post names ("Україна",
    "Москва"): the topic, as ``tx.COMMON_TOPIC`` is for Latin words, not a fact."""
    return frozenset(crossscript.post_keys(
        "Україна України Україні Украина Украины Росія Росії Россия России Москва Москви Москвы "
        "Київ Києва Киев Киева"))


def _same_names(ours: Iterable[str], theirs: Iterable[str]) -> set[str]:
    """Of two sets of Latin name stems that share none exactly, ours whose transliteration key
    (``storage.crossscript.name_key``) one of theirs has."""
    keys = {k for n in theirs if n.isascii() and (k := crossscript.name_key(n))}
    if not keys:
        return set()
    return {n for n in ours if n.isascii() and crossscript.name_key(n) in keys}


def _gap(hours: float) -> str:
    """A gap as people say it: minutes under an hour, hours under two days, days beyond."""
    if hours < 1:
        minutes = round(hours * 60)
        return "less than a minute" if minutes < 1 else f"{minutes} min"
    if hours < 48:
        return f"{round(hours)} h"
    days = round(hours / 24)
    return f"{days} day" if days == 1 else f"{days} days"


def _time(hours: float) -> Evidence:
    w = 0.1 if hours <= 48 else 0.05 if hours <= 24 * 7 else 0.0
    shown = _gap(hours)
    return {"kind": "time", "text": f"published {shown} after the post", "weight": w,
            "hours": round(hours, 1)}


# ---------------------------------------------------------------- the detector


def article_time(article: ArticleInput, now: datetime | None) -> datetime:
    """When the article appeared. A bare date (midnight UTC) means "some time that day"."""
    t = article.published or now or datetime.now(UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    if (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0):
        t = t + timedelta(days=1) - timedelta(seconds=1)
    return t


def _combine(evidence: Sequence[Evidence]) -> float:
    p = 1.0
    for e in evidence:
        p *= 1.0 - max(0.0, min(1.0, float(e["weight"])))
    return round(1.0 - p, 3)


@lru_cache(maxsize=8192)
def _stored_stems(text: str, stored: str) -> frozenset[str]:
    """``tx.stored_stem_set``, cached like ``_post_stems``."""
    return tx.stored_stem_set(text, stored)


def _text_stems(text: str, stored: str | None) -> frozenset[str]:
    """A candidate text's stems for the shortlist: from its stored words when it has them and
    Cyrillic words to lemmatise; a text without (an English translation) has the same stems
    either way, and they are the ones a full comparison reads (``_post_stems``: one cache)."""
    if stored and not text.isascii() and _CYRILLIC.search(text):
        return _stored_stems(text, stored)
    return _post_stems(text)


def _stem_sets(candidates: Sequence[CandidatePost], stored: bool = True
               ) -> list[frozenset[str]]:
    """All stems of each candidate (translation and original). With ``stored``, from the words
    stored with it where it has them (lemmatising ~50 candidates' texts per article was most of
    the detector's time); else, and for a post stored before them, from the per-text cache."""
    if not stored:
        return [_post_stems(c.translation or "") | _post_stems(c.text) for c in candidates]
    return [_text_stems(c.translation or "", c.translation_words) | _text_stems(c.text, c.words)
            for c in candidates]


@lru_cache(maxsize=8192)
def _stored_latin(text: str) -> frozenset[str]:
    """``tx.latin_stem_set``, cached like ``_post_stems``."""
    return tx.latin_stem_set(text)


def _latin_stems(text: str, stored: str | None) -> frozenset[str]:
    """``_text_stems(text, stored)`` without the stems holding a Cyrillic letter, made without
    them where the stored words stand in for the text (``tx.latin_stem_set``)."""
    if stored and not text.isascii() and _CYRILLIC.search(text):
        return _stored_latin(text)
    got = _post_stems(text)
    if text.isascii() or all(map(str.isascii, got)):
        return got
    return frozenset(s for s in got if not tx.has_cyrillic(s))


def _latin_stem_sets(candidates: Sequence[CandidatePost]) -> list[frozenset[str]]:
    """``_stem_sets(candidates)`` without the stems holding a Cyrillic letter: all that an article
    with none shares with a candidate, and (``_common_stems``) all the topic words such an article
    weighs unless a post text it compares holds Cyrillic words (``_Weights``)."""
    return [_latin_stems(c.translation or "", c.translation_words) | _latin_stems(c.text, c.words)
            for c in candidates]


def _common_stems(stem_sets: Sequence[frozenset[str]]) -> set[str]:
    """Stems most candidates share are topic words, not evidence (a local IDF, no I/O)."""
    if len(stem_sets) < 4:
        return set()
    df = Counter(chain.from_iterable(stem_sets))
    half = len(stem_sets) / 2
    return set(compress(df.keys(), map(half.__lt__, df.values())))  # n > half, in C


def _shortlist(art: _Side, stem_sets: Sequence[frozenset[str]], weights: _Weights,
               keep: int, cross: Mapping[int, frozenset[str]] | None = None,
               cross_texts: Mapping[int, str] | None = None) -> set[int]:
    """Indexes of the candidates worth a full comparison: the ``keep`` sharing the most weighted
    stems with the article (at least two) — for a post in another script with no translation
    (``cross``: its name keys), its names' transliteration keys count as stems. Bounds the cost
    whatever the candidate list.

    Then up to ``CROSS_COMPARED`` more of those untranslated posts (``cross_texts``: their texts),
    by the share of what they say (their names' keys and their words' English senses,
    ``bilingual``) that the article holds: a short post the article tells in full is compared even
    where long posts share more words. Their words are read from the text (``_post_stems``), not
    the stored forms, so the verdicts are the same either way."""
    scored = []
    cross = cross or {}
    for i, ss in enumerate(stem_sets):
        shared = ss & art.stems
        if i in cross:
            shared = shared | (cross[i] & art.keys)
        if len(shared) >= 2:
            scored.append((weights.mass(shared), i))
    scored.sort(reverse=True)
    chosen = {i for _, i in scored[:keep]}
    told = []
    for i, keys in cross.items():
        if i in chosen or cross_texts is None:
            continue
        senses = _sense_stems(_post_stems(cross_texts[i]))
        shared = (keys & art.keys) | (senses & art.stems)
        if len(shared) >= 2 and (got := weights.mass(shared)) >= _MIN_MASS:
            told.append((got / (weights.mass(keys) + weights.mass(senses)), got, i))
    told.sort(reverse=True)
    return chosen | {i for *_, i in told[:CROSS_COMPARED]}


MAX_COMPARED = 15
#: a mention ("X said") is of the channel's recent words: a post older than ``_RECENT`` needs the
#: article to date it or its facts to single it out, one older than ``_STALE`` to be dated
_RECENT = timedelta(days=2)
_STALE = timedelta(days=7)
#: untranslated posts compared beyond those, by the share of them the article tells
CROSS_COMPARED = 5


def detect(
    article: ArticleInput,
    candidates: Sequence[CandidatePost],
    *,
    aliases_by_channel: Mapping[str, Sequence[str]] | None = None,
    window_days: int = 30,
    now: datetime | None = None,
    in_store: Mapping[str, int] | None = None,
) -> list[Found]:
    """Citations of ``candidates`` in ``article``, best first, each with its evidence.
    ``in_store``: posts of the store's window holding each term retrieval looked up (its counts,
    ``storage.retrieval.ranked_ids``), so a name across scripts that few posts have is told from
    one every report has."""
    aliases = {k.lower(): list(v) for k, v in (aliases_by_channel or {}).items()}
    when = article_time(article, now)
    since = when - timedelta(days=window_days)
    refs = refs_from_json(article.tg_refs) + list(find_links(article.text))
    explicit: dict[PostKey, TelegramRef] = {}
    for r in refs:
        if r.message_id is not None:
            key = (r.channel.lower(), r.message_id)
            if key not in explicit or r.kind == "embed":
                explicit[key] = r
    channels = {c.channel.lower() for c in candidates} | set(aliases)
    for ch, spelled in _spelled_out(f"{article.title}\n{article.text}", channels).items():
        aliases[ch] = [*aliases.get(ch, ()), spelled]
    art_script = tx.script_of(article.text)
    if art_script == "latin":
        for ch, spelled in _press_spellings(f"{article.title}\n{article.text}", aliases,
                                            {c.channel.lower() for c in candidates}).items():
            aliases[ch] = [*aliases[ch], *spelled]
    mentions = _mentions(article, refs, sorted(channels), aliases)
    art = _prepare(f"{article.title}\n{article.text}")
    # a Latin article shares only Latin stems and numbers with a post, which the stored words give
    # exactly; a Cyrillic one shares lemmas, and the detector's one lemma per word is the smallest
    # of either dictionary's ("Народная" → "народний"), which the stored forms (those of the
    # text's language) may not hold: such an article lemmatises its candidates as before
    if art_script != "cyrillic" and not tx.has_cyrillic("".join(art.stems)):
        # an article with no Cyrillic stem shares none with a candidate: the Latin stems and
        # numbers of each (most of a Russian or Ukrainian post is neither) give the same
        # shortlist, and the same topic words for every stem without a Cyrillic letter; those
        # with one are counted over whole stem sets if a post text compared holds any
        stem_sets = _latin_stem_sets(candidates)
        weights = _Weights(_common_stems(stem_sets),
                           lambda: _common_stems(_stem_sets(candidates)))
    else:
        stem_sets = _stem_sets(candidates, stored=art_script != "cyrillic")
        weights = _Weights(_common_stems(stem_sets))
    keys_of = {i: _keys_of(c) for i, c in enumerate(candidates)
               if art_script == "latin" and not c.translation and c.text
               and tx.script_of(c.text) == "cyrillic"}
    shortlist = _shortlist(art, stem_sets, weights, MAX_COMPARED, keys_of,
                           {i: candidates[i].text for i in keys_of})
    fact_df = _fact_frequencies(candidates, shortlist, art_script, keys_of)
    if art_script == "latin":
        _spell_names_alike(art, [_facts_text(candidates[i], art_script) for i in sorted(shortlist)])

    found: dict[PostKey, Found] = {}
    compared: list[tuple[CandidatePost, datetime, TelegramRef | None, list[Evidence], bool,
                         Evidence | None]] = []
    for n, c in enumerate(candidates):
        post_time = c.date if c.date.tzinfo else c.date.replace(tzinfo=UTC)
        if post_time > when:
            continue  # a post published after the article is never a citation
        ev: list[Evidence] = []
        ref = explicit.get(c.key)
        if ref:
            ev.append(_link_evidence(ref))
        elif post_time < since:
            continue
        if not ref and n not in shortlist:
            continue
        variants = []
        if c.translation and art_script != "cyrillic":
            variants.append(("translation", c.translation))
        if c.text and (tx.script_of(c.text) == art_script or not c.translation):
            variants.append(("original", c.text))
        cross = bool(not c.translation and c.text and art_script
                     and tx.script_of(c.text) != art_script)
        sh = _shared(art, _facts_text(c, art_script), fact_df, cross, keys_of.get(n))
        # not the channel's own names ("Ramzan Kadyrov" in an article about his channel)
        own = " ".join([c.channel, *aliases.get(c.channel.lower(), ())]).lower()
        spoken, speaker = _spoken_by_others(art, sh, own, c)
        person = (mentions.get(c.channel.lower()) or {}).get("person")
        # "Governor Oleksandr Prokudin said": the person the article names the channel by signs
        # all its posts; the name is the attribution, not a fact singling one post out
        signer = _own_keys(person.lower()) | tx.name_stems(person) if person and sh else set()
        if speaker or signer:
            # the speaker's name is the article's attribution to that speaker: not a shared fact
            sh = _shared(art, _facts_text(c, art_script), fact_df, cross, keys_of.get(n),
                         frozenset(speaker | signer))
        offline = art.offline | spoken if spoken else art.offline
        quotes = _best_quotes(art, variants, weights, offline)
        if cross and art_script == "latin":
            glossed = _gloss(art, c.text, weights, offline)
            if glossed and (not quotes or glossed["weight"] > quotes[0]["weight"]):
                quotes = [glossed]
        ev += quotes
        if sh:
            if in_store:
                sh["rare_keys"] = [k for k in sh["keys"] if in_store.get(
                    crossscript.KEY_PREFIX + k, RARE_IN_STORE + 1) <= RARE_IN_STORE]
                sh["rare_names"] = [x for x in sh["names"] if x not in own
                                    and in_store.get(x, RARE_IN_STORE + 1) <= RARE_IN_STORE]
            ev.append(sh)
        if speaker:
            who = sorted(x.removeprefix(crossscript.KEY_PREFIX) for x in speaker)
            ev.append({"kind": "guard", "weight": 0.0, "guard": "speaker",
                       "text": f"the article puts {len(spoken)} passage{'s' * (len(spoken) > 1)} "
                       f"in the mouth of {', '.join(who[:3])}, whose words the post hands on: "
                       "they count less, and that name is no shared fact"})
        if ev:
            compared.append((c, post_time, ref, ev, cross, sh))
    singled = _singled_out([(c.channel.lower(), sh) for c, _, _, _, _, sh in compared])
    # "in a Telegram post on February 11": of the channel's posts compared, those of that day
    dated = Counter(c.channel.lower() for c, t, *_ in compared
                    if (mn := mentions.get(c.channel.lower())) and mn.get("on") and _posted_on(mn, t))
    # a loose reading (through the words' senses) tells which post a mention means only for the
    # channel's post the article's text reads best: the channel's other posts on the same topic
    # (last month's outage notice beside today's) read loosely too
    best_text: dict[str, float] = {}
    #: per channel named, when each compared post was posted and how well its text reads
    read: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for c, t, _, ev, *_ in compared:
        ch = c.channel.lower()
        if ch in mentions:
            w = max((e["weight"] for e in ev if e["kind"] == "quote"), default=0.0)
            best_text[ch] = max(best_text.get(ch, 0.0), w)
            read[ch].append((t, w))
    for (c, post_time, ref, ev, cross, sh), alone in zip(compared, singled, strict=True):
        mention = mentions.get(c.channel.lower())
        halved = False  # the mention was halved here for figures that are not the article's
        facts_text = _facts_text(c, art_script)
        if not ref and (_figures_disagree(art, facts_text) or (
                not cross and sh is None and mention is None
                and not any(e.get("spans") for e in ev) and _names_untold(art, facts_text))):
            # another day's report of the same tallies, or (a post neither named nor quoted)
            # another place's report told in the same words: its passages are the channel's (or
            # the genre's) template
            for e in ev:
                if e["kind"] == "quote":
                    e["weight"] = round(e["weight"] * _OFFLINE_FACTOR, 3)
            ev.append({"kind": "guard", "weight": 0.0, "guard": "facts",
                       "text": "the article tells none of its figures or names (several on each "
                       "side, none alike): another report"})
            alone = False
            if mention is not None:
                mention = {**mention, "weight": round(mention["weight"] / 2, 3)}
                ev.append(mention)
                mention, halved = None, True  # halved once; no reading un-halves it
        if not ref and not halved and when - post_time > _STALE and not (
                mention is not None and mention.get("on")):
            # a post more than a week older than the article, which does not date it: what the
            # article tells in loose words is the channel's weekly story told again (another
            # night's attack, another outage schedule); a whole sentence or a distinctive quote
            # still counts in full
            loose = [e for e in ev if e["kind"] == "quote" and not e.get("distinctive") and (
                e.get("glossed") or e.get("passage_match", 0.0) < _MATCH_AT)]
            for e in loose:
                e["weight"] = round(e["weight"] * _OFFLINE_FACTOR, 3)
            if loose:
                ev.append({"kind": "guard", "weight": 0.0, "guard": "stale",
                           "text": "a post more than a week older than the article, which does not "
                           "date it: loose passages count less"})
        if mention is not None and not _posted_on(mention, post_time):
            mention = None  # the article dates the post it means: another day's is not it
        if mention is not None:
            m = dict(mention)
            age = when - post_time
            hours = age.total_seconds() / 3600
            reads = max((e["weight"] for e in ev if e["kind"] == "quote"), default=0.0)
            # a post in another script with no translation cannot be quoted word for word: its
            # shared names and figures stand in for the text, and the mention is not halved
            untranslatable = cross and sh is not None and sh["weight"] >= _CROSS_FACTS
            if m.get("on") and dated[c.channel.lower()] == 1 and sh is not None:
                # the article dates the post, and this is the channel's only post of that day
                # here that matches it at all (and it shares facts): the mention points at it
                m["weight"] = MENTION_SINGLED
                m["text"] += " (its only post of that day here that matches)"
            elif not m.get("on") and age > _STALE:
                # "X said" in a news report is what X said lately: a post more than a week old
                # is another of the channel's statements unless the article dates it (the
                # front's place names recur for weeks: its facts do not single it out)
                m["weight"] = round(m["weight"] / 2, 3)
                m["text"] += f" (a post {_gap(hours)} old that the article does not date)"
            elif any(t > post_time and w >= reads > 0 for t, w in read[c.channel.lower()]):
                # the channel told it again later, and the article reads the later post as well:
                # the press cites the channel's latest word on it
                m["weight"] = round(m["weight"] / 2, 3)
                m["text"] += " (a later post of the channel here reads as well)"
            elif alone:
                # the channel is named as the source, and of its posts only this one tells the
                # names and units the article tells: the mention points at this post
                m["weight"] = MENTION_SINGLED
                m["text"] += " (its only post here telling these names and units)"
            elif not m.get("on") and age > _RECENT:
                # nor, without facts singling it out, one of some days ago: news names the day
                m["weight"] = round(m["weight"] / 2, 3)
                m["text"] += f" (a post {_gap(hours)} old that the article does not date)"
            elif not untranslatable and not any(
                    _tells_which(e) and (not e.get("glossed")
                                         or e["weight"] >= best_text[c.channel.lower()])
                    for e in ev):
                # without matching text a mention cannot tell this post from the channel's others
                m["weight"] = round(m["weight"] / 2, 3)
            ev.append(m)
        ev.append(_time((when - post_time).total_seconds() / 3600))
        score = _combine(ev)
        if not ref and mention is None and not halved:
            score = _guarded(art, c, ev, score, sorted(
                k for k, mn in mentions.items()
                if k != c.channel.lower() and mn.get("cue") == "Telegram")[:1])
        found[c.key] = Found(c.key, score, ev, c.post_id)
    for key, ref in explicit.items():
        if key not in found and not any(c.key == key for c in candidates):
            found[key] = Found(key, 1.0, [_link_evidence(ref)], None)
    return sorted(found.values(), key=lambda f: (-f.score, f.post_key))


#: this many figures of three or more digits on each side, none alike, tell another report
_DISAGREE_AT = 3


def _long_figures(numbers: Iterable[str]) -> list[float]:
    """Figures of three or more digits that are not years."""
    return [float(x) for x in numbers if len(x.split(".")[0]) >= 3 and not _YEAR.fullmatch(x)]


#: "599.6 thousand" in a post is the article's "600,000": the same figure in words of scale
_SCALES = (1.0, 1e3, 1e6, 1e9)


def _alike(a: float, p: float) -> bool:
    """An article's figure and a post's agree: the same, or the article's rounded ("more than
    424,000" for 424,990: within half its last non-zero place), either written with a word of
    scale ("946 thousand" for 946,000; "1.2 млн" for 1,200,000)."""
    for k in _SCALES:
        for x, y in ((a, p * k), (a * k, p)):
            n = round(x)
            z = len(str(n)) - len(str(n).rstrip("0")) if n else 0
            if abs(x - y) < max(1e-6 * x, 5 * 10 ** (z - 1) if z >= 2 else 0.0):
                return True
    return False


def _figures_disagree(art: _Side, post_text: str) -> bool:
    """Whether article and post each give several long figures (tallies, totals) and none of
    them agree: a different day's report of the same tallies (a losses report of March 5 beside
    the article's March 6 figures), however alike their words."""
    mine = _long_figures(art.numbers)
    if len(mine) < _DISAGREE_AT:
        return False
    theirs = _long_figures(_post_facts(post_text)[0])
    if len(theirs) < _DISAGREE_AT:
        return False
    return not any(_alike(a, p) for a in mine for p in theirs)


#: a post naming this many people or places of which the article tells at most one (and shares
#: no other fact with it) is another place's report
_NAMES_UNTOLD = 4


def _names_untold(art: _Side, post_text: str) -> bool:
    """Whether a post (in the article's script) names several people or places and the article
    tells at most one of them (the caller checks it shares at most one fact in all): the same kind
    of report from another place (another region's border shelling told in the region
    administrations' words: "Two private houses and a power line were damaged")."""
    names = _post_facts(post_text)[2]
    return len(names) >= _NAMES_UNTOLD and len(names & art.names) + len(_same_names(
        art.names - names, names)) <= 1


def _spoken_by_others(art: _Side, sh: Evidence | None, own: str, c: CandidatePost
                      ) -> tuple[set[int], set[str]]:
    """The article's sentences whose words it puts in the mouth of someone the post hands words
    on from too ("Energy Minister German Galushchenko said" beside a post relaying "— наголосив
    Герман Галущенко"; a post signed by its author is the channel's own voice), who is not the
    channel itself (``own``: its username and aliases, lower-cased), and the shared
    names of those speakers (name stems, cross-script keys with their prefix). Such passages are
    that person's words, which reach a channel and the press alike: a passage the article
    attributes to another named source."""
    if sh is None or not (sh.get("names") or sh.get("keys")):
        return set(), set()
    names = art.speaker_names.intersection(sh.get("names", ()))
    keys = art.speaker_names.intersection(crossscript.KEY_PREFIX + k for k in sh.get("keys", ()))
    if not (names or keys):
        return set(), set()  # no speaker of the article is named in the post (most posts)
    relayed = _relayed(c.text or "") | _relayed(c.translation or "")
    names &= relayed
    keys &= relayed
    if not (names or keys):
        return set(), set()
    own_keys: frozenset[str] | None = None
    sentences: set[int] = set()
    who: set[str] = set()
    for i, (stems, skeys) in art.speakers.items():
        hit = {x for x in stems & names if x not in own}
        khit = skeys & keys
        if khit:
            if own_keys is None:
                own_keys = _own_keys(own)
            khit -= own_keys
        if hit or khit:
            sentences.add(i)
            who |= hit | khit
    return sentences, who


@lru_cache(maxsize=4096)
def _relayed(text: str) -> frozenset[str]:
    """Name stems and cross-script keys of the names a post hands words on from."""
    said = relayed_names(text) if text else ""
    if not said:
        return frozenset()
    return tx.name_stems(said) | _own_keys(said.lower())


@lru_cache(maxsize=1024)
def _own_keys(own: str) -> frozenset[str]:
    """Cross-script keys of a channel's own names (its username and aliases, either script) or of
    any lower-cased run of names."""
    latin = {crossscript.KEY_PREFIX + k for w in own.split() if (k := crossscript.name_key(w))}
    return frozenset(latin | set(crossscript.post_keys(own.title())))


def _tells_which(e: Evidence) -> bool:
    """Whether evidence tells which of a channel's posts the article means: a link, an embed, a
    matching passage — read through the words' senses (no word order), only passages worth at
    least one whole sentence at the match bar (a loose one is the channel's topic, said the
    channel's way every day)."""
    if e["kind"] in ("link", "embed"):
        return True
    return e["kind"] == "quote" and (not e.get("glossed") or e["weight"] >= _GLOSS_TELLS)


def _told(sh: Evidence | None) -> frozenset[str]:
    """The facts a post shares with the article: names (also across scripts), numbers, numbered
    units."""
    if sh is None:
        return frozenset()
    return frozenset(chain(sh.get("keys", ()), sh.get("cross_units", ()), sh.get("names", ()),
                           sh.get("numbers", ()), sh.get("units", ())))


def _exact(sh: Evidence | None) -> tuple[int, int]:
    """How many of the shared facts are exact — figures of two or more digits, names and numbered
    units across scripts, names few posts of the store have (``RARE_IN_STORE``) — and how many of
    them are not such a name (a figure, a unit, a name met across scripts)."""
    if sh is None:
        return 0, 0
    figures = {n for n in sh.get("numbers", ()) if len(n.replace(".", "")) >= 2}
    solid = len(figures) + len(sh.get("keys", ())) + len(sh.get("cross_units", ()))
    return solid + len(sh.get("rare_names", ())), solid


def _singled_out(shared: Sequence[tuple[str, Evidence | None]]) -> list[bool]:
    """Per compared post (channel, its shared facts or None): whether it shares three or more
    facts with the article of which two are exact (``_exact``), a numbered unit across scripts
    and one more, or two names across scripts rare in the store, and no other post of its channel
    here shares all of them (the facts tell this post from the channel's others)."""
    facts = [_told(sh) for _, sh in shared]
    out = []
    for i, (channel, sh) in enumerate(shared):
        mine = facts[i]
        # three facts of which two exact ones (figures of two or more digits, names or units
        # across scripts, rare names) and one not a rare Latin name, or a unit across scripts and
        # one more, or two names across scripts that few posts of the store have ("Giatsint-B",
        # "Gvozdika"): Latin names alone are the topic ("Kadyrov, Putin, Chechen"; "Aleksei,
        # Kharkiv, Putin" however rare), and "Bakhmut" and one more name are many posts
        exact, solid = _exact(sh)
        telling = (len(mine) >= 3 and exact >= 2 and solid >= 1) or (len(mine) == 2 and bool(sh and (
            sh.get("cross_units") or len(sh.get("rare_keys", ())) == 2)))
        out.append(telling and not any(
            j != i and other == channel and mine <= facts[j]
            for j, (other, _) in enumerate(shared)))
    return out


def _best_quotes(art: _Side, variants: Sequence[tuple[str, str]], weights: _Weights,
                 offline: set[int] | None = None) -> list[Evidence]:
    """One quote evidence from the post text (translation or original) the article matches best.
    Its quoted spans and its sentence matches add up, each article sentence counted once (by the
    stronger of its two readings), or the coverage of whole sentences if that says more."""
    best: Evidence | None = None
    for against, body in variants:
        sent_ev, passages, strong = _quote(art, body, weights, against, offline)
        span_ev, spans = _spans(art, body, weights, against, offline)
        if sent_ev is None and span_ev is None:
            continue
        per = {i: max(passages.get(i, 0.0), spans.get(i, 0.0)) for i in passages.keys() | spans}
        weight = round(max(strong, _add_up(per.values())), 3)
        if best is not None and weight <= best["weight"]:
            continue
        if span_ev is None:
            ev = dict(sent_ev or {})
        elif sent_ev is None:
            ev = dict(span_ev)
        else:
            ev = {**sent_ev, **{k: v for k, v in span_ev.items()
                                if k in ("span", "spans", "distinctive")}}
            ev["text"] = f"{sent_ev['text']}; {span_ev['text']}"
        ev["weight"] = weight
        best = ev
    return [best] if best else []


#: a post this short (content words) says too little to be told from a look-alike on its own
_THIN_POST = 10
#: what a guarded post can reach without attribution: below any sensible alert threshold
_GUARD_CAP = 0.5
#: quote evidence in an article that never says it took anything from Telegram or a channel
_NO_TELEGRAM_FACTOR = 0.6


def _guarded(art: _Side, c: CandidatePost, ev: list[Evidence], score: float,
             others: Sequence[str] = ()) -> float:
    """Guards against look-alikes for a post the article neither links nor names (its channel):

    - an article that never says it took anything from Telegram (or a channel) counts its quotes
      less: the same words were said, or reported, elsewhere;
    - a one-line post, or one that relays someone else's statement, needs a distinctive quoted
      passage and an article that says it quotes Telegram; else it cannot alert;
    - so does any post when the article names another channel as its source (``others``): the
      article has said whose posts it tells, and a passage alike in an unnamed channel's post is
      the same event told the same way ("Two private houses and a power line were damaged").

    Each guard that applies is added to the evidence (kind "guard", weight 0) so an alert — or a
    missing one — explains itself."""
    quotes = [e for e in ev if e["kind"] == "quote"]
    if not quotes:
        return score
    if not art.telegram:
        for e in quotes:
            e["weight"] = round(e["weight"] * _NO_TELEGRAM_FACTOR, 3)
        ev.append({"kind": "guard", "text": "the article names neither Telegram nor the channel: "
                   "quotes count less", "weight": 0.0, "guard": "no-attribution"})
        score = _combine(ev)
    body = c.translation or c.text
    thin = len(_post_stems(body)) < _THIN_POST
    relay = relays(c.text) or bool(c.translation and relays(c.translation))
    if thin or relay or others:
        distinctive = any(e.get("distinctive") for e in quotes) and art.telegram
        if not distinctive and score > _GUARD_CAP:
            why, guard = (("a one-line post", "thin") if thin
                          else ("a post relaying someone else's statement", "relay") if relay
                          else (f"the article names another channel ({others[0]})", "other"))
            ev.append({"kind": "guard", "text": f"{why}: needs the channel named or a distinctive "
                       "quoted passage", "weight": 0.0, "guard": guard})
            score = _GUARD_CAP
    return score


def _most_hit(hits: Mapping[int, int]) -> list[int]:
    """The ``_WINDOWS_TRIED`` article sentences most of a passage's stems land in, most first (ties:
    the earlier sentence, so the choice does not depend on a set's iteration order). Sorted in C on
    (-hits, sentence): the same order as a key function, without a Python call per sentence."""
    order = sorted(zip(map(neg, hits.values()), hits, strict=True))
    return [i for _, i in order[:_WINDOWS_TRIED]]


def _link_evidence(ref: TelegramRef) -> Evidence:
    where = f"t.me/{ref.channel}/{ref.message_id}"
    text = f"embeds {where}" if ref.kind == "embed" else f"links to {where}"
    return {"kind": "embed" if ref.kind == "embed" else "link", "text": text, "weight": 1.0,
            "url": ref.url or f"https://{where}"}
