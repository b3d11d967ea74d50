"""The service's own logic, with real parts: a real database, a LibreTranslate-speaking HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cite.pipeline import check_article
from bot.config import load_settings
from bot.service import Service
from storage import alerts, articles, citations, posts
from storage.db import Database
from storage.models import Article, Post
from tests.httpserver import Response, TestHTTPServer
from tests.test_e2e_service import POST_EN, POST_UK

ARTICLE = (
    "Ukraine's military intelligence said on Telegram that mobilised Russian soldiers refuse to "
    "fight. The mobilized contingent \"does not want to replenish the composition of the "
    "occupation contingent\", according to a translation of the post, and the command threatens "
    "them with criminal liability. More than 40 cases were recorded in the 205th brigade."
)


async def test_article_checked_before_the_post_was_translated_is_checked_again(
    db: Database, tmp_path: Path, http: TestHTTPServer
) -> None:
    """The race of a feed polled right after a post: the citation is found once the post's
    translation is stored, and alerted once."""
    http.route("/translate", lambda req: Response.json(
        {"translatedText": [POST_EN] if isinstance(req.json()["q"], list) else POST_EN}))
    settings = load_settings({
        "CITEWATCH_DB": str(tmp_path / "citewatch.db"), "TRANSLATOR": "libretranslate",
        "LIBRETRANSLATE_URL": http.base, "CHANNELS": "DIUkraine", "ALERT_CHAT": "me",
        "CITATION_THRESHOLD": "0.5",
    }, dotenv_path=None)
    posted = datetime.now(UTC) - timedelta(hours=2)
    await posts.upsert_many(db, [Post(channel="DIUkraine", message_id=1908, date=posted,
                                      text=POST_UK)])
    article_id, _ = await articles.add(db, Article(
        url="https://news.example/mobilised", title="Mobilised Russians refuse to fight",
        published=posted + timedelta(hours=1), text=ARTICLE))
    # checked while only the Ukrainian original is stored: the English quote cannot match it
    early = await check_article(db, article_id, settings)
    assert all(c.score < 0.5 for c in early)
    assert (await alerts.counts_by_status(db))["pending"] == 0

    service = Service(settings, db)
    await service._start_translation()
    await service._translate()  # translates the post, then checks recent articles again

    [cited] = [c for c in await citations.for_article(db, article_id) if c.score >= 0.5]
    post = await posts.get(db, "DIUkraine", 1908)
    assert post is not None and cited.post_id == post.id
    assert (await alerts.counts_by_status(db)).get("pending") == 1
    await service._translate()  # nothing new: no second alert
    await service._recheck_recent()
    assert (await alerts.counts_by_status(db)).get("pending") == 1


