"""The shared normaliser: forms of one word meet, unknown words fall back to a stem, the index
column holds only forms not already written."""

from __future__ import annotations

import pytest

from storage import wordforms


def meet(a: str, b: str, lang: str | None = None) -> bool:
    return bool(set(wordforms.forms(a, lang)) & set(wordforms.forms(b, lang)))


@pytest.mark.parametrize("a,b", [
    ("Україна", "України"), ("Україна", "Україною"),     # the examples
    ("Макіївка", "Макіївці"),                             # locative of a place name
    ("Запорожье", "Запорожья"), ("Запорожье", "Запорожьем"),
    ("наступають", "наступали"), ("обстріляли", "обстріляти"),  # verbs
    ("зруйнованого", "зруйновані"),                        # adjectives / participles
    ("уничтожили", "уничтожен"), ("войска", "войсками"),
    ("strikes", "striking"),                               # English (translations)
    ("Мар'їнка", "Мар’їнки"),                              # apostrophes, either spelling
    ("ещё", "еще"),                                        # ё folds to е
])
def test_forms_of_one_word_meet(a: str, b: str) -> None:
    assert meet(a, b)


@pytest.mark.parametrize("a,b", [("Україна", "Росія"), ("танк", "танкіст"), ("война", "воин"),
                                 ("strike", "street")])
def test_different_words_stay_apart(a: str, b: str) -> None:
    assert not meet(a, b)


def test_unknown_words_fall_back_to_a_stem() -> None:
    # invented/slang words no dictionary knows: a Snowball stem, never nothing, shared by forms
    for w in ("вагнеровцами", "шмарклюк", "шмарклюка"):
        assert wordforms.forms(w) and all(wordforms.forms(w))
    assert meet("вагнеровцами", "вагнеровцев")
    assert meet("шмарклюка", "шмарклюку")


def test_language_picks_the_dictionary() -> None:
    # "наступали" is Ukrainian and Russian: the text's language decides; alone, both readings
    assert wordforms.forms("наступали", "uk") == ("наступати",)
    assert wordforms.forms("наступали", "ru") == ("наступать",)
    assert set(wordforms.forms("наступали")) == {"наступати", "наступать"}
    assert wordforms.text_lang("Українські військові звільнили село") == "uk"
    assert wordforms.text_lang("Российские войска отступили, это ясно") == "ru"
    assert wordforms.text_lang("Army units") is None


def test_short_words_and_numbers_are_kept_as_written() -> None:
    assert wordforms.forms("ок") == ("ок",)
    assert wordforms.forms("2022") == ("2022",)
    assert wordforms.forms("ЗСУ") == ("зсу",)


def test_normal_words_hold_only_forms_not_written() -> None:
    col = wordforms.normal_words("Україна атакує. Макіївці обстріляли Україну", "Ukraine strikes")
    got = col.split()
    assert "україна" not in got  # written as such: the text column already holds it
    assert {"атакувати", "макіївка", "обстріляти", "strike"} <= set(got)
    assert len(got) == len(set(got))  # each form once
    assert wordforms.normal_words("", "") == ""


def test_version_names_the_dictionaries() -> None:
    assert "pymorphy3-dicts-uk=" in wordforms.VERSION and "PyStemmer=" in wordforms.VERSION


def test_normal_words_are_the_same_in_every_process() -> None:
    """Sorted, not in set order: Python's string hashes differ per process, and a column that came
    out in another order would make a re-import rewrite (and re-index) every unchanged post."""
    import os
    import subprocess
    import sys

    text = "Обстріли Макіївки та Донецька тривають; Україна відповідає. Shelling strikes continued"
    code = f"from storage import wordforms; print(wordforms.normal_words({text!r}))"
    got = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": seed}).stdout
           for seed in ("1", "2", "3", "4")}
    assert len(got) == 1
    col = got.pop().split()
    assert col == sorted(col) == wordforms.normal_words(text).split() and len(col) > 5
