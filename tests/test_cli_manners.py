"""What a new user meets first: help, --version, --db, read commands that create nothing, an honest
healthcheck, NO_COLOR, and searches no input can break (the real console script, real SQLite)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.alerts.commands import answer
from storage import channels, feeds
from storage.db import Database
from storage.models import to_iso, utcnow
from tests.alerts_support import store_post
from tests.conftest import Cli
from tests.terminal import on_a_terminal

READ_COMMANDS = [["status"], ["search", "hello"], ["stats"], ["citations"],
                 ["export", "--format", "jsonl"]]


@pytest.mark.parametrize("args", READ_COMMANDS)
def test_read_commands_on_a_missing_database_create_nothing(cli: Cli, env: dict[str, str], tmp_path: Path,
                                                            args: list[str]) -> None:
    work = tmp_path / "fresh"
    work.mkdir()
    del env["CITEWATCH_DB"]  # the default, ./data/citewatch.db
    out = cli(env, *args, cwd=work)
    assert out.returncode == 2, out.stderr
    assert out.stderr == ("citewatch: error: no database at data/citewatch.db; run `citewatch run` "
                          "or `citewatch import` first\n")
    assert list(work.iterdir()) == []  # no ./data/, no empty database


def test_global_db_option_wins_over_the_environment(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"channel": "DIUkraine", "id": 1, "date": "2024-01-01",
                               "text": "hello"}) + "\n")
    other = tmp_path / "other.db"
    assert cli(env, "--db", str(other), "import", str(src)).returncode == 0
    assert other.exists() and not Path(env["CITEWATCH_DB"]).exists()
    assert json.loads(cli(env, "--db", str(other), "stats", "--json").stdout)["posts"] == 1
    missing = cli(env, "--db", str(tmp_path / "nope.db"), "stats")
    assert missing.returncode == 2 and f"no database at {tmp_path / 'nope.db'}" in missing.stderr


async def test_status_exits_1_when_nothing_succeeded_for_three_rounds(cli: Cli, db: Database,
                                                                      env: dict[str, str]) -> None:
    env["CITEWATCH_DB"] = str(db.path)
    await feeds.add(db, "https://news.example/feed.xml")
    await store_post(db, 1)
    await channels.record_success(db, "DIUkraine", 1)
    env.update(POLL_INTERVAL="60", CATCHUP_INTERVAL="60", FEED_INTERVAL="60")  # stale after 180 s
    assert cli(env, "status").returncode == 0
    old = to_iso(utcnow() - timedelta(hours=2))
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE channels SET last_success_at = ?", (old,))
        conn.execute("UPDATE feeds SET added_at = ?", (old,))
    out = cli(env, "status", "--json")
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["healthy"] is False and "last success was 2 h ago" in report["problems"][0]
    assert out.stderr.startswith("citewatch: unhealthy: no channel or feed succeeded in the last 3 min")
    with sqlite3.connect(db.path) as conn:  # never succeeded counts from when it was added
        conn.execute("UPDATE feeds SET added_at = ?", (to_iso(utcnow()),))
    assert cli(env, "status").returncode == 0
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE feeds SET added_at = ?", (old,))
    assert cli(env, "status").returncode == 1
    with sqlite3.connect(db.path) as conn:  # a feed working again is enough
        conn.execute("UPDATE feeds SET last_success_at = ?", (to_iso(utcnow()),))
    assert json.loads(cli(env, "status", "--json").stdout)["healthy"] is True


def test_bare_command_and_bare_group_show_the_whole_help(cli: Cli, env: dict[str, str]) -> None:
    out = cli(env)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("Usage: citewatch [OPTIONS] COMMAND")
    assert len(out.stdout.splitlines()) > 10 and "  search " in out.stdout
    group = cli(env, "channels")
    assert group.returncode == 0 and "Usage: citewatch channels" in group.stdout
    assert "  list " in group.stdout and len(group.stdout.splitlines()) > 5


def test_version(cli: Cli, env: dict[str, str]) -> None:
    from importlib.metadata import version

    out = cli(env, "--version")
    assert out.returncode == 0 and out.stdout == f"citewatch, version {version('citewatch')}\n"


def test_a_missing_env_file_is_an_error(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    out = cli(env, "--env-file", str(tmp_path / "nope.env"), "stats")
    assert out.returncode == 2 and "nope.env' does not exist" in out.stderr
    assert len(out.stderr.splitlines()) == 1
    # the default .env may be absent
    assert cli(env, "--help").returncode == 0


def test_shell_completion_script(cli: Cli, env: dict[str, str]) -> None:
    out = cli({**env, "_CITEWATCH_COMPLETE": "bash_source"})
    assert out.returncode == 0 and "complete -o nosort -F _citewatch_completion citewatch" in out.stdout


async def test_terminal_output_is_bold_unless_no_color_and_never_carries_control_codes(
        db: Database, env: dict[str, str], tmp_path: Path) -> None:
    await store_post(db, 1, text="hostile \x1b]0;pwned\x07 title \x1b[2J and a bell\x07 here")
    env["CITEWATCH_DB"] = str(db.path)
    tty = on_a_terminal(env, tmp_path, "search", "hostile")[1]
    assert "\x1b[1mhostile\x1b[0m" in tty  # our own highlight
    assert "\x07" not in tty and "\x1b]" not in tty and "\x1b[2J" not in tty
    plain = on_a_terminal({**env, "NO_COLOR": "1"}, tmp_path, "search", "hostile")[1]
    assert "\x1b" not in plain and "[hostile]" in plain


async def test_thousands_of_terms_are_one_line_in_cli_and_chat(cli: Cli, db: Database,
                                                              env: dict[str, str]) -> None:
    await store_post(db, 1, text="hello world")
    env["CITEWATCH_DB"] = str(db.path)
    for query in (" ".join(f"w{i}" for i in range(3000)), " OR ".join(f"word{i}" for i in range(3000)),
                  " ".join(f"-word{i}" for i in range(3000)) + " hello"):
        out = cli(env, "search", query)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.startswith("citewatch: error: too many search terms")
        assert len(out.stderr.splitlines()) == 1
        [reply] = await answer(db, f"/search {query}")
        assert "too many search terms" in reply
    # the limit leaves ordinary long queries alone
    near_limit = cli(env, "search", " OR ".join(["hello", *(f"w{i}" for i in range(49))]))
    assert near_limit.returncode == 0 and "t.me/DIUkraine/1" in near_limit.stdout


def test_a_query_starting_with_a_dash_and_holding_an_h_is_text(cli: Cli, env: dict[str, str],
                                                               tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"channel": "DIUkraine", "id": 1, "date": "2024-01-01",
                               "text": "hello there"}) + "\n")
    cli(env, "import", str(src))
    out = cli(env, "search", "-russia hello")
    assert out.returncode == 0 and "t.me/DIUkraine/1" in out.stdout
