"""Shared fixtures: a real database file per test, a local HTTP server, paths to shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from storage.db import Database
from tests.httpserver import TestHTTPServer

if TYPE_CHECKING:
    from tests.tgserver import FakeTelegram

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: the installed console script, run as a user runs it
CITEWATCH = str(Path(sys.executable).with_name("citewatch"))


def kill_midway(args: list[str], env: Mapping[str, str], cwd: Path, progressed: Callable[[], bool],
                timeout: float) -> None:
    """Run ``citewatch ARGS`` and SIGKILL it as soon as ``progressed()`` (a crash mid-write); the
    kill is checked to have landed (the command was not done by itself)."""
    import signal
    import time

    proc = subprocess.Popen([CITEWATCH, *args], env=dict(env), cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not progressed() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def shared_data(name: str) -> Path:
    """A file of ../shared/data; skips the test (with the reason) when the folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "citewatch.db")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def http() -> Iterator[TestHTTPServer]:
    with TestHTTPServer() as srv:
        yield srv


@pytest.fixture
async def srv() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram on 127.0.0.1 with its account already logged in (``test_tgserver`` overrides it
    to test the login itself)."""
    from tests.tgserver import FakeTelegram

    server = FakeTelegram(require_login=False)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment for running the CLI in a subprocess against a temp database."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "CITEWATCH_"))}
    base.update({
        "CITEWATCH_DB": str(tmp_path / "cw.db"),
        "TG_SESSION": str(tmp_path / "cw.session"),
        "TG_BOT_SESSION": str(tmp_path / "cw-bot.session"),
        "TRANSLATOR": "none",
        "CHANNELS": "DIUkraine",
        "FEEDS": "",
        "ALLOW_PRIVATE_URLS": "true",
        "DISCOVER": "off",  # discovery asks GDELT on the internet; its tests point it at 127.0.0.1
    })
    return base


class Cli(Protocol):
    def __call__(self, env: Mapping[str, str], *args: str, stdin: str | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """``cli(env, "search", "x")``: the real ``citewatch`` console script in its own process, in
    ``tmp_path`` (exit codes, one-line errors on stderr and ``.env`` lookup are what a user gets)."""

    def run(env: Mapping[str, str], *args: str, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CITEWATCH, *args], env=dict(env), cwd=cwd or tmp_path, input=stdin,
                              capture_output=True, text=True, timeout=120)

    return run
