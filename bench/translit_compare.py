"""Which transliteration library gives the spellings the English press uses? (prints a table)

    python bench/translit_compare.py

For Ukrainian and Russian place and person names from the war coverage, each library's schemes are
compared with the spellings Reuters/AP/the Kyiv Independent/Meduza use: "exact" counts names whose
romanisation is one of the press spellings (case and apostrophes aside), "key" those whose
``storage.crossscript.name_key`` equals a press spelling's key (what retrieval compares).
The list is the well-known names of the coverage, written down from those outlets' usage.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cyrtranslit
import iuliia
from translitua import UkrainianKMU, translit

from storage.crossscript import name_key

#: (name as written in a post, language, spellings in the English press)
NAMES: list[tuple[str, str, tuple[str, ...]]] = [
    ("Київ", "uk", ("Kyiv",)), ("Харків", "uk", ("Kharkiv",)), ("Запоріжжя", "uk", ("Zaporizhzhia",)),
    ("Бахмут", "uk", ("Bakhmut",)), ("Курахове", "uk", ("Kurakhove",)),
    ("Нова Каховка", "uk", ("Nova Kakhovka",)), ("Авдіївка", "uk", ("Avdiivka",)),
    ("Покровськ", "uk", ("Pokrovsk",)), ("Вугледар", "uk", ("Vuhledar",)),
    ("Часів Яр", "uk", ("Chasiv Yar",)), ("Костянтинівка", "uk", ("Kostiantynivka",)),
    ("Дніпро", "uk", ("Dnipro",)), ("Миколаїв", "uk", ("Mykolaiv",)), ("Херсон", "uk", ("Kherson",)),
    ("Краматорськ", "uk", ("Kramatorsk",)), ("Слов'янськ", "uk", ("Sloviansk",)),
    ("Сирський", "uk", ("Syrskyi", "Syrsky")), ("Буданов", "uk", ("Budanov",)),
    ("Залужний", "uk", ("Zaluzhnyi", "Zaluzhny")), ("Зеленський", "uk", ("Zelensky", "Zelenskyi")),
    ("Синєгубов", "uk", ("Syniehubov", "Synehubov")), ("Стерненко", "uk", ("Sternenko",)),
    ("Мадяр", "uk", ("Madyar",)), ("Вінниця", "uk", ("Vinnytsia",)), ("Одеса", "uk", ("Odesa",)),
    ("Москва", "ru", ("Moscow", "Moskva")), ("Белгород", "ru", ("Belgorod",)),
    ("Курск", "ru", ("Kursk",)), ("Артемовск", "ru", ("Artemovsk",)),
    ("Угледар", "ru", ("Ugledar",)), ("Шойгу", "ru", ("Shoigu",)),
    ("Соловьёв", "ru", ("Solovyov", "Soloviev")), ("Кадыров", "ru", ("Kadyrov",)),
    ("Пригожин", "ru", ("Prigozhin",)), ("Гладков", "ru", ("Gladkov",)),
    ("Рыбарь", "ru", ("Rybar",)), ("Песков", "ru", ("Peskov",)), ("Захарова", "ru", ("Zakharova",)),
    ("Герасимов", "ru", ("Gerasimov",)), ("Медведев", "ru", ("Medvedev",)),
    ("Дегтярёв", "ru", ("Degtyaryov", "Degtyarev")), ("Мариуполь", "ru", ("Mariupol",)),
    ("Северодонецк", "ru", ("Severodonetsk", "Sievierodonetsk")),
    ("Брянск", "ru", ("Bryansk",)), ("Подмосковье", "ru", ("Podmoskovye",)),
]

Scheme = Callable[[str], str]
SCHEMES: dict[str, tuple[Scheme, Scheme]] = {
    # name: (for Ukrainian, for Russian)
    "iuliia wikipedia": (iuliia.WIKIPEDIA.translate, iuliia.WIKIPEDIA.translate),
    "iuliia bgn_pcgn": (iuliia.BGN_PCGN.translate, iuliia.BGN_PCGN.translate),
    "cyrtranslit ua/ru": (lambda s: cyrtranslit.to_latin(s, "ua"),
                          lambda s: cyrtranslit.to_latin(s, "ru")),
    "translitua kmu (uk only)": (lambda s: translit(s, UkrainianKMU), iuliia.WIKIPEDIA.translate),
}


def _plain(s: str) -> str:
    return s.lower().replace("'", "").replace("’", "").replace("ʼ", "")


def main() -> None:
    print(f"{'scheme':<26} {'uk exact':>9} {'uk key':>7} {'ru exact':>9} {'ru key':>7}")
    for name, (uk, ru) in SCHEMES.items():
        got = {"uk": [0, 0, 0], "ru": [0, 0, 0]}
        for word, lang, press in NAMES:
            out = (uk if lang == "uk" else ru)(word)
            g = got[lang]
            g[0] += _plain(out) in {_plain(p) for p in press}
            keys = {" ".join(name_key(w) for w in p.split()) for p in press}
            g[1] += " ".join(name_key(w) for w in out.split()) in keys
            g[2] += 1
        print(f"{name:<26} {got['uk'][0]:>5}/{got['uk'][2]:<3} {got['uk'][1]:>3}/{got['uk'][2]:<3}"
              f" {got['ru'][0]:>5}/{got['ru'][2]:<3} {got['ru'][1]:>3}/{got['ru'][2]:<3}")


if __name__ == "__main__":
    main()
