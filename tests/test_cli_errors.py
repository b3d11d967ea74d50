"""Every way to call ``citewatch`` wrongly ends in exactly one line on stderr, never a usage dump."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    (["search", "foo", "--limit", "0"], "Invalid value for '--limit'"),
    (["search", "foo", "--since", "yesterday"], "is not a date"),
    (["search"], "Missing argument 'QUERY'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["import", "/nonexistent/file.jsonl"], "does not exist"),
    (["export"], "Missing option '--format'"),
    (["search", "x", "--json", "--csv"], "choose one of --json and --csv"),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_usage_errors_are_one_line(args: list[str], expected: str, env: dict[str, str],
                                   tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("citewatch: error: ") and expected in lines[0]
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_help_still_works(env: dict[str, str], tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "bot", "search", "--help"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--channel" in p.stdout and "--json" in p.stdout
