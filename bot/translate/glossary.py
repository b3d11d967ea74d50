"""The translation glossary: terms whose English form is fixed (ЗСУ → AFU, Київ → Kyiv, …).

Analysts search for, and the citation matcher compares against, the forms the English press uses;
a model left alone writes "APU", "GUR" or "Kiev". The shipped default (``storage/data/glossary.csv``,
read by ``storage.glossary``; each group with its source) plus TRANSLATION_GLOSSARY (CSV
``source,target[,lang]``; a user entry with the same source and language wins) is applied:

- for the offline model and LibreTranslate as protected terms: each match is replaced by its target
  before translation, and models copy a Latin-script word through unchanged;
- for DeepL as a DeepL glossary where its API supports the pair (exact entries only).

A fourth column ``match`` or ``unit`` marks a row the citation matcher alone reads
(``storage.crossscript.term_keys``: "Генштаб" ↔ "General Staff", "бригада" as a unit word); rows with
lang ``en`` give the English press forms of a target. Translation never applies either, and neither
enters ``version`` (a hash of the entries translation applies), stored with each translation so a
changed glossary is visible in the data. Matching: whole words; a source ending in ``*`` also
matches longer words (inflected forms); an all-capitals source matches only in capitals (ЗСУ, not
зсу), others in any case.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path

from bot.errors import ConfigError
from storage.glossary import USES, GlossaryFileError, Term, default_terms, parse_rows

__all__ = ["USES", "Glossary", "Term", "default_terms", "parse_csv", "protect_all", "version_for"]

_LETTER = r"[^\W\d_]"


def parse_csv(text: str, origin: str) -> list[Term]:
    """Rows ``source,target[,lang]``; ``#`` lines are comments. ConfigError names the bad line."""
    try:
        return parse_rows(text, origin)
    except GlossaryFileError as exc:
        raise ConfigError(f"TRANSLATION_GLOSSARY: {exc}") from None


class Glossary:
    """``Glossary.load(path)``; ``protect(text, lang)``; ``entries(lang)`` for DeepL; ``version``."""

    def __init__(self, terms: list[Term]) -> None:
        merged: dict[tuple[str, str | None], Term] = {}
        for t in terms:
            merged[(t.source.lower(), t.lang)] = t  # later (user) entries win
        self.terms = list(merged.values())
        self._patterns: dict[str, tuple[re.Pattern[str], dict[str, Term]] | None] = {}

    @classmethod
    def load(cls, path: Path | None = None, *, with_default: bool = True) -> Glossary:
        terms = default_terms() if with_default else []
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"TRANSLATION_GLOSSARY: cannot read {path}: {exc}") from None
            terms += parse_csv(text, str(path))
        return cls(terms)

    @cached_property
    def version(self) -> str:
        # only what translation applies: the citation-only rows ("match", "unit", "en") change no
        # translation, so they do not make stored translations look out of date
        rows = sorted(f"{t.source}\t{t.target}\t{t.lang or ''}" for t in self.terms
                      if not t.use and t.lang != "en")
        return "glossary@" + hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]

    def for_lang(self, lang: str) -> list[Term]:
        """The terms translation applies to ``lang`` texts (not the citation-only ones)."""
        return [t for t in self.terms if t.lang in (None, lang) and not t.use]

    def _pattern(self, lang: str) -> tuple[re.Pattern[str], dict[str, Term]] | None:
        if lang not in self._patterns:
            terms = sorted(self.for_lang(lang), key=lambda t: -len(t.text))
            if not terms:
                self._patterns[lang] = None
            else:
                groups = []
                by_group: dict[str, Term] = {}
                for i, t in enumerate(terms):
                    body = r"\s+".join(re.escape(w) for w in t.text.split())
                    tail = f"{_LETTER}*" if t.stem else ""
                    flags = "" if t.text.isupper() else "(?i:"
                    inner = f"{flags}{body}{tail}{')' if flags else ''}"
                    groups.append(f"(?P<t{i}>{inner})")
                    by_group[f"t{i}"] = t
                pattern = re.compile(rf"(?<!\w)(?:{'|'.join(groups)})(?!\w)")
                self._patterns[lang] = (pattern, by_group)
        return self._patterns[lang]

    def protect(self, text: str, lang: str) -> str:
        """``text`` with every glossary term of ``lang`` replaced by its fixed translation."""
        compiled = self._pattern(lang)
        if compiled is None:
            return text
        pattern, by_group = compiled
        return pattern.sub(lambda m: by_group[m.lastgroup or ""].target, text)

    def entries(self, lang: str) -> dict[str, str]:
        """Exact (non-stem) entries of ``lang`` for a DeepL glossary: source → target."""
        return {t.text: t.target for t in self.for_lang(lang) if not t.stem}


def version_for(glossary: Glossary | None, lang: str) -> str | None:
    """The glossary version a translation from ``lang`` was made with: None when no glossary term
    applies to that language (the stored ``translations.glossary``)."""
    return glossary.version if glossary is not None and glossary.for_lang(lang) else None


def protect_all(glossary: Glossary | None, texts: list[str], lang: str) -> list[str]:
    """``texts`` with the glossary's terms fixed (as they are when there is no glossary), so a
    model copies the terms through instead of translating them."""
    return texts if glossary is None else [glossary.protect(t, lang) for t in texts]
