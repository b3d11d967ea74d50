"""Names across scripts: a post's Cyrillic name and the press's Latin spelling get one key."""

from __future__ import annotations

import pytest

from storage.crossscript import article_keys, name_key, post_keys, post_names, romanise


@pytest.mark.parametrize(("post", "press"), [
    ("Нова Каховка", "Nova Kakhovka"), ("Новій Каховці", "Nova Kakhovka"),
    ("Курахове", "Kurakhove"), ("Курахового", "Kurakhove"), ("Курахово", "Kurakhove"),
    ("Бахмуті", "Bakhmut"), ("Артемовск", "Artemovsk"), ("Запоріжжя", "Zaporizhzhia"),
    ("Запорожье", "Zaporizhzhia"), ("Харкові", "Kharkov"), ("Авдеевка", "Avdiivka"),
    ("Зеленського", "Zelensky"), ("Пригожина", "Prigozhin"), ("Одессе", "Odesa"),
])
def test_a_post_name_meets_its_press_spelling(post: str, press: str) -> None:
    assert set(post_keys(post)) & set(article_keys(press)), (post_keys(post), article_keys(press))


def test_different_names_do_not_meet() -> None:
    assert not set(post_keys("Бахмут Херсон")) & set(article_keys("Kramatorsk Pokrovsk"))


def test_romanisation_follows_the_language() -> None:
    assert romanise("Київ") == ("Kyiv",)  # Ukrainian national system
    assert "Solovyov" in romanise("Соловьёв")  # Russian, Wikipedia system
    assert name_key("Kyiv") == ""  # too short to single anything out
    assert article_keys("AFU and HUR said") == ["xgafu", "xghur"]  # the glossary's, not names


def test_post_names_are_names_not_sentence_starts_or_capitals() -> None:
    names = post_names("Окупанти захопили Масютівку. БАХМУТ ніч. Кирило Буданов заявив.\nМАДЯР")
    keys = set().union(*names)
    assert "xnmasatavk" in keys and "xnkaral" in keys and "xnbadanav" in keys
    assert "xnakapant" not in keys and "xnbahmat" not in keys and "xnmadar" not in keys
