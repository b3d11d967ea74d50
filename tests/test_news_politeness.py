"""Politeness: robots.txt for article pages, a gap between requests to one host, fetch caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from bot.news.fetch import Fetcher
from bot.news.poller import FeedPoller
from bot.news.robots import RobotsCache
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.db import Database
from tests.conftest import shared_data
from tests.httpserver import Request, Response, TestHTTPServer
from tests.news_pages import ARTICLES_FILE, article_page, real_texts, rss
from tests.test_news_fetch import make_settings

RSS_TYPE = {"Content-Type": "application/rss+xml"}


def serve_articles(http: TestHTTPServer, n: int, prefix: str = "/news/") -> list[str]:
    texts = real_texts(shared_data(ARTICLES_FILE), n)
    urls = []
    for i, t in enumerate(texts):
        http.route(f"{prefix}{i}", Response(200, article_page(t, title=f"Story {i}")))
        urls.append(http.url(f"{prefix}{i}"))
    return urls


async def test_robots_txt_disallow_is_honoured(http: TestHTTPServer, db: Database, tmp_path: Path) -> None:
    urls = serve_articles(http, 2, "/news/")
    http.route("/private/0", Response(200, article_page("x " * 300, title="Private")))
    http.route("/robots.txt", Response(200, "User-agent: *\nDisallow: /\n\nUser-agent: citewatch\n"
                                            "Disallow: /private/\nAllow: /news/\n",
                                       {"Content-Type": "text/plain"}))
    private = http.url("/private/0")
    http.route("/rss", Response(200, rss([("a", urls[0], "A"), ("p", private, "P"),
                                          ("b", urls[1], "B")]), RSS_TYPE))
    settings = make_settings(tmp_path)
    await feeds_repo.add(db, http.url("/rss"))
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f)
        ids = await poller.poll_due()
    assert len(ids) == 2
    assert http.requests_to("/private/0") == []  # never requested
    assert len(http.requests_to("/robots.txt")) == 1  # one read per host, cached
    blocked = await articles_repo.get_by_url(db, private)
    assert blocked is not None and blocked.status == "error"
    assert blocked.error == "disallowed by robots.txt of 127.0.0.1:" + str(http.port)
    assert poller.results[0].failed_articles == [(private, blocked.error)]


async def test_unreadable_robots_txt_holds_the_host(http: TestHTTPServer, db: Database,
                                                     tmp_path: Path) -> None:
    """RFC 9309: a robots.txt answering 5xx means "do not crawl" for now (a 404: crawl all)."""
    [url] = serve_articles(http, 1)
    http.route("/robots.txt", Response(503, "busy", {"Content-Type": "text/plain"}))
    http.route("/rss", Response(200, rss([("a", url, "A")]), {**RSS_TYPE, "ETag": '"v1"'}))
    settings = make_settings(tmp_path)
    await feeds_repo.add(db, http.url("/rss"))
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f)
        assert await poller.poll_due() == []
        [(_, why)] = poller.results[0].failed_articles
        assert "robots.txt of 127.0.0.1" in why and "could not be read (HTTP 503" in why
        assert http.requests_to("/news/0") == []
        assert await articles_repo.get_by_url(db, url) is None  # not stored: asked again later
        feed = await feeds_repo.get(db, http.url("/rss"))
        assert feed is not None and feed.etag is None  # so the next poll is not a 304
        # once robots.txt can be read (here: 404, no rules) the page is fetched
        http.route("/robots.txt", Response(404, "none", {"Content-Type": "text/plain"}))
        poller.robots = RobotsCache(f, settings.user_agent)  # the next hour's cache
        result = await poller.poll_feed(feed)
    assert len(result.new_articles) == 1 and len(http.requests_to("/news/0")) == 1


async def test_gap_between_requests_to_one_host(http: TestHTTPServer, db: Database,
                                                tmp_path: Path) -> None:
    urls = serve_articles(http, 3)
    http.route("/rss", Response(200, rss([(u, u, u) for u in urls]), RSS_TYPE))
    settings = make_settings(tmp_path, FETCH_HOST_GAP="0.6")
    await feeds_repo.add(db, http.url("/rss"))
    async with Fetcher(settings) as f:
        assert len(await FeedPoller(db, settings, f).poll_due()) == 3
    times = [r.time for r in http.requests]  # feed, robots.txt, 3 articles: one host
    assert len(times) == 5
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 0.6 - 0.02, gaps


async def test_fetch_caps_per_poll_and_per_hour(http: TestHTTPServer, db: Database,
                                                tmp_path: Path) -> None:
    urls = serve_articles(http, 5)
    feed = rss([(u, u, u) for u in urls])

    def feed_route(req: Request) -> Response:  # a conditional GET would hide the entries left over
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, feed, {**RSS_TYPE, "ETag": '"v1"'})

    http.route("/rss", feed_route)
    settings = make_settings(tmp_path, ARTICLES_PER_POLL="2", ARTICLES_PER_HOUR="3")
    await feeds_repo.add(db, http.url("/rss"))
    now = datetime.now(UTC)
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f)
        first = await poller.poll_due(now)
        assert len(first) == 2 and poller.results[0].deferred == 3
        stored = await feeds_repo.get(db, http.url("/rss"))
        assert stored is not None and stored.etag is None  # the next poll is not conditional
        # the next poll: the hour's cap leaves room for one more
        second = await poller.poll_feed(stored, now + timedelta(minutes=10))
        assert len(second.new_articles) == 1 and second.deferred == 2
        assert "if-none-match" not in http.requests_to("/rss")[-1].headers
        # an hour later the budget is back: the rest is fetched, and validators are kept again
        stored = await feeds_repo.get(db, http.url("/rss"))
        assert stored is not None
        third = await poller.poll_feed(stored, now + timedelta(hours=2))
        assert len(third.new_articles) == 2 and third.deferred == 0
        stored = await feeds_repo.get(db, http.url("/rss"))
        assert stored is not None and stored.etag == '"v1"'
    assert sorted(a.url for a in await articles_repo.recent(db)) == sorted(urls)
