"""`citewatch run` end to end: the real service process reading FakeTelegram over TCP."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from storage import posts as posts_repo
from storage.db import Database
from tests.test_telegram_cli import tg_env
from tests.tgserver import FakeTelegram


async def wait_posts(db_path: Path, channel: str, want: set[int], timeout: float = 40) -> set[int]:
    deadline = time.monotonic() + timeout
    got: set[int] = set()
    while time.monotonic() < deadline:
        if db_path.exists():
            db = await Database.open(db_path)
            try:
                got = await posts_repo.message_ids(db, channel)
            finally:
                await db.close()
            if want <= got:
                return got
        await asyncio.sleep(0.3)
    raise AssertionError(f"missing {sorted(want - got)[:10]}... after {timeout}s")


async def test_run_backfills_listens_and_recovers_after_restart(
        env: dict[str, str], tmp_path: Path) -> None:
    async with FakeTelegram(require_login=False) as srv:
        srv.add_channel("DIUkraine", title="ГУР", joined=True)
        first = {srv.post("DIUkraine", f"Повідомлення {i}") for i in range(250)}
        e = tg_env(env, srv, tmp_path)
        e.update(CHANNELS="DIUkraine", SOURCE="auto", FEEDS="", LOG_LEVEL="info")
        # SOURCE=auto needs a logged-in session: log in once (the fake authorises any key)
        login = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from bot.cli import main; main()", "login", env=e, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.wait_for(login.communicate(), 60)
        assert login.returncode == 0
        db_path = Path(e["CITEWATCH_DB"])

        async def run() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from bot.cli import main; main()", "run", env=e,
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        proc = await run()
        try:
            await wait_posts(db_path, "DIUkraine", first)
            live = srv.post("DIUkraine", "live post")
            await wait_posts(db_path, "DIUkraine", {live})
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "h" * 32 not in err.decode()

        during = {srv.post("DIUkraine", f"while stopped {i}") for i in range(20)}
        proc = await run()
        try:
            await wait_posts(db_path, "DIUkraine", during)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), 30)
        assert srv.count("ResolveUsernameRequest") == 1
