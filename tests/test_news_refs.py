"""Telegram refs in raw HTML and article extraction, on realistic pages built from real articles."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.news.extract import extract_article, parse_datetime
from bot.news.refs import find_telegram_refs
from bot.news.urls import normalize_url, same_site
from bot.tglinks import TelegramRef
from tests.conftest import shared_data
from tests.news_pages import ARTICLES_FILE, article_page, real_texts

INLINE = """
<p>The intelligence agency said so <a href="https://t.me/DIUkraine/3512?single">on Telegram</a>,
and repeated it in a later update (https://telegram.me/DIUkraine/3520).</p>
<p>An archive copy: <a href="https://t.me/s/DIUkraine/3600">t.me/s/DIUkraine/3600</a></p>
<blockquote class="telegram-post" data-telegram-post="DIUkraine/3700" data-width="100%">
  <a href="https://t.me/DIUkraine/3700">View post</a></blockquote>
<script async src="https://telegram.org/js/telegram-widget.js?22" data-telegram-post="rybar/4100"
 data-width="100%"></script>
<iframe src="https://t.me/kyivindependent_official/777?embed=1" width="100%"></iframe>
<p>Stickers: <a href="https://t.me/addstickers/Ukraine">pack</a>, preview
<a href="https://t.me/iv?url=https%3A%2F%2Fx&rhash=1">IV</a>.</p>
"""


def _by_key(refs: list[TelegramRef]) -> dict[tuple[str, int | None], str]:
    return {(r.channel, r.message_id): r.kind for r in refs}


def test_refs_in_realistic_page() -> None:
    text = real_texts(shared_data(ARTICLES_FILE), 1)[0]
    refs = find_telegram_refs(article_page(text, inline=INLINE))
    assert _by_key(refs) == {
        ("DIUkraine", 3512): "link",
        ("DIUkraine", 3520): "link",
        ("DIUkraine", 3600): "link",
        ("DIUkraine", 3700): "embed",
        ("rybar", 4100): "embed",
        ("kyivindependent_official", 777): "embed",
        ("dailynewsdesk", None): "channel",  # the "Join us on Telegram" footer is no post
    }
    assert all(r.url.startswith("https://t.me/") for r in refs)
    assert next(r for r in refs if r.message_id == 3600).url == "https://t.me/DIUkraine/3600"


def test_footer_only_page_has_no_post_refs() -> None:
    text = real_texts(shared_data(ARTICLES_FILE), 2)[1]
    refs = find_telegram_refs(article_page(text))
    assert [(r.kind, r.channel) for r in refs] == [("channel", "dailynewsdesk")]


def test_non_channel_paths_and_lookalikes_are_skipped() -> None:
    html = ('<a href="https://t.me/joinchat/AAAA">a</a> <a href="https://t.me/+abc">b</a>'
            '<a href="https://t.me/share/url?url=x">c</a> <a href="https://t.me/c/1234/56">d</a>'
            '<a href="https://notat.me/chan/1">e</a> <a href="https://t.me/abc/1">too short</a>'
            '<a href="https://www.t.me/Real_Chan/42">ok</a>')
    assert _by_key(find_telegram_refs(html)) == {("Real_Chan", 42): "link"}


def test_refs_on_empty_or_binary_input() -> None:
    assert find_telegram_refs("") == []
    assert find_telegram_refs(b"\x00\x01\x02\xff") == []


def test_extract_real_article() -> None:
    text = real_texts(shared_data(ARTICLES_FILE), 1)[0]
    page = article_page(text, title="Macron to call Putin", inline=INLINE,
                        canonical="https://www.news.example/world/macron-putin?utm_source=tw#top")
    ex = extract_article(page.encode(), "https://news.example/world/macron-putin?utm_medium=rss")
    assert ex.title == "Macron to call Putin"
    assert ex.author == "Olena Kovalenko"
    assert ex.published == datetime(2023, 3, 14, 7, 30, tzinfo=UTC)
    assert ex.lang == "en"
    assert ex.canonical_url == "https://www.news.example/world/macron-putin"
    first_sentence = text.split("\n")[0][:60]
    assert first_sentence in ex.text
    assert "Related" not in ex.text and "Join us on Telegram" not in ex.text
    # extraction drops links; the refs were taken from the raw HTML first
    assert "t.me/DIUkraine/3700" not in ex.text
    assert ("DIUkraine", 3700) in _by_key(ex.tg_refs)


def test_canonical_of_another_site_is_ignored() -> None:
    page = article_page("Some text here.\n" * 20, canonical="https://other-site.example/x")
    ex = extract_article(page, "https://news.example/a?utm_campaign=x&id=7#c")
    assert ex.canonical_url == "https://news.example/a?id=7"


def test_normalize_and_same_site() -> None:
    assert normalize_url("HTTPS://News.Example:443/a/b?utm_source=x&q=1&fbclid=z#frag") == \
        "https://news.example/a/b?q=1"
    assert normalize_url("/x?b=2&a=1", base="http://h.example:8080/y") == "http://h.example:8080/x?b=2&a=1"
    assert same_site("https://www.bbc.co.uk/a", "https://bbc.co.uk/b")
    assert not same_site("https://bbc.co.uk/a", "https://evil.co.uk/b")


def test_parse_datetime_forms() -> None:
    assert parse_datetime("2023-05-01T10:00:00+0200") == datetime(2023, 5, 1, 8, tzinfo=UTC)
    assert parse_datetime("2023-05-01") == datetime(2023, 5, 1, tzinfo=UTC)
    assert parse_datetime("yesterday") is None
