"""The web-preview source against a real HTTP server on 127.0.0.1 serving t.me/s-like pages."""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import SourceError
from bot.telegram.source import make_source, pick_source
from bot.telegram.watcher import NO_SUCH_AFTER, NO_SUCH_PAUSE, Watcher, seed_channels
from bot.telegram.web_source import WebSource
from storage import channels as channels_repo
from storage import posts as posts_repo
from storage.db import Database
from storage.models import utcnow
from tests.conftest import Cli, shared_data
from tests.httpserver import Request, Response, TestHTTPServer
from tests.test_webpreview import CHANNEL_ABOUT, CHANNEL_TITLE, WebMsg, render_page, text_html

PAGE = 20  # messages per preview page, as on t.me


class FakePreview:
    """A channel's public preview: newest PAGE messages, ``?before=ID`` for older ones."""

    def __init__(self, channel: str = "DIUkraine") -> None:
        self.channel = channel
        self.msgs: dict[int, WebMsg] = {}
        self.fail_next: list[Response] = []

    def add(self, n: int, text: str = "Пост {i}", start: datetime | None = None) -> list[int]:
        base = start or (utcnow() - timedelta(hours=n))
        first = max(self.msgs, default=0) + 1
        for k, i in enumerate(range(first, first + n)):
            self.msgs[i] = WebMsg(i, text_html(text.format(i=i)), date=base + timedelta(minutes=k))
        return list(range(first, first + n))

    def __call__(self, req: Request) -> Response:
        if self.fail_next:
            return self.fail_next.pop(0)
        before = int(req.query["before"][0]) if "before" in req.query else None
        ids = sorted(i for i in self.msgs if before is None or i < before)[-PAGE:]
        return Response(200, render_page(self.channel, [self.msgs[i] for i in ids], before=before))


def web_settings(tmp_path: Path, http: TestHTTPServer, **extra: str) -> Settings:
    env = {
        "CITEWATCH_DB": str(tmp_path / "cw.db"),
        "TG_SESSION": str(tmp_path / "cw.session"),
        "SOURCE": "web",
        "WEB_BASE_URL": http.base,
        "WEB_INTERVAL": "0.01",
        "CHANNELS": "DIUkraine",
        "TRANSLATOR": "none",
        "BACKFILL_DAYS": "0",
        "BACKFILL_LIMIT": "1000",
        "FLOOD_SLEEP_MAX": "2",
    }
    env.update(extra)
    return load_settings(env, dotenv_path=None)


@pytest.fixture
def preview(http: TestHTTPServer) -> FakePreview:
    fake = FakePreview()
    http.route("/s/DIUkraine", fake)
    return fake


@asynccontextmanager
async def running(settings: Settings, db: Database) -> AsyncIterator[Watcher]:
    """A started web-preview watcher over ``settings``' channels, stopped however the test ends."""
    await seed_channels(settings, db)
    watcher = Watcher(settings, db, WebSource(settings, db))
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.stop()


async def test_backfill_pages_back_with_before(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    ids = preview.add(75)
    async with running(web_settings(tmp_path, http), db) as watcher:
        assert await posts_repo.message_ids(db, "DIUkraine") == set(ids)
        reqs = http.requests_to("/s/DIUkraine")
        assert [r.query.get("before") for r in reqs] == [None, ["56"], ["36"], ["16"]]
        assert all("citewatch" in r.headers["user-agent"] for r in reqs)
        p = await posts_repo.get(db, "DIUkraine", 40)
        assert p is not None and p.text == "Пост 40" and p.views == 12_300 and p.source == "web"
        ch = await channels_repo.get(db, "DIUkraine")  # the press names come from these
        assert ch is not None and ch.title == CHANNEL_TITLE and ch.about == CHANNEL_ABOUT
        # the next poll reads one page and stops at the last stored id
        new = preview.add(3)
        n_before = len(http.requests)
        assert await watcher.poll() == 3
        assert len(http.requests) == n_before + 1
        assert set(new) <= await posts_repo.message_ids(db, "DIUkraine")


async def test_backfill_limit_and_days(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    preview.add(10, start=utcnow() - timedelta(days=50))
    recent = preview.add(50, start=utcnow() - timedelta(days=2))
    async with running(web_settings(tmp_path, http, BACKFILL_LIMIT="30", BACKFILL_DAYS="30"), db):
        assert await posts_repo.message_ids(db, "DIUkraine") == set(recent[-30:])


async def test_catch_up_after_a_long_pause_pages_to_the_last_stored_id(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    first = preview.add(5)
    async with running(web_settings(tmp_path, http), db) as watcher:
        later = preview.add(45)  # more than two pages published meanwhile
        await watcher.catch_up_all()
        assert await posts_repo.message_ids(db, "DIUkraine") == set(first + later)


async def test_edit_detected_when_the_text_changes(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    ids = preview.add(4)
    async with running(web_settings(tmp_path, http), db) as watcher:
        preview.msgs[ids[1]].body_html = text_html("Виправлений текст")
        preview.msgs[ids[1]].edited = True
        assert await watcher.poll() == 1
        post = await posts_repo.get(db, "DIUkraine", ids[1])
        assert post is not None and post.text == "Виправлений текст"
        assert [v.text for v in await posts_repo.versions(db, post.id)] == [f"Пост {ids[1]}"]


async def test_429_backs_off_honouring_retry_after(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    ids = preview.add(3)
    preview.fail_next = [Response(429, "slow down", {"Retry-After": "1"}),
                         Response(503, "busy", {"Retry-After": "0.3"})]
    settings = web_settings(tmp_path, http)
    source = WebSource(settings, db)
    await source.start()
    try:
        ch = await channels_repo.add(db, "DIUkraine")
        t0 = time.monotonic()
        assert await source.catch_up(ch) == 3
        assert time.monotonic() - t0 >= 1.3
        times = [r.time for r in http.requests_to("/s/DIUkraine")]
        assert len(times) == 3 and times[1] - times[0] >= 0.95 and times[2] - times[1] >= 0.25
        assert await posts_repo.message_ids(db, "DIUkraine") == set(ids)
    finally:
        await source.stop()


async def test_long_retry_after_postpones_the_channel(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    preview.add(3)
    preview.fail_next = [Response(429, "slow down", {"Retry-After": "600"})]
    async with running(web_settings(tmp_path, http), db) as watcher:
        ch = await channels_repo.get(db, "DIUkraine")
        assert ch is not None and ch.paused_until is not None
        assert ch.paused_until - utcnow() > timedelta(minutes=9)
        assert await posts_repo.message_ids(db, "DIUkraine") == set()
        count = len(http.requests)
        await watcher.poll()  # paused: no request at all
        assert len(http.requests) == count


async def test_requests_are_paced_per_host(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    preview.add(45)
    async with running(web_settings(tmp_path, http, WEB_INTERVAL="0.3"), db):
        times = [r.time for r in http.requests_to("/s/DIUkraine")]
        assert len(times) == 3
        assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))


async def test_unknown_channel_is_one_line_and_changes_nothing(
        tmp_path: Path, http: TestHTTPServer, db: Database) -> None:
    # t.me redirects the preview of a name that is not a public channel to t.me/<name>
    http.route("/s/nosuchchannel", Response(302, "", {"Location": "https://t.me/nosuchchannel"}))
    http.route("/s/someuser", Response(200, "<html><body><div class='tgme_page_title'>Some User"
                                            "</div></body></html>"))
    source = WebSource(web_settings(tmp_path, http), db)
    await source.start()
    try:
        for name in ("nosuchchannel", "someuser", "missing404"):
            with pytest.raises(SourceError, match="no public channel") as exc:
                await source.resolve(name)
            assert "\n" not in str(exc.value)
        assert await channels_repo.list_all(db) == []
    finally:
        await source.stop()


async def test_a_hostile_preview_page_is_capped_and_loses_nothing(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    """The preview goes through the news fetcher's cap and decoder: a gzip bomb (60 MB of HTML in
    60 kB) stops at FETCH_MAX_BYTES with one line, and the channel's stored posts are untouched."""
    preview.add(3)
    settings = web_settings(tmp_path, http, FETCH_MAX_BYTES="1000000")
    async with running(settings, db):
        pass
    before = await posts_repo.message_ids(db, "DIUkraine")
    assert before == {1, 2, 3}
    bomb = gzip.compress(b"<html><body>" + b"<p>x</p>" * 7_500_000, compresslevel=9)
    assert len(bomb) < 200_000
    preview.fail_next.append(Response(200, bomb, {"Content-Type": "text/html",
                                                  "Content-Encoding": "gzip"}))
    source = WebSource(settings, db)
    await source.start()
    try:
        with pytest.raises(SourceError, match="larger than") as exc:
            await source.page("DIUkraine")
        assert "\n" not in str(exc.value)
    finally:
        await source.stop()
    assert await posts_repo.message_ids(db, "DIUkraine") == before


async def test_a_link_local_preview_address_is_refused_without_a_request(
        tmp_path: Path, http: TestHTTPServer, db: Database) -> None:
    """WEB_BASE_URL may point at a LAN mirror, never at a cloud metadata address."""
    settings = web_settings(tmp_path, http, WEB_BASE_URL="http://169.254.169.254")
    source = WebSource(settings, db)
    await source.start()
    try:
        with pytest.raises(SourceError, match=r"refused|link-local") as exc:
            await source.resolve("DIUkraine")
        assert "\n" not in str(exc.value)
    finally:
        await source.stop()
    assert await channels_repo.list_all(db) == []


async def test_fetch_post_reads_the_page_around_it(
        tmp_path: Path, http: TestHTTPServer, preview: FakePreview, db: Database) -> None:
    preview.add(60)
    source = WebSource(web_settings(tmp_path, http), db)
    await source.start()
    try:
        post = await source.fetch_post("DIUkraine", 12)
        assert post is not None and post.text == "Пост 12"
        assert http.requests_to("/s/DIUkraine")[-1].query["before"] == ["13"]
        assert await source.fetch_post("DIUkraine", 999) is None
    finally:
        await source.stop()


async def test_real_post_links_from_shared_data_round_trip(
        tmp_path: Path, http: TestHTTPServer, db: Database) -> None:
    """Links to real posts (from ../shared/data) inside texts come back as links."""
    with shared_data("telegram_post_urls__kkruglik-hackathon__1000-war-post-links.csv").open() as f:
        urls = [row["url"] for row in csv.DictReader(f)][:25]
    fake = FakePreview()
    http.route("/s/DIUkraine", fake)
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for i, url in enumerate(urls, start=1):
        fake.msgs[i] = WebMsg(i, text_html(f"Джерело: {url}"), date=base + timedelta(minutes=i))
    async with running(web_settings(tmp_path, http), db):
        for i, url in enumerate(urls, start=1):
            p = await posts_repo.get(db, "DIUkraine", i)
            assert p is not None and p.links == [url]


def test_auto_picks_web_without_credentials(tmp_path: Path, http: TestHTTPServer) -> None:
    s = web_settings(tmp_path, http, SOURCE="auto")
    assert pick_source(s) == "web"
    s2 = web_settings(tmp_path, http, SOURCE="auto", TG_API_ID="1", TG_API_HASH="x" * 32)
    assert pick_source(s2) == "web"  # credentials but no logged-in session yet


async def test_make_source_builds_the_web_source(
        tmp_path: Path, http: TestHTTPServer, db: Database) -> None:
    src = make_source(web_settings(tmp_path, http), db)
    assert isinstance(src, WebSource) and src.name == "web" and not src.live


async def test_a_channel_that_keeps_answering_no_such_channel_is_paused_with_the_reason(
    tmp_path: Path, http: TestHTTPServer, cli: Cli
) -> None:
    settings = web_settings(tmp_path, http, CHANNELS="NoSuchChan")  # the server answers 404
    db = await Database.open(settings.citewatch_db)
    try:
        async with running(settings, db) as watcher:
            for _ in range(NO_SUCH_AFTER - 1):
                await watcher.poll()
            ch = await channels_repo.get(db, "NoSuchChan")
            assert ch is not None and ch.paused_until is not None
            assert ch.paused_until > utcnow() + NO_SUCH_PAUSE - timedelta(minutes=5)
            assert ch.last_error and "no public channel" in ch.last_error and "paused" in ch.last_error
            asked = len(http.requests_to("/s/NoSuchChan"))
            assert asked == NO_SUCH_AFTER
            await watcher.poll()
            await watcher.catch_up_all()
            assert len(http.requests_to("/s/NoSuchChan")) == asked  # not asked again while paused
    finally:
        await db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "CITEWATCH_"))}
    env.update(CITEWATCH_DB=str(settings.citewatch_db), CHANNELS="NoSuchChan", SOURCE="web")
    for cmd in (["status"], ["channels", "list"]):
        res = cli(env, *cmd)
        assert res.returncode == 0, res.stderr
        line = next(x for x in res.stdout.splitlines() if "NoSuchChan" in x)
        assert "paused until" in line and "no public channel" in line, res.stdout
