"""Turn any user string into a safe FTS5 query (pure).

What users type is a small language of its own: bare words (all must match, each in any of its
forms: "Україна" also finds "України", "Макіївка" finds "Макіївці" — storage/wordforms.py),
"quoted phrases" (exact forms, in order), `OR`, `-word` or `NOT word` to exclude (any form),
`word*` for an explicit prefix of the written form. Everything else — colons, parentheses, a lone
`AND`, an unbalanced quote — is treated as text, never as FTS5 syntax, so no input can raise a
syntax error.

How a bare word is looked up: as written, or by one of its normal forms, in any column of the
index (``storage.search_index``): the ``words`` column holds the normal forms a post's words have
beyond the written ones, so a normal form found in the text or in ``words`` means the post has
some form of the word. A post holding the form typed matches both the written form and the normal
form, and written forms weigh more in the ranking, so exact forms come first. Phrases and prefixes
only look at the written columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from storage import wordforms
from storage.errors import QueryError
from storage.fold import fold
from storage.retrieval import quote

_WORD = re.compile(r"\w+", re.UNICODE)
#: phrases and prefixes match written forms only (not the normal forms in ``words``)
_WRITTEN = "{text translation} : "


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text))  # as the index holds them: "ещё" finds "еще" and back


def _tokens(query: str) -> list[tuple[str, str]]:
    """Split into (kind, value): phrase, word, or op."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            end = query.find('"', i + 1)
            if end == -1:  # unbalanced: the rest is a phrase
                end = n
            out.append(("phrase", query[i + 1 : end]))
            i = end + 1
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] != '"':
            j += 1
        out.append(("word", query[i:j]))
        i = j
    return out


@dataclass(frozen=True)
class Term:
    """One word, prefix or phrase. ``forms``: a bare word's normal forms other than itself, each
    of which also matches (see module docstring)."""

    words: tuple[str, ...]
    prefix: bool = False
    forms: tuple[str, ...] = ()
    exact: bool = False
    #: a prefix replaced by some of its completions (index terms), any of which matches
    #: (``storage.search``: the most frequent ones, when the prefix is common)
    any_of: tuple[str, ...] = ()

    def fts(self) -> str:
        """The FTS5 form."""
        if self.any_of:
            return _WRITTEN + "(" + " OR ".join(quote(t) for t in self.any_of) + ")"
        if self.prefix:
            return _WRITTEN + quote(" ".join(self.words)) + "*"
        if len(self.words) > 1 or self.exact:
            base = _WRITTEN + quote(" ".join(self.words))
        else:
            base = quote(self.words[0])
        if not self.forms:
            return base
        return "(" + " OR ".join([base, *(quote(f) for f in self.forms)]) + ")"

    def probes(self) -> list[str]:
        """What to count to bound this term's posts cheaply: each word (and normal form) alone,
        or an explicit prefix itself."""
        if self.any_of:
            return [quote(t) for t in self.any_of]
        if self.prefix:
            return [self.fts()]
        return [quote(w) for w in (*self.words, *self.forms)]

    def cover(self, counts: dict[str, int]) -> list[str]:
        """Probes whose posts include every post this term matches, as few as the counts allow:
        a phrase's rarest word, a word's forms, a prefix itself."""
        if self.any_of or self.prefix or len(self.words) == 1:
            return self.probes()
        return [min((quote(w) for w in self.words), key=lambda p: counts[p]),
                *(quote(f) for f in self.forms)]

    def bound(self, counts: dict[str, int]) -> int:
        """At most this many posts match, from the probe counts: a phrase is no more frequent than
        its rarest word; each normal form adds its own posts."""
        if self.any_of:
            return sum(counts[quote(t)] for t in self.any_of)
        if self.prefix:
            return counts[self.fts()]
        written = min(counts[quote(w)] for w in self.words)
        return written + sum(counts[quote(f)] for f in self.forms)


@dataclass(frozen=True)
class Group:
    """A positive part of the query: one term, or terms joined by OR (any one must match)."""

    terms: tuple[Term, ...]

    def fts(self) -> str:
        out = self.terms[0].fts()
        for t in self.terms[1:]:
            out = f"({out} OR {t.fts()})"
        return out


@dataclass(frozen=True)
class FtsQuery:
    """A parsed user query: groups that must all match, and terms that must not.

    Kept structured so search can probe each part's frequency and rank by the informative ones,
    while ``expression()`` gives the one FTS5 string that decides what matches.
    """

    positives: tuple[Group, ...]
    negatives: tuple[Term, ...] = ()

    def expression(self, only: Sequence[int] | None = None, negate: bool = True) -> str:
        """FTS5 expression. ``only``: just these positive groups; ``negate=False`` leaves the
        exclusions out."""
        idx = range(len(self.positives)) if only is None else only
        parts = [self.positives[i].fts() for i in idx]
        if not parts:
            raise QueryError("nothing to search for: give at least one word")
        positive = " AND ".join(parts)
        if not (negate and self.negatives):
            return positive
        neg = " OR ".join(t.fts() for t in self.negatives)
        return f"({positive}) NOT ({neg})" if len(parts) > 1 else f"{positive} NOT ({neg})"

    def normal_forms(self) -> frozenset[str]:
        """The normal forms the positive bare words are looked up by (for highlighting)."""
        return frozenset(f for g in self.positives for t in g.terms if not (t.prefix or t.exact)
                         for w in (t.words if len(t.words) == 1 else ("".join(t.words),))
                         for f in (w.lower(), *t.forms))

    def probes(self) -> list[str]:
        """Distinct FTS5 expressions whose capped counts ``search.plan`` needs."""
        return list(dict.fromkeys(p for g in self.positives for t in g.terms for p in t.probes()))


def _forms(value: str, written: str) -> tuple[str, ...]:
    """A bare word's normal forms other than ``written`` (how the index holds it); none for a
    token that is not one word (apostrophes inside one word, as in "Мар'їнки", are)."""
    ws = wordforms.words(value)
    if len(ws) != 1:
        return ()
    return tuple(f for f in wordforms.forms(ws[0]) if f != written)


def parse(query: str) -> FtsQuery:
    """Parse any user string; ``QueryError`` if nothing searchable remains."""
    groups: list[list[Term]] = []
    negatives: list[Term] = []
    pending_or = False
    pending_not = False
    for kind, value in _tokens(query):
        negate = False
        if kind == "word":
            if value == "OR":
                pending_or = bool(groups)
                continue
            if value == "NOT":
                pending_not = True
                continue
            if value == "AND":
                continue
            if value.startswith("-") and len(value) > 1:
                negate = True
                value = value[1:]
            prefix = value.endswith("*")
            words = _words(value)
            if not words:
                continue
            # "foo:bar", "a-b", "U.S." → a phrase of its words; "Мар'їнки" also by its forms
            term = Term(tuple(words), prefix=prefix,
                        forms=() if prefix else _forms(value, "".join(words).lower()))
        else:
            words = _words(value)
            if not words:
                continue
            term = Term(tuple(words), exact=True)
        if pending_not:
            negate, pending_not = True, False
        if negate:
            negatives.append(term)
            continue
        if pending_or and groups:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    if not groups:
        if negatives:
            raise QueryError("a search needs at least one word that is not excluded")
        raise QueryError("nothing to search for: give at least one word")
    return FtsQuery(tuple(Group(tuple(g)) for g in groups), tuple(negatives))


def to_fts5(query: str) -> str:
    """Return an FTS5 MATCH expression; ``QueryError`` if nothing searchable remains."""
    return parse(query).expression()


#: the most words, phrases and operators one query may hold: SQLite's compound SELECT limit (500)
#: bounds the frequency probes, and nobody types more than a paragraph of search terms
MAX_QUERY_TERMS = 100


def check_size(query: str) -> None:
    """``QueryError`` (one line) for a query of thousands of terms, before it reaches SQLite."""
    n = len(_tokens(query))
    if n > MAX_QUERY_TERMS:
        raise QueryError(f"too many search terms ({n}); at most {MAX_QUERY_TERMS}")
