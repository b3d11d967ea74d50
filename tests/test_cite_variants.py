"""English near-synonyms between a machine translation and a journalist's own translation
("servicemen"/"soldiers", "losses"/"casualties", "retreat"/"withdraw") read as one stem on both
sides: a real translated post meets an article written in the journalist's words, and the groups
never make unrelated words meet."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

import pytest

from bot.cite import text as tx
from bot.cite.detect import ArticleInput, CandidatePost, detect
from bot.cite.variants import parse_groups, variant_groups
from tests.conftest import shared_data

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
COON = "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"


def _real_post(channel: str, message_id: int) -> CandidatePost:
    """A real post of the shared file with its stored Google translation."""
    with shared_data(COON).open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f)
                   if (r["channel"], r["message_id"]) == (channel, str(message_id)))
    return CandidatePost(channel, message_id, datetime.fromisoformat(row["date"] + "T12:00:00+00:00"),
                         row["text_original"], row["text_en_google"])


#: Sladkov's post in a journalist's own words: the MT's "fighting, suffering losses, they have
#: nowhere to retreat" is "in combat, taking casualties, with nowhere to withdraw" here
ARTICLE = (
    "Russian border guards who have taken part in the war in Ukraine will now be granted veteran "
    "status under a decree signed by Vladimir Putin, the pro-Kremlin war correspondent Alexander "
    "Sladkov wrote on his Telegram channel.\n\n"
    "Sladkov called the decree \"very, very fair\" and said the border guards were \"in combat, "
    "taking casualties, they have nowhere to withdraw\", living in dugouts and setting ambushes "
    "for Ukrainian sabotage groups. He predicted that the border service's role in the war would "
    "grow.\n\n"
    "Russia's FSB border service has guarded the frontier regions of Bryansk, Kursk and Belgorod "
    "since the invasion began in February."
)


def test_a_journalists_synonyms_meet_the_machine_translation() -> None:
    post = _real_post("Sladkov_plus", 5982)
    assert {"fighting", "losses", "retreat"} <= set(tx.words(tx.normalize(post.translation or "")))
    span = tx.stem_set("in combat, taking casualties, they have nowhere to withdraw")
    mt = tx.stem_set("the border guards are fighting, suffering losses, they have nowhere to retreat")
    assert {tx.stem_set(w) for w in ("combat", "casualties", "withdraw")} <= {frozenset({s}) for s in mt}
    assert len(span & mt) >= 4

    art = ArticleInput(text=ARTICLE, published=post.date + timedelta(hours=8))
    [found] = detect(art, [post])
    assert found.score >= THRESHOLD
    quote = next(e for e in found.evidence if e["kind"] == "quote")
    assert "withdraw" in quote["text"]  # the alert shows the journalist's span that matched


@pytest.mark.parametrize(("mt", "journalist"), [
    ("servicemen", "soldiers"), ("occupiers", "invaders"), ("eliminated", "killed"),
    ("UAVs", "drones"), ("mortarmen", "mortar"), ("repulsed", "repelled"),
    ("kilometres", "km"), ("settlement", "village"), ("calculations", "crews"),  # "розрахунок"
    ("warehouse", "depot"), ("stormtroopers", "assault"), ("purchase", "bought"),
    ("previously", "earlier"), ("ruins", "rubble"), ("spotted", "detected"),
])
def test_each_group_reads_as_one_stem(mt: str, journalist: str) -> None:
    assert tx.stem_set(mt) == tx.stem_set(journalist) != frozenset()


def test_words_outside_the_groups_keep_their_own_stem() -> None:
    assert tx.stem_set("soldiers") != tx.stem_set("civilians")
    assert tx.stem_set("killed") != tx.stem_set("wounded")
    # a unit word too: "12 occupiers" and "12 invaders" are one numbered fact, "12 tanks" is not
    assert tx.number_units("12 occupiers") == tx.number_units("12 invaders")
    assert tx.number_units("12 occupiers") != tx.number_units("12 tanks")


def test_the_shipped_groups_parse_and_a_bad_line_is_named() -> None:
    groups = variant_groups()
    assert len(groups) >= 20 and all(len(g) >= 2 for g in groups)
    words = [w for g in groups for w in g]
    assert len(words) == len(set(words))  # no word in two groups
    assert parse_groups("# a comment\n\nsoldier, troops\n") == (("soldier", "troops"),)
    with pytest.raises(ValueError, match="line 2"):
        parse_groups("soldier,troops\nlonely\n")


def test_the_grid_and_the_coast_in_the_press_words_meet_the_machine_translation() -> None:
    """The MT's "energy objects", "hourly shutdowns", "restoration works", "boats … the coast" are
    the press's "power facilities", "outages", "repair crews", "vessels … the coastline": one stem
    each, so an own translation of an Ukrenergo or a naval post meets the stored MT."""
    mt = tx.stem_set("the equipment of energy objects was damaged; schedules of hourly shutdowns; "
                     "restoration works started; the boats protected the coast at the pier")
    press = tx.stem_set("power facilities were damaged; scheduled outages; repair crews began "
                        "work; vessels patrolled the coastline at the jetty")
    for mt_word, press_word in (("energy", "power"), ("objects", "facilities"),
                                ("shutdowns", "outages"), ("restoration", "repair"),
                                ("boats", "vessels"), ("coast", "coastline"), ("pier", "jetty")):
        assert tx.stem_set(mt_word) == tx.stem_set(press_word), (mt_word, press_word)
    assert len(mt & press) >= 7


def test_british_spellings_in_wire_copy_meet_the_machine_translations_american() -> None:
    """Reuters and the Guardian write "city centre", "theatre", "programme", "metres", "grey"; a
    machine translation writes "center", "theater", "program", "meters", "gray": one stem each."""
    for us, uk in (("center", "centre"), ("theater", "theatre"), ("program", "programme"),
                   ("meters", "metres"), ("liters", "litres"), ("gray", "grey"),
                   ("maneuver", "manoeuvre"), ("caliber", "calibre"), ("fiber", "fibre")):
        assert tx.stem_set(us) == tx.stem_set(uk) != frozenset(), (us, uk)
    mt = "Debris fell near the theater in the city center; traffic in the center is blocked."
    wire = "Debris fell near the city's theatre, and roads in the centre were closed."
    assert {"theater", "center"} <= tx.stem_set(mt) & tx.stem_set(wire)
