"""Alert formatting: pure, so these tests build records and look at the HTML Telegram would get."""

from __future__ import annotations

from datetime import UTC, datetime

from telethon.extensions import html as tg_html
from telethon.tl import types

from bot.alerts.format import MAX_LEN, excerpt, format_alert, href, plain_text, tg_len
from storage.alerts import AlertGroup, AlertItem
from storage.models import Alert, Article, Citation, Post

POST_DATE = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
PUBLISHED = datetime(2024, 5, 2, 13, 0, tzinfo=UTC)  # 31 h later
ORIGINAL = "Розвідка повідомляє: уражено склад боєприпасів у Криму. Деталі згодом."
TRANSLATION = ("Intelligence reports: an ammunition depot in Crimea was hit overnight. "
               "Details later.")


def item(n: int, *, text: str = ORIGINAL, translation: str | None = TRANSLATION,
         score: float = 0.9, evidence: list[dict] | None = None, channel: str = "DIUkraine",
         message_id: int = 1908) -> AlertItem:
    post = Post(channel=channel, message_id=message_id, date=POST_DATE, text=text, id=n,
                translation=translation, translation_lang="en")
    ev = evidence if evidence is not None else [
        {"kind": "link", "text": f"links to t.me/{channel}/{message_id}", "weight": 1.0},
        {"kind": "quote", "text": "quotes 83% of the translated post", "weight": 0.8,
         "containment": 0.83, "against": "translation",
         "post_passage": "an ammunition depot in Crimea was hit",
         "article_passage": "an ammunition depot in Crimea was hit"},
        {"kind": "mention", "text": "mentions HUR + Telegram", "weight": 0.2},
        {"kind": "time", "text": "published 31 h after the post", "weight": 0.1},
    ]
    cit = Citation(article_id=1, post_id=n, score=score, evidence=ev, id=n)
    return AlertItem(Alert(citation_id=n, chat="me", id=n, article_id=1), cit, post)


def group(*items: AlertItem, title: str = "Drone strike hits depot",
          url: str = "https://news.example/a?x=1&y=2", outlet: str = "Example News") -> AlertGroup:
    article = Article(url=url, id=1, title=title, outlet=outlet, published=PUBLISHED)
    return AlertGroup(chat="me", article=article, items=list(items))


def test_one_citation_has_article_post_links_and_evidence_in_words() -> None:
    msg = format_alert(group(item(1)))
    text, entities = tg_html.parse(msg)
    assert "Drone strike hits depot" in text and "Example News" in text
    assert "t.me/DIUkraine/1908" in text and "@DIUkraine" in text and "2024-05-01 06:00 UTC" in text
    for words in ("links to t.me/DIUkraine/1908", "quotes 83% of the translated post",
                  "mentions HUR + Telegram", "published 31 h after the post", "score 0.90"):
        assert words in text
    urls = [e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)]
    assert urls == ["https://news.example/a?x=1&y=2", "https://t.me/DIUkraine/1908"]
    # the matched passage of the translation is marked bold + underlined
    start = len(text[: text.index("an ammunition depot in Crimea was hit")].encode("utf-16-le")) // 2
    marks = {type(e) for e in entities if e.offset == start and e.length == 37}
    assert marks == {types.MessageEntityBold, types.MessageEntityUnderline}
    assert ORIGINAL[:20] in text  # the original excerpt is there too


def test_time_gap_is_worded_when_the_detector_gave_none() -> None:
    it = item(1, evidence=[{"kind": "link", "text": "links to t.me/DIUkraine/1908", "weight": 1}])
    assert "published 31 h after the post" in plain_text(format_alert(group(it)))


def test_hostile_text_is_escaped_everywhere() -> None:
    hostile = '<script>alert(1)</script> & "><a href="https://evil.example">click</a> <b>'
    it = item(1, text=hostile, translation=hostile, channel="DIUkraine",
              evidence=[{"kind": "quote", "text": hostile, "weight": 1, "against": "translation",
                         "post_passage": '<script>alert(1)</script> &'}])
    msg = format_alert(group(it, title=hostile, outlet=hostile,
                             url='https://news.example/?q="><script>x</script>'))
    assert "<script>" not in msg and "<a href=\"https://evil" not in msg
    text, entities = tg_html.parse(msg)
    # the hostile strings survive as literal text, not as markup
    assert text.count('<script>alert(1)</script> & "><a href="https://evil.example">click</a>') >= 3
    urls = [e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)]
    # the query is percent-encoded, as normalize_url writes every link
    assert urls == ["https://news.example/?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E",
                    "https://t.me/DIUkraine/1908"]
    assert not any("evil.example" in u for u in urls)


def test_non_http_urls_never_become_links() -> None:
    msg = format_alert(group(item(1), url="javascript:alert(1)"))
    _, entities = tg_html.parse(msg)
    assert [e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)] == [
        "https://t.me/DIUkraine/1908"]


def test_several_citations_of_one_article_make_one_message_best_first() -> None:
    msg = format_alert(group(item(1, score=0.7, message_id=10), item(2, score=0.95, message_id=20),
                             item(3, score=0.8, channel="rybar", message_id=30)))
    text = plain_text(msg)
    assert "3 posts are cited" in text and "score 0.95" in text
    positions = [text.index(u) for u in ("t.me/DIUkraine/20", "t.me/rybar/30", "t.me/DIUkraine/10")]
    assert positions == sorted(positions)


def test_long_posts_are_shortened_to_the_limit_keeping_entities_whole() -> None:
    long_text = ("Very long & <odd> text with emoji 🇺🇦 " * 400).strip()
    items = [item(i, text=long_text, translation=long_text + " an ammunition depot in Crimea was hit",
                  message_id=i) for i in range(1, 6)]
    msg = format_alert(group(*items, title="T" * 5000))
    assert tg_len(msg) <= MAX_LEN <= 4096
    text, entities = tg_html.parse(msg)
    assert "5 posts are cited" in text and "&amp;" not in text and "&" in text
    # every entity lies inside the text (nothing cut in the middle of a tag)
    n16 = len(text.encode("utf-16-le")) // 2
    assert all(e.offset >= 0 and e.offset + e.length <= n16 for e in entities)
    assert msg.count("<a ") == msg.count("</a>") and msg.count("<b>") == msg.count("</b>")


def test_very_many_citations_are_summarised_not_truncated() -> None:
    items = [item(i, message_id=i) for i in range(1, 120)]
    msg = format_alert(group(*items))
    assert tg_len(msg) <= MAX_LEN
    assert "more cited posts" in plain_text(msg)


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert tg_len("<b>🇺🇦</b>") == 4 and tg_len("a &amp; b") == 5


def test_excerpt_marks_passage_across_whitespace_and_case() -> None:
    out = excerpt("Alpha beta\n gamma DELTA epsilon", "gamma delta", 100)
    assert out == "Alpha beta <b><u>gamma DELTA</u></b> epsilon"
    assert excerpt("x" * 50 + " needle " + "y" * 50, "needle", 20).count("…") == 2
    # context is cut at word boundaries, not inside a word
    words = "occupiers in the south are refusing to fight; the contingent does not want it at all"
    for limit in range(24, 64):
        out = excerpt(words, "contingent", limit)
        assert out.startswith("…")
        shown = out.strip("…").replace("<b><u>", "").replace("</u></b>", "")
        assert shown in words and all(w in words.split() for w in shown.split()), limit
    assert href('https://a.example/"x"') == "https://a.example/&quot;x&quot;"
