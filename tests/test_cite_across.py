"""Citations of posts no passage can match: Ukrainian posts with no stored translation, cited by an
English article that names the channel and the post's places (texts written for these tests, in
the style of DeepState posts and wire coverage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cite import pipeline
from bot.cite.detect import ArticleInput, CandidatePost, detect
from bot.config import DEFAULT_ALIASES, load_settings

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
POST_TIME = datetime(2023, 11, 30, 17, 40, tzinfo=UTC)
POST = ("Окупанти захопили Масютівку на Куп'янському напрямку та просунулися біля Синьківки "
        "і Петропавлівки. Ситуація на напрямку складна, ворог накопичує сили.")
OTHER_POST = ("Оновлено карту в районі Авдіївки: противник просунувся біля Степового. "
              "Ситуація складна.")
ARTICLE = (
    "Russian forces have seized the village of Masiutivka in the Kupiansk direction and pushed "
    "forward near Synkivka and Petropavlivka, according to DeepState, a Ukrainian group that "
    "tracks the front line on Telegram. The situation in the area is difficult and the enemy is "
    "building up its forces, the group said.\n\nKupiansk was liberated by Ukraine in September "
    "2022, but Russian troops have since tried to push back toward the Oskil River."
)


def candidate(text: str, message_id: int, translation: str | None = None) -> CandidatePost:
    return CandidatePost(channel="DeepStateUA", message_id=message_id, date=POST_TIME, text=text,
                         translation=translation, post_id=message_id)


def run(article: str, *cands: CandidatePost) -> dict[int, float]:
    art = ArticleInput(text=article, published=POST_TIME + timedelta(hours=14),
                       url="https://example.com/ukraine-war")
    found = detect(art, list(cands), aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    return {f.post_key[1]: f.score for f in found}


def test_an_untranslated_post_is_cited_through_its_names_and_the_attribution() -> None:
    art = ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14), url="https://x.org/a")
    [found] = [f for f in detect(art, [candidate(POST, 16410), candidate(OTHER_POST, 16300)],
                                 aliases_by_channel=DEFAULT_ALIASES, window_days=30)
               if f.post_key[1] == 16410]
    assert found.score >= THRESHOLD
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert {"masatavk", "sankavk", "patrapavlavk"} <= set(shared["keys"])  # Masiutivka, Synkivka…
    mention = next(e for e in found.evidence if e["kind"] == "mention")
    assert mention["name"] == "DeepState" and mention["weight"] >= 0.35  # not halved


def test_the_channels_other_post_is_not_cited() -> None:
    scores = run(ARTICLE, candidate(POST, 16410), candidate(OTHER_POST, 16300))
    assert scores.get(16300, 0.0) < THRESHOLD


def test_without_the_attribution_the_names_alone_do_not_alert() -> None:
    unattributed = ARTICLE.replace("according to DeepState, a Ukrainian group that tracks the "
                                   "front line on Telegram", "officials in Kyiv conceded")
    # the post's second sentence goes too: told in full, its words (read through their senses)
    # match as a translation's would, and an article that translates a whole post alerts either way
    unattributed = unattributed.replace(", the group said", "").replace(
        " The situation in the area is difficult and the enemy is building up its forces.", "")
    assert run(unattributed, candidate(POST, 16410)).get(16410, 0.0) < THRESHOLD



def test_a_post_of_another_day_is_not_the_one_the_article_dates() -> None:
    """"in a Telegram post on December 1": the channel's post of November 29 is not given the
    mention, the one of November 30 (a day off: time zones) is."""
    dated = ARTICLE.replace("tracks the front line on Telegram",
                            "tracks the front line, said in a Telegram post on December 1")
    art = ArticleInput(text=dated, published=POST_TIME + timedelta(days=2), url="https://x.org/a")
    earlier = CandidatePost(channel="DeepStateUA", message_id=16390, text=POST, translation=None,
                            date=POST_TIME - timedelta(days=1), post_id=16390)
    found = {f.post_key[1]: f for f in detect(art, [candidate(POST, 16410), earlier],
                                              aliases_by_channel=DEFAULT_ALIASES, window_days=30)}
    assert [e["on"] for e in found[16410].evidence if e["kind"] == "mention"] == [["12-01"]]
    assert not [e for e in found[16390].evidence if e["kind"] == "mention"]
    assert found[16390].score < found[16410].score


async def test_retrieval_finds_the_cyrillic_post_through_its_keys(tmp_path: Path) -> None:
    """A real database: the article's English names reach the post's Cyrillic ones only through
    the keys stored in the index when the post was written; its words reach nothing."""
    from storage import posts
    from storage.candidates import candidate_texts
    from storage.db import Database
    from storage.models import Post

    db = await Database.open(tmp_path / "cw.db")
    try:
        filler = [Post("DeepStateUA", 16000 + i, POST_TIME - timedelta(hours=i + 1),
                       f"Оновлення карти {i}: бої тривають біля Бахмута.") for i in range(30)]
        await posts.upsert_many(db, [Post("DeepStateUA", 16410, POST_TIME, POST, lang="uk"),
                                     *filler])
        settings = load_settings({"CITEWATCH_DB": str(tmp_path / "cw.db"), "CHANNELS": ""},
                                 dotenv_path=None)
        art = ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14),
                           url="https://example.com/a")
        terms, refs, since, until = pipeline._query(art, settings)
        assert "xnmasatavk" in terms  # Masiutivka's key
        got = await candidate_texts(db, terms, refs, since, until, 5)
        assert [c.message_id for c in got][:1] == [16410]
        words_only = [t for t in terms if not t.startswith("xn")]
        got = await candidate_texts(db, words_only, refs, since, until, 5)
        assert 16410 not in [c.message_id for c in got]
        found = await pipeline.find_citations(db, art, settings)
        assert [(r.post.message_id, r.found.score >= THRESHOLD) for r in found][:1] == [(16410, True)]
    finally:
        await db.close()


async def test_the_migration_adds_keys_to_posts_stored_before(tmp_path: Path) -> None:
    """A database whose posts were indexed without keys: opening it adds them, and retrieval
    then finds the Cyrillic post from the English article."""
    import sqlite3

    from storage import search_index
    from storage.candidates import candidate_texts
    from storage.db import Database, migrate
    from storage.migrations import MIGRATIONS
    from storage.wordforms import normal_words

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        # the schema just before the migration that adds the keys, whatever comes after it
        migrate(conn, MIGRATIONS.index(search_index.add_cross_script_keys))
        conn.execute("INSERT INTO channels (id, username, added_at) VALUES (1, 'DeepStateUA', '')")
        conn.execute("INSERT INTO posts (id, channel_id, message_id, date, text, lang, stored_at,"
                     " words) VALUES (1, 1, 16410, ?, ?, 'uk', '', ?)",
                     (POST_TIME.isoformat(), POST, normal_words(POST)))
        search_index.index_new(conn)
        assert not conn.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'xnmasatavk'"
                                ).fetchall()
    db = await Database.open(path)
    try:
        assert await db.fetchval("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'xnmasatavk'"
                                 ) == 1
        settings = load_settings({"CITEWATCH_DB": str(path), "CHANNELS": ""}, dotenv_path=None)
        art = ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14),
                           url="https://example.com/a")
        terms, refs, since, until = pipeline._query(art, settings)
        got = await candidate_texts(db, terms, refs, since, until, 5)
        assert [c.message_id for c in got] == [16410]
        assert await db.integrity_check() == "ok"
    finally:
        await db.close()


def test_a_dated_mention_points_at_the_channels_only_post_of_that_day() -> None:
    """"said in a Telegram post on December 1": of the channel's posts that share facts with the
    article, the only one of that day (±1) is the one meant; with two of that day, neither is."""
    from bot.cite.detect import MENTION_SINGLED

    short = "Окупанти намагалися просунутися біля Масютівки та Синьківки."
    dated = ARTICLE.replace("tracks the front line on Telegram",
                            "tracks the front line, said in a Telegram post on December 1")
    art = ArticleInput(text=dated, published=POST_TIME + timedelta(days=2), url="https://x.org/a")
    earlier = CandidatePost(channel="DeepStateUA", message_id=16390, text=short, translation=None,
                            date=POST_TIME - timedelta(days=3), post_id=16390)

    def mention(cands: list[CandidatePost], mid: int) -> dict:
        found = {f.post_key[1]: f for f in detect(art, cands, aliases_by_channel=DEFAULT_ALIASES,
                                                  window_days=30)}
        return next(e for e in found[mid].evidence if e["kind"] == "mention")

    got = mention([candidate(short, 16410), earlier], 16410)
    assert got["weight"] == MENTION_SINGLED and "only post of that day" in got["text"]
    same_day = CandidatePost(channel="DeepStateUA", message_id=16411, text=short, translation=None,
                             date=POST_TIME + timedelta(hours=1), post_id=16411)
    got = mention([candidate(short, 16410), same_day], 16410)
    assert got["weight"] < MENTION_SINGLED and "only post" not in got["text"]


def test_two_names_few_posts_of_the_store_have_single_a_post_out() -> None:
    """Two names across scripts point at the channel's post when the store's counts (retrieval's)
    say few posts have them; the same two names in every report point at nothing."""
    from bot.cite.detect import MENTION_SINGLED, RARE_IN_STORE

    short = "Окупанти намагалися просунутися біля Масютівки та Синьківки."
    art = ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14), url="https://x.org/a")

    def mention(in_store: dict[str, int]) -> dict:
        [found] = detect(art, [candidate(short, 16410)], aliases_by_channel=DEFAULT_ALIASES,
                         window_days=30, in_store=in_store)
        return next(e for e in found.evidence if e["kind"] == "mention")

    rare = {"xnmasatavk": 2, "xnsankavk": 3}
    assert mention(rare)["weight"] == MENTION_SINGLED
    common = {k: RARE_IN_STORE + 1 for k in rare}
    assert mention(common)["weight"] < MENTION_SINGLED
    assert mention({})["weight"] < MENTION_SINGLED  # counts unknown: not rare


async def test_retrieval_reports_how_many_posts_hold_each_term(tmp_path: Path) -> None:
    from storage import posts
    from storage.candidates import candidate_texts
    from storage.db import Database
    from storage.models import Post

    db = await Database.open(tmp_path / "cw.db")
    try:
        filler = [Post("DeepStateUA", 16000 + i, POST_TIME - timedelta(hours=i + 1),
                       f"Оновлення карти {i}: бої тривають біля Синьківки.") for i in range(12)]
        await posts.upsert_many(db, [Post("DeepStateUA", 16410, POST_TIME, POST, lang="uk"),
                                     *filler])
        counts: dict[str, int] = {}
        await candidate_texts(db, ["xnmasatavk", "xnsankavk"], [], POST_TIME - timedelta(days=30),
                              POST_TIME + timedelta(hours=1), 5, counts)
        assert counts == {"xnmasatavk": 1, "xnsankavk": 13}
    finally:
        await db.close()


def test_the_keys_stored_with_a_post_are_the_ones_compared() -> None:
    """A candidate read with its stored words is compared by the keys stored there (no
    transliteration per candidate): the keys, not the text, decide."""
    from storage.search_index import post_words

    stored = CandidatePost(channel="DeepStateUA", message_id=16410, date=POST_TIME, text=POST,
                           post_id=16410, words=post_words(POST))
    [found] = detect(ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14)),
                     [stored], aliases_by_channel=DEFAULT_ALIASES)
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert {"masatavk", "sankavk"} <= set(shared["keys"])
    # words stored without Synkivka's key: the detector does not find it in the text again
    words = " ".join(w for w in post_words(POST).split() if not w.startswith("xnsankavk"))
    lacking = CandidatePost(channel="DeepStateUA", message_id=16410, date=POST_TIME, text=POST,
                            post_id=16410, words=words)
    [found] = detect(ArticleInput(text=ARTICLE, published=POST_TIME + timedelta(hours=14)),
                     [lacking], aliases_by_channel=DEFAULT_ALIASES)
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert "masatavk" in shared["keys"] and "sankavk" not in shared["keys"]


def test_a_post_dated_by_its_weekday_and_told_by_glossary_terms() -> None:
    """"said in a short Telegram post on Monday" (the article on Tuesday): a one-line untranslated
    post whose place and glossary terms the article tells is the channel's only post of that
    Monday here; the same post a week earlier is not it."""
    from bot.cite.detect import MENTION_SINGLED

    monday = datetime(2023, 3, 27, 15, 13, tzinfo=UTC)
    one_line = "🔥 Снайпери ГУР МО знищують окупантів під Бахмутом."
    article = ArticleInput(
        text="Ukraine's military intelligence has released footage of its snipers near Bakhmut. "
             "They \"destroy Russian occupiers\", the agency, known as HUR, said in a short "
             "Telegram post on Monday.", published=datetime(2023, 3, 28, 10, 45, tzinfo=UTC))

    def verdict(when: datetime) -> tuple[float, dict]:
        post = CandidatePost("DIUkraine", 2132, when, one_line, post_id=2132)
        [found] = detect(article, [post], aliases_by_channel=DEFAULT_ALIASES)
        shared = next(e for e in found.evidence if e["kind"] == "shared")
        assert shared["terms"] == ["hur", "occupiers"] and shared["keys"] == ["bahmat"]
        return found.score, next((e for e in found.evidence if e["kind"] == "mention"), {})

    score, mention = verdict(monday)
    assert mention["on"] == ["03-27"] and mention["weight"] == MENTION_SINGLED
    assert score >= THRESHOLD
    assert verdict(monday - timedelta(days=7))[0] < THRESHOLD  # another Monday: not that post


def test_said_on_a_weekday_dates_the_post_as_said_on_telegram_does() -> None:
    """"the General Staff said in its evening update on Tuesday" (the article on Wednesday): the
    staff's post of that Tuesday gets the mention, dated; its post of the Friday before, which
    tells the same places, gets none (texts written for this test)."""
    update = ("На Покровському напрямку ворог здійснив 52 атаки біля Гродівки та Новогродівки. "
              "Сили оборони відбили 44 атаки.")
    article = ArticleInput(
        text="Russian forces kept up their assaults near Novohrodivka and Hrodivka, west of "
             "Pokrovsk. Ukraine's General Staff said in its evening update on Tuesday that its "
             "troops had repelled most of the attacks.",
        published=datetime(2024, 9, 4, 10, 45, tzinfo=UTC))

    def mention(when: datetime) -> dict:
        post = CandidatePost("GeneralStaffZSU", 16102, when, update, post_id=16102)
        [found] = detect(article, [post], aliases_by_channel=DEFAULT_ALIASES)
        return next((e for e in found.evidence if e["kind"] == "mention"), {})

    assert mention(datetime(2024, 9, 3, 17, 5, tzinfo=UTC)).get("on") == ["09-03"]
    assert mention(datetime(2024, 8, 30, 17, 5, tzinfo=UTC)) == {}


def test_a_word_the_article_also_writes_in_lower_case_is_not_a_name() -> None:
    from storage.crossscript import article_keys

    keys = article_keys("The Wagner Group attacked. The group lost men near Bakhmut.")
    assert "xnbahmat" in keys and "xnvahnar" in keys and "xnhrap" not in keys


def test_an_organisation_told_as_its_place_then_the_body() -> None:
    """"… shelled Kherson region 58 times …, the regional military administration reported": the
    alias "Kherson regional military administration" told in two parts is a mention; the same
    body after another region's name is not."""
    post = CandidatePost("khersonskaODA", 9500, POST_TIME,
                         "Протягом минулої доби противник здійснив 58 обстрілів, випустивши 311 "
                         "снарядів. По місту Херсон ворог випустив 27 снарядів.", post_id=9500)
    text = ("Russian troops shelled Kherson region 58 times over the past day, firing 311 "
            "projectiles, 27 of them at the city, the regional military administration reported.")
    art = ArticleInput(text=text, published=POST_TIME + timedelta(hours=12))
    [found] = detect(art, [post], aliases_by_channel=DEFAULT_ALIASES)
    [mention] = [e for e in found.evidence if e["kind"] == "mention"]
    assert mention["text"].startswith(
        "mentions Kherson, then the regional military administration + reported")
    other = ArticleInput(text=text.replace("Kherson region", "Zaporizhzhia region"),
                         published=art.published)
    [found] = detect(other, [post], aliases_by_channel=DEFAULT_ALIASES)
    assert not [e for e in found.evidence if e["kind"] == "mention"]


def test_a_country_before_the_body_does_not_name_the_organisation() -> None:
    """"Russian forces … the defence ministry said on Telegram": whose ministry is not said, so the
    alias "Russian Defence Ministry" is not told in two parts."""
    from bot.cite.detect import _place_then_body

    text = ("Russian forces shelled the city overnight. Four people were hurt, the defence "
            "ministry said on Telegram.")
    assert _place_then_body(text, text.lower(), "Russian Defence Ministry") is None
    assert _place_then_body(text, text.lower(), "Russia's Defence Ministry") is None


def test_the_country_every_post_names_is_no_shared_name() -> None:
    # "України" / "Ukraine" is the topic of every post, not a fact that tells this one apart
    post = ("Окупанти захопили Масютівку. Сили оборони України тримають позиції біля Синьківки.")
    article = ("Russian forces have seized Masiutivka, DeepState said on Telegram, while the "
               "defence forces of Ukraine are holding their positions near Synkivka.")
    art = ArticleInput(text=article, published=POST_TIME + timedelta(hours=5))
    [found] = detect(art, [candidate(post, 1)], aliases_by_channel=DEFAULT_ALIASES)
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert {"masatavk", "sankavk"} <= set(shared["keys"]) and "akran" not in shared["keys"]
