"""The service's own logic, with real parts: a real database, a LibreTranslate-speaking HTTP server."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cite.pipeline import check_article
from bot.config import Settings, load_settings
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


#: the same citation told by its words alone: no unit, figure or place that meets the Ukrainian
#: original across scripts (``ARTICLE``'s "205th brigade" and "40 cases" now do, untranslated)
ARTICLE_WORDS_ONLY = (
    "Ukraine's military intelligence said on Telegram that mobilised Russian soldiers refuse to "
    "fight. The mobilized contingent \"does not want to replenish the composition of the "
    "occupation contingent\", according to a translation of the post, and the command threatens "
    "them with criminal liability for leaving their positions."
)


async def test_article_checked_before_the_post_was_translated_is_checked_again(
    db: Database, tmp_path: Path, http: TestHTTPServer
) -> None:
    """The race of a feed polled right after a post: a citation that only the post's words can
    show (nothing in it meets the original across scripts) is found once the post's translation
    is stored, and alerted once."""
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
        published=posted + timedelta(hours=1), text=ARTICLE_WORDS_ONLY))
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




async def _backlog(db: Database, n: int) -> tuple[int, list[int]]:
    """A translated post and ``n`` new articles, one of which quotes it; returns (citing, all)."""
    from storage import translations
    from storage.models import Translation

    posted = datetime.now(UTC) - timedelta(hours=5)
    await posts.upsert_many(db, [Post(channel="DIUkraine", message_id=1908, date=posted,
                                      text=POST_UK)])
    post = await posts.get(db, "DIUkraine", 1908)
    assert post is not None and post.id is not None
    await translations.upsert(db, Translation(post.id, "en", "test", POST_EN), POST_UK)
    ids = []
    for i in range(n):
        text = ARTICLE if i == n // 2 else (
            f"Report {i}: the city council approved a new budget for parks and {i} bus routes.")
        aid, _ = await articles.add(db, Article(
            url=f"https://news.example/a{i}", title=f"Article {i}",
            published=posted + timedelta(hours=1), text=text))
        ids.append(aid)
    return ids[n // 2], ids


def _settings(tmp_path: Path, workers: int) -> Settings:
    return load_settings({"CITEWATCH_DB": str(tmp_path / "citewatch.db"), "CHANNELS": "DIUkraine",
                          "ALERT_CHAT": "me", "CITATION_THRESHOLD": "0.5",
                          "CITE_WORKERS": str(workers)}, dotenv_path=None)


async def test_a_backlog_is_checked_in_worker_processes_which_stop_with_the_service(
    db: Database, tmp_path: Path
) -> None:
    citing, ids = await _backlog(db, 12)
    service = Service(_settings(tmp_path, 2), db)
    await service._detect()
    pool = service._pool
    assert pool is not None
    pids = list(pool._processes)  # type: ignore[attr-defined]
    assert len(pids) == 2 and os.getpid() not in pids
    assert {a.status for a in [await articles.get(db, i) for i in ids]} == {"checked"}  # type: ignore[union-attr]
    [cited] = [c for c in await citations.for_article(db, citing) if c.score >= 0.5]
    assert (await alerts.counts_by_status(db)).get("pending") == 1
    # the workers found what this process finds by itself
    [here] = [c for c in await check_article(db, citing, service.settings) if c.score >= 0.5]
    assert (here.post_id, here.score) == (cited.post_id, cited.score)
    await service.stop()
    for pid in pids:  # shut down and reaped, not left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_few_articles_need_no_worker_processes(db: Database, tmp_path: Path) -> None:
    citing, _ = await _backlog(db, 3)
    service = Service(_settings(tmp_path, 2), db)
    await service._detect()
    assert service._pool is None
    assert [c for c in await citations.for_article(db, citing) if c.score >= 0.5]
    await service.stop()
