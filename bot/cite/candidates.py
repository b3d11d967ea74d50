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

from bot.cite.text import STOPWORDS

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 80


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
    """Distinct index terms of ``text``, most distinctive first (names, numbers, long words)."""
    scored: dict[str, float] = {}
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        term = _fold(raw)
        if term in STOPWORDS or term in scored:
            continue
        if term.isdigit():
            if len(term) < 2:
                continue
            score = 3.0 if not re.fullmatch(r"(19|20)\d\d", term) else 1.0
        else:
            if len(term) < 4 and not (len(term) == 3 and raw.isupper()):
                continue
            score = min(len(term), 12) / 6 + (1.5 if raw[0].isupper() else 0.0)
        scored[term] = score
    ranked = sorted(scored.items(), key=lambda kv: -kv[1])
    return [t for t, _ in ranked[:max_terms]]
