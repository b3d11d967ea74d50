"""Output a person can read and a script can parse: stats, search and citations in text, JSON and
CSV (the real console script on real SQLite files)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime

from storage import channels, feeds
from storage.db import Database
from tests.alerts_support import cite, store_post
from tests.conftest import Cli

HOSTILE = "Depot \x1b[2J\x1b]0;owned\x07hit"


async def test_stats_text_has_no_python_dicts_and_json_has_the_counts(cli: Cli, db: Database,
                                                                     env: dict[str, str]) -> None:
    await cite(db, [await store_post(db, 1, translation=None), await store_post(db, 2)])
    await feeds.add(db, "https://news.example/feed.xml")
    env["CITEWATCH_DB"] = str(db.path)
    text = cli(env, "stats")
    assert text.returncode == 0, text.stderr
    assert not any(c in text.stdout for c in "{}'"), text.stdout
    assert "translation queue: 1 pending" in text.stdout and "alerts: 2 pending" in text.stdout
    assert "articles: 1 (1 " in text.stdout
    s = json.loads(cli(env, "stats", "--json").stdout)
    assert s["alerts"] == {"pending": 2} and s["translation_queue"] == {"pending": 1}


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_search_csv_and_json_for_scripts(cli: Cli, db: Database, env: dict[str, str]) -> None:
    long_text = "склад " + "дуже довгий текст " * 200 + HOSTILE
    pid = await store_post(db, 1908, text=long_text, translation="ammunition depot hit")
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE posts SET deleted_at = '2024-01-01T00:00:00+00:00' WHERE id = ?", (pid,))
    env["CITEWATCH_DB"] = str(db.path)
    hit = _csv(cli(env, "search", "depot", "--csv").stdout)
    miss = _csv(cli(env, "search", "zebra", "--csv").stdout)
    assert hit[0] == miss[0] and len(miss) == 1  # the same columns with and without hits
    row = dict(zip(hit[0], hit[1], strict=True))
    assert row["deleted"] == "true" and row["text"] == long_text
    [h] = json.loads(cli(env, "search", "depot", "--json").stdout)
    assert h["deleted"] is True and h["text"] == long_text
    assert h["translation"] == "ammunition depot hit"
    assert h["translation_snippet"] == "ammunition [depot] hit"  # no terminal codes, no markers
    assert not any(c in h["snippet"] + h["translation_snippet"] for c in "\x02\x03\x1b\x07")


async def test_citations_csv_min_score_alerts_only_and_clean_text(cli: Cli, db: Database,
                                                                  env: dict[str, str]) -> None:
    await cite(db, [await store_post(db, 1)], url="https://a.example/strong", title=HOSTILE,
               score=0.9)
    await cite(db, [await store_post(db, 2)], url="https://b.example/weak", title="weak", score=0.4)
    env["CITEWATCH_DB"] = str(db.path)
    rows = _csv(cli(env, "citations", "--csv").stdout)
    assert rows[0][:3] == ["id", "found_at", "score"] and len(rows) == 3
    assert json.loads(dict(zip(rows[0], rows[1], strict=True))["evidence"])[0]["kind"] == "link"
    none = _csv(cli(env, "citations", "--csv", "--min-score", "0.95").stdout)
    assert none == [rows[0]]
    strong = cli(env, "citations", "--alerts-only", "--json").stdout  # CITATION_THRESHOLD 0.6
    assert [c["article"]["url"] for c in json.loads(strong)] == ["https://a.example/strong"]
    assert len(_csv(cli(env, "citations", "--csv", "--min-score", "0.3").stdout)) == 3
    text = cli(env, "citations").stdout
    assert "Depot [2J]0;ownedhit" in text
    assert "\x1b" not in text and "\x07" not in text


async def test_channels_list_strips_control_characters(cli: Cli, db: Database,
                                                       env: dict[str, str]) -> None:
    await channels.add(db, "DIUkraine")
    await channels.record_error(db, "DIUkraine", "server said \x1b]0;pwned\x07 no")
    env["CITEWATCH_DB"] = str(db.path)
    out = cli(env, "channels", "list").stdout
    assert "server said ]0;pwned no" in out and "\x1b" not in out and "\x07" not in out


def test_dry_run_shows_the_source_and_translator_it_would_use(cli: Cli, env: dict[str, str]) -> None:
    env.update(SOURCE="auto", TRANSLATOR="auto", DEEPL_API_KEY="k:fx")
    out = cli(env, "run", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "source: web (auto); translator: deepl (auto)" in out.stdout
    env.update(TRANSLATOR="none")
    assert "translator: none" in cli(env, "run", "--dry-run").stdout


async def test_feeds_list_strips_control_characters(cli: Cli, db: Database,
                                                    env: dict[str, str]) -> None:
    feed, _ = await feeds.add(db, "https://news.example/feed.xml", title="News \x1b]0;owned\x07 Daily")
    assert feed.id is not None
    await feeds.record_error(db, feed.id, "HTTP 500: \x1b[2Jgone", next_poll_at=datetime.now(UTC))
    env.update(CITEWATCH_DB=str(db.path), FEEDS="")
    out = cli(env, "feeds", "list")
    assert out.returncode == 0, out.stderr
    assert "News ]0;owned Daily" in out.stdout and "HTTP 500: [2Jgone" in out.stdout
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
