"""``citewatch status`` (the healthcheck) and the Prometheus metrics it shares data with."""

from __future__ import annotations

import json
import socket
import urllib.request

from bot import metrics
from storage import alerts, channels, feeds
from storage.db import Database
from tests.alerts_support import cite, store_post
from tests.conftest import Cli


def test_status_fails_when_the_database_cannot_be_opened(cli: Cli, env: dict[str, str], tmp_path) -> None:
    env["CITEWATCH_DB"] = str(tmp_path / "missing" / "cw.db")
    out = cli(env, "status")
    assert out.returncode != 0 and "no database" in out.stderr
    assert not (tmp_path / "missing" / "cw.db").exists()  # a healthcheck must not create one
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"not a database at all" * 100)
    env["CITEWATCH_DB"] = str(bad)
    assert cli(env, "status", "--json").returncode != 0


async def test_status_reports_sources_queues_and_alerts(cli: Cli, db: Database, env: dict[str, str]) -> None:
    pid = await store_post(db, 1, translation=None)  # waits for translation
    await channels.record_success(db, "DIUkraine", 1)
    await channels.record_error(db, "DIUkraine", "FloodWait 30s")
    await feeds.add(db, "https://news.example/feed.xml")
    await cite(db, [pid])
    [a] = await alerts.list_all(db)
    await alerts.mark_sent(db, [a.id], 42)
    env["CITEWATCH_DB"] = str(db.path)
    out = cli(env, "status")
    assert out.returncode == 0, out.stderr
    assert "DIUkraine: 1 posts, last success" in out.stdout and "FloodWait 30s" in out.stdout
    assert "https://news.example/feed.xml: last success never" in out.stdout
    assert "translation queue: 1 pending" in out.stdout and "1 sent" in out.stdout
    report = json.loads(cli(env, "status", "--json").stdout)
    [ch] = report["channels"]
    assert ch["channel"] == "DIUkraine" and ch["lag_seconds"] is not None and ch["lag_seconds"] < 60
    assert report["feeds"][0]["last_success"] is None
    assert report["queues"]["translations"]["pending"] == 1
    assert report["last_alert"]["message_id"] == 42
    assert report["last_alert"]["post"] == "https://t.me/DIUkraine/1"


async def test_metrics_are_refreshed_from_the_database_and_served(db: Database) -> None:
    await cite(db, [await store_post(db, 1), await store_post(db, 2)])
    await metrics.refresh(db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.start_metrics_server(port, addr="127.0.0.1")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "citewatch_posts_stored 2.0" in body
    assert "citewatch_citations 2.0" in body
    assert 'citewatch_queue_depth{queue="alerts"} 2.0' in body
    assert 'citewatch_alerts{status="pending"} 2.0' in body
    assert "# TYPE citewatch_flood_waits_total counter" in body
