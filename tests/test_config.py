"""Settings: defaults < .env < environment, and every bad value is one line naming the variable.

The error tests run the real ``citewatch`` console script in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from bot.config import _SPECS, example_env, load_settings
from bot.errors import ConfigError
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_env_or_file(tmp_path: Path) -> None:
    s = load_settings({}, dotenv_path=None)
    assert s.citewatch_db == Path("./data/citewatch.db")
    assert s.channels == ["DIUkraine"]
    assert s.feeds == []
    assert s.log_level == "info"
    assert s.source == "auto"
    assert s.tg_api_id is None
    assert s.allow_private_urls is False
    assert s.metrics_port is None


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "LOG_LEVEL=debug\nCHANNELS=rybar, @DIUkraine\nFEEDS=https://example.org/rss.xml\n"
        f"CITEWATCH_DB={tmp_path / 'from-file.db'}\n"
    )
    from_file = load_settings({}, dotenv_path=dotenv)
    assert from_file.log_level == "debug"
    assert from_file.channels == ["rybar", "DIUkraine"]
    assert from_file.feeds == ["https://example.org/rss.xml"]
    assert from_file.citewatch_db == tmp_path / "from-file.db"

    both = load_settings({"LOG_LEVEL": "warning", "CITEWATCH_DB": str(tmp_path / "env.db")},
                         dotenv_path=dotenv)
    assert both.log_level == "warning"  # environment wins
    assert both.citewatch_db == tmp_path / "env.db"
    assert both.channels == ["rybar", "DIUkraine"]  # the file still fills what env leaves out


def test_reading_settings_creates_no_directories(tmp_path: Path) -> None:
    paths = {"CITEWATCH_DB": tmp_path / "a" / "b" / "cw.db", "TG_SESSION": tmp_path / "s" / "tg",
             "TG_BOT_SESSION": tmp_path / "bot" / "tg"}
    s = load_settings({k: str(v) for k, v in paths.items()}, dotenv_path=None)
    assert (s.citewatch_db, s.tg_session, s.tg_bot_session) == tuple(paths.values())
    assert list(tmp_path.iterdir()) == []


def test_channel_usernames_are_normalised() -> None:
    s = load_settings({"CHANNELS": "https://t.me/s/DIUkraine, t.me/rybar/123, @mod_russia"}, None)
    assert s.channels == ["DIUkraine", "rybar", "mod_russia"]


def test_example_env_is_in_sync() -> None:
    """If this fails, a setting was added or changed in bot/config.py:_SPECS. Regenerate with
    ``python -c "from bot.config import example_env; open('config.example.env','w').write(example_env())"``
    """
    assert (ROOT / "config.example.env").read_text() == example_env()
    # and the file itself loads cleanly: every default is valid
    names = [ln.split("=", 1)[0] for ln in example_env().splitlines() if ln and ln[0] != "#"]
    assert names == list(_SPECS)


BAD_VALUES = [
    ("TG_API_ID", "12ab", "expected an integer"),
    ("SOURCE", "carrier-pigeon", "expected one of auto, telethon, web"),
    ("LOG_LEVEL", "loud", "expected one of debug"),
    ("LOG_FORMAT", "xml", "expected one of text, json"),
    ("FEEDS", "https://ok.example/rss, not a url", "is not an http(s) URL"),
    ("FEEDS", "ftp://example.org/feed", "is not an http(s) URL"),
    ("ALLOW_PRIVATE_URLS", "maybe", "expected true or false"),
    ("CHANNELS", "DIUkraine, no spaces allowed", "is not a public channel username"),
    ("POLL_INTERVAL", "0", "expected a positive integer"),
    ("FETCH_TIMEOUT", "nan", "expected a finite number"),
    ("WEB_INTERVAL", "-1", "expected zero or a positive number"),
    ("CITATION_THRESHOLD", "1.5", "between 0 and 1"),
    ("METRICS_PORT", "70000", "TCP port"),
    ("TG_SERVER", "localhost", "expected host:port"),
    ("MAX_REDIRECTS", "21", "expected 0 to 20"),
    ("CITATION_WINDOW_DAYS", "3651", "expected 1 to 3650"),
    ("CITE_WORKERS", "100000", "per CPU core; this machine has"),
    ("ALERT_CHAT", "my team chat", "expected me, a chat id or a @username"),
    ("ALLOWED_CHATS", "@analyst, -100123, #general", "got '#general'"),
    ("METRICS_ADDR", "everywhere", "expected an IP address"),
]


def test_sane_values_at_the_limits_pass() -> None:
    s = load_settings({"MAX_REDIRECTS": "20", "CITATION_WINDOW_DAYS": "3650",
                       "CITE_WORKERS": str(4 * (os.cpu_count() or 1)),
                       "ALERT_CHAT": "https://t.me/analysts", "ALLOWED_CHATS": "@analysts, -1001234, me",
                       "METRICS_ADDR": "::1"}, dotenv_path=None)
    assert (s.max_redirects, s.citation_window_days, s.metrics_addr) == (20, 3650, "::1")
    assert s.allowed_chats == ["@analysts", "-1001234", "me"]
    assert load_settings({}, dotenv_path=None).metrics_addr == "127.0.0.1"


def test_metrics_listen_on_loopback_by_default() -> None:
    """It bound every interface (0.0.0.0) before METRICS_ADDR existed."""
    from bot.metrics import start_metrics_server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start_metrics_server(port, load_settings({}, dotenv_path=None).metrics_addr)
    listening = [ln.split()[1] for ln in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if ln.split()[3] == "0A"]  # state LISTEN
    assert f"0100007F:{port:04X}" in listening and f"00000000:{port:04X}" not in listening


def test_alerts_through_a_bot_need_a_real_chat() -> None:
    with pytest.raises(ConfigError, match=r"^ALERT_CHAT: 'me' would be the bot's own chat"):
        load_settings({"TG_BOT_TOKEN": "123456:AAbbcc", "ALERT_CHAT": "me"}, dotenv_path=None)
    s = load_settings({"TG_BOT_TOKEN": "123456:AAbbcc", "ALERT_CHAT": "-4001"}, dotenv_path=None)
    assert s.alert_chat == "-4001"
    with pytest.raises(ConfigError, match=r"^ALLOWED_CHATS: 'me' names no chat"):
        load_settings({"TG_BOT_TOKEN": "123456:AAbbcc", "ALERT_CHAT": "-4001",
                       "ALLOWED_CHATS": "@analyst, me"}, dotenv_path=None)
    assert load_settings({"ALLOWED_CHATS": "me"}, dotenv_path=None).allowed_chats == ["me"]


@pytest.mark.parametrize(("name", "value", "why"), BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_bad_value_raises_config_error_naming_the_variable(name: str, value: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value}, dotenv_path=None)
    msg = str(info.value)
    assert msg.startswith(f"{name}: ")
    assert why in msg
    assert "\n" not in msg


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], name: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"citewatch: error: {name}: "), lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [("TG_API_ID", "not-a-number"), ("SOURCE", "smoke"), ("LOG_LEVEL", "verbose"),
     ("FEEDS", "example.org/rss"), ("ALLOW_PRIVATE_URLS", "perhaps")],
)
def test_cli_stops_with_one_line_for_bad_env(cli: Cli, env: dict[str, str], tmp_path: Path, name: str,
                                              value: str) -> None:
    proc = cli({**env, name: value}, "stats")
    _assert_one_line_error(proc, name)
    assert not Path(env["CITEWATCH_DB"]).exists()  # nothing was created before the check


def test_cli_unwritable_db_path(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    # a directory cannot be created under a regular file, even as root
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    proc = cli({**env, "CITEWATCH_DB": str(blocker / "sub" / "cw.db")}, "stats")
    _assert_one_line_error(proc, "CITEWATCH_DB")
    assert "cannot create directory" in proc.stderr
    # a directory where the file should be
    proc = cli({**env, "CITEWATCH_DB": str(tmp_path)}, "stats")
    _assert_one_line_error(proc, "CITEWATCH_DB")
    assert "is a directory" in proc.stderr


def test_cli_bad_value_in_dotenv_file(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in env.items() if k != "FEEDS"}
    (tmp_path / ".env").write_text("FEEDS=https://ok.example/rss,javascript:alert(1)\n")
    proc = cli(env, "stats")
    _assert_one_line_error(proc, "FEEDS")
    # the environment wins over the broken file value
    proc = cli({**env, "FEEDS": ""}, "run", "--dry-run")
    assert proc.returncode == 0, proc.stderr


def test_cli_undecodable_dotenv_file(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"LOG_LEVEL=\xff\xfe info\n")
    proc = cli(env, "stats")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot read settings file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_env_file_option(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other.env"
    other.write_text("SOURCE=bogus\n")
    proc = cli(env, "--env-file", str(other), "stats")
    _assert_one_line_error(proc, "SOURCE")
