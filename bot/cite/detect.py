"""The citation detector: given an article and candidate posts, say which posts it cites and why.

PURE: values in, values out, no clock unless ``now`` is omitted and the article has no date. The
pipeline (bot/cite/pipeline.py) does the I/O. Evidence weights combine as a noisy-OR, so independent
weak signals add up while none alone (a mention, a shared number) reaches the alert threshold:

- link / embed of channel/id ............ 1.0 (certain, even if the post is not stored yet)
- quote: passages matching the translation or the original, by stems and skip-bigrams with
  containment (robust to another translation, reordering, paraphrase) ... up to 0.95
- mention: the channel's username or an alias near an attribution ("on Telegram", "said") .. ≤ 0.45
  (halved when no text of the post matches: it cannot tell one of the channel's posts from another)
  ("Join us on Telegram" footers and links to the outlet's own channel do not count)
- shared: numbers (not years), dates and names the post and the article have in common ... ≤ 0.25
- time: the post precedes the article within the window (a post after the article is never cited)

Only per-post evidence (link, embed, quote, shared) makes a post a citation; a mention or the timing
just strengthens it, because they say nothing about *which* of a channel's posts is meant.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

from bot.cite import text as tx
from bot.tglinks import TelegramRef, find_links, refs_from_json
from storage.models import Evidence

PostKey = tuple[str, int]  # (channel username lower-cased, message id)

_STRONG_CUE = re.compile(
    r"telegram|телеграм|in a post|a post|posted|channel|канал|допис|пост", re.IGNORECASE
)
_WEAK_CUE = re.compile(
    r"\b(?:said|says|wrote|writes|stated|reported|reports|according to|announced|claimed|claims|"
    r"published|shared|noted|added|told)\b|заяв|сообщ|повідом|написа|зазначи|отмети|опублік|опублик",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"join us|follow us|follow our|subscribe|our coverage|our channel|sign up|"
    r"підписуй|подписыв|приєднуй|присоединя",
    re.IGNORECASE,
)
_CUE_SPAN = 160  # characters either side of a mention searched for an attribution


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

    def window(self, i: int) -> tuple[set[str], set[tuple[str, ...]]]:
        """Stems and shingles of sentences i-1..i+1, built once per article (every post sentence
        that lands on sentence i reuses them)."""
        got = self._windows.get(i)
        if got is None:
            lo, hi = max(0, i - 1), min(len(self.sents), i + 2)
            got = ({s for j in range(lo, hi) for s in self.sents[j]},
                   set().union(*(self._bigrams(j) for j in range(lo, hi))))
            self._windows[i] = got
        return got


def _prepare(text: str) -> _Side:
    raw = tx.sentences(text)
    sents = [tx.content_stems(s) for s in raw]
    index: dict[str, set[int]] = {}
    for i, ss in enumerate(sents):
        for s in ss:
            index.setdefault(s, set()).add(i)
    return _Side(
        sents=sents,
        index=index,
        stems=frozenset(index),
        numbers=tx.numbers(text),
        dates=tx.dates(text),
        names=tx.names(text),
        raw_sents=raw,
    )


class _Weights(dict[str, int]):
    """Stem → its weight in tenths: a number 15, a topic word (everywhere, or shared by most
    candidates) 3, any other 10. Integers, so a sum over a set is exact whatever order the set
    iterates in (that order follows the per-process string hash seed: float sums made ties and
    threshold checks differ from one process to the next); memoised per article, and summed with
    ``map`` over ``__getitem__`` in C instead of a Python call per stem."""

    def __init__(self, common: set[str]):
        super().__init__()
        self.common = common

    def __missing__(self, stem: str) -> int:
        w = 15 if stem.isdigit() else 3 if (stem in tx.COMMON_TOPIC or stem in self.common) else 10
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
    out = []
    for raw in tx.sentences(text):
        ss = tx.content_stems(raw)
        out.append(_PostSent(raw, frozenset(ss), frozenset(tx.shingles(ss))))
    return tuple(out)


@lru_cache(maxsize=8192)
def _post_facts(text: str) -> tuple[frozenset[str], frozenset[tuple[int, int]], frozenset[str]]:
    """Numbers, dates and names of a post text (cached like ``_post_sents``)."""
    return frozenset(tx.numbers(text)), frozenset(tx.dates(text)), frozenset(tx.names(text))


def _quote(art: _Side, post_text: str, weights: _Weights, against: str) -> Evidence | None:
    """Best passage and coverage of one post text (translation or original) in the article."""
    post_stems = _post_stems(post_text)
    post_mass = weights.mass(post_stems)
    if post_mass <= 0:
        return None
    # an upper bound first: a passage needs _MIN_MASS of stems the article has at all
    if weights.mass(post_stems & art.stems) < _MIN_MASS:
        return None
    matched: set[str] = set()
    best = (0.0, "", "")
    partial_mass = 0
    index = art.index
    for ps in _post_sents(post_text):
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
        # the sentences most of its stems land in (ties: the earlier sentence, so the choice does
        # not depend on a set's iteration order)
        for i, _ in heapq.nsmallest(_WINDOWS_TRIED, hits.items(), key=_most_hits_first):
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
        if best_m >= _MATCH_AT:
            matched |= best_common
        if best_m > best[0]:
            best = (best_m, art.raw_sents[best_i], ps.raw)
            partial_mass = common_mass
    if not matched:
        if best[0] < _PARTIAL_AT:
            return None
        # a loose paraphrase of one sentence: weak alone, decisive with a mention or shared facts
        weight = 0.6 * best[0] * math.sqrt(min(1.0, partial_mass / 100))
        which = "translated post" if against == "translation" else "original post"
        return {
            "kind": "quote",
            "text": f"partly matches a sentence of the {which} ({round(best[0] * 100)}%)",
            "weight": round(weight, 3),
            "containment": round(partial_mass / post_mass, 3),
            "passage_match": round(best[0], 3),
            "article_passage": best[1][:300],
            "post_passage": best[2][:300],
            "against": against,
        }
    matched_mass = weights.mass(matched)
    coverage = matched_mass / post_mass
    weight = min(0.95, best[0] * math.sqrt(min(1.0, matched_mass / 100)) + 0.25 * coverage)
    which = "translated post" if against == "translation" else "original post"
    return {
        "kind": "quote",
        "text": f"quotes {round(coverage * 100)}% of the {which}",
        "weight": round(weight, 3),
        "containment": round(coverage, 3),
        "passage_match": round(best[0], 3),
        "article_passage": best[1][:300],
        "post_passage": best[2][:300],
        "against": against,
    }


# ---------------------------------------------------------------- channel mentions


@lru_cache(maxsize=1024)
def _username_pattern(channel: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])@?" + re.escape(channel) + r"(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _alias_pattern(alias: str) -> re.Pattern[str]:
    # short all-caps aliases (HUR, GUR) only as written; longer names in any case
    flags = 0 if (alias.isupper() and len(alias) <= 5) else re.IGNORECASE
    return re.compile(r"(?<![\w/@])" + re.escape(alias) + r"(?:'s|’s)?(?!\w)", flags)


def _own_channel(channel: str, article_url: str) -> bool:
    """A link to the outlet's own channel (kyivpost.com ↔ @Kyivpost_official) is promotion."""
    host = urlsplit(article_url).hostname or ""
    labels = [p for p in host.lower().split(".") if p not in {"www", "com", "org", "net", "ua", "co",
                                                              "uk", "news", "m"}]
    ch = channel.lower()
    return any(len(p) >= 4 and p in ch for p in labels)


def _mentions(
    article: ArticleInput, refs: Sequence[TelegramRef], channels: Iterable[str],
    aliases_by_channel: Mapping[str, Sequence[str]],
) -> dict[str, Evidence]:
    """Channel-level evidence: the strongest attributed mention per channel (lower-cased key)."""
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
                lo, hi = max(0, m.start() - _CUE_SPAN), min(len(text), m.end() + _CUE_SPAN)
                ctx = text[lo:hi]
                if _FOOTER.search(ctx):
                    continue
                strong = _STRONG_CUE.search(ctx)
                weak = _WEAK_CUE.search(ctx)
                if not (strong or weak):
                    continue
                is_user = name == ch
                w = (0.45 if is_user else 0.4) if strong else 0.25
                if best is None or w > best["weight"]:
                    cue = "Telegram" if strong else (weak.group(0) if weak else "")
                    best = {"kind": "mention", "text": f"mentions {m.group(0).strip()} + {cue}",
                            "weight": w, "name": name, "cue": cue}
        for r in refs:
            if r.message_id is None and r.channel.lower() == ch and not _own_channel(ch, article.url):
                w = 0.3
                if best is None or w > best["weight"]:
                    best = {"kind": "mention", "text": f"links to t.me/{r.channel}", "weight": w,
                            "name": r.channel, "cue": "link"}
        if best:
            out[ch] = best
    return out


# ---------------------------------------------------------------- shared facts


_YEAR = re.compile(r"(?:19|20)\d\d")


def _shared(art: _Side, post_text: str) -> Evidence | None:
    numbers, dates, names = _post_facts(post_text)
    # years say little ("2014", "2022" are in half the war coverage)
    nums = sorted(n for n in art.numbers & numbers if not _YEAR.fullmatch(n))
    dts = sorted(art.dates & dates)
    nms = sorted(art.names & names)
    count = len(nums) + len(dts) + len(nms)
    if count < 2:
        return None
    w = min(0.25, 0.08 * len(nums) + 0.08 * len(dts) + 0.03 * len(nms))
    parts = []
    if nums:
        parts.append(f"{len(nums)} number{'s' * (len(nums) > 1)} ({', '.join(nums[:5])})")
    if dts:
        parts.append(f"{len(dts)} date{'s' * (len(dts) > 1)}")
    if nms:
        parts.append(f"{len(nms)} name{'s' * (len(nms) > 1)} ({', '.join(nms[:5])})")
    return {"kind": "shared", "text": "shares " + ", ".join(parts), "weight": round(w, 3),
            "numbers": nums, "dates": [f"{m:02d}-{d:02d}" for m, d in dts], "names": nms}


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


def _stem_sets(candidates: Sequence[CandidatePost]) -> list[frozenset[str]]:
    """All stems of each candidate (translation and original), from the per-text cache."""
    return [_post_stems(c.translation or "") | _post_stems(c.text) for c in candidates]


def _common_stems(stem_sets: Sequence[frozenset[str]]) -> set[str]:
    """Stems most candidates share are topic words, not evidence (a local IDF, no I/O)."""
    if len(stem_sets) < 4:
        return set()
    df = Counter(chain.from_iterable(stem_sets))
    return {s for s, n in df.items() if n > len(stem_sets) / 2}


def _shortlist(art: _Side, stem_sets: Sequence[frozenset[str]], weights: _Weights,
               keep: int) -> set[int]:
    """Indexes of the candidates worth a full comparison: the ``keep`` sharing the most weighted
    stems with the article (at least two). Bounds the cost whatever the candidate list."""
    scored = []
    for i, ss in enumerate(stem_sets):
        shared = ss & art.stems
        if len(shared) >= 2:
            scored.append((weights.mass(shared), i))
    scored.sort(reverse=True)
    return {i for _, i in scored[:keep]}


MAX_COMPARED = 15


def detect(
    article: ArticleInput,
    candidates: Sequence[CandidatePost],
    *,
    aliases_by_channel: Mapping[str, Sequence[str]] | None = None,
    window_days: int = 30,
    now: datetime | None = None,
) -> list[Found]:
    """Citations of ``candidates`` in ``article``, best first, each with its evidence."""
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
    mentions = _mentions(article, refs, sorted(channels), aliases)
    art = _prepare(f"{article.title}\n{article.text}")
    art_script = tx.script_of(article.text)
    stem_sets = _stem_sets(candidates)
    weights = _Weights(_common_stems(stem_sets))
    shortlist = _shortlist(art, stem_sets, weights, MAX_COMPARED)

    found: dict[PostKey, Found] = {}
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
        best_quote: Evidence | None = None
        variants = []
        if c.translation and art_script != "cyrillic":
            variants.append(("translation", c.translation))
        if c.text and (tx.script_of(c.text) == art_script or not c.translation):
            variants.append(("original", c.text))
        for against, body in variants:
            q = _quote(art, body, weights, against)
            if q and (best_quote is None or q["weight"] > best_quote["weight"]):
                best_quote = q
        if best_quote:
            ev.append(best_quote)
        sh = _shared(art, c.translation if art_script != "cyrillic" and c.translation else c.text)
        if sh:
            ev.append(sh)
        if not ev:
            continue
        if c.channel.lower() in mentions:
            m = dict(mentions[c.channel.lower()])
            if not any(e["kind"] in ("quote", "link", "embed") for e in ev):
                # without matching text a mention cannot tell this post from the channel's others
                m["weight"] = round(m["weight"] / 2, 3)
            ev.append(m)
        ev.append(_time((when - post_time).total_seconds() / 3600))
        found[c.key] = Found(c.key, _combine(ev), ev, c.post_id)
    for key, ref in explicit.items():
        if key not in found and not any(c.key == key for c in candidates):
            found[key] = Found(key, 1.0, [_link_evidence(ref)], None)
    return sorted(found.values(), key=lambda f: (-f.score, f.post_key))


def _most_hits_first(item: tuple[int, int]) -> tuple[int, int]:
    return (-item[1], item[0])


def _link_evidence(ref: TelegramRef) -> Evidence:
    where = f"t.me/{ref.channel}/{ref.message_id}"
    text = f"embeds {where}" if ref.kind == "embed" else f"links to {where}"
    return {"kind": "embed" if ref.kind == "embed" else "link", "text": text, "weight": 1.0,
            "url": ref.url or f"https://{where}"}
