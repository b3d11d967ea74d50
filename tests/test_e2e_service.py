"""End to end: `citewatch run` as a subprocess against the in-process Telegram server and local HTTP.

A channel post arrives live, gets translated (a LibreTranslate-speaking local server), a feed then
publishes an article quoting the translation without a link, and the alert lands in the alert chat
exactly once with the right links and escaped text; chat commands are answered only in allowed chats;
SIGTERM ends the process cleanly; a restart sends nothing twice.
"""

from __future__ import annotations

import asyncio
import html
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.httpserver import Request, Response, TestHTTPServer
from tests.tgserver import FakeTelegram

POST_UK = (
    "Російські окупанти на півдні України масово відмовляються від участі в бойових діях. "
    "Мобілізований контингент не хоче поповнювати склад окупаційного контингенту, а командування "
    "погрожує їм кримінальною відповідальністю. У 205-й мотострілецькій бригаді зафіксовано понад "
    "40 випадків самовільного залишення частини."
)
POST_EN = (
    "Russian occupiers in the south of Ukraine are massively refusing to take part in hostilities. "
    "The mobilized contingent does not want to replenish the composition of the occupation "
    "contingent, and the command threatens them with criminal liability. More than 40 cases of "
    "unauthorized abandonment of the unit were recorded in the 205th motorized rifle brigade."
)
TITLE = "Mobilised Russians <b>refuse</b> to fight & desert, Kyiv says"
ARTICLE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta property="og:title" content="{title}">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="{published}">
<link rel="canonical" href="{url}">
</head><body>
<header><nav><a href="/">World News Daily</a></nav></header>
<article>
<h1>{title}</h1>
<p class="byline">By Jane Reporter</p>
<p>Ukraine's military intelligence says Russian soldiers mobilised last autumn are refusing to
fight in the south of the country, and that desertion is becoming a problem for commanders.</p>
<p>The mobilised contingent "does not want to replenish the composition of the occupation
contingent", according to a translation of a post on Telegram. The command, the post added,
threatens them with criminal liability.</p>
<p>More than 40 cases of soldiers leaving the unit without permission were recorded in the 205th
motorised rifle brigade, the intelligence directorate said. The claims could not be independently
verified.</p>
<p>Russia's defence ministry did not respond to a request for comment on Tuesday. Military analysts
have long pointed to morale problems among mobilised troops, many of whom were sent to the front
with little training and poor equipment, according to independent researchers.</p>
</article>
<footer><a href="https://t.me/worldnewsdaily">Join us on Telegram</a></footer>
</body></html>
"""


def rss(items: list[tuple[str, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{t.replace('&', '&amp;').replace('<', '&lt;')}</title><link>{u}</link>"
        f"<guid>{u}</guid><pubDate>{format_datetime(d)}</pubDate></item>"
        for t, u, d in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>World News Daily</title><link>http://example.invalid/</link>"
        f"<description>news</description>{entries}</channel></rss>"
    )


def libretranslate(req: Request) -> Response:
    """Speaks LibreTranslate's /translate: q (str or list), source, target → translatedText."""
    body = req.json()
    q = body["q"]
    texts = q if isinstance(q, list) else [q]
    out = [POST_EN if "контингент" in t else f"[en] {t}" for t in texts]
    return Response.json({"translatedText": out if isinstance(q, list) else out[0]})


async def wait_for(cond: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def translated(db: Path, message_id: int) -> Callable[[], object]:
    """A wait_for condition: the post is stored and has a translation."""
    return lambda: query(db, "SELECT 1 FROM translations t JOIN posts p ON p.id = t.post_id"
                             " WHERE p.message_id = ?", (message_id,))


def publish_article(http: TestHTTPServer, path: str, title: str) -> str:
    """The outlet puts the article page up and lists it in its feed; returns its URL."""
    url = http.url(path)
    now = datetime.now(UTC)
    http.route(path, Response(200, ARTICLE_HTML.format(title=html.escape(title), url=url,
                                                       published=now.isoformat())))
    http.route("/feed.xml", Response(200, rss([(title, url, now)]),
                                     {"Content-Type": "application/rss+xml"}))
    return url


async def start_run(env: dict[str, str], log: Path, err: Path | None = None,
                    ) -> asyncio.subprocess.Process:
    """``citewatch run`` with stdout to ``log`` and stderr to ``err`` (or ``log`` too)."""
    fh = log.open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stdout=fh,
        stderr=err.open("ab") if err is not None else fh, stdin=asyncio.subprocess.DEVNULL,
    )


async def stop_run(proc: asyncio.subprocess.Process) -> tuple[int, float]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = await asyncio.wait_for(proc.wait(), timeout=15)
    return rc, time.monotonic() - t0


@pytest.mark.timeout(150)
async def test_run_end_to_end(tmp_path: Path, env: dict[str, str], http: TestHTTPServer) -> None:
    srv = FakeTelegram()
    await srv.start()
    try:
        await _scenario(srv, tmp_path, env, http)
    finally:
        await srv.stop()


def _pipeline(http: TestHTTPServer) -> dict[str, str]:
    """Serve the translator and an empty feed, and the settings that run translate, news and alerts
    every second: what every end-to-end run needs besides its source."""
    http.route("/translate", libretranslate)
    http.route("/feed.xml", Response(200, rss([]), {"Content-Type": "application/rss+xml"}))
    return {
        "TRANSLATOR": "libretranslate",
        "LIBRETRANSLATE_URL": http.base,
        "FEEDS": http.url("/feed.xml"),
        "FEED_INTERVAL": "1",
        "TRANSLATE_INTERVAL": "1",
        "ALERT_INTERVAL": "1",
    }


async def _scenario(srv: FakeTelegram, tmp_path: Path, env: dict[str, str],
                    http: TestHTTPServer) -> None:
    chan = srv.add_channel("DIUkraine", title="Defence Intelligence of Ukraine", joined=True)
    older = srv.post("DIUkraine", "Ранній пост про ситуацію на фронті.", push=False)
    analysts = srv.add_chat("Analysts", members=["analyst"])
    strangers = srv.add_chat("Strangers", members=["stranger"])

    db = tmp_path / "cw.db"
    log = tmp_path / "run.log"
    env = {
        **env,
        "SOURCE": "telethon",
        "TG_API_ID": "1",
        "TG_API_HASH": "x" * 32,
        "TG_SERVER": f"{srv.host}:{srv.port}:{srv.dc_id}",
        "TG_SERVER_KEY": str(srv.public_key_path),
        **_pipeline(http),
        "POLL_INTERVAL": "30",
        "ALERT_CHAT": "me",
        "ALLOWED_CHATS": str(analysts.peer_id),
        "CITATION_THRESHOLD": "0.5",
        "LOG_LEVEL": "info",
        "WEB_BASE_URL": http.base,
    }

    proc = await start_run(env, log)
    try:
        # start-up catches up the post published before citewatch ever ran
        await wait_for(lambda: query(db, "SELECT 1 FROM posts WHERE message_id = ?", (older,)),
                       40, "catch-up of the older post")
        # a live post arrives as an event, is stored and translated
        await asyncio.sleep(1.0)
        post_id = srv.post("DIUkraine", POST_UK)
        await wait_for(translated(db, post_id), 30, "the live post stored and translated")
        # the feed publishes an article quoting the translation, with no link
        await asyncio.sleep(1.1)
        url = publish_article(http, "/news/2023/01/mobilised-refuse", TITLE)
        alerts_to_me = lambda: [m for m in srv.sent if m.peer == "me"]  # noqa: E731
        await wait_for(alerts_to_me, 40, "the alert in the alert chat")
        [alert] = alerts_to_me()
        assert f"t.me/DIUkraine/{post_id}" in alert.text or any(
            f"t.me/DIUkraine/{post_id}" in (getattr(e, "url", "") or "") for e in alert.entities or []
        )
        links = " ".join([alert.text] + [getattr(e, "url", "") or "" for e in alert.entities or []])
        assert url in links
        # the hostile title came through as text, not markup
        assert "<b>refuse</b>" in alert.text
        # the server records the message before the reply reaches citewatch, which then marks it
        await wait_for(lambda: query(db, "SELECT status FROM alerts") == [("sent",)], 10,
                       "the alert marked sent")

        # chat commands: answered in an allowed chat, ignored elsewhere
        before = len(srv.sent)
        srv.incoming(strangers.id, "/search contingent", from_user="stranger")
        srv.incoming(analysts.id, "/search contingent", from_user="analyst")
        await wait_for(lambda: [m for m in srv.sent[before:] if m.peer == analysts.peer_id], 20,
                       "the /search answer")
        await asyncio.sleep(1.5)
        answers = [m for m in srv.sent[before:] if m.peer == analysts.peer_id]
        assert any(f"t.me/DIUkraine/{post_id}" in m.text or any(
            f"DIUkraine/{post_id}" in (getattr(e, "url", "") or "") for e in m.entities or [])
            for m in answers)
        assert not [m for m in srv.sent[before:] if m.peer == strangers.peer_id]
    except AssertionError as exc:  # the service's own log says which stage stalled
        raise AssertionError(f"{exc}\n--- run.log (tail) ---\n{log.read_text(errors='replace')[-4000:]}"
                             ) from None
    finally:
        rc, took = await stop_run(proc)
    output = log.read_text(errors="replace")
    assert rc == 0, output[-3000:]
    assert took < 10, f"stop took {took:.1f}s"
    assert "Traceback" not in output, output[-3000:]
    assert env["TG_API_HASH"] not in output

    # a restart sends nothing twice
    sent_before = len([m for m in srv.sent if m.peer == "me"])
    proc = await start_run(env, log)
    try:
        await asyncio.sleep(6)
    finally:
        rc, _ = await stop_run(proc)
    assert rc == 0
    assert len([m for m in srv.sent if m.peer == "me"]) == sent_before == 1
    assert query(db, "SELECT count(*) FROM posts WHERE channel_id = "
                     "(SELECT id FROM channels WHERE username = 'DIUkraine')") == [(2,)]
    assert chan.id  # the channel record stayed the one we created
    assert os.stat(env["TG_SESSION"]).st_mode & 0o777 == 0o600


@pytest.mark.timeout(120)
async def test_run_without_credentials_reads_the_web_preview_and_alerts_on_stdout(
    tmp_path: Path, env: dict[str, str], http: TestHTTPServer
) -> None:
    """Out of the box: no Telegram account, the t.me/s preview as source, alerts on stdout."""
    from tests.test_webpreview import WebMsg, text_html
    from tests.test_webpreview_source import FakePreview

    preview = FakePreview("DIUkraine")
    preview.add(3, "Старий пост {i} про обстановку.")
    http.route("/s/DIUkraine", preview)
    db = tmp_path / "cw.db"
    out = tmp_path / "run.out"
    env = {
        **env,
        "SOURCE": "auto",
        "WEB_BASE_URL": http.base,
        "WEB_INTERVAL": "0.05",
        "POLL_INTERVAL": "1",
        **_pipeline(http),
        "CITATION_THRESHOLD": "0.5",
    }
    err = tmp_path / "run.err"
    proc = await start_run(env, out, err)
    try:
        await wait_for(lambda: query(db, "SELECT count(*) FROM posts") == [(3,)], 30, "backfill")
        new_id = max(preview.msgs) + 1
        preview.msgs[new_id] = WebMsg(new_id, text_html(POST_UK), date=datetime.now(UTC))
        await wait_for(translated(db, new_id), 30, "the new post polled and translated")
        await asyncio.sleep(1.1)
        url = publish_article(http, "/news/mobilised-refuse", "Mobilised Russians refuse to fight")
        await wait_for(lambda: f"t.me/DIUkraine/{new_id}" in out.read_text(errors="replace"),
                       40, "the alert on stdout")
    finally:
        rc, took = await stop_run(proc)
    text, logged = out.read_text(errors="replace"), err.read_text(errors="replace")
    assert rc == 0 and took < 10, logged[-2000:]
    assert text.count(url) == 1 and text.count(f"t.me/DIUkraine/{new_id}") == 1
    # nothing was sent: the row, the log and `status` say "printed"; the alert is not logged again
    assert query(db, "SELECT status FROM alerts") == [("printed",)]
    assert "alert printed on stdout" in logged and "alert sent" not in logged
    assert url not in logged and f"t.me/DIUkraine/{new_id}" not in logged
    assert "maximum number of running instances" not in logged
    status = subprocess.run([sys.executable, "-m", "bot", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "1 printed" in status.stdout and "0 sent" in status.stdout
    assert "last alert printed:" in status.stdout
    assert not Path(env["TG_SESSION"]).exists()  # no account was touched
