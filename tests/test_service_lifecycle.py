"""The `citewatch run` process over its lifetime: what it leaves behind when killed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from storage.db import Database
from tests.httpserver import Response, TestHTTPServer
from tests.test_e2e_service import rss, start_run, wait_for
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
