"""The `citewatch run` process over its lifetime: start-up that never waits for catch-up, a quick
stop, and nothing left behind when it is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import Database
from tests.httpserver import Request, Response, TestHTTPServer
from tests.test_e2e_service import publish_article, rss, start_run, wait_for
from tests.test_service import _backlog
from tests.test_webpreview_source import FakePreview


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (zombies count as gone)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        out |= kids
        todo += list(kids)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def web_env(env: dict[str, str], http: TestHTTPServer) -> dict[str, str]:
    """A service reading one channel's web preview and one feed, both on 127.0.0.1."""
    preview = FakePreview("DIUkraine")
    preview.add(2, "Пост {i} про обстановку.")
    http.route("/s/DIUkraine", preview)
    http.route("/feed.xml", Response(200, rss([]), {"Content-Type": "application/rss+xml"}))
    return {**env, "SOURCE": "web", "WEB_BASE_URL": http.base, "WEB_INTERVAL": "0.05",
            "FEEDS": http.url("/feed.xml"), "FEED_INTERVAL": "1", "ALERT_INTERVAL": "1",
            "CITATION_THRESHOLD": "0.5"}


async def test_detection_workers_exit_when_the_service_is_killed(
    tmp_path: Path, env: dict[str, str], http: TestHTTPServer
) -> None:
    db = await Database.open(Path(env["CITEWATCH_DB"]))
    try:
        await _backlog(db, 12)  # enough unchecked articles to start the worker pool
    finally:
        await db.close()
    e = {**web_env(env, http), "CITE_WORKERS": "2"}
    out = tmp_path / "run.out"
    proc = await start_run(e, out)
    try:
        await wait_for(lambda: len(children(proc.pid)) >= 2, 60, "the detection workers")
        await asyncio.sleep(1.0)  # the backlog checked: the workers sit idle on their queue
        workers = children(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert workers, out.read_text(errors="replace")[-2000:]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        await asyncio.sleep(0.2)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in workers if alive(p)}
    for p in left:  # leave nothing behind even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"orphaned after SIGKILL: {left}"


def slow_site(http: TestHTTPServer) -> tuple[str, threading.Event, Callable[[Request], Response]]:
    """Another site (a second host name: the fetcher keeps a lock per host) whose feed lists one
    article whose page hangs until ``release`` is set; ``hang`` serves any route the same way."""
    release = threading.Event()

    def hang(req: Request) -> Response:
        release.wait(60)
        return Response(503, b"gone")

    other = f"http://localhost:{http.port}"
    http.route("/slow.xml", lambda req: Response(200, rss([("Slow", f"{other}/slow/1",
                                                             datetime.now(UTC))]),
                                                 {"Content-Type": "application/rss+xml"}))
    http.route("/slow/1", hang)
    return other, release, hang


async def seed_post(db_path: Path) -> None:
    """The post the article quotes, with its translation: what the service has from earlier runs."""
    from storage import posts, translations
    from storage.models import Post, Translation
    from tests.test_e2e_service import POST_EN, POST_UK

    db = await Database.open(db_path)
    try:
        when = datetime.now(UTC) - timedelta(hours=2)
        await posts.upsert_many(db, [Post(channel="DIUkraine", message_id=1908, date=when,
                                          text=POST_UK)])
        post = await posts.get(db, "DIUkraine", 1908)
        assert post is not None and post.id is not None
        await translations.upsert(db, Translation(post.id, "en", "test", POST_EN), POST_UK)
    finally:
        await db.close()


async def test_start_up_does_not_wait_for_catch_up_and_sigterm_cancels_a_hung_poll(
    tmp_path: Path, env: dict[str, str], http: TestHTTPServer
) -> None:
    """A channel whose preview never answers: the feed's alert still comes at once, and SIGTERM
    while the channel's request and a feed's article request hang ends the process in 2 s."""
    other, release, hang = slow_site(http)
    await seed_post(Path(env["CITEWATCH_DB"]))
    e = web_env(env, http)
    http.route("/s/DIUkraine", hang)
    url = publish_article(http, "/news/mobilised-refuse", "Mobilised Russians refuse to fight")
    e.update(FEEDS=f"{other}/slow.xml,{http.url('/feed.xml')}", POLL_INTERVAL="1", LOG_LEVEL="info")
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    proc = await start_run(e, out, err)
    try:
        await wait_for(lambda: url in out.read_text(errors="replace"), 30,
                       "the alert while the channel's catch-up hangs")
        await wait_for(lambda: http.requests_to("/slow/1"), 10, "the slow article requested")
        assert http.requests_to("/s/DIUkraine")  # the catch-up is under way, not done
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 15)
        took = time.monotonic() - t0
    except AssertionError as exc:
        proc.kill()
        raise AssertionError(f"{exc}\n{err.read_text(errors='replace')[-3000:]}") from None
    finally:
        release.set()
    logged = err.read_text(errors="replace")
    assert rc == 0, logged[-2000:]
    assert took < 2.0, f"stop took {took:.1f}s\n{logged[-2000:]}"
    assert "Traceback" not in logged, logged[-3000:]


async def test_a_slow_feed_does_not_delay_another_feeds_alert(
    tmp_path: Path, env: dict[str, str], http: TestHTTPServer
) -> None:
    """One site's article page hangs; an article published later on another feed is alerted
    within a few seconds of that feed's next poll, not after the slow one gives up."""
    other, release, _hang = slow_site(http)
    await seed_post(Path(env["CITEWATCH_DB"]))
    e = web_env(env, http)
    e.update(FEEDS=f"{other}/slow.xml,{http.url('/feed.xml')}", LOG_LEVEL="info")
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    proc = await start_run(e, out, err)
    try:
        await wait_for(lambda: http.requests_to("/slow/1") and http.requests_to("/feed.xml"), 30,
                       "both feeds polled, the slow article requested")
        url = publish_article(http, "/news/mobilised-refuse", "Mobilised Russians refuse to fight")
        t0 = time.monotonic()
        await wait_for(lambda: url in out.read_text(errors="replace"), 30, "the alert")
        took = time.monotonic() - t0
        assert len(http.requests_to("/slow/1")) == 1  # still hanging: nothing waited for it
        assert took < 8, f"alert {took:.1f}s after the article was listed (FEED_INTERVAL=1)"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{err.read_text(errors='replace')[-3000:]}") from None
    finally:
        release.set()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
