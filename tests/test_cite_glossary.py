"""One bilingual glossary for translation and citation matching: rows marked ``match`` or ``unit``
(and the ``en`` press forms) are read only by the citation keys (storage.crossscript), never put in
place of a word before translation nor counted in the translation glossary's version; a real
untranslated Ukrainian post is found from an English article through its unit and glossary keys."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cite import pipeline
from bot.cite.detect import ArticleInput
from bot.config import load_settings
from bot.errors import ConfigError
from bot.translate.glossary import Glossary, Term, default_terms, parse_csv
from storage import posts
from storage.crossscript import term_keys
from storage.db import Database
from storage.models import Post
from tests.conftest import shared_data

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
KKRUGLIK = "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
#: a real DeepState post: "the 72nd Mechanised Brigade struck an enemy tank in the south of
#: Pavlivka; more in the summary" (no translation is stored)
CITED = ("DeepStateUA", 14701)


def test_the_fourth_column_is_parsed_and_checked() -> None:
    [t] = parse_csv("бригад*,brigade,uk,unit\n", "g.csv")
    assert (t.source, t.target, t.lang, t.use) == ("бригад*", "brigade", "uk", "unit")
    with pytest.raises(ConfigError, match=r"g\.csv line 1"):
        parse_csv("бригад*,brigade,uk,maybe\n", "g.csv")


def test_translation_leaves_matching_rows_alone() -> None:
    g = Glossary(default_terms())
    text = "Бійці 110-ї окремої механізованої бригади знищили окупантів, повідомили ЗСУ."
    protected = g.protect(text, "uk")
    assert "бригади" in protected and "окупантів" in protected  # match/unit rows: untouched
    assert "AFU" in protected  # a translation row still applies
    assert all(t.use == "" for t in g.for_lang("uk"))
    assert "Генштаб" not in g.entries("uk") and "ЗСУ" in g.entries("uk")  # DeepL's: the same


def test_matching_rows_leave_the_translation_glossary_version_alone() -> None:
    """Stored translations carry the version: rows translation never applies must not make them
    look out of date."""
    terms = default_terms()
    assert any(t.use for t in terms) and any(t.lang == "en" for t in terms)
    translating = [t for t in terms if not t.use and t.lang != "en"]
    assert Glossary(terms).version == Glossary(translating).version
    more = [*terms, Term("Ураган*", "Uragan", "uk", "match"), Term("Uragan*", "Uragan", "en")]
    assert Glossary(more).version == Glossary(terms).version
    assert Glossary([*terms, Term("Ураган*", "Uragan", "uk")]).version != Glossary(terms).version


@pytest.mark.parametrize(("post", "article", "key"), [
    ("Бійці 110-ї окремої механізованої бригади", "the 110th Separate Mechanised Brigade",
     "xu110brigade"),
    ("Франківські бійці із 72 ОМБр", "Ukraine's 72nd Mechanized Brigade", "xu72brigade"),
    ("воїни 47 OМБр", "the 47th Brigade", "xu47brigade"),  # a Latin O typed in the abbreviation
    ("рота 10-го танкового полку", "Russia's 10th Tank Regiment", "xu10regiment"),
    ("18-ту та 25-ту загальновійськові армії", "the 18th and 25th combined arms armies",
     "xu25army"),
    # a unit's number as its capitalised ordinal word, as units are named in titles and the press
    ("Третя окрема штурмова бригада", "Ukraine's Third Separate Assault Brigade said",
     "xu3brigade"),
    ("бійці Першої президентської бригади", "the 1st Presidential Brigade", "xu1brigade"),
    # the abbreviations of the Armed Forces' unit types: mountain assault, air assault, tank,
    # artillery, mechanised ("8 ОГШБ", the 8th Separate Mountain Assault Battalion's own title)
    ("8 ОГШБ", "The 8th Separate Mountain Assault Battalion wrote on Telegram", "xu8battalion"),
    ("бійці 10 ОГШБр «Едельвейс»", "Ukraine's 10th Mountain Assault Brigade", "xu10brigade"),
    ("воїни 1 ОТБр", "the 1st Tank Brigade", "xu1brigade"),
    ("артилеристи 44 ОАБр", "the 44th Artillery Brigade", "xu44brigade"),
    ("бійці 28 ОДШБ", "the 28th air assault battalion", "xu28battalion"),
    ("За даними ГУР МО", "Ukraine's Main Directorate of Intelligence said", "xghur"),
    ("Генеральний штаб ЗСУ повідомив", "the General Staff said", "xggeneralstaff"),
    ("ворог випустив 21 крилату ракету", "Russia fired 21 cruise missiles", "xgcruisemissile"),
])
def test_a_post_term_meets_its_english_form(post: str, article: str, key: str) -> None:
    assert key in term_keys(post, "cyrillic") and key in term_keys(article, "latin")


def test_an_ordinal_in_prose_is_no_unit_number() -> None:
    """"a second brigade arrived" is another brigade, not the Second: only a capitalised ordinal
    (a unit's name) is its number."""
    assert not any(k.startswith("xu") for k in term_keys("a second brigade arrived", "latin"))
    assert not any(k.startswith("xu") for k in term_keys("друга бригада прибула", "cyrillic"))


def test_a_term_is_told_by_the_words_that_wrote_it() -> None:
    """The words an alert shows for a term are the ones at its place, not an earlier word that
    starts the same way."""
    text = ("Ukrainian strongholds fell.\nMOSCOW. Russian paratroopers struck positions of the "
            "Ukrainian armed forces in a forest")
    assert term_keys(text, "latin") == {"xgafu": "Ukrainian armed forces"}


def test_a_glossary_hit_spans_exactly_its_words_in_real_texts() -> None:
    """Each glossary source found in a real article or post starts where its first word starts
    and ends where its last word ends, with as many words between as the source has (the words are
    placed in the text by ``str.find``, not by a second regex pass)."""
    import json

    from storage import crossscript

    with shared_data(KKRUGLIK).open(encoding="utf-8") as f:
        texts = [("cyrillic", row["message_text"]) for row in csv.DictReader(f)]
    texts += [("latin", "\n" + json.loads(line)["text"]) for line in shared_data(
        "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl").open(
        encoding="utf-8")]
    hits = 0
    for script, text in texts:
        spans = [m.span() for m in crossscript._TOKEN.finditer(text)]
        for entry, start, end in crossscript._glossary_hits(text, crossscript._matchers()[script]):
            inside = [(a, b) for a, b in spans if start <= a and b <= end]
            assert inside[0][0] == start and inside[-1][1] == end, text[start:end]
            assert len(inside) == len(entry.words), text[start:end]
            hits += 1
    assert hits > 1000


def test_latin_words_are_those_of_the_plain_patterns() -> None:
    """``crossscript._LATIN_NAME`` and ``_LOWER_WORD`` open with the letter (``re`` skips to it in
    C): the same matches as their ``\\b…`` forms on the real articles, as written and lower-cased,
    and on edge cases."""
    import json
    import re

    from storage import crossscript

    texts = ["\n" + json.loads(line)["text"] for line in shared_data(
        "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl").open(
        encoding="utf-8")]
    texts += ["Kyiv", "aKyiv Kyiv", "_Kyiv 1Kyiv", "ЖKyiv", "O'Brien’s", "X", "-Kherson-Oblast"]
    texts += [t.lower() for t in texts]
    for fast, plain in ((crossscript._LATIN_NAME, r"\b[A-Z][a-zA-Z'’-]+"),
                        (crossscript._LOWER_WORD, r"\b[a-z][a-z'’-]+\b")):
        found = 0
        for t in texts:
            want = [(m.span(), m.group()) for m in re.finditer(plain, t)]
            assert [(m.span(), m.group()) for m in fast.finditer(t)] == want, t[:200]
            found += len(want)
        assert found > 10_000


def test_a_year_or_a_count_is_not_a_unit_number() -> None:
    keys = term_keys("In 2022 the brigade; 1,200 troops of the army; 3.5 regiments", "latin")
    assert not [k for k in keys if k.startswith("xu")]


def test_different_units_do_not_meet() -> None:
    assert not set(term_keys("72 ОМБр", "cyrillic")) & set(term_keys("the 73rd Brigade", "latin"))
    assert not set(term_keys("72 полк", "cyrillic")) & set(term_keys("the 72nd Brigade", "latin"))


ARTICLE = (
    "Ukraine's 72nd Mechanized Brigade struck a Russian tank on the southern edge of Pavlivka, "
    "DeepState said on Telegram late on Thursday, promising more detail in its evening summary."
    "\n\nPavlivka, south-west of Vuhledar in the Donetsk region, has seen weeks of Russian "
    "assaults. Moscow has thrown marines and mobilised reservists at the Ukrainian lines there, "
    "and analysts say the losses of the 155th Marine Brigade have been among the heaviest of the "
    "war.\n\nKyiv has not disclosed its own casualties."
)
#: the same event told by the General Staff: no channel of the store is named
OTHER_SOURCE = ARTICLE.replace("DeepState said on Telegram late on Thursday",
                               "Ukraine's General Staff said late on Thursday")


async def _store_real_posts(db: Database, cited: tuple[str, int] = CITED) -> Post:
    """Every real post of the shared file, untranslated (the store an analyst would have); returns
    the cited one."""
    with shared_data(KKRUGLIK).open(encoding="utf-8") as f:
        rows = {r["from"]: r for r in csv.DictReader(f) if r["message_text"].strip()}
    stored = []
    for url, r in rows.items():
        channel, mid = url.rstrip("/").rsplit("/", 2)[-2:]
        stored.append(Post(channel, int(mid), datetime.fromisoformat(r["message_date"]),
                           r["message_text"]))
    await posts.upsert_many(db, stored)
    return next(p for p in stored if (p.channel, p.message_id) == cited)


async def test_an_untranslated_post_is_found_by_its_unit_and_alerts_while_another_source_does_not(
    db: Database, tmp_path: Path,
) -> None:
    cited = await _store_real_posts(db)
    settings = load_settings({"CITEWATCH_DB": str(tmp_path / "citewatch.db"), "CHANNELS": ""},
                             dotenv_path=None)
    when = cited.date + timedelta(hours=9)
    art = ArticleInput(text=ARTICLE, published=when, url="https://news.example/pavlivka")
    assert "xu72brigade" in pipeline._query(art, settings)[0]  # the unit's key is looked up
    found = {(r.post.channel.lower(), r.post.message_id): r.found
             for r in await pipeline.find_citations(db, art, settings)}
    hit = found[("deepstateua", 14701)]
    assert hit.score >= THRESHOLD
    assert [k for k, f in found.items() if f.score >= THRESHOLD] == [("deepstateua", 14701)]
    shared = next(e for e in hit.evidence if e["kind"] == "shared")
    assert shared["units"] == ["72nd Brigade"]  # the alert says which unit
    mention = next(e for e in hit.evidence if e["kind"] == "mention")
    assert "only post" in mention["text"]  # and that it is the channel's only post telling them
    assert "pavlavk" in shared["keys"]  # and which name, by its transliteration key

    other = ArticleInput(text=OTHER_SOURCE, published=when, url="https://news.example/pavlivka2")
    again = {(r.post.channel.lower(), r.post.message_id): r.found.score
             for r in await pipeline.find_citations(db, other, settings)}
    assert again.get(("deepstateua", 14701), 0.0) < THRESHOLD
    assert all(score < THRESHOLD for score in again.values())


#: a real SSO post (no translation stored): "SSO operators destroyed two Russian BMDs with the
#: paratroopers inside on the Kherson axis"; the article names the SSO, then a long background
#: full of names, as wire copy does
SSO_ARTICLE = (
    "Ukraine's Special Operations Forces said on Thursday that operators of a tactical group burned "
    "out two Russian airborne BMD vehicles, paratroopers and all, on the Kherson front, in a "
    "Telegram post with a video.\n\n"
    "The news came as Moscow's troops were pulling out of the right bank of the Dnipro. Britain's "
    "Ministry of Defence said in its daily update that Russia had blown up bridges behind its "
    "retreating units, while Nato's secretary-general Jens Stoltenberg urged caution in Brussels. "
    "In Washington, Pentagon spokesman Pat Ryder said new HIMARS deliveries were on schedule, and "
    "in Ankara, Recep Tayyip Erdogan offered to host talks. Oleksiy Reznikov and Andriy Yermak met "
    "Jake Sullivan in Kyiv; Sergei Shoigu and Sergei Surovikin were shown on Russian television "
    "discussing the withdrawal near Nova Kakhovka, Beryslav and Snihurivka."
)


async def test_an_attributed_glossary_term_is_looked_up_behind_many_names(
    db: Database, tmp_path: Path,
) -> None:
    """Names of the background paragraphs fill the name keys; the term by the attribution ("Special
    Operations Forces") still gets its own lookup, so the untranslated post is compared at all."""
    cited = await _store_real_posts(db, ("ukr_sof", 349))
    settings = load_settings({"CITEWATCH_DB": str(tmp_path / "citewatch.db"), "CHANNELS": ""},
                             dotenv_path=None)
    art = ArticleInput(text=SSO_ARTICLE, published=cited.date + timedelta(hours=6),
                       url="https://news.example/sso")
    terms = pipeline._query(art, settings)[0]
    names = [t for t in terms if t.startswith("xn")]
    assert len(names) >= 12 and "xgsso" in terms
    assert not {"xntharsd", "xntalahram"} & set(terms)  # no day, month or "Telegram" key
    compared = {(r.post.channel.lower(), r.post.message_id)
                for r in await pipeline.find_citations(db, art, settings)}
    assert ("ukr_sof", 349) in compared


async def test_the_migration_adds_unit_and_term_keys_to_posts_stored_before(tmp_path: Path) -> None:
    """A database whose posts were indexed before the glossary keys: opening it adds them, so the
    English unit and term reach the Ukrainian post."""
    import sqlite3

    from storage import search_index
    from storage.db import migrate
    from storage.migrations import MIGRATIONS
    from storage.wordforms import normal_words

    text = "💀72 ОМБр нанесла удар по ворожому танку на півдні Павлівки. Генштаб мовчить."
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        # the schema just before the migration that adds the keys, whatever comes after it
        migrate(conn, MIGRATIONS.index(search_index.add_glossary_keys))
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'DeepStateUA', '')")
        conn.executemany(
            "INSERT INTO posts (id, channel_id, message_id, date, text, lang, stored_at, words)"
            " VALUES (?, 1, ?, '2022-11-17T21:00:58+00:00', ?, 'uk', '', ?)",
            [(1, 14701, text, normal_words(text)),
             (2, 14702, "no keys here", search_index.post_words("no keys here"))])
        search_index.index_new(conn)
        assert not conn.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'xu72brigade'"
                                ).fetchall()
    db = await Database.open(path)
    try:
        for key in ("xu72brigade", "xggeneralstaff", "xnpavlavk"):
            assert await db.fetchval("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?",
                                     (key,)) == 1
        assert await db.fetchval("SELECT words FROM posts WHERE id = 2") == search_index.post_words(
            "no keys here")
    finally:
        await db.close()


def test_the_glossary_terms_a_post_and_an_article_share_are_told_but_weigh_nothing() -> None:
    """"ГУР" and "military intelligence" found the post (the same key): the alert says so, and the
    score is what the names and units make of it, with or without the term."""
    from bot.cite.detect import CandidatePost, detect

    post = CandidatePost("DIUkraine", 2100, datetime.fromisoformat("2023-03-27T15:00:00+00:00"),
                         "Снайпери ГУР та бійці 110-ї бригади знищують окупантів під Бахмутом.")
    text = ("Snipers of Ukraine's military intelligence and the 110th Brigade are killing Russian "
            "occupiers near Bakhmut, according to a video.")
    when = post.date + timedelta(hours=5)

    def shared(article: str) -> dict:
        [found] = detect(ArticleInput(text=article, published=when), [post])
        return next(e for e in found.evidence if e["kind"] == "shared")

    with_term = shared(text)
    # Bakhmut is told as a name (its key bahmat), not again as a term
    assert with_term["terms"] == ["hur", "occupiers"] and "(no weight)" in with_term["text"]
    without = shared(text.replace("Ukraine's military intelligence", "a unit"))
    assert without["terms"] == ["occupiers"] and without["weight"] == with_term["weight"]


def test_a_headline_in_title_case_gives_no_names() -> None:
    from storage.crossscript import article_keys

    keys = article_keys("Video Shows Intelligence Snipers Hunting Troops Near Bakhmut\n"
                        "The snipers were filmed near Bakhmut, officials in Kyiv said.")
    assert "xnbahmat" in keys and "xnsnapars" not in keys and "xnhantanh" not in keys


def test_a_translated_post_meets_the_article_by_its_numbered_unit() -> None:
    """The machine translation writes "the 110th separate mechanized brigade", the journalist
    "the 110th Brigade": the same unit (its key), not a bare shared 110."""
    from bot.cite.detect import CandidatePost, detect

    post = CandidatePost("GeneralStaffZSU", 7400, datetime.fromisoformat("2023-10-20T09:00:00+00:00"),
                         "Бійці 110-ї окремої механізованої бригади відбили 12 атак біля Авдіївки.",
                         "Soldiers of the 110th separate mechanized brigade repelled 12 attacks near "
                         "Avdiivka.")
    article = ArticleInput(text="Ukraine's 110th Brigade beat back a dozen assaults on Avdiivka "
                                "overnight, with 12 attacks repelled, officials said.",
                           published=post.date + timedelta(hours=6))
    [found] = detect(article, [post])
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert shared["cross_units"] == ["110brigade"] and "110th Brigade" in shared["units"]
    assert "110" not in shared["numbers"]  # counted once, as the unit


def test_an_untranslated_post_telling_the_unit_is_compared_among_many_translated_ones() -> None:
    """Fifteen translated posts that share a few ordinary words with the article do not crowd
    out of the comparison the untranslated post that tells its numbered unit and village."""
    from bot.cite.detect import MAX_COMPARED, CandidatePost, detect

    when = datetime.fromisoformat("2023-04-20T21:41:00+00:00")
    cited = CandidatePost("DeepStateUA", 16368, when,
                          "Вчора дві БМП виїхали з Пісків до моста, але в хлопців з 59 ОМПБр були "
                          "інші плани.", post_id=16368)
    # each shares three of the article's ordinary words, no two the same three (none is common)
    pool = ["soldiers", "separate", "motorized", "infantry", "stopped", "vehicles", "drove",
            "bridge", "project", "towards", "attempt", "edge"]
    others = [CandidatePost("GeneralStaffZSU", 8000 + i, when - timedelta(hours=i + 1), "Текст",
                            f"Report {i}: {pool[i % 12]}, {pool[(i + 4) % 12]} and "
                            f"{pool[(i + 8) % 12]} were mentioned.", post_id=8000 + i)
              for i in range(MAX_COMPARED + 5)]
    article = ArticleInput(
        text="Soldiers of Ukraine's 59th Separate Motorized Infantry Brigade stopped an attempt by "
             "two infantry vehicles that drove out of Pisky towards a bridge at the edge of the "
             "village, the DeepState project said on Telegram.", published=when + timedelta(hours=10))
    found = {f.post_key: f for f in detect(article, [*others, cited],
                                           aliases_by_channel={"deepstateua": ["DeepState"]})}
    shared = next(e for e in found[("deepstateua", 16368)].evidence if e["kind"] == "shared")
    assert shared["cross_units"] == ["59brigade"]


def test_storage_reads_the_glossary_without_anything_under_bot() -> None:
    """The index computes term keys at write time: storage must not depend on ``bot/``. A fresh
    interpreter that loads the keys has imported no ``bot`` module, and the rows it reads are the
    ones translation reads."""
    import subprocess
    import sys

    code = ("import sys; from storage.crossscript import term_keys; "
            "k = term_keys('Сили спеціальних операцій ЗСУ', 'cyrillic'); "
            "print(sorted(k), [m for m in sys.modules if m == 'bot' or m.startswith('bot.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['xgafu', 'xgsso'] []"
    from storage.glossary import default_terms as storage_terms
    assert storage_terms() == default_terms()
    assert '"storage" = ["data/*.csv"]' in Path("pyproject.toml").read_text()  # shipped in wheels
