"""The durable translation queue against a real SQLite file: retries, failures, pauses, crashes, edits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import TranslationError
from bot.translate.providers import DeepLTranslator, LibreTranslateTranslator, NoneTranslator
from bot.translate.queue import BACKOFF_BASE, MAX_ATTEMPTS, TranslationQueue
from storage import posts as posts_repo
from storage import search as search_repo
from storage import translations as tr_repo
from storage.db import Database
from storage.models import Post, from_iso
from tests.httpserver import Request, Response, TestHTTPServer

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

UK = ["ГУР знищив російський катер у Криму", "Розвідка повідомляє про нові удари по складах",
      "Ще одна операція наших розвідників", "Бійці ГУР відбили атаку біля Харкова",
      "Дивіться відео операції нашої розвідки"]
RU = ["Кадры уничтожения катера в Крыму", "Ещё одна атака беспилотников этой ночью",
      "Подробности операции будут позже"]


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """A Translator that records its calls and can fail on a plan: a list of errors, then success."""

    name = "recorder"

    def __init__(self, max_batch: int = 50, plan: list[BaseException] | None = None,
                 bad_word: str | None = None) -> None:
        self.max_batch = max_batch
        self.plan = list(plan or [])
        self.bad_word = bad_word
        self.calls: list[tuple[list[str], str, str]] = []

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        self.calls.append((list(texts), source_lang, target_lang))
        if self.plan:
            raise self.plan.pop(0)
        if self.bad_word and any(self.bad_word in t for t in texts):
            raise TranslationError(f"cannot translate text containing {self.bad_word}")
        return [f"EN[{source_lang}] {t}" for t in texts]

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call[0]]


def settings(tmp_path: Path, **env: str) -> Settings:
    base = {"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": str(tmp_path / "s"),
            "TG_BOT_SESSION": str(tmp_path / "b"), "TRANSLATOR": "none", "TRANSLATE_BATCH": "20"}
    return load_settings({**base, **env}, dotenv_path=None)


def post(mid: int, text: str, channel: str = "DIUkraine") -> Post:
    return Post(channel=channel, message_id=mid, date=T0 - timedelta(hours=1), text=text)


async def add_posts(db: Database, texts: list[str], channel: str = "DIUkraine",
                    start: int = 1) -> list[int]:
    await posts_repo.upsert_many(db, [post(start + i, t, channel) for i, t in enumerate(texts)])
    return [p.id for p in [await posts_repo.get(db, channel, start + i) for i in range(len(texts))]
            if p and p.id is not None]


async def test_translates_uk_and_ru_and_skips_english_and_empty(db: Database, tmp_path: Path) -> None:
    ids = await add_posts(db, [UK[0], RU[0], "Ukraine's intelligence says a Russian boat was hit",
                               "🔥🔥🔥 https://t.me/DIUkraine/1"])
    tr = Recorder()
    q = TranslationQueue(db, tr, settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 4  # rows settled: 2 translated, 2 not needing it
    assert (q.last.taken, q.last.translated, q.last.skipped) == (4, 2, 2)
    assert sorted((c[1], c[2]) for c in tr.calls) == [("ru", "en"), ("uk", "en")]
    langs = [(await posts_repo.get_by_id(db, i)).lang for i in ids]  # type: ignore[union-attr]
    assert langs == ["uk", "ru", "en", None]
    [t] = await tr_repo.for_post(db, ids[0])
    assert (t.lang, t.source_lang, t.provider, t.text) == ("en", "uk", "recorder", f"EN[uk] {UK[0]}")
    assert t.created_at == T0
    depth = await tr_repo.queue_depth(db)
    assert (depth.pending, depth.failed) == (0, 0)
    # the translation is searchable in English
    hits = await search_repo.query(db, "EN")
    assert {h.post_id for h in hits} == {ids[0], ids[1]}
    # nothing left: the next call takes nothing and calls no translator
    assert await q.run_batch() == 0 and q.last.taken == 0 and len(tr.calls) == 2


async def test_groups_by_language_in_provider_sized_batches(db: Database, tmp_path: Path) -> None:
    await add_posts(db, UK + RU)
    tr = Recorder(max_batch=2)
    q = TranslationQueue(db, tr, settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 8
    assert all(len(c[0]) <= 2 for c in tr.calls)
    assert sorted(tr.texts) == sorted(UK + RU)  # each exactly once
    for texts, src, _ in tr.calls:
        assert all((t in UK) == (src == "uk") for t in texts)


async def test_batch_size_limits_each_run(db: Database, tmp_path: Path) -> None:
    await add_posts(db, UK)
    q = TranslationQueue(db, Recorder(), settings(tmp_path, TRANSLATE_BATCH="2"), clock=Clock())
    assert [await q.run_batch() for _ in range(4)] == [2, 2, 1, 0]


async def test_transient_errors_retry_with_exponential_backoff(db: Database, tmp_path: Path) -> None:
    [pid] = await add_posts(db, [UK[0]])
    clock = Clock()
    boom = TranslationError("libretranslate: HTTP 503: busy", transient=True)
    tr = Recorder(plan=[boom, boom])
    q = TranslationQueue(db, tr, settings(tmp_path), clock=clock)

    assert await q.run_batch() == 1 and (q.last.retried, q.last.translated) == (1, 0)
    e = await tr_repo.queue_entry(db, pid)
    assert e is not None and e["status"] == "pending" and e["attempts"] == 1
    assert from_iso(e["next_attempt_at"]) == T0 + timedelta(seconds=BACKOFF_BASE)
    assert "HTTP 503" in e["last_error"]

    clock.advance(BACKOFF_BASE - 1)  # not due yet: no call
    assert await q.run_batch() == 0 and len(tr.calls) == 1
    clock.advance(1)
    assert await q.run_batch() == 1 and q.last.retried == 1
    e = await tr_repo.queue_entry(db, pid)
    assert e is not None and e["attempts"] == 2
    assert from_iso(e["next_attempt_at"]) == clock.now + timedelta(seconds=2 * BACKOFF_BASE)

    clock.advance(2 * BACKOFF_BASE)
    assert await q.run_batch() == 1
    assert await tr_repo.queue_entry(db, pid) is None
    assert len(tr.calls) == 3


async def test_gives_up_after_max_attempts(db: Database, tmp_path: Path) -> None:
    [pid] = await add_posts(db, [UK[0]])
    clock = Clock()
    tr = Recorder(plan=[TranslationError("down", transient=True)] * (MAX_ATTEMPTS + 5))
    q = TranslationQueue(db, tr, settings(tmp_path), clock=clock)
    for _ in range(MAX_ATTEMPTS + 3):
        await q.run_batch()
        clock.advance(7 * 3600)
    assert len(tr.calls) == MAX_ATTEMPTS
    e = await tr_repo.queue_entry(db, pid)
    assert e is not None and e["status"] == "failed" and e["attempts"] == MAX_ATTEMPTS
    assert e["last_error"] == f"gave up after {MAX_ATTEMPTS} attempts: down"


async def test_unexpected_exception_is_retried_not_lost(db: Database, tmp_path: Path) -> None:
    [pid] = await add_posts(db, [UK[0]])
    q = TranslationQueue(db, Recorder(plan=[RuntimeError("library bug")]), settings(tmp_path),
                         clock=Clock())
    assert await q.run_batch() == 1 and q.last.retried == 1
    e = await tr_repo.queue_entry(db, pid)
    assert e is not None and e["status"] == "pending" and "RuntimeError: library bug" in e["last_error"]


async def test_permanent_failure_is_recorded_and_spares_its_neighbours(
    db: Database, tmp_path: Path
) -> None:
    ids = await add_posts(db, [UK[0], UK[1] + " BAD", UK[2]])
    tr = Recorder(bad_word="BAD")
    q = TranslationQueue(db, tr, settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 3
    assert (q.last.translated, q.last.failed) == (2, 1)
    e = await tr_repo.queue_entry(db, ids[1])
    assert e is not None and e["status"] == "failed"
    assert e["last_error"] == "cannot translate text containing BAD"
    assert await tr_repo.for_post(db, ids[1]) == []
    [(item, reason)] = await tr_repo.failures(db)
    assert item.post_id == ids[1] and reason == e["last_error"]
    # failed posts are not retried by the job ...
    assert await q.run_batch() == 0 and q.last.taken == 0
    # ... until asked to; then they get a fresh count
    assert await tr_repo.retry_failed(db) == 1
    e = await tr_repo.queue_entry(db, ids[1])
    assert e is not None and (e["status"], e["attempts"]) == ("pending", 0)
    tr.bad_word = None
    assert await q.run_batch() == 1


def _rate_limited_libretranslate(limits: list[int]):  # type: ignore[no-untyped-def]
    """LibreTranslate that answers 429 (Retry-After 120) ``limits[0]`` times, then translates."""

    def handler(req: Request) -> Response:
        if limits[0] > 0:
            limits[0] -= 1
            return Response.json({"error": "Too many request limits violations"}, 429,
                                 **{"Retry-After": "120"})
        body = req.json()
        return Response.json({"translatedText": [f"en:{t}" for t in body["q"]]})

    return handler


async def test_rate_limit_pauses_the_queue_without_failing_posts_even_across_restart(
    db: Database, tmp_path: Path, http: TestHTTPServer
) -> None:
    ids = await add_posts(db, UK[:3] + RU[:2])
    http.route("/translate", _rate_limited_libretranslate([1]))
    clock = Clock()
    s = settings(tmp_path)
    q = TranslationQueue(db, LibreTranslateTranslator(http.base), s, clock=clock)
    assert await q.run_batch() == 0
    assert q.paused_until == T0 + timedelta(seconds=120) == q.last.paused_until
    assert len(http.requests) == 1  # the first 429 stopped the batch: the ru group was not sent
    for pid in ids:
        e = await tr_repo.queue_entry(db, pid)
        assert e is not None and (e["status"], e["attempts"]) == ("pending", 0)
        assert e["last_error"].startswith("paused: ")

    clock.advance(60)
    assert await q.run_batch() == 0 and len(http.requests) == 1  # paused: not even a query
    # a restart (new queue object) still honours the pause: it is written to the rows
    q2 = TranslationQueue(db, LibreTranslateTranslator(http.base), s, clock=clock)
    assert await q2.run_batch() == 0 and q2.last.taken == 0 and len(http.requests) == 1

    clock.advance(61)
    assert await q2.run_batch() == 5
    assert len(http.requests) == 3  # one request per language
    assert (await tr_repo.queue_depth(db)).pending == 0


async def test_deepl_quota_456_pauses(db: Database, tmp_path: Path, http: TestHTTPServer) -> None:
    [pid] = await add_posts(db, [UK[0]])
    http.route("/v2/translate", Response.json({"message": "Quota Exceeded"}, 456))
    clock = Clock()
    q = TranslationQueue(db, DeepLTranslator("k:fx", http.base), settings(tmp_path), clock=clock)
    assert await q.run_batch() == 0
    assert q.paused_until is not None and q.paused_until - T0 >= timedelta(minutes=30)
    e = await tr_repo.queue_entry(db, pid)
    assert e is not None and (e["status"], e["attempts"]) == ("pending", 0)
    assert "quota exceeded" in e["last_error"]


async def test_edited_post_is_retranslated_and_both_texts_kept(db: Database, tmp_path: Path) -> None:
    [pid] = await add_posts(db, [UK[0]])
    tr = Recorder()
    q = TranslationQueue(db, tr, settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 1
    edited = UK[0] + " (оновлено: два катери)"
    await posts_repo.upsert_many(db, [post(1, edited)])
    assert (await tr_repo.queue_entry(db, pid)) is not None  # the edit put it back in line
    assert await q.run_batch() == 1
    assert tr.texts == [UK[0], edited]
    [t] = await tr_repo.for_post(db, pid)
    assert t.text == f"EN[uk] {edited}"
    stored = await db.fetchval("SELECT source_text_hash FROM translations WHERE post_id = ?", (pid,))
    assert stored == tr_repo.text_hash(edited)
    assert [v.text for v in await posts_repo.versions(db, pid)] == [UK[0]]
    assert (await posts_repo.get_by_id(db, pid)).text == edited  # type: ignore[union-attr]


async def test_edit_during_translation_is_not_lost(db: Database, tmp_path: Path) -> None:
    [pid] = await add_posts(db, [UK[0]])
    edited = UK[0] + " — оновлено"

    class EditsWhileTranslating(Recorder):
        async def translate(self, texts: list[str], src: str, dst: str) -> list[str]:
            if not self.calls:  # the channel edits the post while the old text is being translated
                await posts_repo.upsert_many(db, [post(1, edited)])
            return await super().translate(texts, src, dst)

    tr = EditsWhileTranslating()
    q = TranslationQueue(db, tr, settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 0  # the stale translation is not stored ...
    assert await tr_repo.for_post(db, pid) == []
    assert await q.run_batch() == 1  # ... and the edit's own entry is translated next
    assert [t.text for t in await tr_repo.for_post(db, pid)] == [f"EN[uk] {edited}"]


class Crash(BaseException):
    """Stands for the process dying between two batches."""


async def test_exception_between_batches_resumes_without_losing_or_repeating(
    db: Database, tmp_path: Path
) -> None:
    await add_posts(db, UK)
    s = settings(tmp_path)

    class DiesOnSecondCall(Recorder):
        async def translate(self, texts: list[str], src: str, dst: str) -> list[str]:
            if self.calls:
                raise Crash()
            return await super().translate(texts, src, dst)

    first = DiesOnSecondCall(max_batch=2)
    with pytest.raises(Crash):
        await TranslationQueue(db, first, s, clock=Clock()).run_batch()
    done = first.texts
    assert len(done) == 2
    second = Recorder(max_batch=2)
    q = TranslationQueue(db, second, s, clock=Clock())
    while await q.run_batch():
        pass
    assert sorted(second.texts) == sorted(set(UK) - set(done))  # the rest, each once
    rows = await db.fetchall("SELECT post_id, text FROM translations ORDER BY post_id")
    assert len(rows) == len(UK)


KILL_SCRIPT = """
import asyncio, os, signal, sys
sys.path.insert(0, {root!r})
from bot.config import load_settings
from bot.translate.queue import TranslationQueue
from storage.db import Database

class KilledOnSecondCall:
    name = "killed"
    max_batch = 2
    calls = 0
    async def translate(self, texts, src, dst):
        KilledOnSecondCall.calls += 1
        if KilledOnSecondCall.calls == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        print("translated", len(texts), flush=True)
        return ["killed-run: " + t for t in texts]

async def main():
    db = await Database.open({db!r})
    s = load_settings({env!r}, dotenv_path=None)
    await TranslationQueue(db, KilledOnSecondCall(), s).run_batch()

asyncio.run(main())
"""


async def test_sigkill_mid_batch_resumes_without_losing_or_repeating(tmp_path: Path) -> None:
    path = tmp_path / "cw.db"
    db = await Database.open(path)
    try:
        ids = await add_posts(db, UK)
    finally:
        await db.close()
    env = {"CITEWATCH_DB": str(path), "TG_SESSION": str(tmp_path / "s"),
           "TG_BOT_SESSION": str(tmp_path / "b"), "TRANSLATOR": "none"}
    script = tmp_path / "kill.py"
    root = str(Path(__file__).resolve().parents[1])
    script.write_text(textwrap.dedent(KILL_SCRIPT).format(root=root, db=str(path), env=env))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert proc.stdout.splitlines() == ["translated 2"]

    db = await Database.open(path)
    try:
        assert await db.integrity_check() == "ok"
        done = await db.fetchall("SELECT post_id, text FROM translations")
        assert len(done) == 2 and all(r["text"].startswith("killed-run: ") for r in done)
        for pid in ids:  # the killed batch's other rows are untouched, not failed or counted
            e = await tr_repo.queue_entry(db, pid)
            assert (e is None) == (pid in {r["post_id"] for r in done})
            assert e is None or (e["status"], e["attempts"]) == ("pending", 0)
        resumed = Recorder()
        q = TranslationQueue(db, resumed, settings(tmp_path))
        assert await q.run_batch() == len(UK) - 2
        done_texts = {(await posts_repo.get_by_id(db, r["post_id"])).text  # type: ignore[union-attr]
                      for r in done}
        assert sorted(resumed.texts) == sorted(set(UK) - done_texts)
        assert await db.fetchval("SELECT count(*) FROM translations") == len(UK)
    finally:
        await db.close()


async def test_none_translator_detects_languages_and_keeps_posts_waiting(
    db: Database, tmp_path: Path
) -> None:
    ids = await add_posts(db, [UK[0], "Good morning from the front line", RU[0]])
    q = TranslationQueue(db, NoneTranslator(), settings(tmp_path), clock=Clock())
    assert await q.run_batch() == 3
    assert (q.last.taken, q.last.skipped, q.last.waiting, q.last.translated) == (3, 1, 2, 0)
    assert [(await posts_repo.get_by_id(db, i)).lang for i in ids] == ["uk", "en", "ru"]  # type: ignore[union-attr]
    assert (await tr_repo.queue_depth(db)).pending == 2
    # the next run has nothing new to look at
    assert await q.run_batch() == 0 and q.last.taken == 0
    # configure a translator later: the waiting posts are translated then
    tr = Recorder()
    assert await TranslationQueue(db, tr, settings(tmp_path), clock=Clock()).run_batch() == 2
    assert sorted(tr.texts) == sorted([UK[0], RU[0]])


async def test_channel_filter(db: Database, tmp_path: Path) -> None:
    await add_posts(db, [UK[0]], channel="DIUkraine")
    await add_posts(db, [RU[0]], channel="rybar")
    tr = Recorder()
    q = TranslationQueue(db, tr, settings(tmp_path), channel="rybar", clock=Clock())
    assert await q.run_batch() == 1 and tr.texts == [RU[0]]
    assert (await tr_repo.queue_depth(db, channel="DIUkraine")).pending == 1
    assert (await tr_repo.queue_depth(db, channel="rybar")).pending == 0


async def test_empty_queue_is_cheap_to_poll(db: Database, tmp_path: Path) -> None:
    await add_posts(db, [UK[0]])
    q = TranslationQueue(db, Recorder(), settings(tmp_path))
    assert await q.run_batch() == 1
    start = time.perf_counter()
    for _ in range(200):
        assert await q.run_batch() == 0
    assert time.perf_counter() - start < 2.0



async def test_drain_loop_terminates_on_every_outcome(db: Database, tmp_path: Path) -> None:
    """The service drains with ``while await q.run_batch(): pass``; that must always end."""
    await add_posts(db, [*UK, *RU, "An English post about the strike", "🔥🔥", UK[0] + " BAD"])
    for tr in (Recorder(bad_word="BAD", plan=[TranslationError("x", transient=True)]),
               NoneTranslator()):
        q = TranslationQueue(db, tr, settings(tmp_path, TRANSLATE_BATCH="3"), clock=Clock())
        rounds = 0
        while await q.run_batch():
            rounds += 1
            assert rounds < 20
        if isinstance(tr, Recorder):
            assert rounds >= 4  # 11 rows in batches of 3: it drained them all in one go
    depth = await tr_repo.queue_depth(db, now=T0)
    # all settled but the BAD post (failed) and the transient failure's rows (retried later)
    assert depth.failed == 1 and depth.due == 0 and depth.pending == 3
