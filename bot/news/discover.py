"""Discovery: one GDELT query per watched channel, so news quoting it is found without a feed list.

A channel is named in the press by its aliases ("Main Intelligence Directorate", "HUR") and its
title (``bot.cite.aliases``: built-in names, title and about text, ``channels alias``), rarely by
its username; the word Telegram keeps the query to articles about its posts:
``("Main Intelligence Directorate" OR HUR OR "military intelligence") Telegram``.

GDELT's query rules (DOC 2.0 API documentation and its error replies) that the builder keeps:
- a phrase of several words is quoted; quotes, parentheses, colons and leading '-' inside a name
  are operators to GDELT, so names are reduced to letters, digits, spaces and inner '-'/'''/'.';
- every word must be at least 3 characters ("keyword that was too short"), so a name with a
  shorter word is dropped (a phrase "… of Ukraine" is fine: each *searchable* word counts);
- OR'd terms must be in parentheses, and parentheses only around OR'd terms;
- the whole query stays under ``MAX_QUERY`` characters: names that do not fit are left out, earlier
  names first in line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings
from bot.news import gdelt
from storage import channels as channels_repo
from storage import feeds as feeds_repo
from storage.db import Database
from storage.models import Channel, ChannelNames

#: Longest query we send (GDELT refuses very long queries; 250 leaves room for URL encoding).
MAX_QUERY = 250
MIN_WORD = 3
#: Short function words GDELT ignores inside a phrase; they do not count against MIN_WORD.
_PHRASE_FILLERS = {"of", "in", "on", "at", "to", "by", "de", "la", "le", "du", "и", "в"}
#: en-GB/en-US spellings: a title in one is searched in both.
_SPELLINGS = {"defence": "defense", "centre": "center", "programme": "program",
              "organisation": "organization"}
_SPELLINGS_BACK = {us: gb for gb, us in _SPELLINGS.items()}
_NOT_NAME = re.compile(r"[^\w\s'.-]+")


@dataclass(frozen=True)
class Discovery:
    channel: str
    query: str | None  # None: no name survives GDELT's rules
    names: tuple[str, ...]


def aliases_of(settings: Settings, channel: Channel) -> list[str]:
    """Every name a channel goes by in the press — the settings' or built-in aliases, names from
    its title and about text, stored ones, minus those removed — exactly as citation detection
    sees them (``bot.cite.pipeline.aliases``): the ONE way discovery reads a channel's names."""
    from bot.cite.pipeline import aliases

    names = ChannelNames(tuple(channel.aliases), tuple(channel.aliases_removed), channel.title,
                         channel.about)
    return aliases(settings, [], {channel.username: names})[channel.username.lower()]


def spelling_variants(name: str) -> list[str]:
    """The name in British and American spelling ("Defence Intelligence" → also "Defense …")."""
    words = name.split()
    out = []
    for table in (_SPELLINGS, _SPELLINGS_BACK):
        other = [_same_case(table.get(w.lower(), w), w) for w in words]
        if other != words:
            out.append(" ".join(other))
    return out


def _same_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() and word != like else word


def _clean(name: str) -> str:
    s = unicodedata.normalize("NFKC", name)
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] in "LNZP" or ch in "'-.")
    s = _NOT_NAME.sub(" ", s)
    s = " ".join(w.strip("'.-") for w in s.split())
    return " ".join(s.split())


def _term(name: str) -> str | None:
    """A GDELT search term for a name, or None when GDELT would refuse it."""
    c = _clean(name)
    words = c.split()
    if not words:
        return None
    searchable = [w for w in words if w.lower() not in _PHRASE_FILLERS or len(words) == 1]
    if not searchable or any(len(w) < MIN_WORD for w in searchable):
        return None
    if len(words) == 1:
        return words[0]
    if words[0].lower() in _PHRASE_FILLERS or words[-1].lower() in _PHRASE_FILLERS:
        return None
    return f'"{c}"'


def build_query(names: Iterable[str], *, anchor: str = "Telegram",
                max_len: int = MAX_QUERY) -> tuple[str | None, tuple[str, ...]]:
    """``(A OR "B C") Telegram`` from names (first names win when the query must be cut).

    Returns (query, the names it kept); (None, ()) when no name survives."""
    terms: dict[str, str] = {}
    for n in names:
        t = _term(n)
        if t and t.lower() not in {k.lower() for k in terms} and t.lower() != anchor.lower():
            terms[t] = _clean(n)
    kept: list[str] = []
    for t in terms:  # greedy: a long phrase that does not fit leaves room for shorter names
        trial = [*kept, t]
        if len(_join(trial, anchor)) <= max_len:
            kept = trial
    if not kept:
        return None, ()
    return _join(kept, anchor), tuple(terms[t] for t in kept)


def _join(terms: list[str], anchor: str) -> str:
    body = terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
    return f"{body} {anchor}"


def discovery_for(settings: Settings, channel: Channel) -> Discovery:
    """The GDELT query for one watched channel: its names (each in both spellings), then the
    username."""
    names = [v for n in aliases_of(settings, channel) for v in (n, *spelling_variants(n))]
    names.append(channel.username)
    query, kept = build_query(names)
    return Discovery(channel.username, query, kept)


async def sync(settings: Settings, db: Database) -> list[Discovery]:
    """Make the stored discovery feeds match the watched channels (DISCOVER=off: none).

    A channel's query changes when its title or aliases do: the old feed goes (its articles stay,
    and their URLs keep them from being fetched twice), the new one is polled at once."""
    wanted: dict[str, Discovery] = {}
    found: list[Discovery] = []
    if settings.discover == "auto":
        stored = await channels_repo.list_active(db)
        known = {c.username.lower() for c in await channels_repo.list_all(db)}
        pending = [Channel(username=u) for u in settings.channels if u.lower() not in known]
        for channel in [*stored, *pending]:
            d = discovery_for(settings, channel)
            found.append(d)
            if d.query:
                wanted.setdefault(gdelt.feed_url(d.query), d)
    for feed in await feeds_repo.discovered(db):
        if feed.url not in wanted:
            await feeds_repo.remove(db, feed.url)
    for url, d in wanted.items():
        await feeds_repo.add(db, url, kind="gdelt", discovered_for=d.channel)
    return found
