"""How the detector weighs a channel's attribution against time and figures: the press cites a
channel's latest word, names the day of an old post, and writes "946,000" for "946 тысяч"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cite.detect import ArticleInput, CandidatePost, Found, detect

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
OUTAGE_POST = (
    "⚡️Завтра у більшості регіонів України будуть застосовуватися графіки погодинних відключень "
    "для побутових споживачів.\n\nЧерез наслідки масованої ракетної атаки на енергосистему "
    "відключення діятимуть з 00:00 до 24:00 в обсязі від 1 до 2 черг.\n\nБудь ласка, споживайте "
    "електроенергію ощадливо!"
)
OUTAGE_TRANSLATION = (
    "⚡️Tomorrow, in most regions of Ukraine, hourly outage schedules will be applied for household "
    "consumers.\n\nDue to the consequences of the massive missile attack on the energy system, "
    "outages will last from 00:00 to 24:00 in the amount of 1 to 2 queues.\n\nPlease consume "
    "electricity sparingly!"
)
OUTAGE_ARTICLE = (
    "Ukraine will apply hourly outage schedules in most regions on Saturday after a massive attack, "
    "grid operator Ukrenergo said. It urged consumers to be sparing.\n\nRussia launched dozens of "
    "missiles at Ukraine early on Friday, officials said, and private energy company DTEK reported "
    "serious damage at its plants."
)
ALIASES = {"ukrenergo": ["Ukrenergo"], "agentstvonews": ["Agentstvo"]}


def _outage(message_id: int, date: datetime) -> CandidatePost:
    return CandidatePost("Ukrenergo", message_id, date, OUTAGE_POST, OUTAGE_TRANSLATION, post_id=1)


def _found(article: ArticleInput, cands: list[CandidatePost]) -> dict[tuple[str, int], Found]:
    return {f.post_key: f for f in detect(article, cands, aliases_by_channel=ALIASES)}


def _mention(f: Found) -> dict[str, object]:
    return next(e for e in f.evidence if e["kind"] == "mention")


def test_a_post_two_weeks_old_is_not_the_one_a_news_report_says_the_channel_said() -> None:
    published = datetime(2024, 12, 13, 18, 0, tzinfo=UTC)
    article = ArticleInput(OUTAGE_ARTICLE, published=published)
    fresh = _found(article, [_outage(9374, published - timedelta(hours=2))])[("ukrenergo", 9374)]
    old = _found(article, [_outage(9322, published - timedelta(days=15))])[("ukrenergo", 9322)]
    assert fresh.score >= THRESHOLD > old.score
    assert _mention(old)["weight"] == _mention(fresh)["weight"] / 2
    assert "15 days old that the article does not date" in str(_mention(old)["text"])


def test_an_old_post_the_article_dates_keeps_its_mention() -> None:
    published = datetime(2024, 12, 13, 18, 0, tzinfo=UTC)
    posted = published - timedelta(days=15)
    dated = OUTAGE_ARTICLE.replace("grid operator Ukrenergo said.",
                                   "grid operator Ukrenergo said in a Telegram post on November 28.")
    found = _found(ArticleInput(dated, published=published), [_outage(9322, posted)])
    assert "does not date" not in str(_mention(found[("ukrenergo", 9322)])["text"])
    assert found[("ukrenergo", 9322)].score >= THRESHOLD


def test_of_two_posts_telling_the_same_the_channels_later_one_gets_the_mention() -> None:
    published = datetime(2024, 12, 13, 18, 0, tzinfo=UTC)
    article = ArticleInput(OUTAGE_ARTICLE, published=published)
    earlier = _outage(9300, published - timedelta(hours=30))
    later = _outage(9374, published - timedelta(hours=2))
    found = _found(article, [earlier, later])
    alone = _found(article, [earlier])[("ukrenergo", 9300)]
    assert found[("ukrenergo", 9374)].score >= THRESHOLD
    assert found[("ukrenergo", 9300)].score < alone.score
    assert found[("ukrenergo", 9374)].score > found[("ukrenergo", 9300)].score
    assert "a later post of the channel here reads as well" in str(
        _mention(found[("ukrenergo", 9300)])["text"])
    assert "later post" not in str(_mention(alone)["text"])


BIRTHS_POST = (
    "В первом полугодии 2024 года в России родилось 599,6 тысячи детей — на 16 тысяч меньше, чем "
    "годом ранее. Это минимум с 1999 года, следует из данных Росстата.\n\nВ июне родилось 98,6 "
    "тысячи детей. Это первый месяц за всю историю наблюдений, когда рождаемость опустилась ниже "
    "100 тысяч.\n\nПри этом смертность за полугодие выросла на 18 тысяч — до 946 тысяч человек. "
    "Естественная убыль населения составила почти 350 тысяч.\n\nПосле публикации этих данных "
    "Росстат прекратил выкладывать ежемесячную статистику по рождаемости и смертности в открытый "
    "доступ."
)
BIRTHS_TRANSLATION = (
    "In the first half of 2024, 599.6 thousand children were born in Russia - 16 thousand less than "
    "a year earlier. This is the minimum since 1999, follows from the data of Rosstat.\n\nIn June, "
    "98.6 thousand children were born. This is the first month in the entire history of "
    "observations, when the birth rate fell below 100 thousand.\n\nAt the same time, mortality for "
    "the half-year increased by 18 thousand - up to 946 thousand people. The natural decline of the "
    "population amounted to almost 350 thousand.\n\nAfter the publication of these data, Rosstat "
    "stopped posting monthly statistics on birth rate and mortality in the public domain."
)
BIRTHS_ARTICLE = (
    "Just under 600,000 children were born in Russia between January and June, around 16,000 fewer "
    "than a year earlier and the fewest since 1999, the independent outlet Agentstvo reported, "
    "citing Rosstat figures. In June alone, births dropped to 98,600, the first month in the "
    "history of observations when the figure fell below 100,000.\n\nDeaths rose by 18,000 to "
    "946,000, leaving a natural population loss of nearly 350,000 people over the half-year. After "
    "the figures came out, Rosstat stopped publishing its monthly birth and death statistics, the "
    "outlet said."
)


def test_figures_written_with_a_word_of_scale_are_the_articles_figures() -> None:
    published = datetime(2024, 7, 29, 15, 0, tzinfo=UTC)
    post = CandidatePost("agentstvonews", 6187, published - timedelta(hours=8), BIRTHS_POST,
                         BIRTHS_TRANSLATION, post_id=1)
    found = _found(ArticleInput(BIRTHS_ARTICLE, published=published), [post])
    f = found[("agentstvonews", 6187)]
    assert not any(e.get("guard") == "facts" for e in f.evidence)
    assert f.score >= THRESHOLD
    # last year's report, told with other figures, is another report
    other = BIRTHS_ARTICLE
    for mine, theirs in (("600,000", "620,000"), ("98,600", "104,300"), ("100,000", "105,000"),
                         ("946,000", "897,000"), ("350,000", "277,000")):
        other = other.replace(mine, theirs)
    f = _found(ArticleInput(other, published=published), [post])[("agentstvonews", 6187)]
    assert any(e.get("guard") == "facts" for e in f.evidence)


def _quote_of(f: Found) -> dict[str, object]:
    return next(e for e in f.evidence if e["kind"] == "quote")


def test_a_loose_retelling_of_a_post_weeks_old_counts_less_a_whole_sentence_does_not() -> None:
    published = datetime(2024, 12, 13, 18, 0, tzinfo=UTC)
    loose = ArticleInput(OUTAGE_ARTICLE.replace(" It urged consumers to be sparing.", ""),
                         published=published)
    fresh = _found(loose, [_outage(9374, published - timedelta(hours=2))])[("ukrenergo", 9374)]
    old = _found(loose, [_outage(9322, published - timedelta(days=15))])[("ukrenergo", 9322)]
    assert _quote_of(old)["weight"] == round(float(_quote_of(fresh)["weight"]) / 2, 3)  # type: ignore[arg-type]
    assert any(e.get("guard") == "stale" for e in old.evidence)
    assert not any(e.get("guard") == "stale" for e in fresh.evidence)
    # the article dates the old post: it is the one meant, told loosely or not
    dated = ArticleInput(loose.text.replace(
        "grid operator Ukrenergo said.", "grid operator Ukrenergo said in a Telegram post on "
        "November 28."), published=published)
    f = _found(dated, [_outage(9322, published - timedelta(days=15))])[("ukrenergo", 9322)]
    assert not any(e.get("guard") == "stale" for e in f.evidence)
    # a whole sentence of the old post, word for word, is that post whatever its age
    whole = ArticleInput(
        "Due to the consequences of the massive missile attack on the energy system, outages will "
        "last from 00:00 to 24:00 in the amount of 1 to 2 queues, the grid operator wrote on "
        "Telegram.", published=published)
    f = _found(whole, [_outage(9322, published - timedelta(days=15))])[("ukrenergo", 9322)]
    assert not any(e.get("guard") == "stale" for e in f.evidence)
    assert f.score >= THRESHOLD


STRIKE_POST = (
    "Враг нанёс удар по порту. Оперативные службы на месте.\n\nПо предварительной информации, есть "
    "пострадавший. Информацию уточняем.\n\nВ центре города перекрыто движение. Прошу всех сохранять "
    "спокойствие."
)
STRIKE_TRANSLATION = (
    "The enemy struck the port. Operational services are on the spot.\n\nAccording to preliminary "
    "information, there is a victim. We are clarifying information.\n\nTraffic is blocked in the "
    "city center. I ask everyone to stay calm."
)


def test_a_reporters_sentence_telling_two_short_sentences_of_the_post_matches_them() -> None:
    """"Razvozhayev said one person had been hurt, according to preliminary information, and that
    emergency services were on the spot": two sentences of the post of three words each, too
    light alone, read as one passage."""
    published = datetime(2023, 9, 22, 12, 0, tzinfo=UTC)
    post = CandidatePost("razvozhaev", 5523, published - timedelta(hours=3), STRIKE_POST,
                         STRIKE_TRANSLATION, post_id=1)
    article = ArticleInput(
        "A missile struck the port of Sevastopol on Friday, the Moscow-installed governor said. "
        "Mikhail Razvozhayev said one person had been hurt, according to preliminary information, "
        "and that emergency services were on the spot. Russia's Defence Ministry said air defences "
        "had shot down several missiles.", published=published)
    [found] = detect(article, [post], aliases_by_channel={"razvozhaev": ["Razvozhayev"]})
    assert found.score >= THRESHOLD
    passage = str(_quote_of(found)["post_passage"])
    # the passage is two of the post's sentences read as one
    assert "Operational services are on the spot." in passage
    assert passage != "Operational services are on the spot."


BRIGADE_POST = (
    "Штурмовики бригади відбили масований механізований штурм на Лиманському напрямку. Колона "
    "потрапила під щільний вогонь наших FPV-дронів та артилерії ще на підступах до позицій. "
    "Знищено 4 танки та 3 БМП, ворог втратив понад 40 особового складу."
)
BRIGADE_TRANSLATION = (
    "The stormtroopers of the brigade repelled a massive mechanized assault in the Lyman "
    "direction. The column fell under dense fire of our FPV drones and artillery already on the "
    "approaches to the positions. 4 tanks and 3 BMPs were destroyed, the enemy lost more than 40 "
    "personnel."
)


def test_a_telegram_cue_in_the_paragraph_before_is_not_another_channels() -> None:
    """"… the brigade posted the statement on its Telegram channel." ¶ "Russia's defence ministry
    said …": the ministry is named next to "said", not as the article's Telegram source, so the
    brigade's post is not guarded as if the article had named another channel."""
    published = datetime(2025, 4, 4, 8, 15, tzinfo=UTC)
    post = CandidatePost("brigade_x", 11084, published - timedelta(hours=16), BRIGADE_POST,
                         BRIGADE_TRANSLATION, post_id=1)
    article = ArticleInput(
        "A Ukrainian brigade said it had beaten back a large Russian armoured attack near Lyman. "
        "Russian troops came under drone and artillery fire \"already on the approaches to the "
        "positions\", and lost four tanks, three infantry fighting vehicles and more than 40 "
        "troops, it said. The brigade posted the statement on its Telegram channel.\n\n"
        "Russia's Defence Ministry said its forces had taken the village of Rozlyv in the Donetsk "
        "region.",
        published=published)
    ministry = CandidatePost("mod_russia", 1, published - timedelta(hours=2),
                             "Наши войска освободили населённый пункт Розлив в Донецкой "
                             "Народной Республике.", "Our troops liberated the village of Rozlyv "
                             "in the Donetsk People's Republic.", post_id=2)
    found = {f.post_key: f for f in detect(
        article, [post, ministry], aliases_by_channel={"mod_russia": ["Russia's Defence Ministry"]})}
    brigade = found[("brigade_x", 11084)]
    assert not any(e.get("guard") == "other" for e in brigade.evidence)
    assert brigade.score > 0.5  # not held at the guard's cap
    assert [e["cue"] for e in found[("mod_russia", 1)].evidence if e["kind"] == "mention"] == [
        "said"]
