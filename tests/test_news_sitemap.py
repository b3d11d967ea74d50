"""News sitemaps (Google News sitemap format) as feeds: parsing, detection on `feeds add`, polling."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.news.feeds import FeedError, parse_feed
from bot.news.fetch import Fetcher
from bot.news.poller import FeedPoller
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.db import Database
from tests.conftest import Cli, shared_data
from tests.httpserver import Response, TestHTTPServer
from tests.news_pages import ARTICLES_FILE, article_page, real_texts, rss
from tests.test_news_fetch import make_settings


def news_sitemap(items: list[tuple[str, str, str]], name: str = "Daily &amp; Nightly") -> str:
    """(loc, title, publication_date) as Google's News sitemap documentation lays it out."""
    urls = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>{name}</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date><news:title>{title}</news:title>"
        f"</news:news></url>"
        for loc, title, date in items
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- generated -->\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>")


def test_parse_news_sitemap() -> None:
    body = news_sitemap([("https://n.example/old", "Old", "2026-01-01"),
                         ("https://n.example/new", "New &lt;b&gt;", "2026-01-02T10:30:00+02:00"),
                         ("javascript:alert(1)", "Bad", "2026-01-03")]).encode()
    parsed = parse_feed(body, "https://n.example/sitemap-news.xml", "application/xml")
    assert parsed.kind == "sitemap" and parsed.title == "Daily & Nightly"
    assert [(e.link, e.title, e.published) for e in parsed.entries] == [
        ("https://n.example/new", "New <b>", datetime(2026, 1, 2, 8, 30, tzinfo=UTC)),
        ("https://n.example/old", "Old", datetime(2026, 1, 1, tzinfo=UTC))]
    assert parse_feed(rss([("g", "https://n.example/a", "A")]).encode(), "https://n.example/r").kind == "rss"
    index = ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             "<sitemap><loc>https://n.example/sitemap-news-1.xml</loc></sitemap></sitemapindex>")
    with pytest.raises(FeedError, match=r"a sitemap index.*sitemap-news-1\.xml"):
        parse_feed(index.encode(), "https://n.example/sitemap.xml")
    with pytest.raises(FeedError, match="malformed sitemap XML"):
        parse_feed(b'<?xml version="1.0"?><urlset><url><loc>x</url>', "https://n.example/s.xml")
    # entities are not expanded (no XXE, no billion laughs)
    xxe = ('<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/&x;'
           "</loc></url></urlset>")
    entries = parse_feed(xxe.encode(), "https://n.example/s.xml").entries
    assert all("root:" not in e.link for e in entries)


async def test_sitemap_feed_is_polled(http: TestHTTPServer, db: Database, tmp_path: Path) -> None:
    texts = real_texts(shared_data(ARTICLES_FILE), 2)
    http.route("/n/1", Response(200, article_page(texts[0], title="One")))
    http.route("/n/2", Response(200, article_page(texts[1], title="Two")))
    http.route("/sitemap-news.xml", Response(200, news_sitemap([
        (http.url("/n/1"), "One", "2026-01-01T09:00:00Z"),
        (http.url("/n/2"), "Two", "2026-01-01T10:00:00Z")]), {"Content-Type": "text/xml"}))
    settings = make_settings(tmp_path)
    await feeds_repo.add(db, http.url("/sitemap-news.xml"))
    async with Fetcher(settings) as f:
        ids = await FeedPoller(db, settings, f).poll_due()
    titles = {a.title for a in [await articles_repo.get(db, i) for i in ids] if a}
    assert titles == {"One", "Two"}
    feed = await feeds_repo.get(db, http.url("/sitemap-news.xml"))
    assert feed is not None and feed.kind == "sitemap" and feed.title == "Daily & Nightly"


def test_feeds_add_detects_the_format(env: dict[str, str], http: TestHTTPServer, cli: Cli) -> None:
    http.route("/sitemap-news.xml", Response(200, news_sitemap([
        ("https://n.example/1", "One", "2026-01-01")]), {"Content-Type": "application/xml"}))
    http.route("/rss", Response(200, rss([("g", "https://n.example/a", "A")]),
                                {"Content-Type": "application/rss+xml"}))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(env, *args)

    r = run("feeds", "add", http.url("/sitemap-news.xml"), http.url("/rss"), http.url("/gone"),
            "gdelt:Rybar Telegram")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"added: {http.url('/sitemap-news.xml')} (news sitemap, 1 entries)"
    assert lines[1] == f"added: {http.url('/rss')} (RSS feed, 1 entries)"
    assert lines[2] == f"added: {http.url('/gone')} (not checked now: HTTP 404 Not Found)"
    assert lines[3] == "added: gdelt:Rybar Telegram (GDELT search)"
    kinds = {f["url"]: f["kind"] for f in json.loads(run("feeds", "list", "--json").stdout)}
    assert kinds == {http.url("/sitemap-news.xml"): "sitemap", http.url("/rss"): "rss",
                     http.url("/gone"): None, "gdelt:Rybar Telegram": "gdelt"}
    r = run("feeds", "add", 'gdelt:"unbalanced Telegram')
    assert r.returncode == 2 and "unbalanced quote in GDELT query" in r.stderr
