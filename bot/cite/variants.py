"""The curated English near-synonym groups (``data/english_variants.csv``) read once.

Why a data file: a machine translation says "servicemen", "occupiers", "eliminated", "UAV" where a
journalist translating the same post writes "soldiers", "invaders", "killed", "drone"; the groups are
kept and reviewed as data, beside the channel aliases, not as code. ``bot.cite.text`` turns them into
one stem per group, so the reading applies alike to article and post.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

_DATA = "data/english_variants.csv"


@cache
def variant_groups() -> tuple[tuple[str, ...], ...]:
    """Each group's words, lower-case, the group's own reading first; '#' lines are comments."""
    text = resources.files("bot.cite").joinpath(_DATA).read_text(encoding="utf-8")
    return parse_groups(text)


def parse_groups(text: str) -> tuple[tuple[str, ...], ...]:
    """Groups from the file's text: one per line, comma-separated, blank and '#' lines skipped."""
    groups = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = tuple(w.strip().lower() for w in line.split(","))
        if len(words) < 2 or not all(w.isalpha() for w in words):
            raise ValueError(f"{_DATA} line {n}: expected two or more comma-separated words")
        groups.append(words)
    return tuple(groups)
