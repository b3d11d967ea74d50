"""Turn any user string into a safe FTS5 query (pure).

What users type is a small language of its own: bare words (all must match; words of 4+ letters also
match as prefixes, so "контингент" finds "контингенту"), "quoted phrases", `OR`, `-word` or `NOT word`
to exclude, `word*` for an explicit prefix. Everything else — colons, parentheses, a lone `AND`,
an unbalanced quote — is treated as text, never as FTS5 syntax, so no input can raise a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from storage.errors import QueryError
from storage.fold import fold
from storage.retrieval import quote

_WORD = re.compile(r"\w+", re.UNICODE)
MIN_AUTO_PREFIX = 4


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
    """One word, prefix or phrase. ``auto``: a bare word that is searched as a prefix by default."""

    words: tuple[str, ...]
    prefix: bool = False
    auto: bool = False

    def fts(self, exact: frozenset[str] = frozenset()) -> str:
        """The FTS5 form; a word in ``exact`` loses its automatic prefix (never an explicit one)."""
        star = self.prefix or (self.auto and self.words[0] not in exact)
        return quote(" ".join(self.words)) + ("*" if star else "")

    def probes(self) -> list[str]:
        """What to count to bound this term's posts cheaply: each word as typed (a phrase is no
        more frequent than its rarest word), or an explicit prefix itself."""
        return [self.fts()] if self.prefix else [quote(w) for w in self.words]


@dataclass(frozen=True)
class Group:
    """A positive part of the query: one term, or terms joined by OR (any one must match)."""

    terms: tuple[Term, ...]

    def fts(self, exact: frozenset[str] = frozenset()) -> str:
        out = self.terms[0].fts(exact)
        for t in self.terms[1:]:
            out = f"({out} OR {t.fts(exact)})"
        return out


@dataclass(frozen=True)
class FtsQuery:
    """A parsed user query: groups that must all match, and terms that must not.

    Kept structured so search can probe each part's frequency and rank by the informative ones,
    while ``expression()`` gives the one FTS5 string that decides what matches.
    """

    positives: tuple[Group, ...]
    negatives: tuple[Term, ...] = ()

    def expression(self, exact: frozenset[str] = frozenset(),
                   only: Sequence[int] | None = None, negate: bool = True) -> str:
        """FTS5 expression. ``exact``: words searched without their auto prefix;
        ``only``: just these positive groups; ``negate=False`` leaves the exclusions out."""
        idx = range(len(self.positives)) if only is None else only
        parts = [self.positives[i].fts(exact) for i in idx]
        if not parts:
            raise QueryError("nothing to search for: give at least one word")
        positive = " AND ".join(parts)
        if not (negate and self.negatives):
            return positive
        neg = " OR ".join(t.fts() for t in self.negatives)
        return f"({positive}) NOT ({neg})" if len(parts) > 1 else f"{positive} NOT ({neg})"

    def probes(self) -> list[str]:
        """Distinct FTS5 expressions whose capped counts ``search.plan`` needs."""
        return list(dict.fromkeys(p for g in self.positives for t in g.terms for p in t.probes()))


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
            if len(words) == 1:
                w = words[0]
                auto = not prefix and len(w) >= MIN_AUTO_PREFIX and not w.isdigit()
                term = Term((w,), prefix=prefix, auto=auto)
            else:  # "foo:bar", "a-b", "U.S." → a phrase of its words
                term = Term(tuple(words), prefix=prefix)
        else:
            words = _words(value)
            if not words:
                continue
            term = Term(tuple(words))
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
