"""GDELT feeds against a local server speaking GDELT's JSON and its error replies, real SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bot.news import gdelt
from bot.news.fetch import Fetcher
from bot.news.poller import FeedPoller
from storage import articles as articles_repo
from storage import feeds as feeds_repo
from storage.db import Database
from tests.conftest import shared_data
from tests.gdelt_server import RATE_LIMITED, FakeGdelt, artlist, empty, malformed, rate_limited
from tests.httpserver import Response, TestHTTPServer
from tests.news_pages import ARTICLES_FILE, article_page, real_texts
from tests.test_news_fetch import make_settings


def test_artlist_shapes() -> None:
    body = artlist(["https://a.example/x", "ftp://bad.example/y"]).body
    assert isinstance(body, str)
    [a] = gdelt.parse_artlist(body.encode())
    assert a.url == "https://a.example/x" and a.domain == "a.example"
    assert a.seen == datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert gdelt.parse_artlist(b"{}") == []  # GDELT's answer when nothing matches
    # raw control characters inside strings are accepted (GDELT titles carry them)
    assert gdelt.parse_artlist(b'{"articles": [{"url": "https://a.example/t", "title": "a\tb\x01"}]}')
    with pytest.raises(gdelt.GdeltRateLimited, match="GDELT rate limit: Please limit requests"):
        gdelt.parse_artlist(RATE_LIMITED.encode())
    with pytest.raises(gdelt.GdeltError, match="malformed JSON from GDELT"):
        gdelt.parse_artlist(str(malformed().body).encode())
    with pytest.raises(gdelt.GdeltError, match="GDELT refused the query: The specified phrase"):
        gdelt.parse_artlist(b"The specified phrase is too short.\n")
    with pytest.raises(gdelt.GdeltError, match="not a list"):
        gdelt.parse_artlist(b'{"articles": {"url": "x"}}')


def test_query_checks_and_timespan() -> None:
    assert gdelt.check_query('  "Main Intelligence"   Telegram ') == '"Main Intelligence" Telegram'
    for bad, why in (("", "empty"), ('"open', "quote"), ("(a OR b", "parentheses"), ("a) (b", "paren")):
        with pytest.raises(ValueError, match=why):
            gdelt.check_query(bad)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert gdelt.timespan(None, now) == "1440min"
    assert gdelt.timespan(now - timedelta(minutes=10), now) == "25min"
    assert gdelt.timespan(now - timedelta(seconds=1), now) == "15min"
    assert gdelt.timespan(now - timedelta(days=9), now) == "1440min"


def _serve_real_articles(http: TestHTTPServer, path: str, title: str) -> None:
    """Three real article texts, at ``{path}0`` .. ``{path}2`` titled ``{title}0`` .. ``{title}2``."""
    for i, t in enumerate(real_texts(shared_data(ARTICLES_FILE), 3)):
        http.route(f"{path}{i}", Response(200, article_page(t, title=f"{title}{i}")))


async def test_gdelt_feed_polls_remembers_and_survives_error_replies(
    http: TestHTTPServer, db: Database, tmp_path: Path
) -> None:
    _serve_real_articles(http, "/story", "Story ")
    gd = FakeGdelt(http)
    settings = make_settings(tmp_path, GDELT_API_URL=gd.url, GDELT_INTERVAL="60")
    feed, _ = await feeds_repo.add(db, gdelt.feed_url('"military intelligence" Telegram'))
    t0 = datetime.now(UTC).replace(microsecond=0)  # stored times have whole seconds
    async with Fetcher(settings) as f:
        # the 5 s rule has its own test below; here it would only make the test slow
        poller = FeedPoller(db, settings, f, gate=gdelt.RateGate(gap=0.0))
        # 1. the documented shape: every listed article is fetched and stored
        gd.replies = [artlist([http.url("/story0"), http.url("/story1")])]
        ids = await poller.poll_due(t0)
        assert len(ids) == 2
        req = gd.requests[-1]
        assert req.query["query"] == ['"military intelligence" Telegram']
        assert {k: v[0] for k, v in req.query.items() if k != "query"} == {
            "mode": "artlist", "format": "json", "sort": "datedesc", "timespan": "1440min",
            "maxrecords": "250"}
        stored = await feeds_repo.get(db, feed.url)
        assert stored is not None and stored.kind == "gdelt" and stored.last_error is None
        # 2. it remembers what it saw: a listing with one new URL fetches only that one
        gd.replies = [artlist([http.url("/story0"), http.url("/story1"), http.url("/story2")])]
        ids = await poller.poll_feed(stored, t0 + timedelta(minutes=10))
        assert [a.url for a in [await articles_repo.get(db, i) for i in ids.new_articles] if a] == [
            http.url("/story2")]
        assert len(http.requests_to("/story0")) == 1
        assert gd.requests[-1].query["timespan"] == ["25min"]
        # 3. GDELT's error replies: each is one line on the feed, nothing is lost or fetched
        for reply, words, slower in (
                (rate_limited(), "GDELT rate limit: Please limit requests", True),
                (malformed(), "malformed JSON from GDELT", False),
                (Response(200, "The specified phrase is too short.", {"Content-Type": "text/html"}),
                 "GDELT refused the query", False),
                (Response(429, "Too Many Requests", {"Retry-After": "120"}), "HTTP 429", True)):
            gd.replies = [reply]
            before = len(http.requests)
            stored = await feeds_repo.get(db, feed.url)
            assert stored is not None
            result = await poller.poll_feed(stored, t0 + timedelta(minutes=20))
            assert result.status == "error" and words in (result.error or "")
            after = await feeds_repo.get(db, feed.url)
            assert after is not None and words in (after.last_error or "")
            if reply.body == RATE_LIMITED:
                rate_next = after.next_poll_at
            assert len(http.requests) == before + 1  # only the GDELT request itself
            # a rate-limit reply (or a 429) widens the gap between GDELT requests
            assert poller.gate.extra == (gdelt.BACKOFF_GAP if slower else 0.0)
            poller.gate.recovered()
        assert after.error_count == 4
        # a rate limit is retried soon (GDELT's limit passes in seconds), not backed off for hours
        assert rate_next is not None and rate_next == t0 + timedelta(minutes=20, seconds=30)
        assert after.next_poll_at is not None and after.next_poll_at >= (
            t0 + timedelta(minutes=20, seconds=120))  # Retry-After honoured
        # 4. `{}` is "nothing matched": a success that clears the error
        gd.replies = [empty()]
        result = await poller.poll_feed(after, t0 + timedelta(minutes=30))
        assert result.status == "ok" and result.new_articles == []
        ok = await feeds_repo.get(db, feed.url)
        assert ok is not None and ok.error_count == 0
    assert len(await articles_repo.recent(db)) == 3


async def test_gdelt_entries_left_by_the_cap_are_asked_for_again(
    http: TestHTTPServer, db: Database, tmp_path: Path
) -> None:
    _serve_real_articles(http, "/s", "S")
    gd = FakeGdelt(http)
    gd.replies = [artlist([http.url(f"/s{i}") for i in range(3)])]
    settings = make_settings(tmp_path, GDELT_API_URL=gd.url, ARTICLES_PER_POLL="2")
    feed, _ = await feeds_repo.add(db, gdelt.feed_url("alpha Telegram"))
    t0 = datetime.now(UTC).replace(microsecond=0)
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f, gate=gdelt.RateGate(gap=0.0))
        first = await poller.poll_feed(feed, t0)
        assert len(first.new_articles) == 2 and first.deferred == 1
        stored = await feeds_repo.get(db, feed.url)
        assert stored is not None and stored.covered_at is None
        # an hour later the search still reaches back to the first poll's window (a day)
        second = await poller.poll_feed(stored, t0 + timedelta(hours=1))
        assert len(second.new_articles) == 1 and second.deferred == 0
        assert gd.requests[-1].query["timespan"] == ["1440min"]
        stored = await feeds_repo.get(db, feed.url)
        assert stored is not None and stored.covered_at == t0 + timedelta(hours=1)
        await poller.poll_feed(stored, t0 + timedelta(hours=1, minutes=15))
        assert gd.requests[-1].query["timespan"] == ["30min"]


@pytest.mark.timeout(60)
async def test_never_two_gdelt_requests_within_5_seconds(
    http: TestHTTPServer, db: Database, tmp_path: Path
) -> None:
    """Two GDELT feeds due at once, polled concurrently, then one again: ≥ 5 s apart."""
    gd = FakeGdelt(http)
    settings = make_settings(tmp_path, GDELT_API_URL=gd.url)
    for q in ("alpha Telegram", "bravo Telegram"):
        await feeds_repo.add(db, gdelt.feed_url(q))
    async with Fetcher(settings) as f:
        poller = FeedPoller(db, settings, f)
        await poller.poll_due()
        # a poll right after (the next tick) still waits for the gap
        await poller.poll_feed((await feeds_repo.list_all(db))[0])
    times = sorted(r.time for r in gd.requests)
    assert len(times) == 3
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= gdelt.MIN_GAP - 0.05, gaps
    assert {r.query["query"][0] for r in gd.requests} == {"alpha Telegram", "bravo Telegram"}


async def test_two_processes_on_one_file_keep_the_gap_between_them(
    http: TestHTTPServer, db: Database, tmp_path: Path
) -> None:
    """``citewatch feeds poll`` beside a running service: two connections to one file (as two
    processes have), each with its own poller and gate, still never ask GDELT within the gap."""
    gd = FakeGdelt(http)
    settings = make_settings(tmp_path, GDELT_API_URL=gd.url)
    await feeds_repo.add(db, gdelt.feed_url("alpha Telegram"))
    other = await Database.open(db.path, create=False)
    try:
        gap = 1.0
        async with Fetcher(settings) as f1, Fetcher(settings) as f2:
            service = FeedPoller(db, settings, f1, gate=gdelt.RateGate(gap=gap, db=db))
            cli = FeedPoller(other, settings, f2, gate=gdelt.RateGate(gap=gap, db=other))
            feed = (await feeds_repo.list_all(db))[0]
            await asyncio.gather(service.poll_feed(feed), cli.poll_feed(feed),
                                 service.poll_feed(feed), cli.poll_feed(feed))
    finally:
        await other.close()
    times = sorted(r.time for r in gd.requests)
    assert len(times) == 4
    assert min(b - a for a, b in pairwise(times)) >= gap - 0.05, times


async def test_a_turn_claimed_far_ahead_is_ignored(db: Database) -> None:
    """A clock set back (or a bogus row) must not stop GDELT for hours."""
    from storage import meta

    now = 1_800_000_000.0
    assert await meta.claim_turn(db, "t", 5.0, now) == now
    assert await meta.claim_turn(db, "t", 5.0, now) == now + 5.0  # queued behind the first
    assert await meta.claim_turn(db, "t", 5.0, now + 60) == now + 60
    assert await meta.claim_turn(db, "t", 5.0, now - 86_400) == now - 86_400  # clock set back
