"""Offline language detection that tells Ukrainian from Russian (pure: text in, ISO 639-1 out).

Statistical detectors confuse uk and ru on short posts because the two share most of the alphabet, so
letters that exist in only one of them (uk: і ї є ґ, ru: ы э ъ ё) decide when present; lingua, limited to
the languages these channels and the press actually use, decides the rest. URLs, @mentions, #hashtags,
emoji and digits are stripped first: they carry no language and make short posts look like English.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

#: Languages we tell apart; a small set is faster and far more accurate on short texts than "all".
LANGUAGES: tuple[Language, ...] = (
    Language.ENGLISH, Language.UKRAINIAN, Language.RUSSIAN, Language.BELARUSIAN,
    Language.BULGARIAN, Language.SERBIAN, Language.MACEDONIAN, Language.KAZAKH,
    Language.POLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.ITALIAN,
    Language.PORTUGUESE, Language.DUTCH, Language.CZECH, Language.SLOVAK, Language.ROMANIAN,
    Language.HUNGARIAN, Language.LITHUANIAN, Language.LATVIAN, Language.ESTONIAN,
    Language.FINNISH, Language.SWEDISH, Language.TURKISH, Language.ARABIC, Language.HEBREW,
    Language.PERSIAN, Language.GEORGIAN, Language.ARMENIAN, Language.CHINESE, Language.JAPANESE,
    Language.KOREAN,
)
_CYRILLIC_LANGS = tuple(
    lang for lang in LANGUAGES
    if lang in (Language.UKRAINIAN, Language.RUSSIAN, Language.BELARUSIAN, Language.BULGARIAN)
)  # Serbian/Macedonian/Kazakh lose to these on the short slang posts these channels carry

_UK_ONLY = frozenset("іїєґІЇЄҐ")
_RU_ONLY = frozenset("ыэъёЫЭЪЁ")
# Typical share of those letters among all letters (і alone is ~5.5% of Ukrainian text, ы ~1.9% of
# Russian); dividing by them compares the two counts fairly in a post that mixes both languages.
_UK_RATE = 0.07
_RU_RATE = 0.023

_NOISE = re.compile(
    r"(?:https?://|www\.)\S+"  # URLs
    r"|\b[\w.-]+\.(?:com|org|net|ua|ru|me|io|info)(?:/\S*)?"  # bare domains (t.me/x, site.ua)
    r"|[@#][\w_]+"  # mentions and hashtags
    r"|\S+@\S+\.\S+",  # e-mail addresses
    re.IGNORECASE,
)
_APOSTROPHES = frozenset("'’ʼ`")
#: Fewer letters than this is not a language (a lone "ok", "Z", a name).
MIN_LETTERS = 3


def clean_text(text: str) -> str:
    """Only the words: no URLs, mentions, hashtags, emoji, digits or punctuation."""
    text = _NOISE.sub(" ", text)
    out = []
    for ch in text:
        if ch.isalpha() or (ch in _APOSTROPHES):
            out.append(ch)
        elif unicodedata.category(ch).startswith("M") and out and out[-1].isalpha():
            out.append(ch)  # combining accents belong to their letter
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u052f"


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "\u00c0" <= ch <= "\u024f"


#: Below this many letters a Cyrillic post is judged between uk and ru only: "Ще одна атака" reads as
#: Bulgarian to a statistical model, but on these channels it is (far more likely) Ukrainian.
SHORT_CYRILLIC = 40


#: Latin-script texts shorter than this get a second, high-accuracy look (see detect_language).
SHORT_LATIN = 120


@lru_cache(maxsize=16)
def _detector(langs: tuple[Language, ...], low_accuracy: bool = False) -> LanguageDetector:
    """Built once per language set (lingua loads its models lazily); a model, not a client.

    High-accuracy models for all of LANGUAGES take ~8 s to load, low-accuracy ones ~0.2 s; so the
    broad pass is low-accuracy and only a short text's verdict is re-checked with two full models.
    """
    b = LanguageDetectorBuilder.from_languages(*langs)
    return (b.with_low_accuracy_mode() if low_accuracy else b).build()


def _broad(text: str, letters: int) -> Language | None:
    lang = _detector(LANGUAGES, True).detect_language_of(text)
    if lang is not None and lang != Language.ENGLISH and letters < SHORT_LATIN:
        # short texts are where the low-accuracy mode errs; "English or not" is what matters most
        lang = _detector((Language.ENGLISH, lang)).detect_language_of(text)
    return lang


def _iso(lang: Language | None) -> str | None:
    return None if lang is None else lang.iso_code_639_1.name.lower()


def uk_or_ru(text: str) -> str | None:
    """The script heuristic alone: 'uk', 'ru', or None when no telling letter is present."""
    uk = sum(ch in _UK_ONLY for ch in text)
    ru = sum(ch in _RU_ONLY for ch in text)
    if not uk and not ru:
        return None
    return "uk" if uk / _UK_RATE >= ru / _RU_RATE else "ru"


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the main language of a post, or None when there are no words to judge."""
    words = clean_text(text or "")
    letters = [ch for ch in words if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return None
    cyr = sum(_is_cyrillic(ch) for ch in letters)
    lat = sum(_is_latin(ch) for ch in letters)
    if cyr and cyr >= lat:
        # a Cyrillic post, maybe with English names or quotes: judge only its Cyrillic words
        cyr_words = " ".join(w for w in words.split() if any(_is_cyrillic(c) for c in w))
        if "ў" in cyr_words.lower():
            return "be"  # only Belarusian has ў (it also has і, which would read as Ukrainian)
        by_script = uk_or_ru(cyr_words)
        if by_script:
            return by_script
        short = sum(ch.isalpha() for ch in cyr_words) < SHORT_CYRILLIC
        langs = (Language.UKRAINIAN, Language.RUSSIAN) if short else _CYRILLIC_LANGS
        return _iso(_detector(langs).detect_language_of(cyr_words))
    if lat and lat > len(letters) / 2:
        latin_words = " ".join(w for w in words.split() if all(_is_latin(c) for c in w))
        return _iso(_broad(latin_words, lat))
    return _iso(_broad(words, len(letters)))
