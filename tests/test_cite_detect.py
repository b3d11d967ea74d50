"""The pure detector on realistic cases (texts written for these tests, modelled on DIUkraine posts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cite.detect import ArticleInput, CandidatePost, detect
from bot.config import DEFAULT_ALIASES
from bot.tglinks import TelegramRef

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
POST_TIME = datetime(2023, 5, 1, 9, 0, tzinfo=UTC)

UK_POST = (
    "Російські строковики на окупованих територіях масово відмовляються від контракту. "
    "За даними ГУР, особовий склад 127-ї мотострілецької дивізії не хоче поповнювати склад "
    "окупаційного контингенту. Командування погрожує кримінальними справами, однак щонайменше "
    "40 військовослужбовців уже написали рапорти на звільнення."
)
EN_TRANSLATION = (
    "Russian conscripts in the occupied territories are massively refusing contracts. According to "
    "the HUR, the personnel of the 127th motorized rifle division does not want to replenish the "
    "composition of the occupation contingent. The command threatens criminal cases, but at least 40 "
    "servicemen have already written reports on dismissal."
)
MODEL_ARTICLE = (
    "Conscripts refuse contracts in occupied south\n\n"
    "Russian conscripts stationed in occupied parts of Ukraine are refusing to sign contracts en "
    "masse.\n\nTroops of the 127th Motor Rifle Division reportedly do not want \"to replenish the "
    "composition of the occupation contingent\", according to a translation of a post on Telegram. "
    "At least 40 soldiers have filed requests to be discharged, and commanders are threatening them "
    "with criminal prosecution.\n\nMeanwhile, shelling continued in the Kharkiv region overnight, "
    "the regional governor said."
)
SAME_TOPIC_ARTICLE = (
    "Russia steps up recruitment drive\n\n"
    "Moscow has launched a new advertising campaign to attract contract soldiers, offering higher "
    "pay and housing benefits. Billboards in Yekaterinburg and Novosibirsk promise recruits monthly "
    "salaries of up to 200,000 roubles. Analysts at the Institute for the Study of War said the "
    "campaign suggests the Kremlin wants to avoid another unpopular mobilisation wave. Russian "
    "conscripts are formally barred from serving in Ukraine, though rights groups have documented "
    "exceptions."
)
KYIV_FOOTER = "\n\nJOIN US ON TELEGRAM! Follow our coverage of the war on the @Kyivpost_official.\n\n"


def post(**kw: object) -> CandidatePost:
    base: dict[str, object] = {"channel": "DIUkraine", "message_id": 1908, "date": POST_TIME,
                               "text": UK_POST, "translation": EN_TRANSLATION, "post_id": 7}
    base.update(kw)
    return CandidatePost(**base)  # type: ignore[arg-type]


def run(article: ArticleInput, cands: list[CandidatePost]) -> dict[tuple[str, int], float]:
    found = detect(article, cands, aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    return {f.post_key: f.score for f in found}


def kinds(article: ArticleInput, cands: list[CandidatePost]) -> list[str]:
    found = detect(article, cands, aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    return [e["kind"] for e in found[0].evidence] if found else []


def test_translated_quote_without_link_is_a_citation_with_quote_evidence() -> None:
    art = ArticleInput(MODEL_ARTICLE, published=POST_TIME + timedelta(hours=31))
    found = detect(art, [post()], aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    assert len(found) == 1
    f = found[0]
    assert f.post_key == ("diukraine", 1908) and f.post_id == 7
    assert f.score >= THRESHOLD
    quote = next(e for e in f.evidence if e["kind"] == "quote")
    assert quote["against"] == "translation"
    assert "occupation contingent" in quote["article_passage"]
    assert "occupation contingent" in quote["post_passage"]
    assert 0 < quote["containment"] <= 1
    assert quote["text"].startswith("quotes ") and "translated post" in quote["text"]
    timing = next(e for e in f.evidence if e["kind"] == "time")
    assert timing["text"] == "published 31 h after the post"


def test_reworded_reordered_translation_still_matches() -> None:
    # another translator's wording, sentences in another order, no quotation marks
    other = (
        "Commanders are threatening criminal proceedings, yet no fewer than 40 servicemen have "
        "submitted resignation reports. Personnel of the 127th motorised rifle division do not wish to "
        "replenish the ranks of the occupying contingent, HUR says. Conscripts in occupied territory "
        "are refusing contracts on a massive scale."
    )
    art = ArticleInput(other, published=POST_TIME + timedelta(days=2))
    assert run(art, [post()])[("diukraine", 1908)] >= THRESHOLD


def test_article_in_ukrainian_matches_the_original() -> None:
    art = ArticleInput(
        "Як повідомляє розвідка, особовий склад 127-ї мотострілецької дивізії не хоче поповнювати "
        "склад окупаційного контингенту, а 40 військовослужбовців написали рапорти на звільнення.",
        published=POST_TIME + timedelta(hours=5),
    )
    found = detect(art, [post()], aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    assert found and found[0].score >= THRESHOLD
    assert next(e for e in found[0].evidence if e["kind"] == "quote")["against"] == "original"


def test_link_is_certain_even_for_a_post_not_stored() -> None:
    art = ArticleInput("Ukraine's intelligence published the video.", published=POST_TIME,
                       tg_refs=[TelegramRef("link", "DIUkraine", 2001, "https://t.me/DIUkraine/2001")])
    found = detect(art, [post()], aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    assert [(f.post_key, f.score, f.post_id) for f in found] == [(("diukraine", 2001), 1.0, None)]
    assert found[0].evidence[0]["text"] == "links to t.me/DIUkraine/2001"


def test_link_in_stored_refs_dict_and_in_plain_text() -> None:
    as_dict = ArticleInput("Short note.", published=POST_TIME + timedelta(hours=1),
                           tg_refs=[{"kind": "link", "channel": "diukraine", "message_id": 1908,
                                     "url": "https://t.me/DIUkraine/1908"}])
    in_text = ArticleInput("See https://t.me/DIUkraine/1908 for the video.",
                           published=POST_TIME + timedelta(hours=1))
    for art in (as_dict, in_text):
        found = detect(art, [post()], aliases_by_channel={}, window_days=30)
        assert found[0].score == 1.0 and found[0].post_id == 7
        assert found[0].evidence[0]["kind"] == "link"


def test_embed_is_certain() -> None:
    art = ArticleInput("The footage was shared on Monday.", published=POST_TIME + timedelta(hours=3),
                       tg_refs=[TelegramRef("embed", "DIUkraine", 1908, "https://t.me/DIUkraine/1908")])
    found = detect(art, [post()], aliases_by_channel={}, window_days=30)
    assert found[0].score == 1.0
    assert found[0].evidence[0] == {"kind": "embed", "text": "embeds t.me/DIUkraine/1908",
                                    "weight": 1.0, "url": "https://t.me/DIUkraine/1908"}


def test_alias_mention_near_telegram_strengthens_a_partial_match() -> None:
    # a loose paraphrase: alone it is weak; the attributed alias makes it a citation
    text = (
        "Ukraine's Main Intelligence Directorate said in a Telegram post that personnel of the 127th "
        "motorised division are unwilling to replenish the occupation contingent, and dozens have "
        "asked to be dismissed."
    )
    art = ArticleInput(text, published=POST_TIME + timedelta(hours=20))
    without_alias = ArticleInput(text.replace("Ukraine's Main Intelligence Directorate said in a "
                                              "Telegram post", "Reports say"),
                                 published=art.published)
    with_score = run(art, [post()]).get(("diukraine", 1908), 0.0)
    bare_score = run(without_alias, [post()]).get(("diukraine", 1908), 0.0)
    assert with_score >= THRESHOLD > bare_score
    assert "mention" in kinds(art, [post()])
    mention = next(e for e in detect(art, [post()], aliases_by_channel=DEFAULT_ALIASES,
                                     window_days=30)[0].evidence if e["kind"] == "mention")
    assert mention["text"] == "mentions Main Intelligence Directorate + Telegram"


def test_mention_alone_names_no_post() -> None:
    art = ArticleInput("HUR said on Telegram that it had nothing to add about the weather in Lviv.",
                       published=POST_TIME + timedelta(hours=2))
    assert run(art, [post()]) == {}


def test_same_topic_article_does_not_cite() -> None:
    art = ArticleInput(SAME_TOPIC_ARTICLE, published=POST_TIME + timedelta(days=1))
    assert run(art, [post()]).get(("diukraine", 1908), 0.0) < THRESHOLD


def test_join_us_on_telegram_footer_is_not_a_citation() -> None:
    art = ArticleInput(SAME_TOPIC_ARTICLE + KYIV_FOOTER + "Defence Intelligence of Ukraine is "
                       "expected to comment.", published=POST_TIME + timedelta(days=1),
                       url="https://www.kyivpost.com/post/123",
                       tg_refs=[TelegramRef("channel", "Kyivpost_official", None, "https://t.me/Kyivpost_official")])
    found = detect(art, [post()], aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    assert all(f.score < THRESHOLD for f in found)
    assert not any(e["kind"] == "mention" for f in found for e in f.evidence)


def test_link_to_the_outlets_own_channel_is_not_a_mention() -> None:
    own = CandidatePost("kyivpost_official", 55, POST_TIME, "", "Zelensky met Biden in Washington "
                        "on Thursday to discuss 31 Abrams tanks.", post_id=9)
    art = ArticleInput("Zelensky and Biden spoke about tanks. Watch us: t.me/Kyivpost_official",
                       published=POST_TIME + timedelta(hours=3), url="https://www.kyivpost.com/x")
    found = detect(art, [own], aliases_by_channel={}, window_days=30)
    assert not any(e["kind"] == "mention" for f in found for e in f.evidence)


def test_post_published_after_the_article_is_never_a_citation() -> None:
    art = ArticleInput(MODEL_ARTICLE, published=POST_TIME - timedelta(hours=1),
                       tg_refs=[TelegramRef("link", "DIUkraine", 1908, "https://t.me/DIUkraine/1908")])
    assert run(art, [post()]) == {}


def test_post_older_than_the_window_is_ignored_unless_linked() -> None:
    late = ArticleInput(MODEL_ARTICLE, published=POST_TIME + timedelta(days=45))
    assert run(late, [post()]) == {}
    linked = ArticleInput(MODEL_ARTICLE, published=POST_TIME + timedelta(days=45),
                          tg_refs=[TelegramRef("link", "DIUkraine", 1908, "")])
    assert run(linked, [post()]) == {("diukraine", 1908): 1.0}


def test_date_only_publication_counts_the_whole_day() -> None:
    # pages often give only a date; a post at 09:00 that day can still be cited
    art = ArticleInput(MODEL_ARTICLE, published=datetime(2023, 5, 1, tzinfo=UTC))
    assert run(art, [post()]).get(("diukraine", 1908), 0.0) >= THRESHOLD


def test_the_right_post_wins_among_several() -> None:
    other = post(message_id=1907, post_id=6, date=POST_TIME - timedelta(hours=5),
                 text="Уражено склад боєприпасів у Мелітополі.",
                 translation="An ammunition depot was hit in Melitopol.")
    found = detect(ArticleInput(MODEL_ARTICLE, published=POST_TIME + timedelta(hours=31)),
                   [other, post()], aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    assert found[0].post_key == ("diukraine", 1908)
    assert all(f.score < THRESHOLD for f in found[1:])


def test_shared_numbers_and_names_are_evidence_but_not_enough_alone() -> None:
    art = ArticleInput("The 127th division lost 40 men near Melitopol, Budanov noted.",
                       published=POST_TIME + timedelta(hours=4))
    cand = post(translation="Budanov: the 127th division near Melitopol lost 40 people.",
                text="Буданов: 127-а дивізія під Мелітополем втратила 40 людей.")
    found = detect(art, [cand], aliases_by_channel={}, window_days=30)
    shared = [e for f in found for e in f.evidence if e["kind"] == "shared"]
    # 127 is told as the unit it numbers ("127th division": its key), once
    assert shared and "127th division" in shared[0]["units"] and "40" in shared[0]["numbers"]


def test_untrusted_text_is_harmless() -> None:
    nasty = "\x00" * 10 + "<script>alert(1)</script>" + "\u202e" * 50 + "a" * 20000 + "\ud800"
    art = ArticleInput(nasty, published=POST_TIME + timedelta(hours=1))
    assert run(art, [post(text=nasty, translation=nasty)]) is not None
    assert run(ArticleInput("", published=None), [post()]) == {}


def test_time_gap_is_worded_in_minutes_hours_or_days() -> None:
    from bot.cite.detect import _time

    assert _time(0.2)["text"] == "published 12 min after the post"
    assert _time(0.001)["text"] == "published less than a minute after the post"
    assert _time(1.0)["text"] == "published 1 h after the post"
    assert _time(31.2)["text"] == "published 31 h after the post"
    assert _time(47.6)["text"] == "published 48 h after the post"
    assert _time(50)["text"] == "published 2 days after the post"
    assert _time(24 * 9.4)["text"] == "published 9 days after the post"


def test_tied_passages_resolve_to_the_earlier_sentence_whatever_the_hash_seed() -> None:
    # half of the post's sentence is in the article's 1st sentence, the other half in its last: both
    # windows match equally well; the choice must not follow a set's (hash-seeded) iteration order
    post = "Kharkiv tractor factory burned overnight while Odesa harbour cranes collapsed completely."
    article = ("Kharkiv tractor factory burned overnight, residents reported. "
               + " ".join(f"Filler sentence number {w} about unrelated weather." for w in
                          ("alpha", "beta", "gamma", "delta", "epsilon"))
               + " Odesa harbour cranes collapsed completely, officials added.")
    cand = CandidatePost("somechannel", 5, POST_TIME, text="", translation=post, post_id=5)
    found = detect(ArticleInput(article, POST_TIME + timedelta(hours=3)), [cand])
    quote = next(e for e in found[0].evidence if e["kind"] == "quote")
    assert quote["article_passage"].startswith("Kharkiv tractor factory")


def test_a_channel_with_subscribers_is_attribution_not_a_footer() -> None:
    # "subscribers" describes the channel; only "subscribe to …" asks the reader to follow one
    text = MODEL_ARTICLE.replace("according to a translation of a post on Telegram",
                                 "Defence Intelligence of Ukraine, whose Telegram channel has more "
                                 "than 500,000 subscribers, said")
    [found] = detect(ArticleInput(text, published=POST_TIME + timedelta(days=1)), [post()],
                     aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    mention = next(e for e in found.evidence if e["kind"] == "mention")
    assert mention["name"] == "Defence Intelligence of Ukraine"


def test_a_username_written_out_as_words_is_a_mention() -> None:
    # "@romabroma" in prose is "Roma Broma": the channel is named though no alias is on file
    broma = CandidatePost("romabroma", 561, POST_TIME, "Привіт співробітникам «МДБ» від 59-ї "
                          "бригади.", "Hello to the employees of the \"MGB\" from the 59th "
                          "brigade. Greetings were delivered today right to Donetsk.", post_id=3)
    told = ("claimed that the target was the so-called \"MGB\" in Donetsk. The greetings came from "
            "the 59th Brigade and were delivered right to Donetsk today, the channel wrote.")
    art = ArticleInput(f"The Ukrainian Telegram channel Roma Broma {told}",
                       published=POST_TIME + timedelta(hours=5))
    [found] = detect(art, [broma], aliases_by_channel={}, window_days=30)
    mention = next(e for e in found.evidence if e["kind"] == "mention")
    assert mention["name"] == "Roma Broma"
    # words that only happen to be capitalised in a row are not a username
    other = ArticleInput(f"The Ukrainian Telegram channel Roma Fans Broma {told}",
                         published=POST_TIME + timedelta(hours=5))
    assert not any(e["kind"] == "mention" for f in detect(other, [broma], aliases_by_channel={},
                                                          window_days=30) for e in f.evidence)


def test_citing_the_channel_attributes_as_said_does() -> None:
    # wire style: "…, citing Ukraine's military intelligence" names the source of the words
    text = MODEL_ARTICLE.replace("according to a translation of a post on Telegram",
                                 "citing Defence Intelligence of Ukraine")
    [found] = detect(ArticleInput(text, published=POST_TIME + timedelta(days=1)), [post()],
                     aliases_by_channel=DEFAULT_ALIASES, window_days=30)
    mention = next(e for e in found.evidence if e["kind"] == "mention")
    assert mention["name"] == "Defence Intelligence of Ukraine"
