"""Turn any user string into a safe FTS5 query (pure).

What users type is a small language of its own: bare words (all must match; words of 4+ letters also
match as prefixes, so "контингент" finds "контингенту"), "quoted phrases", `OR`, `-word` or `NOT word`
to exclude, `word*` for an explicit prefix. Everything else — colons, parentheses, a lone `AND`,
an unbalanced quote — is treated as text, never as FTS5 syntax, so no input can raise a syntax error.
"""

from __future__ import annotations

import re

from storage.errors import QueryError

_WORD = re.compile(r"\w+", re.UNICODE)
MIN_AUTO_PREFIX = 4


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


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


def to_fts5(query: str) -> str:
    """Return an FTS5 MATCH expression; ``QueryError`` if nothing searchable remains."""
    parts: list[str] = []
    negatives: list[str] = []
    pending_or = False
    pending_not = False
    for kind, value in _tokens(query):
        negate = False
        prefix = False
        if kind == "word":
            if value == "OR":
                pending_or = bool(parts)
                continue
            if value == "NOT":
                pending_not = True
                continue
            if value == "AND":
                continue
            if value.startswith("-") and len(value) > 1:
                negate = True
                value = value[1:]
            if value.endswith("*"):
                prefix = True
            words = _words(value)
            if not words:
                continue
            if len(words) == 1:
                w = words[0]
                auto = len(w) >= MIN_AUTO_PREFIX and not w.isdigit()
                expr = _quote(w) + ("*" if prefix or auto else "")
            else:  # "foo:bar", "a-b", "U.S." → a phrase of its words
                expr = _quote(" ".join(words)) + ("*" if prefix else "")
        else:
            words = _words(value)
            if not words:
                continue
            expr = _quote(" ".join(words))
        if pending_not:
            negate, pending_not = True, False
        if negate:
            negatives.append(expr)
            continue
        if pending_or and parts:
            parts[-1] = f"({parts[-1]} OR {expr})"
        else:
            parts.append(expr)
        pending_or = False
    if not parts:
        if negatives:
            raise QueryError("a search needs at least one word that is not excluded")
        raise QueryError("nothing to search for: give at least one word")
    positive = " AND ".join(parts)
    if negatives:
        return f"({positive}) NOT ({' OR '.join(negatives)})" if len(parts) > 1 else (
            f"{positive} NOT ({' OR '.join(negatives)})"
        )
    return positive
