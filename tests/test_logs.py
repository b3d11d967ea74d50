"""Logs: one line per event (text or JSON), secrets masked even when a message carries them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buf = io.StringIO()
    yield buf
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def _point_at(buf: io.StringIO) -> None:
    for h in logging.getLogger().handlers:
        assert isinstance(h, logging.StreamHandler)
        h.setStream(buf)


def test_text_lines_stay_single_and_secrets_are_masked(captured: io.StringIO) -> None:
    setup_logging("info", "text", secrets=[SECRET])
    _point_at(captured)
    log = logging.getLogger("citewatch.test")
    log.info("post text from a channel:\nline two\r\nline three")
    log.warning("request failed with key %s", SECRET)
    log.debug("not shown at info")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    assert "line two" in lines[0] and "\\n" in lines[0]
    assert SECRET not in captured.getvalue() and "***" in lines[1]


def test_text_lines_show_control_characters_escaped(captured: io.StringIO) -> None:
    setup_logging("info", "text")
    _point_at(captured)
    logging.getLogger("citewatch.test").warning("title \x1b]0;owned\x07 and \x1b[2J\tend")
    out = captured.getvalue()
    assert "\x1b" not in out and "\x07" not in out
    assert "title \\x1b]0;owned\\x07 and \\x1b[2J\tend" in out


def test_json_format_is_one_object_a_line(captured: io.StringIO) -> None:
    setup_logging("debug", "json", secrets=[SECRET])
    _point_at(captured)
    log = logging.getLogger("citewatch.test")
    log.info("стор %d posts\nfrom @%s", 3, "DIUkraine")
    try:
        raise ValueError(f"boom {SECRET}")
    except ValueError:
        log.exception("job failed")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "стор 3 posts\nfrom @DIUkraine" and first["level"] == "info"
    assert first["logger"] == "citewatch.test" and first["time"].endswith("+00:00")
    assert second["level"] == "error" and second["error"].startswith("ValueError")
    assert SECRET not in captured.getvalue()
