"""Logging: one line per event, text or JSON; secrets are never formatted into a record."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_SECRET_NAMES = ("api_hash", "bot_token", "api_key", "auth_key", "password")


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


class OneLineFormatter(logging.Formatter):
    """Keeps every event on one line, even when the message holds newlines from untrusted text."""

    def format(self, record: logging.LogRecord) -> str:
        s = super().format(record)
        return s.replace("\r", "\\r").replace("\n", "\\n")


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            if any(s in msg for s in self.secrets):
                for s in self.secrets:
                    msg = msg.replace(s, "***")
                record.msg, record.args = msg, ()
        return True


def setup_logging(level: str = "info", fmt: str = "text", secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        )
    handler.addFilter(_RedactFilter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Telethon is chatty at INFO about connections; keep its warnings
    logging.getLogger("telethon").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
