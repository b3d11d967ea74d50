"""A channel the article names as its source has its latest posts compared, whatever words they
share: an untranslated notice shares no rare word with an English report of it, so retrieval's
terms alone never reach it (real SQLite file, both pipeline paths)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cite.detect import ArticleInput, named_channels
from bot.cite.pipeline import _find_at, _find_here, _query
from bot.config import Settings, load_settings
from storage import candidates, channels, posts
from storage.db import Database
from storage.models import Post

THRESHOLD = 0.6  # CITATION_THRESHOLD's default
PUBLISHED = datetime(2024, 12, 13, 18, 5, tzinfo=UTC)
NOTICE = (
    "⚡️Завтра у більшості областей України діятимуть графіки погодинних відключень для побутових "
    "споживачів.\n\nПричина — наслідки сьогоднішньої масованої атаки на енергосистему. Відключення "
    "триватимуть з 00:00 до 24:00, від однієї до двох черг одночасно. Для промисловості також "
    "діятимуть обмеження потужності протягом усієї доби.\n\nБудь ласка, споживайте електроенергію "
    "ощадливо!"
)
OLD_NOTICE = (
    "⚡️Завтра графіки погодинних відключень не прогнозуються. Просимо споживати електроенергію "
    "ощадливо у вечірні години."
)
REPORT = (
    "KYIV, Dec 13 - Ukraine will impose hourly power outages for households in most regions on "
    "Saturday after a massive Russian attack on its energy system, grid operator Ukrenergo said on "
    "Telegram.\n\nThe cuts will last all day and affect one to two groups of consumers at a time, it "
    "said, while industry will face restrictions around the clock. It urged Ukrainians to use power "
    "sparingly.\n\nRussia launched dozens of missiles and drones early on Friday, officials said."
)


def _settings(tmp_path: Path) -> Settings:
    return load_settings({"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": f"{tmp_path}/s",
                          "TG_BOT_SESSION": f"{tmp_path}/b"}, dotenv_path=None)


async def _store(db: Database) -> None:
    await posts.upsert_many(db, [
        Post("Ukrenergo", 9374, PUBLISHED - timedelta(hours=2), NOTICE, lang="uk"),
        Post("Ukrenergo", 9322, PUBLISHED - timedelta(days=5), OLD_NOTICE, lang="uk"),
        *(Post("kyivcity", 500 + i, PUBLISHED - timedelta(hours=i), f"Повітряна тривога номер {i}.")
          for i in range(1, 6)),
    ])
    await channels.set_resolved(db, "Ukrenergo", tg_id=91, access_hash=1, title="Укренерго")


async def test_a_named_channels_latest_untranslated_notice_is_compared_and_cited(
        db: Database, tmp_path: Path) -> None:
    await _store(db)
    s = _settings(tmp_path)
    article = ArticleInput(REPORT, published=PUBLISHED, url="https://news.example/a")
    # retrieval's terms alone do not reach the notice: it shares no rare word with the report
    terms, refs, since, until = _query(article, s)
    found = await candidates.candidate_texts(db, terms, refs, since, until)
    assert ("ukrenergo", 9374) not in {(t.channel.lower(), t.message_id) for t in found}
    here = await _find_here(db, article, s, None)
    at = _find_at(str(db.path), article, s)
    assert [(f.post_key, f.score) for f in here.found] == [(f.post_key, f.score) for f in at.found]
    scores = {f.post_key: f.score for f in here.found}
    assert scores.get(("ukrenergo", 9374), 0.0) >= THRESHOLD
    # the channel's post of five days before is no longer "what it said" lately: not added
    assert ("ukrenergo", 9322) not in scores


async def test_an_article_that_does_not_name_the_channel_adds_none_of_its_posts(
        db: Database, tmp_path: Path) -> None:
    await _store(db)
    s = _settings(tmp_path)
    unnamed = ArticleInput(REPORT.replace("grid operator Ukrenergo said on Telegram",
                                          "officials said"), published=PUBLISHED)
    here = await _find_here(db, unnamed, s, None)
    assert ("ukrenergo", 9374) not in {f.post_key for f in here.found}
    # a bare mention, with no word of attribution near it, names no source either
    bare = ArticleInput("Ukrenergo is Ukraine's grid operator. Outages are expected on Saturday.",
                        published=PUBLISHED)
    assert named_channels(bare, {"ukrenergo": ["Ukrenergo"]}) == []
    assert named_channels(ArticleInput(REPORT), {"ukrenergo": ["Ukrenergo"], "rybar": ["Rybar"]}
                          ) == ["ukrenergo"]


def test_a_channel_named_in_the_press_spelling_of_its_title_is_named() -> None:
    """"Vitali Klitschko said on Telegram" names the channel titled "Віталій Кличко" (romanised
    "Klychko"), as the detector reads the mention: its latest posts are compared."""
    from bot.cite.aliases import from_profile

    names = {"vitaliy_klitschko": list(from_profile("Віталій Кличко", None))}
    said = ArticleInput("Kyiv mayor Vitali Klitschko said on Telegram that water was off in every "
                        "district of the capital.")
    assert named_channels(said, names) == ["vitaliy_klitschko"]
