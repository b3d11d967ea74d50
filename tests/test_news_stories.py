"""Copies of one article are one story: sketches on real texts, story assignment in a real
database, one alert per (story, post, chat), and the alert naming the first outlet with its copies."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from bot.alerts.format import format_alert, plain_text, readable_text
from bot.news import stories
from storage import alerts as alerts_repo
from storage import articles as articles_repo
from storage import citations as citations_repo
from storage import stories as stories_repo
from storage.db import Database
from storage.models import Article, Citation
from tests.alerts_support import store_post
from tests.conftest import shared_data
from tests.news_pages import ARTICLES_FILE, real_texts

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def scraped(text: str) -> str:
    """A content farm's copy: "[ad_1]" junk between paragraphs, its own header and footer."""
    paras = [p for p in text.split("\n") if p.strip()]
    out = ["Home » World", "[ad_1]"]
    for i, p in enumerate(paras):
        out += [p, "[ad_2]"] if i % 2 else [p]
    return "\n".join([*out, "Source link", "Tags: Ukraine Russia war news"])


def test_sketch_tells_copies_from_other_articles() -> None:
    texts = real_texts(shared_data(ARTICLES_FILE), 6)
    sk = [stories.sketch(t) for t in texts]
    assert all(len(s) == stories.K for s in sk)
    for t, s in zip(texts, sk, strict=True):
        copy = stories.sketch(scraped(t))
        assert stories.same_story(s, copy), stories.similarity(s, copy)
        ws = t.split()  # 5% of the words changed: still the same article
        for i in random.Random(3).sample(range(len(ws)), len(ws) // 20):
            ws[i] = "reportedly"
        assert stories.same_story(s, stories.sketch(" ".join(ws)))
    for a, b in pairwise(sk):
        assert not stories.same_story(a, b), stories.similarity(a, b)
    assert stories.sketch("Too short to be a story.") == []
    assert stories.sketch(texts[0]) == sk[0]  # stable across calls (and processes: blake2b)


async def _store(db: Database, url: str, text: str, published: datetime, outlet: str) -> int:
    article_id, created = await articles_repo.add(db, Article(
        url=url, title="Mobilised Russians refuse to fight", outlet=outlet, published=published,
        text=text))
    assert created
    sketch = stories.sketch(text)
    await stories_repo.attach(db, article_id, sketch, stories.same_story,
                              min_shared=stories.MIN_SHARED)
    return article_id


async def test_one_alert_per_story_naming_the_first_outlet(db: Database) -> None:
    original, other = real_texts(shared_data(ARTICLES_FILE), 2)
    post_id = await store_post(db, 1908)
    # the scraped copy is stored first (GDELT lists newest first), the original second
    copy1 = await _store(db, "https://farm.example/a?x=1&utm_source=gdelt&fbclid=Z9", scraped(original),
                         T0 + timedelta(hours=2), "Farm <b>News</b>")
    first = await _store(db, "https://www.newsweek.example/story", original, T0, "Newsweek")
    unrelated = await _store(db, "https://other.example/b", other, T0, "Other")
    assert (await articles_repo.get(db, first)).story_id == copy1  # type: ignore[union-attr]
    assert (await articles_repo.get(db, unrelated)).story_id == unrelated  # type: ignore[union-attr]
    members = await stories_repo.members(db, copy1)
    assert [m.id for m in members] == [first, copy1]  # first published first

    def found(article_id: int) -> list[Citation]:
        return [Citation(article_id=article_id, post_id=post_id, score=0.9, evidence=[
            {"kind": "quote", "text": "quotes 90% of the translated post", "weight": 0.9}])]

    for aid in (copy1, first):
        await citations_repo.store(db, aid, found(aid), 0.6, ["me", "-100123"])
    assert len(await alerts_repo.list_all(db)) == 2  # one per chat, not one per copy
    groups = await alerts_repo.due(db)
    assert sorted(g.chat for g in groups) == ["-100123", "me"]
    message = format_alert(groups[0])
    text = plain_text(message)
    # the first outlet is named, the copy listed (its untrusted name escaped)
    assert text.splitlines()[2].startswith("Newsweek")
    assert "Copies (1): Farm <b>News</b>" in text and "&lt;b&gt;" in message
    assert "https://www.newsweek.example/story" in readable_text(message)
    # the copy's link keeps the page's own parameter, not the trackers it was handed out with
    assert "https://farm.example/a?x=1" in readable_text(message).replace("&amp;", "&")
    assert "utm_source" not in message and "fbclid" not in message
    for g in groups:
        await alerts_repo.mark_sent(db, g.alert_ids, 1)
    # a later copy joins the story: its citation is stored, nothing alerts again
    late = await _store(db, "https://mirror.example/c", scraped(original) + "\nMore junk.",
                        T0 + timedelta(days=1), "Mirror")
    await citations_repo.store(db, late, found(late), 0.6, ["me", "-100123"])
    assert len(await citations_repo.for_article(db, late)) == 1
    assert len(await alerts_repo.list_all(db)) == 2 and await alerts_repo.due(db) == []
    assert [m.id for m in await stories_repo.members(db, copy1)] == [first, copy1, late]
    # another article citing the same post alerts as usual
    await citations_repo.store(db, unrelated, found(unrelated), 0.6, ["me"])
    assert len(await alerts_repo.list_all(db)) == 3
