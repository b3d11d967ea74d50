"""Index upkeep (storage/maintenance.py): merging in bounded steps loses nothing and changes no
result, the frequent-terms snapshot counts what the index holds, and the service runs it only at a
quiet moment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.alerts.commands import answer
from bot.cli.data import _hit_row
from bot.config import load_settings
from bot.service import TIDY_INTERVAL, Service
from storage import maintenance, posts, search
from storage.db import Database
from storage.models import Post
from tests.conftest import Cli

T0 = datetime(2024, 3, 1, tzinfo=UTC)


async def _fill(db: Database, batches: int = 12) -> None:
    """Posts stored as a running service stores them: many small write transactions (each leaves
    an FTS5 segment)."""
    for b in range(batches):
        await posts.upsert_many(db, [
            Post("DIUkraine", b * 10 + i, T0 + timedelta(minutes=b * 10 + i),
                 f"Обстріл Макіївки номер {b} {i} " + ("дрони атакували склад" if i % 2 else "тиша"))
            for i in range(10)])


async def _results(db: Database) -> list[list[int]]:
    return [[h.post_id for h in await search.query(db, q, limit=100)]
            for q in ("Макіївка", "дрони", "обстр*", '"атакували склад"', "номер -тиша")]


async def test_merging_in_steps_keeps_every_result_and_ends_in_one_segment(db: Database) -> None:
    await _fill(db)
    before = await _results(db)
    assert await maintenance.segments(db) > 3
    steps = 0
    while await maintenance.merge_step(db, pages=1):  # the smallest step: many of them
        steps += 1
    assert steps >= 1
    assert await maintenance.segments(db) == 1
    assert await _results(db) == before
    assert not await maintenance.merge_step(db)  # nothing left to do
    await db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")


async def test_term_snapshot_counts_what_the_index_holds(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(maintenance, "TERM_MIN_DOCS", 2)
    await _fill(db, 3)
    # the first snapshot does not wait for the merge (no time for a single step here)
    first = await maintenance.tidy(db, budget=0)
    assert not first.merged and first.merge_steps == 0 and first.terms
    report = await maintenance.tidy(db)
    assert report.merged and report.terms and report.merge_steps >= 1
    got = dict(await db.fetchall("SELECT term, docs FROM search_terms"))
    # written terms, counted over text and translation: every post says "номер", half "дрони"
    assert got["номер"] == 30 and got["дрони"] == 15 and got["макіївки"] == 30
    assert "макіївка" not in got  # a normal form only (the words column) is not a written term
    assert all(n >= 2 for n in got.values())
    # nothing new: no merge work and no second refresh
    again = await maintenance.tidy(db)
    assert again.merged and again.merge_steps == 0 and again.terms is None
    # a busy caller stops it before anything is done
    await _fill(db, 1)
    busy = await maintenance.tidy(db, busy=lambda: True)
    assert busy.merge_steps == 0 and not busy.merged


async def test_common_prefix_is_capped_to_its_frequent_completions(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(maintenance, "TERM_MIN_DOCS", 2)
    monkeypatch.setattr(search, "RARE_CAP", 10)
    monkeypatch.setattr(search, "PREFIX_TERMS", 1)
    await _fill(db, 3)
    await posts.upsert_many(db, [Post("rybar", 1, T0, "дронов нет")])
    hits = await search.query(db, "дрон*", limit=100)  # no snapshot yet: the whole prefix
    assert len(hits) == 16 and not any(h.capped for h in hits)
    await maintenance.tidy(db)
    hits = await search.query(db, "дрон*", limit=100)  # "дрони" only, and it says so
    assert len(hits) == 15 and all(h.capped for h in hits)
    assert all("\x02дрони\x03" in h.text_snippet for h in hits)
    assert _hit_row(hits[0], None)["capped"] is True  # `citewatch search --json` says so
    assert search.CAPPED_NOTE in "\n".join(await answer(db, "/search дрон*"))  # and the chat


def _service(tmp_path: Path, db: Database) -> Service:
    settings = load_settings({"CITEWATCH_DB": str(tmp_path / "citewatch.db"), "TRANSLATOR": "none"},
                             dotenv_path=None)
    return Service(settings, db)


async def test_service_tidies_only_when_no_other_job_runs(db: Database, tmp_path: Path) -> None:
    await _fill(db)
    service = _service(tmp_path, db)
    service._start_upkeep()  # an hourly APScheduler job, not a step of any write
    job = service.scheduler.get_job("tidy-index")
    assert job is not None and job.trigger.interval == timedelta(seconds=TIDY_INTERVAL)
    service._active.add("poll-feeds")  # another job is running: not a quiet moment
    await service._tidy_index()
    assert await maintenance.segments(db) > 1
    service._active.clear()
    await service._tidy_index()
    assert await maintenance.segments(db) == 1
    assert await db.fetchval("SELECT count(*) FROM search_terms") > 0


async def test_cli_says_when_a_search_was_capped(cli: Cli, env: dict[str, str]) -> None:
    """A prefix in 2,000+ posts (the real caps) through the real CLI: the hits and a note."""
    db = await Database.open(Path(env["CITEWATCH_DB"]))
    try:
        await posts.upsert_many(db, [
            Post("DIUkraine", i, T0 + timedelta(minutes=i), f"дрони {i}" if i % 4 else f"дронів {i}")
            for i in range(1, search.RARE_CAP + 201)])
        await maintenance.tidy(db)
    finally:
        await db.close()
    proc = cli(env, "search", "дрон*", "--limit", "5")
    assert proc.returncode == 0, proc.stderr
    assert f"note: {search.CAPPED_NOTE}" in proc.stderr
    assert proc.stdout.count("https://t.me/DIUkraine/") == 5
    proc = cli(env, "search", "дрон*", "--json", "--limit", "5")
    assert [r["capped"] for r in json.loads(proc.stdout)] == [True] * 5
    proc = cli(env, "search", "дрони", "--json", "--limit", "5")  # a word is never capped
    assert [r["capped"] for r in json.loads(proc.stdout)] == [False] * 5
