"""Which words of an article to look up in the full-text index (pure).

FTS5 stores lower-cased tokens with Latin diacritics removed, split at anything not a letter or
digit, so the terms are produced the same way. Names, numbers and long words come first: they are
the ones that single out a post. Storage then keeps only the rarest of them (``storage.citations``),
which is what keeps one article against a million posts fast.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.cite.text import STOPWORDS, sentences

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 80
#: where an article says it is quoting Telegram: the words around it are the ones to look up
_ATTRIBUTION = re.compile(
    r"telegram|телеграм|in a post|channel|канал|допис", re.IGNORECASE)
_QUOTED_BONUS = 4.0


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Lower-case; strip combining marks from Latin letters only (as unicode61 does). Cached:
    articles share most of their words, and NFD/NFC per token was a tenth of an article's time."""
    if word.isascii():
        return word.lower()
    out = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def fts_terms(text: str, max_terms: int = MAX_TERMS) -> list[str]:
    """Distinct index terms of ``text``, most distinctive first (names, numbers, long words).

    Words of the sentences that attribute something to Telegram or quote it (and the sentence on
    either side) come before all others: in a long article the quoted passage is a few lines, and
    without the bonus its words lost their place among the article's own names."""
    scored: dict[str, float] = {}
    boosted: dict[str, bool] = {}
    cited = _cited_spans(text)
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        term = _fold(raw)
        if term in STOPWORDS:
            continue
        quoted = bool(cited) and any(lo <= m.start() < hi for lo, hi in cited)
        if term in scored:
            if quoted and boosted.get(term) is False:
                scored[term] += _QUOTED_BONUS
                boosted[term] = True
            continue
        if term.isdigit():
            if len(term) < 2:
                continue
            score = 3.0 if not re.fullmatch(r"(19|20)\d\d", term) else 1.0
        else:
            if len(term) < 4 and not (len(term) == 3 and raw.isupper()):
                continue
            score = min(len(term), 12) / 6 + (1.5 if raw[0].isupper() else 0.0)
        scored[term] = score + (_QUOTED_BONUS if quoted else 0.0)
        boosted[term] = quoted
    ranked = sorted(scored.items(), key=lambda kv: -kv[1])
    return [t for t, _ in ranked[:max_terms]]


def _cited_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of attributing/quoting sentences and their neighbours."""
    sents = sentences(text, max_words=10_000)
    hot = {i for i, s in enumerate(sents) if _ATTRIBUTION.search(s)}
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
