"""The shipped bilingual glossary's rows (``storage/data/glossary.csv``) and their parser.

One file serves two readers: translation (``bot.translate.glossary``: protected terms, DeepL
glossaries) and the cross-script citation keys the index stores with every post
(``storage.crossscript``). The rows and the file live here, under storage, because the index needs
them at write time and storage depends on nothing under ``bot/``. Rows: ``source,target[,lang[,use]]``
(``#`` lines are comments); ``use`` is "" (translation and matching), "match" (matching only) or
"unit" (matching only; a number next to it makes a unit).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: the fourth column: rows used only by the citation matcher (``storage.crossscript``)
USES = ("", "match", "unit")


class GlossaryFileError(ValueError):
    """A glossary file has a line that is not ``source,target[,lang[,use]]``."""


@dataclass(frozen=True)
class Term:
    source: str
    target: str
    lang: str | None  # None: any source language
    #: "" (translation and citation matching), "match" (citation matching only: never put in place
    #: of the word before translation) or "unit" (matching only; a number next to it is a unit)
    use: str = ""

    @property
    def stem(self) -> bool:
        return self.source.endswith("*")

    @property
    def text(self) -> str:
        return self.source.rstrip("*")


def parse_rows(text: str, origin: str) -> list[Term]:
    """Rows ``source,target[,lang[,use]]``; ``#`` lines are comments. The error names the line."""
    terms: list[Term] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if len(cells) not in (2, 3, 4) or not cells[0].rstrip("*") or not cells[1] or (
                len(cells) == 4 and cells[3] not in USES):
            raise GlossaryFileError(f"{origin} line {n}: expected source,target[,lang] (a fourth "
                                    "column may say match or unit)")
        lang = cells[2].lower() if len(cells) >= 3 and cells[2] else None
        terms.append(Term(cells[0], cells[1], lang, cells[3] if len(cells) == 4 else ""))
    return terms


@lru_cache(maxsize=1)
def shipped_text() -> str:
    """The shipped file as it is (the index's words version hashes it: its rows give keys)."""
    return resources.files("storage").joinpath("data/glossary.csv").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _shipped() -> tuple[Term, ...]:
    return tuple(parse_rows(shipped_text(), "default glossary"))


def default_terms() -> list[Term]:
    """The shipped rows, read once (a fresh list each call)."""
    return list(_shipped())
