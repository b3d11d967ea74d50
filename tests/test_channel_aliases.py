"""Channel press names: the shipped data file, names from the title and about text (stored when the
channel is resolved by Telethon or the web preview), and ``citewatch channels alias``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cite import aliases as names_of
from bot.cite.detect import ArticleInput, Found
from bot.cite.pipeline import aliases, find_citations
from bot.config import DEFAULT_ALIASES, Settings, load_settings
from storage import candidates, channels, posts, translations
from storage.db import Database
from storage.models import Evidence, Post, Translation
from tests.test_telegram_cli import citewatch, tg_env
from tests.tgserver import FakeTelegram

POST_TIME = datetime(2024, 3, 2, 9, 15, tzinfo=UTC)


def test_the_data_file_holds_the_well_known_channels() -> None:
    for channel in ("diukraine", "generalstaffzsu", "deepstateua", "operativnozsu", "mod_russia",
                    "rybar", "solovievlive", "rkadyrov_95"):
        assert DEFAULT_ALIASES[channel], channel
    assert "Budanov" in DEFAULT_ALIASES["diukraine"]
    assert "Kadyrov" in DEFAULT_ALIASES["rkadyrov_95"]


def test_the_data_file_is_package_data() -> None:
    text = Path("pyproject.toml").read_text()
    assert '"bot.cite" = ["data/*.csv"]' in text


def test_a_bad_line_names_the_line() -> None:
    with pytest.raises(names_of.AliasFileError, match=r"x\.csv line 3: expected channel,name"):
        names_of.parse("# c\nrybar,Rybar\nonly-one-cell\n", "x.csv")


@pytest.mark.parametrize(("title", "about", "expected"), [
    ("Рамзан Кадыров", None, ["Рамзан Кадыров", "Ramzan Kadyrov"]),
    ("Оперативний ЗСУ", None, ["Оперативний ЗСУ", "Operatyvnyi ZSU"]),
    ("СОЛОВЬЁВ", None, ["СОЛОВЬЁВ", "Solovyov"]),
    ("Зеленський / Official", None, ["Зеленський", "Zelenskyi", "Zelensky"]),
    ("🇺🇦 Повітряні Сили ЗС України", None, ["Повітряні Сили ЗС України"]),
    ("Бутусов Плюс", None, ["Бутусов Плюс", "Butusov"]),  # the name without "Plus"
    # a war correspondent's title and the pro-war letter: the press writes the surname
    ("Военкор Котенок Z", None, ["Kotenok"]),
    ("Александр Коц", None, ["Aleksandr Kots", "Kots"]),  # a person: the surname alone too
    ("Юрий Котенок", None, ["Yury Kotenok", "Kotenok"]),
    ("Двіж Миколаїв", None, ["Dvizh Mykolaiv"]),  # not a person: no "Mykolaiv" alone (below)
    # an official's title in the official order: surname, given name, patronymic
    ("Аксёнов Сергей Валерьевич", None, ["Sergey Aksyonov", "Aksyonov"]),
    ("Труха⚡️Україна", None, ["Trukha"]),  # a name, then its country: the name alone too
    (None, "Official channel of the Kherson regional administration. News 24/7",
     ["Kherson regional administration"]),
])
def test_names_from_title_and_about(title: str | None, about: str | None,
                                    expected: list[str]) -> None:
    got = names_of.from_profile(title, about)
    for name in expected:
        assert any(name.casefold() == g.casefold() for g in got), (name, got)
    assert "Official" not in got


@pytest.mark.parametrize(("title", "expected", "absent"), [
    ("Національна гвардія України", ["Ukraine's National Guard", "Ukrainian National Guard",
                                     "National Guard of Ukraine"], ["National Guard"]),
    ("ДСНС України", ["Ukraine's State Emergency Service"], ["State Emergency Service"]),
    ("Сили спеціальних операцій ЗСУ", ["SSO", "Ukraine's Special Operations Forces",
                                       "Special Operations Forces of Ukraine"],
     ["Ukraine's AFU", "Armed Forces of Ukraine"]),
    ("Міністерство оборони України", ["Ukraine's Defence Ministry", "Ukraine's Defense Ministry"],
     ["Defence Ministry", "Ministry of Defence"]),
    ("Державна прикордонна служба України", ["Ukraine's border service"], ["border service"]),
    # a body named in quotation marks: its name in front, as English writes it; never bare
    ("ОСУВ «Хортиця»", ["Khortytsia operational-strategic group"],
     ["operational-strategic group", "OSUV"]),
    ("ОТУ «Харків»", ["Kharkiv operational-tactical group"], ["operational-tactical group"]),
    # a region's administration: the region's governor and administration; a city's is not
    ("Одеська обласна військова адміністрація",
     ["Odesa regional governor", "Odesa regional military administration", "Odesa governor"],
     ["governor", "regional governor"]),
    ("Донецька ОДА", ["Donetsk regional administration", "governor of the Donetsk region"], []),
    ("Київська міська військова адміністрація", [],
     ["Kyiv regional governor", "Kyiv governor", "Ukraine's Kyiv"]),
    # a state body's title in Ukrainian that names no country is Ukraine's; in Russian it says
    # nothing of whose (Russia's bodies, and Ukraine's in Russian, title channels so)
    ("Центр протидії дезінформації", ["Ukraine's Center for Countering Disinformation",
                                      "Centre for Countering Disinformation of Ukraine"],
     ["Center for Countering Disinformation"]),
    ("Офіс Генерального прокурора", ["Ukraine's Prosecutor General's Office"],
     ["Prosecutor General's Office"]),
    ("Міноборони", ["Ukraine's Defence Ministry"], ["Defence Ministry"]),
    ("Минобороны", [], ["Ukraine's Defence Ministry", "Russia's Defence Ministry"]),
    # a channel named after the AFU is not the AFU; a title with no institution gives none
    ("Оперативний ЗСУ", [], ["Ukraine's AFU", "Ukrainian Armed Forces of Ukraine"]),
    ("Рыбарь", [], ["Russia's Rybar"]),
    ("Росгвардия", [], ["Rosgvardia of Russia"]),
])
def test_a_title_that_names_an_institution_gives_its_english_forms(
        title: str, expected: list[str], absent: list[str]) -> None:
    """The glossary's English press forms of the institution a title starts with, with the
    title's country in front: "the defence ministry" alone does not say whose."""
    got = names_of.from_profile(title, None)
    assert all(n in got for n in expected), got
    assert not any(n in got for n in absent), got


def _settings(tmp_path: Path) -> Settings:
    """Settings for a test database with no watched channels."""
    return load_settings({"CITEWATCH_DB": str(tmp_path / "citewatch.db"), "CHANNELS": ""},
                         dotenv_path=None)


def _mentions(found: Iterable[Found]) -> list[Evidence]:
    """The mention evidence of citations, in their order."""
    return [e for f in found for e in f.evidence if e["kind"] == "mention"]


async def test_the_institution_named_after_its_country_attributes_a_real_post(
        db: Database, tmp_path: Path) -> None:
    """Wires and official English write "the National Guard of Ukraine said": a real National
    Guard post (no translation stored) is attributed by that form of the title's institution."""
    import csv

    from tests.conftest import shared_data

    kkruglik = shared_data("telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_"
                           "2022-03_2023-05.csv")
    with kkruglik.open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f)
                   if r["from"].rstrip("/").endswith("ngu_war_for_peace/8398"))
    when = datetime.fromisoformat(row["message_date"])
    await posts.upsert_many(db, [Post("ngu_war_for_peace", 8398, when, row["message_text"])])
    await channels.set_resolved(db, "ngu_war_for_peace", tg_id=78, access_hash=1,
                                title="Національна гвардія України", about=None)
    settings = _settings(tmp_path)
    article = ArticleInput(
        text="Gunners of a rapid reaction brigade destroyed a Russian 2S9 Nona self-propelled gun "
             "with its ammunition near Bakhmut, the National Guard of Ukraine said on Telegram, "
             "publishing a video of the strike.",
        published=when.replace(hour=18), url="https://example.com/nona")
    found = await find_citations(db, article, settings)
    mention = _mentions(r.found for r in found)
    assert mention and mention[0]["name"] == "National Guard of Ukraine", found


def test_a_place_in_a_title_is_no_surname() -> None:
    assert "Mykolaiv" not in names_of.from_profile("Двіж Миколаїв", None)
    assert "Kotenok" in names_of.from_profile("Юрий Котенок", None)


def test_a_country_first_is_no_channels_name() -> None:
    # "Ukraine Today": "Today" alone names nothing; nor does a surname-first title without a
    # given name in the middle
    assert "Сьогодні" not in names_of.from_profile("Україна Сьогодні", None)
    assert "Шевченка" not in names_of.from_profile("Проспект Шевченка Вечірній", None)


async def test_an_officials_title_in_the_official_order_attributes_a_post(
        db: Database, tmp_path: Path) -> None:
    """"Аксёнов Сергей Валерьевич": the press writes "Sergei Aksyonov … said on Telegram"."""
    await posts.upsert_many(db, [Post("aksenovo82", 1296, POST_TIME,
                                      "A fire at an ammunition depot near Mayskoye in the Dzhankoi "
                                      "district caused detonations; about 2,000 residents are being "
                                      "evacuated and train traffic is partly suspended.")])
    await channels.set_resolved(db, "aksenovo82", tg_id=78, access_hash=1,
                                title="Аксёнов Сергей Валерьевич")
    settings = _settings(tmp_path)
    article = ArticleInput(
        text="Sergei Aksyonov, the Russian-installed head of Crimea, said on Telegram that a fire "
             "at an ammunition depot near Mayskoye in the Dzhankoi district had caused detonations "
             "and that train traffic was partly suspended.", published=datetime(2024, 3, 2, 15, tzinfo=UTC),
        url="https://example.com/a")
    found = await find_citations(db, article, settings)
    mention = _mentions(r.found for r in found)
    assert mention and mention[0]["name"] == "Aksyonov", found


def test_generic_title_parts_are_not_names() -> None:
    assert names_of.from_profile("News | Official", None) == ("News | Official",) or \
        "Official" not in names_of.from_profile("News | Official", None)
    assert names_of.from_profile("TG", None) == ()


def test_removing_hides_a_default_and_adding_brings_it_back() -> None:
    defaults = ["HUR", "Budanov"]
    stored, removed = names_of.with_added([], [], "Spy Chief")
    assert names_of.effective(defaults, [], stored, removed) == ["HUR", "Budanov", "Spy Chief"]
    got = names_of.with_removed(stored, removed, "budanov", defaults)
    assert got is not None
    stored, removed = got
    assert names_of.effective(defaults, [], stored, removed) == ["HUR", "Spy Chief"]
    assert names_of.with_removed(stored, removed, "Budanov", defaults) is None  # already gone
    assert names_of.with_removed(stored, removed, "Nobody", defaults) is None
    stored, removed = names_of.with_added(stored, removed, "Budanov")
    assert "Budanov" in names_of.effective(defaults, [], stored, removed)


async def test_a_name_from_the_stored_title_attributes_a_post(db: Database, tmp_path: Path) -> None:
    """A personal channel with no built-in aliases: its romanised title names it in the article."""
    await posts.upsert_many(db, [Post("gladkov_vv", 4410, POST_TIME,
                                      "Twelve drones were shot down over Belgorod overnight, one "
                                      "house in the Shebekino district was damaged by debris.")])
    await channels.set_resolved(db, "gladkov_vv", tg_id=77, access_hash=1, title="Вячеслав Гладков",
                                about="Губернатор Белгородской области")
    settings = _settings(tmp_path)
    names = aliases(settings, [], await candidates.channel_aliases(db))["gladkov_vv"]
    assert "Viacheslav Hladkov" in names or "Vyacheslav Gladkov" in names, names
    stored = await channels.get(db, "gladkov_vv")
    assert stored is not None and stored.about == "Губернатор Белгородской области"
    article = ArticleInput(
        text="Belgorod governor Vyacheslav Gladkov said on Telegram that twelve drones were "
             "shot down over Belgorod overnight and a house in Shebekino district was damaged.",
        published=datetime(2024, 3, 2, 15, tzinfo=UTC), url="https://example.com/a")
    found = await find_citations(db, article, settings)
    mention = _mentions(r.found for r in found)
    assert mention and mention[0]["name"] == "Vyacheslav Gladkov", found


async def test_alias_commands_against_a_resolved_channel(env: dict[str, str], srv: FakeTelegram,
                                                         tmp_path: Path) -> None:
    ch = srv.add_channel("RKadyrov_95", title="Рамзан Кадыров")
    ch.about = "Официальный канал Главы Чеченской Республики"
    e = tg_env(env, srv, tmp_path)
    code, out, err = await citewatch(e, "channels", "add", "RKadyrov_95", cwd=tmp_path)
    assert code == 0, err
    code, out, err = await citewatch(e, "channels", "alias", "list", "RKadyrov_95", "--json",
                                     cwd=tmp_path)
    assert code == 0, err
    [row] = json.loads(out)
    got = {a["name"]: a["origin"] for a in row["aliases"]}
    assert got["Kadyrov"] == "default"
    assert got["Ramzan Kadyrov"] == "default"  # the data file has it; the title gives it too
    assert got["Рамзан Кадыров"] == "title"
    assert got["Glavy Chechenskoy Respubliki"] == "title"  # owner named in the about text

    code, out, err = await citewatch(e, "channels", "alias", "add", "@RKadyrov_95",
                                     "Chechen leader", cwd=tmp_path)
    assert code == 0, err
    code, out, err = await citewatch(e, "channels", "alias", "remove", "RKadyrov_95", "kadyrov",
                                     cwd=tmp_path)
    assert code == 0, err
    code, out, err = await citewatch(e, "channels", "alias", "list", "RKadyrov_95", cwd=tmp_path)
    assert code == 0, err
    assert "Chechen leader  (stored)" in out
    assert "  Kadyrov  (" not in out and "removed: kadyrov" in out

    code, out, err = await citewatch(e, "channels", "alias", "remove", "RKadyrov_95", "Nobody",
                                     cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1 and "has no alias 'Nobody'" in err
    code, out, err = await citewatch(e, "channels", "alias", "add", "not_stored", "X", cwd=tmp_path)
    assert code == 2 and "@not_stored is not stored" in err


async def _mention_of(db: Database, tmp_path: Path, post: Post, english: str, title: str,
                      article: str) -> list[Evidence]:
    """The mention evidence of a citation found through the real pipeline: ``post`` stored with
    its English translation and its channel resolved with ``title``; the article two to three
    hours later."""
    await posts.upsert_many(db, [post])
    (post_id,), = await db.fetchall("SELECT id FROM posts")
    await translations.upsert(db, Translation(post_id, "en", "test", english, source_lang="uk"),
                              post.text)
    await channels.set_resolved(db, post.channel, tg_id=79, access_hash=1, title=title,
                                about=None)
    settings = _settings(tmp_path)
    found = await find_citations(db, ArticleInput(
        text=article, published=post.date.replace(hour=22), url="https://example.com/a"), settings)
    return _mentions(r.found for r in found)


async def test_a_regional_administration_is_named_by_its_governor(db: Database,
                                                                  tmp_path: Path) -> None:
    """Wires write "Odesa regional governor Oleh Kiper said", not the channel's Ukrainian title: a
    regional administration's post is attributed through its region's governor."""
    text = ("Ворог завдав балістичного удару по портовій інфраструктурі Одещини. Близько 18:30 рф "
            "атакувала балістичною ракетою цивільне судно під прапором Панами. Загинули 8 людей, "
            "ще 10 людей отримали поранення.")
    mention = await _mention_of(
        db, tmp_path, Post("odeskaODA", 29417, datetime(2024, 10, 9, 19, 40, tzinfo=UTC), text,
                           lang="uk"),
        "The enemy inflicted a ballistic strike on the port infrastructure of Odesa region. About "
        "18:30 the russian federation attacked a civilian ship under the flag of Panama with a "
        "ballistic missile. 8 people died, another 10 people were injured.",
        "Одеська обласна військова адміністрація",
        "A Russian ballistic missile struck a Panama-flagged ship in an Odesa-area port, "
        "killing eight people, Odesa regional governor Oleh Kiper said on Telegram.")
    assert mention and mention[0]["name"] == "Odesa regional governor", mention


async def test_a_governor_named_after_the_region_attributes_the_signed_post(
        db: Database, tmp_path: Path) -> None:
    """"In the northern Chernihiv region, …, Governor Viacheslav Chaus said": the region, then
    "Governor <name>" next to "said" in the same sentence, names the region's administration. The
    governor signs every post of the channel, so his name singles none out: the day before's
    look-alike tally shares it but is not cited."""
    today = datetime(2024, 4, 16, 18, 25, tzinfo=UTC)
    tallies = {
        14972: (today, "За день ворог 27 разів обстріляв прикордоння Чернігівщини. Зафіксовано 64 "
                "вибухи. У Семенівській громаді загинув 58-річний чоловік.\n\nВ'ячеслав Чаус",
                "During the day, the enemy shelled the border of Chernihiv region 27 times. 64 "
                "explosions were recorded. In the Semenivka community, a 58-year-old man died."
                "\n\nVyacheslav Chaus"),
        14950: (today.replace(day=15), "За день ворог 19 разів обстріляв прикордоння Чернігівщини. "
                "Зафіксовано 41 вибух. Пошкоджено будинок.\n\nВ'ячеслав Чаус",
                "During the day, the enemy shelled the border of Chernihiv region 19 times. 41 "
                "explosions were recorded. A house was damaged.\n\nVyacheslav Chaus"),
    }
    await posts.upsert_many(db, [Post("chernigivskaODA", mid, when, text, lang="uk")
                                 for mid, (when, text, _) in tallies.items()])
    await channels.set_resolved(db, "chernigivskaODA", tg_id=80, access_hash=1,
                                title="Чернігівська ОВА", about=None)
    ids = {r[1]: r[0] for r in await db.fetchall("SELECT id, message_id FROM posts")}
    for mid, (_, text, english) in tallies.items():
        await translations.upsert(db, Translation(ids[mid], "en", "test", english,
                                                  source_lang="uk"), text)
    settings = _settings(tmp_path)
    article = ArticleInput(
        text="In the northern Chernihiv region, a man of 58 was killed by a mortar round in the "
             "Semenivka district, Governor Viacheslav Chaus said. Russian forces had attacked the "
             "region's border communities 27 times during the day, causing 64 blasts.",
        published=today.replace(hour=20), url="https://example.com/chernihiv")
    found = {r.found.post_key[1]: r.found for r in await find_citations(db, article, settings)}
    mention = _mentions([found[14972]])
    assert mention and mention[0]["name"] == "Chernihiv governor", found
    assert found[14972].score >= settings.citation_threshold
    assert 14950 not in found or found[14950].score < settings.citation_threshold
    for f in found.values():
        shared = [e for e in f.evidence if e["kind"] == "shared"]
        assert not any("chaus" in n for e in shared for n in (*e["names"], *e["keys"])), f


async def test_a_units_channel_is_named_as_the_press_names_the_unit(db: Database,
                                                                     tmp_path: Path) -> None:
    """A brigade's channel titled "Третя окрема штурмова бригада" is named by "Ukraine's Third
    Separate Assault Brigade said" (the same numbered unit next to "said" in one sentence)."""
    text = ("Штурмовики Третьої відбили масований механізований штурм на Лиманському напрямку. "
            "Знищено 4 танки, 3 БМП. Ворог втратив понад 40 особового складу.")
    mention = await _mention_of(
        db, tmp_path, Post("ab3army", 11084, datetime(2025, 4, 3, 16, 20, tzinfo=UTC), text,
                           lang="uk"),
        "The stormtroopers of the Third repelled a massive mechanized assault in the Lyman "
        "direction. 4 tanks, 3 BMPs were destroyed. The enemy lost more than 40 personnel.",
        "Третя окрема штурмова бригада",
        "Ukraine's Third Separate Assault Brigade said it had beaten back a large Russian "
        "armoured attack near Lyman, knocking out four tanks.")
    assert mention and mention[0]["name"] == "Третя окрема штурмова бригада", mention
