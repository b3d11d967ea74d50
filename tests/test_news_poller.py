"""The feed poller end to end: real feed and page bytes over HTTP on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.news.feeds import FeedError, next_after_error, parse_feed, parse_max_age
from bot.news.fetch import Fetcher
from bot.news.opml import OpmlError, parse_opml
from bot.news.poller import FeedPoller, seed_feeds
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.db import Database
from tests.conftest import shared_data
from tests.httpserver import Request, Response, TestHTTPServer
from tests.news_pages import ARTICLES_FILE, article_page, atom, real_texts, rss
from tests.test_news_fetch import make_settings

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


async def poll(db: Database, settings: Settings, now: datetime) -> tuple[list[int], FeedPoller]:
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f)
        ids = await poller.poll_due(now)
    return ids, poller


async def test_rss_feed_then_304(http: TestHTTPServer, db: Database, tmp_path: Path) -> None:
    texts = real_texts(shared_data(ARTICLES_FILE), 2)
    inline = '<blockquote class="telegram-post" data-telegram-post="DIUkraine/3700"></blockquote>'
    http.route("/a1", Response(200, article_page(texts[0], title="First story", inline=inline)))
    http.route("/a2", Response(200, article_page(texts[1], title="Second story")))
    feed = rss([("g1", http.url("/a1"), "First story"), ("g2", http.url("/a2"), "Second story")])

    def feed_route(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, feed, {**RSS_TYPE, "ETag": '"v1"',
                                    "Last-Modified": "Mon, 01 Jan 2024 11:00:00 GMT"})

    http.route("/rss", feed_route)
    settings = make_settings(tmp_path)
    await feeds_repo.add(db, http.url("/rss"))
    ids, _ = await poll(db, settings, T0)
    assert len(ids) == 2
    a1 = await articles_repo.get(db, ids[0])
    assert a1 is not None and a1.title == "First story" and a1.status == "new"
    assert texts[0].split("\n")[0][:50] in a1.text
    assert a1.published == datetime(2023, 3, 14, 7, 30, tzinfo=UTC)
    assert {(r["kind"], r["channel"], r["message_id"]) for r in a1.tg_refs} == {
        ("embed", "DIUkraine", 3700), ("channel", "dailynewsdesk", None)}
    f = await feeds_repo.get(db, http.url("/rss"))
    assert f is not None and f.title == "Daily News — World" and f.etag == '"v1"'
    assert f.last_success_at == T0 and f.next_poll_at == T0 + timedelta(seconds=600)
    # not due yet: nothing is requested
    n_requests = len(http.requests)
    assert (await poll(db, settings, T0 + timedelta(seconds=60)))[0] == []
    assert len(http.requests) == n_requests
    # due: a conditional GET answered 304
    ids2, poller = await poll(db, settings, T0 + timedelta(seconds=601))
    assert ids2 == [] and poller.results[0].status == "not-modified"
    second = http.requests_to("/rss")[-1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Mon, 01 Jan 2024 11:00:00 GMT"
    assert len(http.requests_to("/a1")) == 1


async def test_atom_feed_and_known_entries_not_refetched(http: TestHTTPServer, db: Database,
                                                         tmp_path: Path) -> None:
    http.route("/x", Response(200, article_page("A long paragraph of news text. " * 30, title="Atom one")))
    http.route("/atom", Response(200, atom([("urn:1", http.url("/x"), "Atom one")]),
                                 {"Content-Type": "application/atom+xml"}))
    settings = make_settings(tmp_path)
    await feeds_repo.add(db, http.url("/atom"))
    ids, _ = await poll(db, settings, T0)
    assert len(ids) == 1
    ids, _ = await poll(db, settings, T0 + timedelta(days=1))
    assert ids == [] and len(http.requests_to("/x")) == 1
    a = await articles_repo.get_by_url(db, http.url("/x"))
    assert a is not None and a.entry_id == "urn:1" and a.title == "Atom one"


async def test_same_article_under_several_urls_stored_once(http: TestHTTPServer, db: Database,
                                                          tmp_path: Path) -> None:
    canonical = http.url("/world/story")
    page = article_page("Officials said the strike hit a depot overnight. " * 20, canonical=canonical)
    http.route("/world/story", Response(200, page))
    http.route("/amp/world/story", Response(200, page))
    http.route("/s/123", Response(301, "", {"Location": "/world/story?utm_source=rss"}))
    http.route("/rss", Response(200, rss([
        ("g1", http.url("/world/story") + "?utm_source=rss&utm_medium=feed", "Story"),
        ("g2", http.url("/amp/world/story"), "Story (AMP)"),
        ("g3", http.url("/s/123"), "Story (short link)"),
    ]), RSS_TYPE))
    await feeds_repo.add(db, http.url("/rss"))
    ids, _ = await poll(db, make_settings(tmp_path), T0)
    assert len(ids) == 1
    assert await db.fetchval("SELECT count(*) FROM articles") == 1
    urls = await articles_repo.urls_of(db, ids[0])
    assert {canonical, http.url("/amp/world/story"), http.url("/s/123")} <= set(urls)
    a = await articles_repo.get(db, ids[0])
    assert a is not None and a.canonical_url == canonical


async def test_bad_articles_recorded_and_poll_goes_on(http: TestHTTPServer, db: Database,
                                                     tmp_path: Path) -> None:
    http.route("/good", Response(200, article_page("Real reporting about the front line. " * 30)))
    http.route("/img", Response(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, {"Content-Type": "image/png"}))
    http.route("/big", Response(200, b"<html>" + b"x" * 50_000_000))
    http.route("/loop", Response(302, "", {"Location": "/loop2"}))
    http.route("/loop2", Response(302, "", {"Location": "/loop"}))
    http.route("/slow", Response(200, "<html></html>", delay=1.5))
    http.route("/rss", Response(200, rss([(p, http.url(p), p) for p in
                                           ("/img", "/big", "/loop", "/slow", "/gone", "/good")]),
                                RSS_TYPE))
    await feeds_repo.add(db, http.url("/rss"))
    ids, poller = await poll(db, make_settings(tmp_path, FETCH_TIMEOUT="0.5"), T0)
    assert len(ids) == 1
    reasons = dict(poller.results[0].failed_articles)
    assert reasons == {
        http.url("/img"): "not an HTML page (Content-Type image/png)",
        http.url("/big"): "page larger than 5 MB (Content-Length 50,000,006)",
        http.url("/loop"): f"redirect loop: {http.url('/loop2')} → {http.url('/loop')}",
        http.url("/slow"): "timed out after 0.5 s",
        http.url("/gone"): "HTTP 404 Not Found",
    }
    stored = {r["url"]: (r["status"], r["error"]) for r in
              await db.fetchall("SELECT url, status, error FROM articles")}
    assert stored[http.url("/img")] == ("error", "not an HTML page (Content-Type image/png)")
    assert stored[http.url("/good")] == ("new", None)
    f = await feeds_repo.get(db, http.url("/rss"))
    assert f is not None and f.last_error is None and f.last_success_at == T0
    assert [a.id for a in await articles_repo.unchecked(db)] == ids


async def test_broken_and_html_feeds_recorded_others_still_polled(
    http: TestHTTPServer, db: Database, tmp_path: Path
) -> None:
    http.route("/broken", Response(200, rss([("g", "http://x.example/a", "t")])[:120], RSS_TYPE))
    http.route("/page", Response(200, '<!DOCTYPE html><html><head><link rel="alternate" '
                                      'type="application/rss+xml" href="/real.xml"></head></html>'))
    http.route("/bin", Response(200, b"\x1f\x8b\x08\x00" + b"\x00" * 100,
                                {"Content-Type": "application/octet-stream"}))
    http.route("/ok", Response(200, rss([]), RSS_TYPE))
    for p in ("/broken", "/page", "/bin", "/ok"):
        await feeds_repo.add(db, http.url(p))
    await poll(db, make_settings(tmp_path), T0)
    errors = {f.url: f.last_error for f in await feeds_repo.list_all(db)}
    assert errors[http.url("/broken")].startswith("malformed feed XML: ")
    assert errors[http.url("/page")] == (
        f"not a feed: the URL returned an HTML page (the page links to a feed: {http.url('/real.xml')})")
    assert errors[http.url("/bin")] == "binary content, not a feed (Content-Type application/octet-stream)"
    assert errors[http.url("/ok")] is None
    assert "\n" not in "".join(e or "" for e in errors.values())


async def test_backoff_grows_and_resets(http: TestHTTPServer, db: Database, tmp_path: Path) -> None:
    state = {"fail": True}
    http.route("/rss", lambda req: Response(500, "oops") if state["fail"]
               else Response(200, rss([]), RSS_TYPE))
    await feeds_repo.add(db, http.url("/rss"))
    settings = make_settings(tmp_path)
    now, delays = T0, []
    for _ in range(4):
        await poll(db, settings, now)
        f = await feeds_repo.get(db, http.url("/rss"))
        assert f is not None and f.next_poll_at is not None
        delays.append((f.next_poll_at - now).total_seconds())
        now = f.next_poll_at
    assert delays == [1200, 2400, 4800, 9600]
    assert f.error_count == 4 and f.last_error == "HTTP 500 Internal Server Error"
    state["fail"] = False
    await poll(db, settings, now)
    f = await feeds_repo.get(db, http.url("/rss"))
    assert f is not None and f.error_count == 0 and f.next_poll_at == now + timedelta(seconds=600)
    assert f.last_error == "HTTP 500 Internal Server Error"  # kept for the record
    assert next_after_error(T0, 600, 50) == T0 + timedelta(days=1)


async def test_retry_after_and_max_age_honoured(http: TestHTTPServer, db: Database,
                                               tmp_path: Path) -> None:
    http.route("/busy", Response(429, "slow down", {"Retry-After": "7200"}))
    http.route("/cached", Response(200, rss([]), {**RSS_TYPE, "Cache-Control": "public, max-age=3600"}))
    await feeds_repo.add(db, http.url("/busy"))
    await feeds_repo.add(db, http.url("/cached"))
    await poll(db, make_settings(tmp_path), T0)
    busy = await feeds_repo.get(db, http.url("/busy"))
    cached = await feeds_repo.get(db, http.url("/cached"))
    assert busy is not None and busy.next_poll_at == T0 + timedelta(seconds=7200)
    assert busy.last_error == "HTTP 429 Too Many Requests"
    assert cached is not None and cached.next_poll_at == T0 + timedelta(seconds=3600)
    assert parse_max_age("no-cache, max-age=60") == 60 and parse_max_age(None) is None


async def test_private_feed_refused_without_request(http: TestHTTPServer, db: Database,
                                                   tmp_path: Path) -> None:
    http.route("/rss", Response(200, rss([]), RSS_TYPE))
    await feeds_repo.add(db, http.url("/rss"))
    await poll(db, make_settings(tmp_path, ALLOW_PRIVATE_URLS="false"), T0)
    f = await feeds_repo.get(db, http.url("/rss"))
    assert f is not None and "loopback address" in (f.last_error or "")
    assert http.requests == []


async def test_seed_feeds(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, FEEDS="https://a.example/rss, https://b.example/atom")
    assert await seed_feeds(settings, db) == ["https://a.example/rss", "https://b.example/atom"]
    assert await seed_feeds(settings, db) == []
    assert [f.url for f in await feeds_repo.due(db, T0)] == ["https://a.example/rss",
                                                               "https://b.example/atom"]


def test_parse_feed_errors() -> None:
    with pytest.raises(FeedError, match="empty response"):
        parse_feed(b"  ", "http://h/f")
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b'<?xml version="1.0"?><catalog><book/></catalog>', "http://h/f")
    parsed = parse_feed(rss([("g", "/rel/1", "T")]).encode(), "http://h.example/feed")
    assert [(e.entry_id, e.link) for e in parsed.entries] == [("g", "http://h.example/rel/1")]


def test_opml() -> None:
    doc = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="World"><outline text="BBC" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline text="Deeper"><outline text="KI" xmlUrl="https://kyivindependent.com/feed/"/></outline></outline>
  <outline text="Dup" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
  <outline text="no feed" htmlUrl="https://example.com"/>
  <outline text="ftp" xmlUrl="ftp://example.com/feed"/>
</body></opml>"""
    feeds = parse_opml(doc)
    assert [(f.url, f.title, f.folder) for f in feeds] == [
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC", "World"),
        ("https://kyivindependent.com/feed/", "KI", "Deeper"),
    ]
    with pytest.raises(OpmlError, match="malformed OPML"):
        parse_opml(b"<opml><body><outline xmlUrl='x'>")
    with pytest.raises(OpmlError, match="not an OPML file"):
        parse_opml(b"<rss/>")
    xxe = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml><body><outline text="&x;" xmlUrl="https://a.example/f"/></body></opml>"""
    with pytest.raises(OpmlError, match="external entity") as info:
        parse_opml(xxe)
    assert "root:" not in str(info.value)
