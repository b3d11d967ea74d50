"""``citewatch feeds …`` run as a user runs it, against a temp database and a local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.httpserver import Response, TestHTTPServer
from tests.news_pages import article_page, rss


def test_feeds_commands(cli: Cli, env: dict[str, str], tmp_path: Path, http: TestHTTPServer) -> None:
    inline = '<p>As <a href="https://t.me/DIUkraine/3512">posted</a> today.</p>'
    http.route("/story", Response(200, article_page("The agency reported new strikes. " * 30,
                                                    title="Strikes", inline=inline)))
    http.route("/rss", Response(200, rss([("g1", http.url("/story"), "Strikes")]),
                                {"Content-Type": "application/rss+xml"}))
    env = {**env, "FEEDS": http.url("/rss")}
    opml = tmp_path / "feeds.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
                    '<outline text="A" xmlUrl="https://a.example/rss"/></outline></body></opml>')
    r = cli(env, "feeds", "import", str(opml))
    assert r.returncode == 0 and "1 added" in r.stdout
    r = cli(env, "feeds", "add", "https://b.example/feed", "not-a-url")
    assert r.returncode == 2 and "'not-a-url' is not an http(s) URL" in r.stderr
    r = cli(env, "feeds", "add", "https://b.example/feed")
    assert r.returncode == 0 and "added: https://b.example/feed" in r.stdout
    r = cli(env, "feeds", "remove", "https://b.example/feed")
    assert r.returncode == 0
    r = cli(env, "feeds", "list", "--json")
    urls = {f["url"] for f in json.loads(r.stdout)}
    assert urls == {"https://a.example/rss", http.url("/rss")}
    # polling only the local feed: drop the unreachable one first
    assert cli(env, "feeds", "remove", "https://a.example/rss").returncode == 0
    r = cli(env, "feeds", "poll", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out[0]["status"] == "ok" and out[0]["articles"][0]["title"] == "Strikes"
    assert {"kind": "link", "channel": "DIUkraine", "message_id": 3512,
            "url": "https://t.me/DIUkraine/3512"} in out[0]["articles"][0]["tg_refs"]
    r = cli(env, "feeds", "list")
    assert "last success: 20" in r.stdout
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body>")
    r = cli(env, "feeds", "import", str(bad))
    assert r.returncode == 2 and r.stderr.startswith("citewatch: error: malformed OPML")
    assert len(r.stderr.strip().splitlines()) == 1
