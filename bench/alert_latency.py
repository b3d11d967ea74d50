"""Article in a feed → alert printed: how long, with a slow feed next to the fast one.

Drives a real ``citewatch run`` (web source, no Telegram credentials: alerts on stdout) against
feeds and pages served on 127.0.0.1. The database holds real posts (the egen97 milblogger sample in
../shared/data, Russian text and its English translation, redated to two hours ago). Every few
seconds one article quoting one of them is added to the fast feed, while a slow feed lists an
article whose page takes SLOW seconds to answer. Two figures per article:

* in feed → alert: from the moment the article is listed to the moment its alert is on stdout
  (includes waiting for the next poll of the feed, so it depends on FEED_INTERVAL);
* feed read → alert: from the first read of the feed that lists it (the service's own work).

    python bench/alert_latency.py [--articles 12] [--feed-interval 10] [--slow 30]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import posts, translations  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Post, Translation  # noqa: E402
from tests.httpserver import Request, Response, TestHTTPServer  # noqa: E402
from tests.test_e2e_service import rss  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / (
    "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv")
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}"></head><body><article>
<h1>{title}</h1><p>By a staff reporter</p>
<p>A pro-Russian Telegram channel made new claims on Tuesday about the war in Ukraine.</p>
<p>"{quote}", the channel wrote in a post that was shared widely by other accounts.</p>
<p>The claims could not be independently verified. Officials in Kyiv did not respond to a request
for comment, and analysts cautioned that such channels often spread unverified reports.</p>
</article></body></html>"""


def load_posts(n: int) -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if len(r["text_en_google"]) > 250]
    return rows[:n]


async def seed(db_path: Path, rows: list[dict[str, str]]) -> None:
    db = await Database.open(db_path)
    try:
        when = datetime.now(UTC) - timedelta(hours=2)
        for r in rows:
            await posts.upsert_many(db, [Post(channel=r["channel"], message_id=int(r["message_id"]),
                                              date=when, text=r["text_original"])])
            post = await posts.get(db, r["channel"], int(r["message_id"]))
            assert post is not None and post.id is not None
            await translations.upsert(db, Translation(post.id, "en", "google", r["text_en_google"]),
                                      r["text_original"])
    finally:
        await db.close()


class Feeds:
    """The fast feed's items, and when each was first read by the service."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, datetime]] = []
        self.listed: dict[str, float] = {}
        self.read: dict[str, float] = {}
        self.lock = threading.Lock()

    def fast(self, req: Request) -> Response:
        now = time.monotonic()
        with self.lock:
            for _t, url, _d in self.items:
                self.read.setdefault(url, now)
            body = rss(list(self.items))
        return Response(200, body, {"Content-Type": "application/rss+xml"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=12)
    ap.add_argument("--feed-interval", type=int, default=10)
    ap.add_argument("--slow", type=float, default=30.0, help="seconds the slow feed's page takes")
    ap.add_argument("--gap", type=float, default=4.0, help="seconds between two new articles")
    args = ap.parse_args()
    rows = load_posts(args.articles)
    tmp = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    asyncio.run(seed(tmp / "cw.db", rows))
    feeds = Feeds()
    with TestHTTPServer() as http:
        http.route("/fast.xml", feeds.fast)
        slow_n = [0]
        # another host name for the slow site: the fetcher keeps one request at a time per host
        slow_base = f"http://localhost:{http.port}"

        def slow_feed(req: Request) -> Response:
            slow_n[0] += 1  # a new slow article every read: the slow feed is always busy
            now = datetime.now(UTC)
            return Response(200, rss([(f"Slow {slow_n[0]}", f"{slow_base}/slow/{slow_n[0]}", now)]),
                            {"Content-Type": "application/rss+xml"})

        def slow_page(req: Request) -> Response:
            time.sleep(args.slow)
            return Response(200, PAGE.format(title="Slow", quote="nothing", published=""))

        http.route("/slow.xml", slow_feed)
        for i in range(1, 500):
            http.route(f"/slow/{i}", slow_page)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "CITEWATCH_"))}
        env.update(CITEWATCH_DB=str(tmp / "cw.db"), TG_SESSION=str(tmp / "tg.session"),
                   SOURCE="web", WEB_BASE_URL=http.base, CHANNELS="", TRANSLATOR="none",
                   FEEDS=f"{slow_base}/slow.xml,{http.url('/fast.xml')}",
                   FEED_INTERVAL=str(args.feed_interval), ALERT_INTERVAL="5",
                   ALLOW_PRIVATE_URLS="true", CITATION_THRESHOLD="0.5", LOG_LEVEL="info")
        out = tmp / "run.out"
        proc = __import__("subprocess").Popen(
            [sys.executable, "-m", "bot", "run"], env=env, cwd=tmp, stdout=out.open("wb"),
            stderr=(tmp / "run.err").open("wb"))
        seen: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:  # stdout is read while articles are being published
            while not done.is_set():
                text = out.read_text(errors="replace")
                now = time.monotonic()
                for url in list(feeds.listed):
                    if url not in seen and url in text:
                        seen[url] = now
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            time.sleep(5)
            for i, r in enumerate(rows):
                path = f"/news/{i}/story"  # no URL is a prefix of another
                url = http.url(path)
                quote = html.escape(r["text_en_google"][:400].rsplit(" ", 1)[0])
                now = datetime.now(UTC)
                http.route(path, Response(200, PAGE.format(
                    title=f"Channel claims, part {i}", quote=quote, published=now.isoformat())))
                with feeds.lock:
                    feeds.items.append((f"Channel claims, part {i}", url, now))
                    feeds.listed[url] = time.monotonic()
                time.sleep(args.gap)
            deadline = time.monotonic() + args.feed_interval + args.slow + 30
            while time.monotonic() < deadline and len(seen) < len(rows):
                time.sleep(0.2)
        finally:
            done.set()
            watcher.join()
            proc.terminate()
            proc.wait(15)
    missing = [u for u in feeds.listed if u not in seen]
    in_feed = sorted(seen[u] - feeds.listed[u] for u in seen)
    after_read = sorted(seen[u] - feeds.read[u] for u in seen if u in feeds.read)

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]

    print(f"{len(seen)}/{len(rows)} alerts (FEED_INTERVAL={args.feed_interval}s, a slow feed's "
          f"page takes {args.slow:.0f}s, sampled by polling stdout every 0.1 s)")
    for name, xs in (("in feed → alert", in_feed), ("feed read → alert", after_read)):
        if xs:
            print(f"  {name:18} p50 {statistics.median(xs):5.1f}s  p95 {pct(xs, 0.95):5.1f}s  "
                  f"max {xs[-1]:5.1f}s")
    if missing:
        print(f"  no alert for {len(missing)}: {missing[:3]}")
    print(f"  the service's log: {tmp / 'run.err'}")


if __name__ == "__main__":
    main()
