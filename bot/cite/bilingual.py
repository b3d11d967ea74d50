"""Ukrainian and Russian content words read as their English senses (``data/cyrillic_english.csv``).

Why: a post with no stored translation shares only names, numbers and glossary terms with an
English article that cites it in the journalist's own translation, yet that translation says what
the post says: "знищили дві російські БМД разом із десантом" is "destroyed two Russian BMDs with
the troops inside". Reading each of the post's words as the English stems of its senses lets the
detector compare the two texts word by word, as it compares a stored translation. The senses are
curated data (with their sources, beside the English variants), not code.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bot.cite import text as tx
from storage.wordforms import forms

_DATA = "data/cyrillic_english.csv"


@cache
def senses() -> dict[str, frozenset[str]]:
    """A Cyrillic word's normal form (as ``text.content_stems`` gives it) → its English senses'
    stems (as ``text.content_stems`` gives them: near-synonyms read as their group's)."""
    return parse_senses(resources.files("bot.cite").joinpath(_DATA).read_text(encoding="utf-8"))


def parse_senses(text: str) -> dict[str, frozenset[str]]:
    """The senses of the file's text: ``english words,cyrillic words`` a line ("-" for no English
    word: the Cyrillic words then have an empty set of senses); '#' lines and blank lines skipped.
    A word on several lines gets every line's senses."""
    out: dict[str, set[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        english, sep, cyrillic = line.partition(",")
        # "-": words an English rendering leaves out or writes as a stop word ("два": "two")
        en = set() if english.strip() == "-" else set(tx.content_stems(english))
        cyr = set(tx.content_stems(cyrillic))
        if not sep or not (en or english.strip() == "-") or not cyr \
                or tx.script_of(cyrillic) != "cyrillic":
            raise ValueError(f"{_DATA} line {n}: expected English words, a comma, Cyrillic words")
        # each word as the detector reads it, and every other lemma its forms have ("ранить" is
        # read "ранити", but "ранены" is read "ранить")
        words = cyr | {f for w in cyrillic.split() for f in forms(w)}
        for word in words:
            if not word.isdigit():
                out.setdefault(word, set()).update(en)
    return {k: frozenset(v) for k, v in out.items()}
