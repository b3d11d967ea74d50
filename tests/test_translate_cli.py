"""``citewatch translate`` as a user runs it: console script, temp database, local LibreTranslate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from storage import posts as posts_repo
from storage import translations as tr_repo
from storage.db import Database
from storage.models import Post
from tests.conftest import Cli
from tests.httpserver import Request, Response, TestHTTPServer

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def seed(path: str) -> None:
    async def go() -> None:
        db = await Database.open(path)
        try:
            await posts_repo.upsert_many(db, [
                Post(channel="DIUkraine", message_id=1, date=DAY, text="ГУР знищив катер у Криму"),
                Post(channel="DIUkraine", message_id=2, date=DAY, text="Відео операції BAD"),
                Post(channel="rybar", message_id=7, date=DAY, text="Кадры уничтожения катера"),
                Post(channel="rybar", message_id=8, date=DAY, text="An English post about it"),
            ])
        finally:
            await db.close()

    asyncio.run(go())


def translations(path: str) -> dict[tuple[str, int], str]:
    async def go() -> dict[tuple[str, int], str]:
        db = await Database.open(path)
        try:
            out = {}
            for ch, mid in [("DIUkraine", 1), ("DIUkraine", 2), ("rybar", 7), ("rybar", 8)]:
                p = await posts_repo.get(db, ch, mid)
                assert p is not None and p.id is not None
                for t in await tr_repo.for_post(db, p.id):
                    out[(ch, mid)] = f"{t.source_lang}>{t.lang} {t.provider}: {t.text}"
            return out
        finally:
            await db.close()

    return asyncio.run(go())


def libretranslate(state: dict[str, bool]):  # type: ignore[no-untyped-def]
    def handler(req: Request) -> Response:
        body = req.json()
        if state["refuse_bad"] and any("BAD" in t for t in body["q"]):
            # a hostile server's words reach the terminal without their control codes
            return Response.json({"error": "Invalid request: text is\x1b[2J not valid\x07"}, 400)
        return Response.json({"translatedText": [f"EN {t}" for t in body["q"]]})

    return handler


def test_translate_command_channel_failures_and_retry(cli: Cli,
    env: dict[str, str], tmp_path: Path, http: TestHTTPServer
) -> None:
    seed(env["CITEWATCH_DB"])
    state = {"refuse_bad": True}
    http.route("/translate", libretranslate(state))
    env = {**env, "TRANSLATOR": "libretranslate", "LIBRETRANSLATE_URL": http.base,
           "LIBRETRANSLATE_API_KEY": "very-secret-lt-key"}

    proc = cli(env, "translate", "--channel", "@rybar")
    assert proc.returncode == 0, proc.stderr
    assert "translated 1, not needed 1, failed 0" in proc.stdout
    assert translations(env["CITEWATCH_DB"]) == {
        ("rybar", 7): "ru>en libretranslate: EN Кадры уничтожения катера"
    }

    proc = cli(env, "translate")
    assert proc.returncode == 0, proc.stderr
    assert "translated 1, not needed 0, failed 1" in proc.stdout
    assert "failed: DIUkraine/2: libretranslate: HTTP 400: Invalid request: text is[2J not valid" in (
        proc.stderr
    )
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "very-secret-lt-key" not in proc.stdout + proc.stderr
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal

    state["refuse_bad"] = False
    proc = cli(env, "translate")  # failed posts stay failed ...
    assert "translated 0" in proc.stdout and "1 failed" in proc.stdout
    proc = cli(env, "translate", "--retry-failed")  # ... until retried
    assert proc.returncode == 0, proc.stderr
    assert "1 failed post(s) put back" in proc.stderr
    assert "translated 1" in proc.stdout and "0 pending, 0 failed" in proc.stdout
    assert translations(env["CITEWATCH_DB"])[("DIUkraine", 2)] == (
        "uk>en libretranslate: EN Відео операції BAD"
    )


def test_translate_with_no_translator_keeps_posts_waiting(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    seed(env["CITEWATCH_DB"])
    proc = cli(env, "translate")  # env fixture sets TRANSLATOR=none
    assert proc.returncode == 0, proc.stderr
    assert "not needed 1" in proc.stdout and "3 pending" in proc.stdout
    assert "no translator configured" in proc.stderr


def test_translate_errors_are_one_line(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    proc = cli(env, "translate", "--channel", "not a channel!")
    assert proc.returncode == 2 and "not a public channel username" in proc.stderr
    proc = cli({**env, "TRANSLATOR": "deepl"}, "translate")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "citewatch: error: DEEPL_API_KEY: must be set when TRANSLATOR=deepl"
