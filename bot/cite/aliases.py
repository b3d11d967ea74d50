"""The names a channel goes by in the press (pure, plus the shipped data file).

A journalist rarely writes "@DIUkraine": they write "Ukraine's military intelligence (HUR)",
"Budanov", "the DeepState project" or "Kadyrov said in a Telegram post". A channel's names are:

- the built-in defaults for well-known channels, kept in ``data/channel_aliases.csv`` (with the
  sources) so they can be reviewed and extended without touching code;
- names derived from the channel's stored title and about text ("Рамзан Кадыров" → also
  "Ramzan Kadyrov"; "Official channel of X" → X), romanised by ``storage.crossscript``;
- names stored with the channel (``citewatch channels alias add``), minus those removed from it
  (``citewatch channels alias remove``), which also hides a default or a title name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from storage.wordforms import given_name, text_lang

_DATA = "data/channel_aliases.csv"
#: title parts: "Зеленський / Official", "DeepState | Карта" → each part on its own
_TITLE_PARTS = re.compile(r"\s*[|/·•—–:]\s*|\s+-\s+")
#: "official channel of X" in an about text names the owner
_OWNER = re.compile(
    r"(?:official\s+(?:telegram\s+)?channel\s+of|офіційний\s+(?:телеграм-?)?канал|"
    r"официальный\s+(?:телеграм-?)?канал)\s+(?:the\s+)?([^.\n|,;!?()]{4,80})",
    re.IGNORECASE)
_LETTERS = re.compile(r"[^\W\d_]")
#: title words that name nothing ("Official", "News", "Channel"), a war correspondent's title
#: ("Военкор Котенок Z": the press writes "Kotenok") and the pro-war letters
_GENERIC = frozenset({"official", "офіційний", "официальный", "news", "новини", "новости", "channel",
                      "канал", "telegram", "live", "tg", "plus", "плюс", "online", "онлайн",
                      "военкор", "воєнкор", "z", "v", "zov"})
MIN_LETTERS = 4
#: a title that may be a person's name: two capitalised Cyrillic words (the first must be a given
#: name: ``storage.wordforms.given_name``)
_PERSON = re.compile(r"[А-ЯІЇЄҐ][а-яіїєґё']+ [А-ЯІЇЄҐ][а-яіїєґё']{2,}")
#: a person's name in the official order, surname, given name, patronymic ("Аксёнов Сергей
#: Валерьевич"), as officials title their channels; the press writes "Sergei Aksyonov", "Aksyonov"
_OFFICIAL_ORDER = re.compile(r"([А-ЯІЇЄҐЁ][а-яіїєґё'-]{2,}) ([А-ЯІЇЄҐЁ][а-яіїєґё']+) "
                             r"[А-ЯІЇЄҐЁ][а-яіїєґё']+(?:вич|ич|вна|ична|івна|ївна)")
#: a country after a channel's one name ("Труха⚡️Україна"): the name alone is how it is cited
_COUNTRY = frozenset({"україна", "украина", "ukraine", "росія", "россия", "russia"})


class AliasFileError(ValueError):
    """The aliases data file has a line that is not ``channel,name``."""


def parse(text: str, origin: str) -> dict[str, list[str]]:
    """``channel,name`` rows (``#`` lines are comments) → lower-cased channel → names, in order."""
    out: dict[str, list[str]] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise AliasFileError(f"{origin} line {n}: expected channel,name")
        names = out.setdefault(cells[0].lower(), [])
        if cells[1] not in names:
            names.append(cells[1])
    return out


@lru_cache(maxsize=1)
def _defaults() -> dict[str, tuple[str, ...]]:
    text = resources.files("bot.cite").joinpath(_DATA).read_text(encoding="utf-8")
    return {k: tuple(v) for k, v in parse(text, _DATA).items()}


def defaults() -> dict[str, list[str]]:
    """The built-in aliases: lower-cased channel → names (a fresh copy each call)."""
    return {k: list(v) for k, v in _defaults().items()}


def _name_like(part: str) -> bool:
    words = [w for w in part.split() if w.lower() not in _GENERIC]
    return bool(words) and len(_LETTERS.findall(" ".join(words))) >= MIN_LETTERS


@lru_cache(maxsize=4096)
def from_profile(title: str | None, about: str | None) -> tuple[str, ...]:
    """Names from a channel's title and about text, each as written and romanised.

    The whole title and each part of it ("Зеленський / Official" → "Зеленський"), and the owner an
    about text names ("Official channel of the Kherson regional administration"); parts that are
    only generic words ("Official", "News") are left out. A person's name gives the surname too,
    in either order ("Александр Коц", "Аксёнов Сергей Валерьевич" → also "Сергей Аксёнов").
    Emoji and symbols are dropped."""
    found: list[str] = []
    if title:
        clean = " ".join("".join(ch if ch.isalnum() or ch in " '’-|/·•—–:" else " "
                                 for ch in title).split())
        parts = [clean, *_TITLE_PARTS.split(clean)]
        # "Бутусов Плюс": a one-word name beside the title's generic words ("Бутусов")
        words = clean.split()
        # "Труха Україна": a name, then its country (not "Україна Сьогодні": "Today")
        skip = _GENERIC | _COUNTRY if words and words[-1].lower() in _COUNTRY else _GENERIC
        kept = [w for w in words if w.lower() not in skip and w.isalpha()]
        if len(kept) == 1 and len(words) > 1:
            parts.append(kept[0])
        found += [p.strip(" -") for p in parts if p and _name_like(p)]
        # "Александр Коц": a person's channel; after the first mention the press names the
        # person by surname alone ("Kots wrote on Telegram")
        if (_PERSON.fullmatch(clean) and not _GENERIC.intersection(clean.lower().split())
                and given_name(clean.split()[0])):
            found.append(clean.split()[1])
        official = _OFFICIAL_ORDER.fullmatch(clean)
        if official:
            surname, given = official.groups()
            if given_name(given):
                found += [f"{given} {surname}", surname]
    if about:
        found += [m.group(1).strip() for m in _OWNER.finditer(about) if _name_like(m.group(1))]
    from storage.crossscript import romanise  # loads the transliteration tables: only when used

    out: list[str] = []
    for name in dict.fromkeys(found):
        out.append(name)
        if not name.isascii():
            spelled = name.title() if name.isupper() else name  # "СОЛОВЬЁВ": not "SOLOVYoV"
            out += [r for r in romanise(spelled) if r.isascii() and _name_like(r)]
    if title:
        out += _institution_names(title) + _regional_names(title)
    return tuple(dict.fromkeys(out))


#: a Ukrainian region's administration: "Одеська обласна військова адміністрація", "Чернігівська
#: ОВА", "Донецька ОДА" (the region's adjective, then the body)
_REGIONAL = re.compile(r"([А-ЯІЇЄҐ][а-яіїєґ'’]+ька)\s+(?:ОВА|ОДА|обласна\s+(?:військова|державна)\s+"
                       r"адміністрація)\b")
#: how the press names a region's administration and its head ("Odesa regional governor Oleh
#: Kiper said", "the Chernihiv regional military administration said")
_REGIONAL_FORMS = ("{} regional military administration", "{} regional administration",
                   "{} regional governor", "{} region governor", "{} governor",
                   "governor of {} region", "governor of the {} region")


def _regional_names(title: str) -> list[str]:
    """A regional administration's channel is the region's governor's: the press attributes its
    posts to "the Odesa regional governor" or "the Chernihiv regional administration". The
    region's English name is the glossary's place the adjective starts with ("Одеська" → Odesa);
    a region the glossary does not hold gives nothing (no guessed spelling)."""
    m = _REGIONAL.match(title.strip())
    if m is None:
        return []
    from storage.crossscript import leading_term

    places = leading_term(m.group(1))
    return [form.format(p) for p in places if p.isalpha() for form in _REGIONAL_FORMS]


#: a title's country, as the press puts it before an institution ("Ukraine's National Guard")
_COUNTRIES = ((re.compile(r"Україн|Украин|ЗСУ|ВСУ"), ("Ukraine's", "Ukrainian"), "Ukraine"),
              (re.compile(r"Росі|Росси|РФ\b"), ("Russia's", "Russian"), "Russia"))


#: a state body's title in Ukrainian that names no country ("Центр протидії дезінформації",
#: "Офіс Генерального прокурора") is Ukraine's: Russia's bodies title their channels in Russian
_UKRAINE = _COUNTRIES[0][1:]


def _a_body(forms: Sequence[str]) -> bool:
    """Whether a leading term's English forms name a body ("Center for Countering
    Disinformation", "SSO"), not a place ("Kyiv", "Odesa": a regional administration's title)."""
    return bool(forms) and all(f.isupper() or len(f.split()) >= 2 for f in forms)


#: a proper name in quotation marks inside a title ("ОСУВ «Хортиця»")
_QUOTED_NAME = re.compile(r"[«„“\"]([^»“”\"]{3,40})[»“”\"]")


def _institution_names(title: str) -> list[str]:
    """A title that starts with an institution of the glossary ("Національна гвардія України",
    "ДСНС України") gives its English press forms, with the title's country in front ("Ukraine's
    National Guard", "Ukrainian State Emergency Service") or after it, as wires and official
    English write it ("National Guard of Ukraine"); bare only as an abbreviation ("SSO"): "the
    defence ministry" alone does not say whose. A body the title names in quotation marks is
    written with its name in front, as English does ("ОСУВ «Хортиця»" → "Khortytsia
    operational-strategic group"): the name says whose."""
    from storage.crossscript import leading_term, romanise

    forms = leading_term(title)
    before, after = next(((names, of) for pattern, names, of in _COUNTRIES if pattern.search(title)),
                         _UKRAINE if _a_body(forms) and text_lang(title) == "uk" else ((), None))
    out = [f for f in forms if f.isupper() and len(f) <= 5]
    out += [f"{c} {f}" for f in forms for c in before if not f.isupper()]
    if after:
        out += [f"{f} of {after}" for f in forms if not f.isupper()]
    named = _QUOTED_NAME.search(title) if forms else None
    if named and _name_like(named.group(1)):
        spelled = [n for n in romanise(named.group(1).strip()) if n.isascii()]
        out += [f"{n} {f}" for n in spelled for f in forms if not f.isupper()]
    return out


def effective(defaults_: Sequence[str], profile: Iterable[str], stored: Sequence[str],
              removed: Iterable[str]) -> list[str]:
    """A channel's names: defaults, then title/about names, then stored ones; minus the removed
    (case-insensitive), each once."""
    gone = {r.casefold() for r in removed}
    out: dict[str, str] = {}
    for name in (*defaults_, *profile, *stored):
        key = name.casefold()
        if key not in gone and key not in out:
            out[key] = name
    return list(out.values())


def origins(defaults_: Sequence[str], profile: Sequence[str], stored: Sequence[str],
            removed: Iterable[str]) -> list[tuple[str, str]]:
    """``effective`` with where each name comes from: "default", "title" or "stored"."""
    where: dict[str, str] = {}
    for origin, names in (("default", defaults_), ("title", profile), ("stored", stored)):
        for n in names:
            where.setdefault(n.casefold(), origin)
    return [(n, where[n.casefold()]) for n in effective(defaults_, profile, stored, removed)]


def with_added(stored: Sequence[str], removed: Sequence[str], name: str,
               ) -> tuple[list[str], list[str]]:
    """(stored, removed) after ``alias add``: the name is stored (once) and no longer removed."""
    key = name.casefold()
    kept = [n for n in stored if n.casefold() != key]
    return [*kept, name], [n for n in removed if n.casefold() != key]


def with_removed(stored: Sequence[str], removed: Sequence[str], name: str,
                 inherited: Iterable[str]) -> tuple[list[str], list[str]] | None:
    """(stored, removed) after ``alias remove``, or None when the channel has no such name. A
    default or title name (``inherited``) is remembered as removed, so it stays hidden."""
    key = name.casefold()
    in_stored = any(n.casefold() == key for n in stored)
    inherits = any(n.casefold() == key for n in inherited)
    if (not in_stored and not inherits) or any(n.casefold() == key for n in removed):
        return None
    left = [n for n in stored if n.casefold() != key]
    return left, ([*removed, name] if inherits else list(removed))
