"""Letters the full-text index treats as one: ё is written as е in most Russian text.

FTS5's unicode61 tokenizer removes diacritics from Latin letters only, so "еще" would not find
"ещё". The index therefore holds the post's text with ё→е (``SQL_FOLD`` in the triggers), every
query and lookup term is folded the same way (``fold``), and snippets, cut from the folded copy,
get the post's own letters back (``unfold_snippet``). Ukrainian has no ё, so its text is unchanged.
"""

from __future__ import annotations

#: the same fold in SQL, for the triggers that fill posts_fts: ``SQL_FOLD.format("new.text")``
SQL_FOLD = "replace(replace({}, 'ё', 'е'), 'Ё', 'Е')"


def fold(text: str) -> str:
    # two replace() calls, not str.translate: translate looks every character up in a table,
    # ~100 us for a post with ё against ~1 us (an import folds every post it indexes)
    return text.replace("ё", "е").replace("Ё", "Е")


def unfold_snippet(snippet: str, original: str, marks: str = "\x02\x03", ellipsis: str = "…") -> str:
    """``snippet`` (cut from ``fold(original)``, with highlight ``marks`` and ``ellipsis`` at cut
    ends) with the original letters back. The fold keeps every length, so the snippet's text sits
    at one offset of the folded original; if it cannot be placed, the snippet is returned as is."""
    if not ("ё" in original or "Ё" in original):
        return snippet
    plain = "".join(ch for ch in snippet if ch not in marks)
    head = 1 if plain.startswith(ellipsis) else 0
    tail = 1 if plain.endswith(ellipsis) and len(plain) > head else 0
    folded = fold(original)
    for h, t in ((head, tail), (0, tail), (head, 0), (0, 0)):  # an ellipsis may be the text's own
        core = plain[h:len(plain) - t]
        at = folded.find(core)
        if core and at >= 0:
            break
    else:
        return snippet
    out, i = [], 0  # i: position in ``plain``
    for ch in snippet:
        if ch in marks:
            out.append(ch)
            continue
        out.append(original[at + i - h] if h <= i < h + len(core) else ch)
        i += 1
    return "".join(out)
