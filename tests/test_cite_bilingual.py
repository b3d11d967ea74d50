"""A Ukrainian post with no stored translation, cited in the journalist's own translation: its
words meet the article's through their English senses (``bot/cite/data/cyrillic_english.csv``),
so the detector compares the two texts word by word as it compares a translation (texts written
for these tests, in the style of a special-forces channel and wire copy)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest

from bot.cite import text as tx
from bot.cite.bilingual import parse_senses, senses
from bot.cite.detect import ArticleInput, CandidatePost, detect
from tests.conftest import shared_data

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
#: the names the channel's title gives (``bot.cite.aliases``)
ALIASES = {"ukr_sof": ["Special Operations Forces", "SSO"]}
POST_TIME = datetime(2023, 3, 14, 9, 30, tzinfo=UTC)
COON = "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
POST = ("На запорізькому напрямку оператори ССО вщент знищили два російські танки та склад "
        "боєприпасів. Під час атаки окупанти намагалися втекти, але їм не вдалося.")
OTHER_POST = ("Оператори ССО знищили російську САУ на бахмутському напрямку. Слава Україні!")
ARTICLE = (
    "Operators of Ukraine's Special Operations Forces (SSO) destroyed two Russian tanks and an "
    "ammunition depot on the Zaporizhzhia axis, the SSO said in a Telegram post.\n\n"
    "During the attack the occupiers tried to flee but failed, the statement said. It did not say "
    "when the strike took place.\n\n"
    "Kyiv has been preparing a counteroffensive in the south for months, and Western officials "
    "say new brigades are being trained abroad."
)
#: the channel's other post, told in the same words of war ("operators", "destroyed", "Russian")
ANOTHER_EVENT = (
    "Operators of Ukraine's Special Operations Forces destroyed a Russian self-propelled gun on "
    "the Bakhmut axis, the SSO said on Telegram, sharing a short video of the strike.\n\n"
    "Kyiv has been preparing a counteroffensive in the south for months, and Western officials "
    "say new brigades are being trained abroad."
)


def candidate(text: str, message_id: int) -> CandidatePost:
    return CandidatePost(channel="ukr_sof", message_id=message_id, date=POST_TIME, text=text,
                         post_id=message_id)


def run(article: str, *cands: CandidatePost) -> dict[int, tuple[float, list[dict[str, object]]]]:
    art = ArticleInput(text=article, published=POST_TIME + timedelta(hours=5))
    found = detect(art, list(cands), aliases_by_channel=ALIASES, window_days=30)
    return {f.post_key[1]: (f.score, f.evidence) for f in found}


def test_an_own_translation_meets_the_untranslated_post_word_by_word() -> None:
    scores = run(ARTICLE, candidate(POST, 349), candidate(OTHER_POST, 350))
    score, evidence = scores[349]
    assert score >= THRESHOLD
    quote = next(e for e in evidence if e["kind"] == "quote")
    assert quote["glossed"] is True and quote["against"] == "original"
    assert "read in English" in str(quote["text"])
    assert "знищили" in str(quote["post_passage"])  # the alert shows the post's words it read
    assert scores.get(350, (0.0, []))[0] < THRESHOLD  # the channel's other post is not it


def test_the_channels_other_post_told_in_the_same_war_words_is_told_apart() -> None:
    scores = run(ANOTHER_EVENT, candidate(POST, 349), candidate(OTHER_POST, 350))
    assert scores.get(349, (0.0, []))[0] < THRESHOLD
    score, evidence = scores[350]  # "САУ" is the "self-propelled gun"
    assert score > scores.get(349, (0.0, []))[0]
    quote = next(e for e in evidence if e["kind"] == "quote")
    assert quote["glossed"] and "САУ" in str(quote["post_passage"])


def test_a_loose_reading_does_not_say_which_of_the_channels_posts_is_meant() -> None:
    # one short sentence of the channel's daily topic ("operators destroyed a Russian ..."): the
    # mention stays halved, as for a post no passage matches, so the post cannot alert
    [(score, evidence)] = run(ANOTHER_EVENT, candidate(OTHER_POST, 350)).values()
    quote = next(e for e in evidence if e["kind"] == "quote")
    mention = next(e for e in evidence if e["kind"] == "mention")
    assert quote["weight"] < 0.3 and mention["weight"] == 0.2
    assert score < THRESHOLD
    # the article that tells POST in full names the same channel: its mention counts in full
    [(score, evidence)] = run(ARTICLE, candidate(POST, 349)).values()
    assert next(e for e in evidence if e["kind"] == "mention")["weight"] == 0.4


def test_inflected_words_read_as_their_senses() -> None:
    got = senses()
    # "знищили" (they destroyed) and "уничтожены" (destroyed) are the lemma the post's words give
    for word, english in (("знищили", "destroyed"), ("уничтожены", "killed"),
                          ("окупантів", "invaders"), ("танки", "tanks")):
        [lemma] = tx.content_stems(word)
        assert tx.stem_set(english) <= got[lemma], word


def test_a_word_on_two_lines_gets_both_senses_and_a_bad_line_is_named() -> None:
    got = parse_senses("# comment\nshore,берег\nbank,берег\n\n-,двома\n")
    assert got[tx.content_stems("берег")[0]] == tx.stem_set("shore bank")
    assert got[tx.content_stems("двома")[0]] == frozenset()  # "two": an English stop word
    with pytest.raises(ValueError, match="line 2"):
        parse_senses("tank,танк\nтанк,tank\n")
    with pytest.raises(ValueError, match="line 1"):
        parse_senses("tank танк\n")


#: a real Russian milblogger post (../shared/data, CoonAndFriends) stored with no translation, and
#: an article telling it in the journalist's own words: "гвардейские части", "присвоил почетное
#: наименование", "спецназовцы и летчики армейской авиации" are "guards units", "awarded the
#: honorary title", "special forces troops and army aviation pilots"
GUARDS_ARTICLE = (
    "Russian President Vladimir Putin has awarded the honorary \"Guards\" title to two more "
    "military units, the pro-Kremlin Telegram channel Svodki reported on Monday.\n\n"
    "According to the channel, the distinction went to the 17th army aviation brigade, part of the "
    "\"O\" group of forces, and to the 2nd separate special-purpose brigade of the Western Military "
    "District. The new guards units are made up of special forces troops and army aviation "
    "pilots, it said.\n\n"
    "The Kremlin has handed out the title, a tradition dating back to the Soviet army, to several "
    "units that fought in Ukraine."
)


def _untranslated(channel: str, message_id: int) -> CandidatePost:
    """A real post of the shared CoonAndFriends file, stored without its translation."""
    with shared_data(COON).open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f)
                   if (r["channel"], r["message_id"]) == (channel, str(message_id)))
    return CandidatePost(channel, message_id, POST_TIME, row["text_original"], None,
                         post_id=message_id)


def test_a_real_russian_post_with_no_translation_is_read_in_the_reporters_words() -> None:
    post, other = _untranslated("swodki", 131753), _untranslated("swodki", 37618)
    art = ArticleInput(text=GUARDS_ARTICLE, published=POST_TIME + timedelta(hours=6))
    found = {f.post_key[1]: f for f in detect(art, [post, other],
                                              aliases_by_channel={"swodki": ["Svodki"]})}
    assert found[131753].score >= THRESHOLD
    quote = next(e for e in found[131753].evidence if e["kind"] == "quote")
    # its own words carry the match, not only its numbers and the channel's name
    assert quote["glossed"] and quote["weight"] >= 0.4
    assert "спецназовцы" in str(quote["post_passage"])
    # the channel's post of the same day about foreign companies leaving Russia is not it
    assert 37618 not in found or found[37618].score < THRESHOLD


def test_the_channels_everyday_words_have_senses() -> None:
    got = senses()
    # reporting verbs, pronouns and the like render as English stop words or nothing: silent
    for word in ("заявил", "сказав", "наш", "очень", "снова", "понад", "станом"):
        [lemma] = tx.content_stems(word)
        assert got[lemma] == frozenset(), word
    for word, english in (("гвардейские", "guards"), ("спецназовцы", "commandos"),
                          ("нефтебазу", "depot"), ("тепловоз", "locomotive"),
                          ("ранее", "previously"), ("разрешение", "permission"),
                          # an agent noun's English stem is not its verb's ("rescuer", "rescu")
                          ("рятувальники", "rescuers"), ("спасатели", "rescuers"),
                          # the forms as the posts write them ("временного", "принято")
                          ("временного", "temporary"), ("принято", "adopted"),
                          ("загиблих", "killed")):
        [lemma] = tx.content_stems(word)
        assert tx.stem_set(english) <= got[lemma], word
    # a form of another word is not read as this one ("брат" is no "брати": to take)
    assert tx.stem_set("capture").isdisjoint(got.get(tx.content_stems("брат")[0], frozenset()))


#: a mayor's short sentences (texts written for this test, in the style of a city head's channel
#: and wire copy): each names too few words to weigh as a passage, the reporter tells two of them
#: in one sentence
MAYOR_POST = ("У столиці зникло світло. В усіх районах відсутня вода. "
              "Прошу киян запастися водою.")
MAYOR_OTHER = "Вибухи в столиці. Сили ППО працюють. Залишайтеся в укриттях!"
MAYOR_ARTICLE = (
    "Russian missiles hit Ukraine's power grid again on Wednesday.\n\n"
    "Power and water were cut in every district of the capital, Kyiv's mayor Vitali Klitschko "
    "said, urging residents to stock up on water.\n\n"
    "The European parliament on Wednesday voted to designate Russia a state sponsor of terrorism."
)


def test_two_short_post_sentences_told_in_one_article_sentence_are_one_passage() -> None:
    when = datetime(2022, 11, 23, 14, 5, tzinfo=UTC)
    posts = [CandidatePost("vitaliy_klitschko", 3127, when, MAYOR_POST, None, post_id=3127),
             CandidatePost("vitaliy_klitschko", 3126, when - timedelta(hours=2), MAYOR_OTHER,
                           None, post_id=3126)]
    art = ArticleInput(text=MAYOR_ARTICLE, published=when + timedelta(hours=3))
    found = {f.post_key[1]: f for f in detect(art, posts, aliases_by_channel={
        "vitaliy_klitschko": ["Klitschko"]})}
    # alone, no sentence of the post weighs enough to be read at all; together the first two
    # are the reporter's sentence
    quote = next(e for e in found[3127].evidence if e["kind"] == "quote")
    assert quote["glossed"] and quote["passage_match"] >= 0.6
    assert "світло" in str(quote["post_passage"]) and "районах" in str(quote["post_passage"])
    # the mayor's other post of the day (explosions, air defence) is not read as it
    other = found.get(3126)
    assert other is None or not any(e["kind"] == "quote" for e in other.evidence)
    assert other is None or other.score < found[3127].score


def test_a_reports_round_figure_meets_the_posts_exact_one() -> None:
    # "понад 220 рятувальників": "more than 200 rescuers" (texts written for this test, in the
    # style of the emergency service's channel); another figure is no rounding of it
    post = ("На місці працюють понад 220 рятувальників та 52 одиниці техніки, кінологи з "
            "пошуковими собаками.")
    when = datetime(2025, 4, 24, 7, 25, tzinfo=UTC)

    def match(figure: str) -> float:
        art = ArticleInput(text=f"More than {figure} rescuers were working at the scene with "
                                f"dogs trained to search rubble and 52 pieces of equipment, the "
                                f"State Emergency Service said.",
                           published=when + timedelta(hours=4))
        [found] = detect(art, [CandidatePost("dsns_telegram", 41877, when, post, None,
                                             post_id=41877)])
        quote = next(e for e in found.evidence if e["kind"] == "quote")
        assert quote["glossed"]
        return quote["passage_match"]

    assert match("200") > match("150")
    assert match("200") == match("220")  # the round figure reads as the exact one
