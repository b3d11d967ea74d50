"""Articles that link hundreds of posts: detection still works (linked posts looked up in batches),
and fetching missing linked posts is capped per article and paced per channel, against the real
web-preview source on a 127.0.0.1 server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.cite.linked import LINKED_FETCHES, RETRY_AFTER, PacedFetch, most_referenced
from bot.cite.pipeline import check_article
from bot.errors import FloodWait, SourceError
from bot.telegram.web_source import WebSource
from storage import posts
from storage.db import Database
from storage.models import Post
from tests.httpserver import TestHTTPServer
from tests.test_cite_detect import MODEL_ARTICLE, POST_TIME
from tests.test_cite_pipeline import add_article, alert_rows, seed, settings
from tests.test_webpreview_source import FakePreview, web_settings


def link(channel: str, message_id: int, kind: str = "link") -> dict[str, object]:
    return {"kind": kind, "channel": channel, "message_id": message_id,
            "url": f"https://t.me/{channel}/{message_id}"}


async def test_article_with_1200_distinct_post_links_still_alerts(db: Database, tmp_path: Path) -> None:
    """Today 997+ linked posts made the candidate query fail ("Expression tree is too large") and
    the article's real citation was never found. Three of the linked posts are stored, far apart
    in the list, so every batch of the lookup is exercised."""
    cited = await seed(db)
    refs = [link(f"roundup{i % 50}", 10_000 + i) for i in range(1200)]
    stored = [Post(str(refs[i]["channel"]), int(str(refs[i]["message_id"])),
                   POST_TIME - timedelta(hours=i + 1), f"Зведення номер {i}.") for i in (0, 611, 1199)]
    await posts.upsert_many(db, stored)
    aid = await add_article(db, MODEL_ARTICLE, 31, tg_refs=refs)
    s = settings(tmp_path)
    found = await check_article(db, aid, s)
    ids = {c.post_id for c in found}
    linked_ids = set()
    for p in stored:
        got = await posts.get(db, p.channel, p.message_id)
        assert got is not None
        linked_ids.add(got.id)
    assert ids == {cited, *linked_ids}
    assert any(c.post_id == cited and c.score >= s.citation_threshold for c in found)
    assert len(await alert_rows(db)) == 4


def test_most_referenced_first() -> None:
    refs = [("a", 1), ("B", 2), ("c", 3), ("b", 2), ("d", 4), ("c", 5), ("b", 2)]
    assert most_referenced(refs) == [("b", 2), ("c", 3), ("c", 5), ("a", 1), ("d", 4)]


async def test_300_linked_channels_cost_a_capped_paced_number_of_fetches(
        tmp_path: Path, http: TestHTTPServer, db: Database) -> None:
    """A page linking one post in each of 300 channels we do not have: one check fetches at most
    LINKED_FETCHES posts, the most-referenced first; a channel that failed is not asked again on
    the next check, and new channels are tried at most ``new_channels`` per window."""
    hub = FakePreview("hubchannel")
    hub.add(80, start=POST_TIME - timedelta(days=1))
    http.route("/s/hubchannel", hub)  # every other channel answers 404: no such public channel
    refs = [link(f"chan{i:03d}", 5) for i in range(300)]
    refs += [link("hubchannel", 77), link("hubchannel", 77, "embed")]  # referenced twice: fetched first
    aid = await add_article(db, "A roundup of Telegram posts.", 2, tg_refs=refs)
    s = web_settings(tmp_path, http, WEB_INTERVAL="0")
    source = WebSource(s, db)
    await source.start()
    try:
        pace = PacedFetch(source.fetch_post, db, new_channels=15)
        found = await check_article(db, aid, s, fetch_post=pace)
        asked = [r.path for r in http.requests]
        assert len(asked) == LINKED_FETCHES and asked[0] == "/s/hubchannel", asked
        hub_post = await posts.get(db, "hubchannel", 77)
        assert hub_post is not None and [c.post_id for c in found] == [hub_post.id]

        await check_article(db, aid, s, fetch_post=pace)  # the next check: only 5 new channels
        again = [r.path for r in http.requests[len(asked):]]
        assert len(again) == 15 - LINKED_FETCHES and not set(again) & set(asked), again
        await check_article(db, aid, s, fetch_post=pace)  # budget spent, failures held back
        assert len(http.requests) == 15
    finally:
        await source.stop()


async def test_flood_wait_holds_every_channel_and_failures_wait_an_hour(db: Database) -> None:
    """The pace across articles, on a clock we move: a FloodWait holds back every channel until it
    is over; a channel that failed is asked again only after RETRY_AFTER."""
    now = [1000.0]
    asked: list[str] = []

    async def fetch_post(channel: str, message_id: int) -> Post | None:  # the source's answers
        asked.append(channel)
        if channel == "floodedchan" and len(asked) == 1:
            raise FloodWait(120, "contacts.resolveUsername")
        if channel == "missingchan":
            raise SourceError("@missingchan: no such channel")
        return None

    pace = PacedFetch(fetch_post, db, clock=lambda: now[0])
    await pace.fetch_many([("floodedchan", 1), ("otherchan", 2)])
    assert asked == ["floodedchan"]
    now[0] += 121
    await pace.fetch_many([("missingchan", 1), ("otherchan", 2)])
    assert asked == ["floodedchan", "missingchan", "otherchan"]
    now[0] += RETRY_AFTER - 1
    await pace.fetch_many([("missingchan", 1)])
    assert asked[-1] == "otherchan"
    now[0] += 2
    await pace.fetch_many([("missingchan", 1)])
    assert asked[-1] == "missingchan" and len(asked) == 4
