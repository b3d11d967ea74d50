"""Shared fixtures: a real database file per test, a local HTTP server, paths to shared data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.httpserver import TestHTTPServer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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
def env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment for running the CLI in a subprocess against a temp database."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "CITEWATCH_"))}
    base.update({
        "CITEWATCH_DB": str(tmp_path / "cw.db"),
        "TG_SESSION": str(tmp_path / "cw.session"),
        "TG_BOT_SESSION": str(tmp_path / "cw-bot.session"),
        "TRANSLATOR": "none",
        "CHANNELS": "DIUkraine",
        "FEEDS": "",
        "ALLOW_PRIVATE_URLS": "true",
    })
    return base
