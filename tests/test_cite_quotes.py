"""How the detector reads journalists' quoting: quoted spans, evidence that adds up, facts by rarity
and unit, and the guards against look-alikes (issue #10). Real detector, realistic texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cite import text as tx
from bot.cite.detect import MENTION_SINGLED, ArticleInput, CandidatePost, detect
from bot.cite.spans import offline_sentences, quoted_spans, relays
from tests.test_cite_detect import POST_TIME, THRESHOLD

SOLOVIEV = (
    "Probably, today there is no person who is interested in the events in Ukraine and does not know "
    "about the monstrous crime committed against our prisoners of war.\n\n"
    "The point of no return has been passed. It is always there, this point. Anyone who has crossed "
    "this point cannot return, since he has erased himself from humanity.\n\nFurther - only "
    "retribution.\n\nSilent means consent. Support sign. Solidarity with killers."
)


def cand(translation: str | None, channel: str = "SolovievLive", mid: int = 98857, text: str = "…",
         hours: float = 30) -> CandidatePost:
    return CandidatePost(channel, mid, POST_TIME, text, translation, post_id=mid)


def art(text: str, hours: float = 30) -> ArticleInput:
    return ArticleInput(text, published=POST_TIME + timedelta(hours=hours), url="https://news.example/a")


def score(article: ArticleInput, c: CandidatePost, others: list[CandidatePost] | None = None,
          aliases: dict[str, list[str]] | None = None) -> tuple[float, list[dict]]:
    found = detect(article, [c, *(others or [])], aliases_by_channel=aliases or {}, window_days=30)
    f = next((f for f in found if f.post_key == c.key), None)
    return (f.score, f.evidence) if f else (0.0, [])


def test_quoted_spans_of_every_kind_trimmed_and_bracketed() -> None:
    text = ('He said "the enemy is standing close" and «враг стоит близко, очень близко». '
            "It was 'a clear sign … of [Russian] weakness'. Ukraine's army said ‘no comment’ today. "
            "“Two words” here, „und hier auch drei Wörter“.")
    spans = [s.text for s in quoted_spans(text)]
    assert spans == ["the enemy is standing close", "враг стоит близко, очень близко",
                     "a clear sign of weakness", "und hier auch drei Wörter"]
    assert quoted_spans("It was 'a clear sign … of weakness'")[0].parts == ("a clear sign", "of weakness")


def test_a_short_punchy_quote_counts_in_full_and_the_alert_explains_itself() -> None:
    article = art("Kremlin propagandist Vladimir Solovyov turned on celebrities who kept silent. "
                  "Writing on his Telegram channel, he said: \"The point of no return has been "
                  "passed.\" He added that \"silence means consent\".\n\nOther news followed.")
    s, ev = score(article, cand(SOLOVIEV))
    quote = next(e for e in ev if e["kind"] == "quote")
    assert quote["span"] == "The point of no return has been passed."
    assert "point of no return has been passed" in quote["spans"][0]["post_passage"]
    assert quote["spans"][0]["match"] >= 0.9 and quote["against"] == "translation"
    # the same article without the quotation marks: only a four-word sentence fragment is left
    plain = art(article.text.replace('"', ""))
    assert s > score(plain, cand(SOLOVIEV))[0]


POST = ("The enemy continues to put pressure on the city and its outskirts, regardless of any losses. "
        "Bakhmut is no longer fit for existence, so there is no point in retreating from it. "
        "The defense along the entire line is held by experienced brigades. "
        "This war is increasingly reminiscent of the campaign of the Persian king Darius against "
        "Scythia.")
PARAPHRASES = [  # an own translation: about half the words of each sentence
    "The enemy keeps up the pressure on the city and its suburbs whatever its losses, the group said.",
    "Bakhmut is no longer fit for life, so there is no sense in withdrawing from it, it added.",
    "The defence of the whole line is held by seasoned, experienced brigades.",
    "The war increasingly recalls the Persian king Darius's campaign against the Scythians.",
]


def test_partial_matches_add_up_with_diminishing_returns() -> None:
    head = "DeepState, which maps the front, wrote on Telegram on Tuesday.\n\n"
    c = cand(POST, "DeepStateUA", 14367)

    def quote_weight(paras: list[str]) -> float:
        ev = score(art(head + "\n\n".join(paras)), c)[1]
        return next((e["weight"] for e in ev if e["kind"] == "quote"), 0.0)

    one, two, three = (quote_weight(PARAPHRASES[1:k]) for k in (2, 3, 4))
    assert 0 < one < two < three < 1
    assert three - two < two - one  # each further passage adds less
    # the same sentence twice is one passage, not two
    assert quote_weight([PARAPHRASES[1], PARAPHRASES[1]]) == one


def test_numbers_with_their_units_and_nothing_counted_twice() -> None:
    assert ("12", "occupi") in tx.number_units("destroyed at least 12 occupiers and a BTR-82A")
    assert ("1000", tx.stem("troops")) in tx.number_units("some 1,000 troops")
    assert tx.dates("from 1.9 to 2.04 million people") == set()  # a number, not a date
    assert tx.dates("on 24.02.22") == {(2, 24)}
    assert tx.content_stems("at least seven invaders")[:2] == ["least", "7"]
    article = art("The raid killed at least 12 occupiers near Nova Kakhovka, the agency said.")
    post = cand("Our fighters destroyed at least 12 occupiers near Nova Kakhovka.", "DIUkraine", 1908)
    shared = next(e for e in score(article, post)[1] if e["kind"] == "shared")
    assert shared["units"] == ["12 occupi"] and shared["numbers"] == ["12"]


def test_a_name_every_candidate_shares_weighs_less() -> None:
    article = art("Putin met Erdogan and Guterres in Samarkand to discuss Zaporizhzhia, the channel said.")
    target = cand("Putin, Erdogan and Guterres discussed Zaporizhzhia in Samarkand.", "swodki", 1)
    crowd = [cand(f"Putin spoke about Samarkand and Zaporizhzhia again, part {i}.", "swodki", 10 + i)
             for i in range(6)]
    alone = next(e for e in score(article, target)[1] if e["kind"] == "shared")["weight"]
    among = next(e for e in score(article, target, crowd)[1] if e["kind"] == "shared")["weight"]
    assert among < alone


SCHOLZ = ("Olaf Scholz - in a televised address on the anniversary of the end of World War II:\n"
          "✔️ There should be no dictate from Russia. I don't know how much longer the fighting in "
          "Ukraine will last, but Putin will not win the war, Ukraine will stand.")


def test_relayed_statement_quoted_from_its_speaker_does_not_alert() -> None:
    assert relays(SCHOLZ) and relays("Володимир Зеленський:\n\nЩе один звільнений населений пункт!")
    assert not relays("Загальні бойові втрати противника з 24.02.22 орієнтовно склали:\nособового")
    article = art("German Chancellor Olaf Scholz said in a televised address that Putin will not "
                  "win. \"I don't know how much longer the fighting in Ukraine will last, but Putin "
                  "will not win the war, Ukraine will stand,\" he said.\n\nThe address came a day "
                  "before Russia's Victory Day parade.")
    s, ev = score(article, cand(SCHOLZ, mid=105391))
    assert s < THRESHOLD and any(e["kind"] == "guard" for e in ev)
    # the channel named as the source: the same words are its citation
    named = art(article.text + "\n\nThe SolovievLive Telegram channel posted the address in full.")
    assert score(named, cand(SCHOLZ, mid=105391))[0] >= THRESHOLD


def test_words_said_at_a_briefing_count_less_than_words_posted() -> None:
    sents = tx.sentences("The official told reporters at the Pentagon that it would fail. "
                         "It was unlikely to succeed, he said. The group said on Telegram it had.")
    assert offline_sentences(sents) == {0, 1}
    post = cand("The decree to increase the armed forces from 1.9 to 2.04 million people is unlikely "
                "to succeed. Historically, Russia has not reached the targets for personnel.",
                "rybar", 38210)
    briefing = art("A senior U.S. defense official told reporters at the Pentagon that the decree to "
                   "increase the armed forces from 1.9 to 2.04 million people was unlikely to "
                   "succeed. Historically, Russia has not reached its personnel targets, he said. "
                   "The remarks were posted on the Pentagon's Telegram channel.")
    posted = art(briefing.text.replace("told reporters at the Pentagon", "wrote on Telegram")
                 .replace("he said", "it wrote"))
    assert score(briefing, post)[0] < score(posted, post)[0]


UK_ONLY = ("🇷🇺 Окупанти захопили Масютівку на Купʼянському напрямку та просунулися біля Синьківки."
           "\n\nСитуація на напрямку складна, ворог накопичує сили.")


def test_a_ukrainian_post_without_translation_meets_an_english_article_by_its_names() -> None:
    article = art("Russian forces have seized the village of Masiutivka in the Kupiansk direction and "
                  "pushed forward near Synkivka, DeepState said on Telegram on Monday.")
    post = cand(None, "DeepStateUA", 16410, text=UK_ONLY)
    s, ev = score(article, post, aliases={"deepstateua": ["DeepState"]})
    shared = next(e for e in ev if e["kind"] == "shared")
    assert {"masatavk", "sankavk"} <= set(shared["keys"]) and "across scripts" in shared["text"]
    mention = next(e for e in ev if e["kind"] == "mention")
    # not halved (the post cannot be quoted word for word), and raised: of the channel's posts
    # compared, only this one tells the three names
    assert mention["weight"] == MENTION_SINGLED and "only post" in mention["text"]
    # the same channel named about an unrelated village: no key in common, no citation
    other = art("Russian forces shelled Vovchansk overnight, DeepState said on Telegram on Monday.")
    assert score(other, post, aliases={"deepstateua": ["DeepState"]})[0] < s


def test_a_join_us_on_telegram_footer_is_not_attribution() -> None:
    from tests.test_cite_detect import KYIV_FOOTER

    body = ("Seasoned brigades hold the defence along the entire line, and Bakhmut is no longer fit "
            "for existence, so there is no point in retreating from it, a commander said.")
    post = cand(POST, "DeepStateUA", 14367)
    for text in (body, body + KYIV_FOOTER):
        ev = score(art(text), post)[1]
        assert any(e.get("guard") == "no-attribution" for e in ev), text
    told = score(art(body + "\n\nThe remarks were first posted on Telegram."), post)[1]
    assert not any(e["kind"] == "guard" for e in told)


def test_an_organisation_named_once_then_referred_back_to_as_the_source() -> None:
    """"Russia's Defense Ministry released footage …" and, further on, "the ministry said on
    Telegram": the article attributes to the organisation it named."""
    filler = ("The footage showed artillery crews at work in a forest, firing several salvos at "
              "positions the crews described as strongholds held by infantry. ")
    text = ("Russia's Defense Ministry released footage of its paratroopers on Saturday. " + filler
            + "Crews of Giatsint-B guns destroyed the strongpoints, the ministry said on Telegram.")
    aliases = {"mod_russia": ["Russia's Defense Ministry"]}
    post = cand("Crews of Giatsint-B guns destroyed the strongpoints of the enemy in the forest "
                "with several precise salvos.", "mod_russia", 24920)
    _, ev = score(art(text), post, aliases=aliases)
    [mention] = [e for e in ev if e["kind"] == "mention"]
    assert "then the ministry + Telegram" in mention["text"] and mention["weight"] >= 0.4
    # the same words with "the ministry" before the name, or another body named: no attribution
    before = ("The ministry said on Telegram that crews destroyed strongpoints. " + filler
              + "Russia's Defense Ministry released footage of its paratroopers on Saturday.")
    assert not [e for e in score(art(before), post, aliases=aliases)[1] if e["kind"] == "mention"]
    other = text.replace("Russia's Defense Ministry", "Belarus's Defense Ministry")
    assert not [e for e in score(art(other), post, aliases=aliases)[1] if e["kind"] == "mention"]


AIR_FORCE_POST = ("On the night of March 30, the enemy attacked with Shahed-136/131 attack UAVs from "
                  "the northern direction, from the Bryansk area. In total, 21 launches of attack "
                  "UAVs were recorded; 16 attack UAVs were destroyed. The main target was the "
                  "critical infrastructure of Kyiv and Zhytomyr regions.")


def test_facts_that_single_out_one_of_the_channels_posts_give_its_mention_in_full() -> None:
    """An own translation that matches no sentence: the channel named as the source, and figures
    and names only one of its posts has, point at that post; the channel's other post of the same
    night (other figures) is not pointed at, and names alone point at nothing."""
    article = art("Russia fired a wave of Iranian-made Shahed drones at Ukraine overnight, targeting "
                  "infrastructure around Kyiv and Zhytomyr, Ukraine's air force said. Air defences "
                  "downed 16 of the 21 drones, launched from the Bryansk region to the north.",
                  hours=5)
    aliases = {"kpszsu": ["Ukraine's air force"]}
    post = cand(AIR_FORCE_POST, "kpszsu", 5512)
    other = cand(AIR_FORCE_POST.replace("21", "35").replace("16", "29"), "kpszsu", 5511)
    s, ev = score(article, post, [other], aliases=aliases)
    [mention] = [e for e in ev if e["kind"] == "mention"]
    assert mention["weight"] == MENTION_SINGLED and s >= THRESHOLD
    assert score(article, other, [post], aliases=aliases)[0] < THRESHOLD
    # the same post told by names alone (no figure): the mention cannot tell which post
    names_only = art(article.text.replace("downed 16 of the 21 drones", "downed most drones"),
                     hours=5)
    assert score(names_only, post, [other], aliases=aliases)[0] < THRESHOLD


def test_two_romanisations_of_a_name_meet() -> None:
    """The journalist writes "Valuiki" and "Kupiansk", the machine translation "Valuyki" and
    "Kupyansk": the same names."""
    post = cand("Unknown persons set fire to a relay cabinet near the Valuyki station; trains to "
                "the Kupyansk direction stopped for more than 10 hours.", "DIUkraine", 2231)
    article = art("Saboteurs burned a signalling cabinet near Valuiki, halting trains bound for "
                  "Kupiansk for over ten hours, Ukraine's Defence Intelligence reported.")
    _, ev = score(article, post, aliases={"diukraine": ["Ukraine's Defence Intelligence"]})
    shared = next(e for e in ev if e["kind"] == "shared")
    assert {"valuiki", "kupiansk"} <= set(shared["names"]) and "10" in shared["numbers"]


def test_names_few_posts_of_the_store_have_are_exact_facts_but_not_the_channels_own() -> None:
    """"Valuiki" and "Kupiansk", in at most RARE_IN_STORE posts of the window, with the figure
    "10 hours" single the channel's post out; the same names in every report do not, and neither
    do the names of the channel's owner however rare."""
    from bot.cite.detect import RARE_IN_STORE

    post = cand("Unknown persons set fire to a relay cabinet near the Valuyki station in the "
                "Belgorod region; trains to the Kupyansk direction stopped for more than 10 hours.",
                "DIUkraine", 2231)
    article = art("Saboteurs burned a signalling cabinet near Valuiki in Russia's Belgorod region, "
                  "halting trains bound for Kupiansk for over ten hours, Ukraine's Defence "
                  "Intelligence reported.", hours=13)
    aliases = {"diukraine": ["Ukraine's Defence Intelligence"]}

    def run(in_store: dict[str, int]) -> tuple[float, dict]:
        [found] = detect(article, [post], aliases_by_channel=aliases, in_store=in_store)
        return found.score, next(e for e in found.evidence if e["kind"] == "mention")

    rare = {"valuiki": 0, "kupiansk": 1, "belgorod": 40}
    score_rare, mention = run(rare)
    assert mention["weight"] == MENTION_SINGLED and score_rare >= THRESHOLD
    common = dict.fromkeys(rare, RARE_IN_STORE + 1)
    assert run(common)[1]["weight"] < MENTION_SINGLED and run(common)[0] < THRESHOLD
    # the channel's own name is not a fact about the post, however few posts have it
    owner = {"diukraine": ["Ukraine's Defence Intelligence", "Valuiki Kupiansk"]}
    [found] = detect(article, [post], aliases_by_channel=owner, in_store=rare)
    assert next(e for e in found.evidence if e["kind"] == "shared")["rare_names"] == []


def test_rare_names_alone_do_not_single_a_post_out() -> None:
    """Three names few posts have, and no figure, unit or name across scripts: still the topic
    (a channel's other post of the same story is as likely), so the mention stays halved."""
    post = cand("Navalny's widow Yulia spoke in Kharkiv about Putin and the war.", "rybar", 39585)
    article = art("Yulia Navalnaya visited Kharkiv and spoke about Putin, the Rybar channel said on "
                  "Telegram, calling it a stunt.", hours=20)
    in_store = {"yulia": 2, "kharkiv": 3, "putin": 4}
    [found] = detect(article, [post], aliases_by_channel={"rybar": ["Rybar"]}, in_store=in_store)
    shared = next(e for e in found.evidence if e["kind"] == "shared")
    assert len(shared["rare_names"]) >= 2
    mention = next(e for e in found.evidence if e["kind"] == "mention")
    assert mention["weight"] < MENTION_SINGLED and "only post" not in mention["text"]


def test_a_name_romanised_two_ways_meets_in_the_passage() -> None:
    # the machine translation writes "Blagodatne" and "Kupyansk", the journalist "Blahodatne" and
    # "Kupiansk": in the passage comparison the names are one (their transliteration key)
    when = datetime(2023, 1, 18, 20, 0, tzinfo=UTC)
    mt = ("The enemy was filmed to the west of Soledar behind the bridge to Blagodatne, and "
          "accordingly our units are no longer there. Shelling of Kupyansk continues.")
    post = CandidatePost("DeepStateUA", 15239, when, "…", mt, post_id=1)
    journalist = ("Russian soldiers were filmed beyond the bridge on the road to Blahodatne, west "
                  "of Soledar, and Ukrainian units are no longer there, the group said. The "
                  "shelling of Kupiansk goes on.")
    art = ArticleInput(journalist, published=when + timedelta(hours=10))
    [found] = detect(art, [post])
    quote = next(e for e in found.evidence if e["kind"] == "quote")
    plain = ArticleInput(journalist.replace("Blahodatne", "Hrodivka").replace("Kupiansk", "Siversk"),
                         published=when + timedelta(hours=10))
    [other] = detect(plain, [post])
    assert quote["weight"] > next(e for e in other.evidence if e["kind"] == "quote")["weight"]


def test_a_post_that_says_whose_words_it_hands_on_is_a_relay() -> None:
    assert relays("Ракети влучили в елеватор, пошкоджено десятки будинків, про це повідомив "
                  "заступник міського голови Очакова Олексій Васьков.")
    assert relays("Повреждены жилые дома, об этом сообщил глава администрации.")
    assert not relays("Ракети влучили в елеватор, пошкоджено десятки будинків.")


def test_words_told_to_a_broadcaster_or_a_news_agency_are_said_outside_telegram() -> None:
    sents = ["Missiles struck a grain elevator, deputy mayor Oleksiy Vaskov told the public "
             "broadcaster Suspilne.", "The governor told the Interfax-Ukraine news agency the same.",
             "The Telegram channel posted a video of the strike."]
    assert offline_sentences(sents) == {0, 1}


def test_a_news_channels_head_naming_the_speaker_and_the_subject_is_a_relay() -> None:
    # "Лавров — о …:" as RT, TASS and RIA head an official's words (texts written for this test)
    assert relays("Лавров — о перспективах контактов с новой администрацией США:\n\n"
                  "🔸Россия готова к диалогу, но будет ждать конкретных предложений")
    assert relays("Зеленський — про переговори з партнерами:\n\nМи готові до діалогу.")
    # a head that names no one, and a place before a colon, are the channel's own words
    assert not relays("Вечірнє зведення — про головне:\n\nНа фронті без змін.")
    assert not relays("Київ: триває ліквідація наслідків атаки\n\nРятувальники працюють.")
