"""Pure text features of the detector: both scripts, inflections, numbers, dates, names."""

from __future__ import annotations

from bot.cite import text as tx
from bot.cite.candidates import fts_terms


def test_stems_join_inflections_in_both_scripts() -> None:
    assert tx.content_stems("replenish") == tx.content_stems("replenishment")
    assert tx.content_stems("контингенту")[0] == tx.content_stems("контингент")[0]
    assert tx.content_stems("doesn't want") == ["want"]  # contraction expanded, stop words gone
    assert tx.content_stems("Ёлка") == tx.content_stems("елка")


def test_containment_is_asymmetric() -> None:
    quote = set(tx.content_stems("replenish the composition of the occupation contingent"))
    article = set(tx.content_stems("Troops do not want to replenish the composition of the "
                                   "occupation contingent, a post on Telegram said."))
    assert tx.containment(quote, article) == 1.0
    assert tx.containment(article, quote) < 0.6
    assert tx.containment([], article) == 0.0


def test_skip_bigrams_survive_an_inserted_word() -> None:
    a = tx.shingles(tx.content_stems("occupation contingent composition"))
    b = tx.shingles(tx.content_stems("occupation forces contingent composition"))
    assert ("occupa", "contin") in a & b


def test_numbers_dates_names() -> None:
    assert tx.numbers("1,200 troops, 12 000 shells, 127th brigade, 127-ї бригади, 3.5 km, 7 tanks") == {
        "1200", "12000", "127", "3.5"}
    assert tx.dates("on February 24, 3rd of March, 24 лютого, 5 марта and 09.05") == {
        (2, 24), (3, 3), (3, 5), (5, 9)}
    assert {"budano", "crimea"} <= tx.names("Officials said Kyrylo Budanov visited Crimea.")
    assert "officials" not in tx.names("Officials said Kyrylo Budanov visited Crimea.")


def test_script() -> None:
    assert tx.script_of("Окупанти") == "cyrillic" and tx.script_of("HUR said") == "latin"
    assert tx.script_of("123 !!") == ""


def test_fts_terms_match_how_fts5_stores_tokens() -> None:
    terms = fts_terms("Budanov said the naïve HUR claim about 127 «контингенту» was the 2023 news.")
    assert terms[0] in {"127", "budanov"}
    assert {"naive", "контингенту", "hur", "2023"} <= set(terms)
    assert "the" not in terms and "said" not in terms
    assert len(fts_terms(" ".join(f"word{i}" for i in range(500)))) == 80


def test_fts_terms_put_the_words_attributed_to_telegram_first() -> None:
    from bot.cite.candidates import fts_terms

    article = ("Chancellor Olaf Scholz met President Emmanuel Macron in Paris on Thursday. "
               "They discussed Stoltenberg, Brussels and the Bundeswehr budget at length. "
               "Markets were calm. "
               "In a post on Telegram, the channel wrote that conscripts refuse replenishment. "
               "Nothing else happened. Washington declined to comment.")
    terms = fts_terms(article)
    quoted = max(terms.index(t) for t in ("conscripts", "refuse", "replenishment"))
    assert quoted < min(terms.index(t) for t in ("stoltenberg", "bundeswehr", "washington"))
