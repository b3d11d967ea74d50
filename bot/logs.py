"""Logging: one line per event, text or JSON; secrets are never formatted into a record."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k.startswith("cw_"):
                out[k[3:]] = v
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, ensure_ascii=False, default=str)


#: control characters but tab: in a log read on a terminal they could clear it or retitle it
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_SHOWN = {"\r": "\\r", "\n": "\\n"}


class OneLineFormatter(logging.Formatter):
    """Keeps every event on one line, even when the message holds newlines from untrusted text, and
    shows its other control characters escaped (``\\x1b``) instead of sending them to a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(lambda m: _SHOWN.get(m.group(), f"\\x{ord(m.group()):02x}"),
                            super().format(record))


class _Redacting(logging.Formatter):
    """Masks secrets in the finished line, so messages, arguments and tracebacks are all covered."""

    def __init__(self, inner: logging.Formatter, secrets: list[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def setup_logging(level: str = "info", fmt: str = "text", secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    inner: logging.Formatter = (
        JsonFormatter()
        if fmt == "json"
        else OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.setFormatter(_Redacting(inner, secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Telethon is chatty at INFO about connections; keep its warnings
    logging.getLogger("telethon").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
