"""Pure text features of the detector: both scripts, inflections, numbers, dates, names."""

from __future__ import annotations

import csv
import json
import random
import re

import pytest

from bot.cite import text as tx
from bot.cite.candidates import fts_terms
from storage.wordforms import normal
from tests.conftest import shared_data


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
    assert (tx.stem("occupation"), tx.stem("contingent")) in a & b


def test_numbers_dates_names() -> None:
    assert tx.numbers("1,200 troops, 12 000 shells, 127th brigade, 127-ї бригади, 3.5 km, 7 tanks") == {
        "1200", "12000", "127", "3.5"}
    # a calibre written onto its unit, as the English press and the post write it
    assert tx.numbers("a good 203mm shell, 120-mm guns; добрим 203-м калібром") == {"203", "120"}
    assert tx.numbers("the 2mmm 12m") == set()
    # an own translation spells out what the post writes in digits
    assert tx.numbers("Forty-one shells in over ten hours; seventy; tent") == {"41", "10", "70"}
    assert tx.number_units("Forty-one shells hit the city") == {("41", tx.stem("shells"))}
    assert tx.dates("on February 24, 3rd of March, 24 лютого, 5 марта and 09.05") == {
        (2, 24), (3, 3), (3, 5), (5, 9)}
    assert {"budanov", "crimea"} <= tx.names("Officials said Kyrylo Budanov visited Crimea.")
    assert "officials" not in tx.names("Officials said Kyrylo Budanov visited Crimea.")


def test_script() -> None:
    assert tx.script_of("Окупанти") == "cyrillic" and tx.script_of("HUR said") == "latin"
    assert tx.script_of("123 !!") == ""


def test_fts_terms_match_how_fts5_stores_tokens() -> None:
    terms = fts_terms("Budanov said the naïve HUR claim about 127 «контингенту» was the 2023 news.")
    assert terms[0] in {"127", normal("budanov")}
    # looked up by their normal forms (storage.wordforms), as the index holds every post's
    assert {normal("naive"), "контингент", "hur", "2023"} <= set(terms)
    assert "the" not in terms and "said" not in terms and "контингенту" not in terms
    assert len(fts_terms(" ".join(f"word{i}" for i in range(500)))) == 80
    # ё is looked up as е, as the index holds it (storage/fold.py)
    assert {"елка", "сгореть"} <= set(fts_terms("Ёлка сгорела")) and "ёлка" not in fts_terms("Ёлка")


def test_fts_terms_put_the_words_attributed_to_telegram_first() -> None:
    from bot.cite.candidates import fts_terms

    article = ("Chancellor Olaf Scholz met President Emmanuel Macron in Paris on Thursday. "
               "They discussed Stoltenberg, Brussels and the Bundeswehr budget at length. "
               "Markets were calm. "
               "In a post on Telegram, the channel wrote that conscripts refuse replenishment. "
               "Nothing else happened. Washington declined to comment.")
    terms = fts_terms(article)
    quoted = max(terms.index(normal(t)) for t in ("conscripts", "refuse", "replenishment"))
    assert quoted < min(terms.index(normal(t)) for t in ("stoltenberg", "bundeswehr", "washington"))


def test_fts_terms_survive_full_spelling_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spellings' terms and scores are memoised per process, bounded: full memos start over
    and give the same terms."""
    from bot.cite import candidates

    article = json.loads(next(iter(shared_data(
        "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl").open(
        encoding="utf-8"))))["text"]
    want = fts_terms(article)
    monkeypatch.setattr(candidates, "_FOLDED_MAX", 5)
    candidates._SCORED.clear()
    assert fts_terms(article) == want
    assert len(candidates._SCORED) <= 5


def test_quoted_tokens_are_told_as_placing_each_token_would() -> None:
    """Which tokens start inside an attributing sentence's span is counted stretch by stretch
    (``candidates._quoted``), not by placing each token: the same as placing them, for spans that
    start or end inside a word, overlap, touch, come in any order, are empty or run past the
    text, on real articles."""
    from bot.cite import candidates

    with shared_data("news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl"
                     ).open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(40), f, strict=False)]
    rnd = random.Random(5)
    quoted = 0
    for text in texts:
        starts = [m.start() for m in candidates._WORD.finditer(text)]
        for _ in range(6):
            ends = sorted(rnd.randint(0, len(text) + 20) for _ in range(2 * rnd.randint(0, 5)))
            spans = list(zip(ends[::2], ends[1::2], strict=True))  # apart, in order
            spans += [(a, a + rnd.randint(-3, 400)) for a in  # overlapping, touching, shuffled
                      rnd.sample(range(len(text)), rnd.randint(0, 4))]
            rnd.shuffle(spans)
            want = [any(lo <= at < hi for lo, hi in spans) for at in starts]
            assert candidates._quoted(text, len(starts), spans) == want
            quoted += sum(want)
    assert quoted > 1000  # the spans did hold tokens


def test_normalize_folds_squeezes_and_expands() -> None:
    assert tx.normalize("Don\u2019t\u00a0 \t stop  «Ёлка» \u2014 zero\u200bwidth soft\u00adhyphen") == (
        'do not stop "елка" - zerowidth softhyphen')
    assert tx.normalize("can`t") == "ca not"  # the backtick is folded to an apostrophe first
    assert tx.normalize("a\r\n\tb") == "a \n b"  # lines stay, other spaces become one each
    assert tx.normalize("isn't, DOESN'T") == "is not, does not"
    assert tx.normalize("DOESN'T") == "doesn't"  # expanded only when a lower-case "n't" is present


def test_stem_set_is_the_set_of_content_stems() -> None:
    texts = ["Troops don't want to replenish the composition of the occupation contingent (127th).",
             "Окупанти не хочуть поповнювати склад контингенту: 40 рапортів на звільнення.",
             "the of and", "", "Ёлка\u200b «ёлке» — елки"]
    for t in texts:
        assert tx.stem_set(t) == frozenset(tx.content_stems(t))
    assert tx.stem_set("the of and") == frozenset()
    assert tx.stem_set("replenish replenishment replenished") == {"replenish"}


def test_stem_set_survives_a_full_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tx, "_STEM_MEMO_MAX", 3)
    tx._STEM_OF.clear()
    assert tx.stem_set("alpha beta gamma delta epsilon") == {"alpha", "beta", "gamma", "delta", "epsilon"}
    assert len(tx._STEM_OF) <= 5
    assert tx.stem_set("alpha zeta") == {"alpha", "zeta"}


def test_stored_stem_set_survives_full_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    """The words and the stored forms are each told once per process, in bounded memos: full
    ones start over and give the same set."""
    text, stored = "Бахмут 110 Kherson штурм", "бахмут xkbakhmut штурмовать kherson"
    want = tx.stored_stem_set(text, stored)
    assert want == {"бахмут", "110", tx.stem("kherson"), "штурм", "штурмовать"}
    monkeypatch.setattr(tx, "_STEM_MEMO_MAX", 3)
    tx._WRITTEN_OF.clear()
    tx._CYRILLIC_FORM.clear()
    assert tx.stored_stem_set(text, stored) == want
    assert len(tx._WRITTEN_OF) <= 4 and len(tx._CYRILLIC_FORM) <= 4
    assert tx.stored_stem_set("Бахмут", "фронт") == {"бахмут", "фронт"}
    assert len(tx._CYRILLIC_FORM) <= 4


def test_skip_bigrams_and_longer_ngrams() -> None:
    toks = ["a", "b", "c", "d"]
    assert tx.shingles(toks) == {("a", "b"), ("b", "c"), ("c", "d"), ("a", "c"), ("b", "d")}
    assert tx.shingles(toks, skip=False) == {("a", "b"), ("b", "c"), ("c", "d")}
    assert tx.shingles(toks, n=3) == {("a", "b", "c"), ("b", "c", "d")}
    assert tx.shingles(["a"]) == set()
    # built at once, the same pairs
    for n in range(6):
        toks = [chr(97 + i % 3) for i in range(n)]
        assert tx.shingle_set(toks) == frozenset(tx.shingles(toks))


def test_script_counts_letters_not_runs() -> None:
    assert tx.script_of("Путин said") == "cyrillic"  # 5 Cyrillic letters against 4 Latin
    assert tx.script_of("Путин said it") == "latin"
    assert tx.script_of("Ѐӿ a") == "cyrillic" and tx.script_of("Ѐӿ ab") == "latin"  # a tie is Latin
    assert tx.script_of("éßü 🇺🇦 a") == "latin" and tx.script_of("éß 🇺🇦 \ud800") == ""


def test_words_with_and_without_apostrophes() -> None:
    assert tx.words("o'brien's x_y 12ab") == ["o'brien", "s", "x", "y", "12ab"]
    assert tx.words("obriens x_y 12ab") == ["obriens", "x", "y", "12ab"]
    assert tx.content_stems("O’Brien’s troops") == ["obrien", tx.stem("troops")]  # ’ folds; "s" dropped



_ARTICLES = 447  # the GDELT file's articles, first in ``_articles_and_milbloggers()``


def _articles_and_milbloggers() -> list[str]:
    """The real GDELT articles, then every CoonAndFriends post as written and as Google put it."""
    texts = [json.loads(line)["text"] for line in shared_data(
        "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl").open(
        encoding="utf-8")]
    assert len(texts) == _ARTICLES
    with shared_data("telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022"
                     ".csv").open(encoding="utf-8") as f:
        return texts + [v for row in csv.DictReader(f) for v in (row["text_original"],
                                                                 row["text_en_google"])]

def test_texts_split_into_the_tokens_of_the_word_pattern() -> None:
    """``words`` splits most texts in C: the same tokens as the word pattern it stands for, on
    real articles, translations and Russian/Ukrainian posts (as written and normalised), on every
    short string of letters, digits, apostrophes and breaks, and on random ones with Cyrillic,
    emoji, combining marks, other digits and a lone surrogate."""
    import itertools
    import random

    def pattern(t: str) -> list[str]:
        return re.findall(r"[^\W_]+(?:'[^\W_]+)?", t)

    texts = _articles_and_milbloggers()
    with shared_data("telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_"
                     "2023-05.csv").open(encoding="utf-8") as f:
        texts += [row["message_text"] for row in csv.DictReader(f)]
    texts += [tx.normalize(t) for t in texts]
    texts += ["".join(c) for n in range(7) for c in itertools.product("a1'_ -", repeat=n)]
    rnd = random.Random(5)
    texts += ["".join(rnd.choice("aZ9'''_.-\n\t\x1c жЖії«…№\u0301\u00a0\u2009٣²🔥\ud800")
                      for _ in range(rnd.randint(5, 40))) for _ in range(20000)]
    split = with_apostrophe = 0
    for t in texts:
        assert tx.words(t) == pattern(t), t[:200]
        split += t.isascii() or not tx._OTHER_BREAK.search(t)
        with_apostrophe += "'" in t
    assert split > 5000 and with_apostrophe > 5000  # both ways and apostrophes are checked


def test_latin_stems_are_the_written_stems_without_cyrillic() -> None:
    """``latin_stem_set`` finds a plain text's Latin words without folding it: the same stems as
    the Cyrillic-free part of ``stored_stem_set`` on real posts, articles and translations, and on
    random strings mixing ASCII, Cyrillic letters of either case, apostrophes of every kind,
    contractions, emoji, zero-width characters, combining marks, letters NFKC changes ("Ａ", "①",
    "ᵸ"), other Cyrillic signs and Latin letters outside ASCII."""
    import random

    def want(t: str) -> frozenset[str]:
        return frozenset(s for s in tx.stored_stem_set(t, "") if not re.search("[а-яіїєґ]", s))

    texts = _articles_and_milbloggers()
    with shared_data("telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_"
                     "2023-05.csv").open(encoding="utf-8") as f:
        texts += [row["message_text"] for row in csv.DictReader(f)]
    pool = [*"abcXYZ019 _-'`’‘ʼ«»“”„–—…\u00a0\ufe0f\u200b\u200d\u00adёЁйЙіІїЇєЄґҐабвАБВўЎ҂№²①Ⓐａ",
            *"Ａéüßİıſᵸ™½🇺🔥‼.,!?:;()[]\n\t\u0301\u0306\u0308", "n't", "don't", "o'brien", "м'ясо"]
    rnd = random.Random(3)
    texts += ["".join(rnd.choice(pool) for _ in range(rnd.randint(1, 30))) for _ in range(20000)]
    plain = 0
    for t in texts:
        assert tx.latin_stem_set(t) == want(t), t[:200]
        plain += tx._plain(t)
    assert 1000 < plain < len(texts) - 1000  # both ways are checked


def test_numbers_and_dates_need_a_digit_after_normalising() -> None:
    assert tx.dates("24 February") == {(2, 24)} and tx.dates("February") == set()
    assert tx.dates("２４ February") == {(2, 24)}  # full-width digits become ASCII ones
    assert tx.numbers("\u2460\u2461 tanks") == {"12"}  # circled digits are digits after NFKC
    assert tx.numbers("no numbers here") == set()


def test_names_are_remembered_per_word_but_not_at_a_sentence_start() -> None:
    text = "Budanov spoke. Then Budanov left for Kyiv. Officials met Zelensky."
    assert tx.names(text) == {"budanov", "zelenski"}  # Kyiv is a topic word
    assert tx.names(text) == {"budanov", "zelenski"}  # the same from the memo


def test_attribution_prefilter_agrees_with_the_pattern() -> None:
    from bot.cite.candidates import _TELEGRAM_ATTRIBUTION, _may_attribute

    for text in ["In a post", "IN A POST", "ın a poſt", "İn a post", "Telegram", "ТЕЛЕГРАМ-канал",
                 "дᲂпис", "ДОПИС", "a channel", "tele gram", "no cue here", ""]:
        assert _may_attribute(text) == (
            _TELEGRAM_ATTRIBUTION.pattern.search(text) is not None), text


def test_odd_case_letters_are_those_re_folds_differently_from_str_lower() -> None:
    """The letters ``Caseless`` leaves to the IGNORECASE pattern, derived from ``re`` itself: every
    character that IGNORECASE matches to a Latin or Cyrillic letter while ``str.lower`` does not
    lower it to one (or lengthens it)."""
    letter = re.compile("[a-zа-яёіїєґ]")
    odd = set()
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or c.lower() == c.upper() == c:
            continue  # surrogates, and characters without case
        low = c.lower()
        if bool(re.fullmatch(letter.pattern, c, re.IGNORECASE)) != (
                len(low) == 1 and bool(letter.fullmatch(low))) or len(low) != 1:
            odd.add(c)
    assert odd and odd <= {c for c in map(chr, range(0x110000))
                           if not 0xD800 <= ord(c) <= 0xDFFF and tx.ODD_CASE_LETTERS.match(c)}


def test_caseless_patterns_match_as_their_ignorecase_form() -> None:
    """Every case-insensitive pattern searched through ``Caseless`` finds the same span as its
    IGNORECASE form, in every sentence of the real news articles and in odd-case text."""
    from bot.cite import candidates, spans

    patterns = [spans._TELEGRAM, spans._OFFLINE_VENUE, spans._GOES_ON, tx._NUMBER_WORD,
                candidates._TELEGRAM_ATTRIBUTION]
    gdelt = shared_data("news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl")
    texts = [s for line in gdelt.open(encoding="utf-8")
             for s in tx.sentences(json.loads(line)["text"])]
    texts += ["He said on TELEGRAM", "ſhe ſaid in a Poſt", "İn an İnterview", "Told Reporters",
              "told CNN", "Posted on X", "Forty-Two", "НА КАНАЛІ", "дᲂпис", "ın a post"]
    found = 0
    for text in texts:
        for p in patterns:
            want = p.pattern.search(text)
            got = p.search(text)
            assert (got and got.span()) == (want and want.span()), (p.pattern.pattern, text)
            found += want is not None
    assert found > 100
    with pytest.raises(ValueError, match="upper-case escape"):
        tx.Caseless(r"said\W")


def test_fts_terms_bonus_once_for_a_term_quoted_after_its_first_use() -> None:
    from bot.cite.candidates import _QUOTED_BONUS, fts_terms

    filler = " ".join(f"Sentence {w} mentions nothing relevant whatsoever." for w in
                      ("one", "two", "three", "four"))
    # "hur" first (too short, lower-case: skipped), then "HUR" (kept), then quoted near Telegram
    article = f"Then hur spoke. HUR agreed. {filler} Officials said on Telegram that HUR and HUR refused."
    terms = fts_terms(article)
    # hur: 3/6 + 1.5 (first kept spelling capitalised) + the bonus once = 6.0; twice would be 10.0,
    # above officials (9/6 + 1.5 + 4 = 7.0); none would be 2.0, below whatsoever (10/6 + 4 = 5.67)
    assert terms.index(normal("officials")) < terms.index("telegram") < terms.index("hur") < \
        terms.index(normal("whatsoever"))
    unquoted = fts_terms(f"Then hur spoke. HUR agreed. {filler}")
    assert unquoted.index("hur") > unquoted.index(normal("sentence"))  # 2.0 < 8/6 + 1.5
    assert _QUOTED_BONUS == 4.0


def test_month_day_finds_the_month_words_the_plain_pattern_finds() -> None:
    """``dates`` reads "February 24" through ``_MONTH_DAY``: in lower-cased real articles and posts
    and in edge cases, the same matches as the plain pattern, of every word that gives a month."""
    plain = re.compile(r"\b([A-Za-z]{3,})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b")
    texts = _articles_and_milbloggers()
    texts += ["March 5th", "xMarch 5", "Marchers 12 and mayday 3", "sept. 9", "Dec\n31st",
              "jan 123", "_jun 4", "май 5", "augustus 7, octopus 8", "nov 12th."]
    found = 0
    for t in texts:
        s = tx.normalize(t)
        want = [(m.span(), m.groups()) for m in plain.finditer(s) if tx._month(m.group(1))]
        assert [(m.span(), m.groups()) for m in tx._MONTH_DAY.finditer(s)
                if tx._month(m.group(1))] == want, s[:200]
        found += len(want)
    assert found > 100


def test_number_words_are_read_as_without_the_substring_test() -> None:
    """``_numeric_text`` looks for number words only in texts that hold one as a substring: the
    same text as the pattern read everywhere, on real articles and posts and on random strings of
    number words, their look-alikes ("often", "ſixty") and breaks."""
    import random
    import unicodedata

    def everywhere(text: str) -> str | None:
        s = text if text.isascii() else unicodedata.normalize("NFKC", text).replace("\u00a0", " ")
        if tx._NUMBER_WORD.search(s):
            s = tx._NUMBER_WORD.pattern.sub(tx._number_word, s)
        return s if re.search(r"\d", s) else None

    texts = _articles_and_milbloggers()
    rnd = random.Random(2)
    parts = ["twenty", "Twenty", "one", "-", " ", "—", "'", "_", "ten", "TEN", "often", "FORTY",
             "ſixty", "5", "é", "TWELVE", "nineteen", "\u00a0", "İ"]
    texts += ["".join(rnd.choice(parts) for _ in range(rnd.randint(1, 8))) for _ in range(20000)]
    skipped = 0
    for t in texts:
        assert tx._numeric_text.__wrapped__(t) == everywhere(t), t[:200]
        skipped += not tx._may_have_number_word(t)
    assert 1000 < skipped < len(texts) - 1000  # both ways are taken


#: the patterns as first written, each opening with ``\b`` or a lookbehind; the module's forms
#: start with the character class instead (checked right after it), so ``re`` skips to the next
#: digit or capital in C rather than trying the pattern at every position
_PLAIN_PATTERNS = {
    "_NUMBER": r"(?<![\w.,])(?<![^\W\d_]-)(\d{1,3}(?:[ ,.\u202f]\d{3})+|\d+(?:[.,]\d+)?)"
               r"(?:st|nd|rd|th|-?(?:mm|cm|km|kg)|-?[а-яіїєґ]{1,3})?(?![\w.]\d)(?!\w)",
    "_DATE_DM": r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([^\W\d_]{3,})",
    "_DATE_NUM": r"\b(\d{1,2})\.(\d{2})(?:\.(?:\d{2}|\d{4}))?\b"
                 r"(?!\s*(?:%|percent|per cent|million|billion|thousand|trillion|mln|bn|gigawatt|"
                 r"megawatt|млн|млрд|тис|тыс|відсот|процент))",
    "_CAPITALISED": r"\b([A-Z][a-z]{2,}|[А-ЯІЇЄҐ][а-яіїєґ']{2,}|[A-Z]{2,6})\b",
    "_SENTENCE": r"(?<=[.!?…])[\"')\]]*\s+|\n+",
    "_NUMBER_UNIT": r"(?<![\w.,])(?<![^\W\d_]-)(\d{1,3}(?:[ ,.\u202f]\d{3})+|\d+(?:[.,]\d+)?)"
                    r"(?:\s*\([^)]*\))?\s+"
                    r"(?:(?:more|than|of|additional|other|russian|ukrainian|enemy)\s+)?"
                    r"([^\W\d_]{3,})",
}


@pytest.mark.parametrize("name", sorted(_PLAIN_PATTERNS))
def test_prefix_scanned_patterns_match_as_their_plain_forms(name: str) -> None:
    """Same matches (spans and groups) as the plain form on real articles and posts, as written,
    normalised and as numbers are read, and on edge cases at the start and after word characters."""
    plain = re.compile(_PLAIN_PATTERNS[name])
    fast = getattr(tx, name)
    articles = _articles_and_milbloggers()
    texts = ["\n" + t for t in articles[:_ARTICLES]] + articles[_ARTICLES:]
    texts += ["24.02", "a24.02 x", "_5 March", "March 5th", "1,200 troops", "x1 200", "5th of May",
              "Київ Бахмут", "ZSU AFU ABCDEFG", "aKyiv", "ЦЦц", "1.5 gigawatts", "Jan. 3, .5 1",
              "3,000 more enemy soldiers", "7", "77 (seventy-seven) units", 'He said." Then',
              "End.)\n\nNext! ? …\t\"a", "no.\u00a0break", "\n", "Kh-101 missiles, 3-4 km",
              "Х-101/Х-555 ракети", "120-mm guns"]
    checked = 0
    for t in texts:
        for v in (t, tx.normalize(t), tx._numeric_text(t) or ""):
            want = [(m.span(), m.groups()) for m in plain.finditer(v)]
            assert [(m.span(), m.groups()) for m in fast.finditer(v)] == want, v[:200]
            checked += len(want)
    assert checked >= 20  # the texts hold matches of each: the comparison is not vacuous


def test_telegram_pattern_matches_as_its_plain_form() -> None:
    """``bot.cite.spans._TELEGRAM`` (``\\bchannel`` written as ``c(?<!\\wc)hannel``) finds what
    the plain form finds, in both of its twins (lower-cased text and IGNORECASE), on every sentence
    of the real articles and on edge cases."""
    from bot.cite import spans

    plain = tx.Caseless(r"telegram|телеграм|\bchannel\b|канал|in a post\b|posted")
    texts = [json.loads(line)["text"] for line in shared_data(
        "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl").open(
        encoding="utf-8")]
    sents = [s for t in texts for s in tx.sentences(t)]
    sents += ["channel", "a channel.", "xchannel", "_channel", "Channels", "CHANNEL", "İ channel",
              "1channel", "the-channel", "канал", "in a posting", "Telegram"]
    found = 0
    for s in sents:
        for fast, slow in ((spans._TELEGRAM.lower, plain.lower), (spans._TELEGRAM.pattern,
                                                                  plain.pattern)):
            want = slow.search(s.lower() if fast is spans._TELEGRAM.lower else s)
            got = fast.search(s.lower() if fast is spans._TELEGRAM.lower else s)
            assert (got and (got.span(), got.group(0))) == (want and (want.span(),
                                                                      want.group(0))), s
            found += want is not None
    assert found >= 50


#: ``bot.cite.spans._OFFLINE_VENUE`` as first written (each alternative after one ``\b``)
_OFFLINE_VENUE_AS_WRITTEN = (
    r"\b(?:told (?:\w+ ){0,2}(?:reporters|journalists|a news conference|a press conference|"
    r"television|TV|radio|parliament|lawmakers|the (?:BBC|CNN|AP|AFP)|[A-Z]\w+ (?:TV|television|"
    r"radio|newspaper)|broadcaster|news agency|Reuters|Interfax|Ukrinform)|"
    r"speaking (?:to|at|on|in) |at a (?:news|press) (?:conference|briefing)|"
    r"in an? (?:interview|televised|television|TV|video|nightly|radio) ?(?:interview|address|"
    r"speech|broadcast|statement|appearance)?|in a speech|at a (?:televised )?meeting|"
    r"interview (?:with|broadcast)|said on (?:state )?(?:television|TV|radio)|"
    r"statement on (?:its|his|her|their) website|on (?:his|her|its) website|on X|on Twitter|"
    r"on Facebook|on Instagram)")
#: ``bot.cite.spans._QUOTED`` as first written (lookbehinds before the single quotes)
_QUOTED_AS_WRITTEN = re.compile(
    r'"([^"\n]{6,600})"'
    r"|“([^”“\n]{6,600})”"
    r"|«([^»«\n]{6,600})»"
    r"|„([^“”„\n]{6,600})[“”]"
    r"|(?<![\w'])'([^'\n]{6,300}?)'(?![\w'])"
    r"|(?<![\w‘’])‘([^’‘\n]{6,300}?)’(?![\w’])")


def _texts_and_edges(extra: list[str]) -> list[str]:
    """Real articles, their sentences, translations and posts, and random mixes of quotation
    marks, apostrophes, venues and contractions."""
    import random

    texts = _articles_and_milbloggers()
    texts += [s for t in texts for s in tx.sentences(t)]
    rnd = random.Random(7)
    pool = [*"ab c'‘’\"“”«»„\n.,x", "word ", "it's ", "'quoted three words' ", "‘one two three’ ",
            "told ", "Told the ", "reporters", "in an ", "interview", " on X", "on Twitter", "said on ",
            "TV", "at a ", "press conference", "speaking to ", "statement on its website", "don't ",
            "isn't", "N'T ", "n't", "wasn't'", "İ", "ſ"]
    return texts + extra + ["".join(rnd.choice(pool) for _ in range(rnd.randint(1, 40)))
                            for _ in range(20000)]


def test_rewritten_patterns_match_as_first_written() -> None:
    """The patterns written to open with a character (so ``re`` skips to it in C) find what they
    were first written to find: the quoted spans (same spans and groups), the offline venues
    (whether a text names one, through ``Caseless`` and IGNORECASE alike, and the sentences
    ``offline_sentences`` picks), and "n't" (the same text after the fold)."""
    from bot.cite import spans

    venue = tx.Caseless(_OFFLINE_VENUE_AS_WRITTEN)
    contractions = re.compile(r"(?<=\w)n't\b", re.IGNORECASE)
    texts = _texts_and_edges(["in an interview", "xtold reporters", "on Xavier", "Told CNN",
                              "said on state TV", "'it is what it is'", "l'heure 'of the day'"])
    venues = quotes = 0
    for t in texts:
        got = [(m.span(), m.groups()) for m in spans._QUOTED.finditer(t)]
        assert got == [(m.span(), m.groups()) for m in _QUOTED_AS_WRITTEN.finditer(t)], t[:200]
        quotes += bool(got)
        want = venue.search(t) is not None
        assert (spans._OFFLINE_VENUE.search(t) is not None) == want, t[:200]
        assert (spans._OFFLINE_VENUE.pattern.search(t) is not None) == want, t[:200]
        venues += want
        assert contractions.sub(" not", t) == tx._CONTRACTIONS.sub(" not", t)
    assert quotes > 1000 and venues > 1000

    def offline_as_written(sentences: list[str]) -> set[int]:
        out: set[int] = set()
        for i, s in enumerate(sentences):
            if spans._TELEGRAM.pattern.search(s):
                continue
            if venue.search(s) or (i - 1 in out and spans._GOES_ON.search(s)):
                out.add(i)
        return out

    picked = 0
    for t in _articles_and_milbloggers():
        sents = tx.sentences(t)
        assert spans.offline_sentences(sents) == offline_as_written(sents)
        picked += bool(offline_as_written(sents))
    assert picked > 50


def test_a_model_number_is_no_figure_and_a_date_no_article_figure() -> None:
    # "Kh-101", "S-300", "Shahed-136", "Ка-52": a designation every report of the kind shares,
    # not a count; "120-mm" and "1,200 troops" are figures
    assert tx.numbers("Kh-101 and S-300 missiles, Shahed-136 drones, Ка-52") == set()
    assert tx.number_units("Kh-101 missiles") == set()
    assert tx.number_units("24 missiles") == {("24", tx.stem("missiles"))}
    assert tx.numbers("120-mm guns and 1,200 troops") == {"120", "1200"}
    # an article's "Nov. 10" or "24 лютого" is when, not how many
    assert tx.figures("On Nov. 10 the governor said 19 drones hit 10 villages") == {"19", "10"}
    assert tx.figures("On Nov. 10 the governor said 19 drones were shot down") == {"19"}
    assert tx.figures("24 лютого знищено 12 танків") == {"12"}


def _texts_and_noise(seed: int) -> list[str]:
    """Real articles, translations and posts (``_articles_and_milbloggers``, the kkruglik posts),
    and random strings of what folding, NFKC and lower-casing treat apart: combining marks that
    compose with the letter before them (also at a text's start), letters NFKC changes, digits of
    other scripts, zero-width characters, final sigma, "İ", "n't" in either case, apostrophes."""
    import random

    texts = _articles_and_milbloggers()
    with shared_data("telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_"
                     "2023-05.csv").open(encoding="utf-8") as f:
        texts += [row["message_text"] for row in csv.DictReader(f)]
    pool = [*"abcXYZ019 _-'`’‘ʼ«»“”„–—…\u00a0\ufe0f\u200b\u200d\u00adёЁйЙіІїЇєЄґҐабвАБВўЎ№²①Ⓐａ",
            *"Ａéüßİıſᵸ™½🇺🔥.,!?:;()\t\r\u0301\u0306\u0308\u0338<=ΣΟσ٣۵߃१１",
            "n't", "N'T", "don’t", "o'brien", "м'ясо"]
    rnd = random.Random(seed)
    texts += ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30))) for _ in range(20000)]
    return texts


def test_sentences_stemmed_together_as_one_by_one() -> None:
    """``content_stems_each`` (the sentences folded as one text) gives each sentence the stems
    ``content_stems`` gives it alone: the sentences of real articles and posts, and runs of random
    strings (each an own "sentence", so marks and "n't" meet a break at either end)."""
    texts = _texts_and_noise(7)
    for t in texts[:3000]:
        sents = tx.sentences(t)
        assert tx.content_stems_each(sents) == [tx.content_stems(s) for s in sents], t[:200]
    noise = texts[3000:]
    for i in range(0, len(noise), 7):
        run = noise[i:i + 7]
        assert tx.content_stems_each(run) == [tx.content_stems(s) for s in run], run
    # a text with a line break is stemmed alone; so is an empty list
    broken = ["Troops\nadvanced", "Kyiv"]
    assert tx.content_stems_each(broken) == [tx.content_stems(s) for s in broken]
    assert tx.content_stems_each([]) == []


def test_has_digit_is_the_digit_pattern() -> None:
    """``has_digit`` (ASCII digits by substring) says what ``\\d`` says, on real texts and random
    strings with digits of other scripts; ``dates`` of a text whose only digits come from NFKC."""
    for t in _texts_and_noise(8):
        assert tx.has_digit(t) == (re.search(r"\d", t) is not None), t[:200]
    assert tx.has_digit("٣ drones") and not tx.has_digit("Ⓐ ① no")  # ① is no \d before NFKC
    assert tx.dates("① February") == {(2, 1)}


_SENTENCE_AS_FIRST_WRITTEN = re.compile(
    r"[\"')\]\s](?:(?<=[.!?…][\"')\]])[\"')\]]*\s+|(?<=[.!?…]\s)\s*|(?<=\n)\n*)")


def test_sentence_breaks_split_as_with_the_whitespace_class() -> None:
    """``WHITESPACE`` is ``\\s`` for every code point, and the sentence pattern that spells it out
    splits real texts and random ones (breaks of every kind after sentence ends) as before."""
    spelled = re.compile(f"[{tx.WHITESPACE}]")
    space = re.compile(r"\s")
    assert all((spelled.match(chr(c)) is None) == (space.match(chr(c)) is None)
               for c in range(0x110000))
    texts = _texts_and_noise(9)
    import random

    rnd = random.Random(9)
    pool = [*".!?…\"')]\n\t\r \u00a0\u2028\u3000\x85", "x", "Я"]
    texts += ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 20))) for _ in range(20000)]
    for t in texts:
        assert tx._SENTENCE.split(t) == _SENTENCE_AS_FIRST_WRITTEN.split(t), t[:200]
