"""What every subcommand shares: settings, the database, errors as one line, output formats."""

from __future__ import annotations

import asyncio
import csv
import functools
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import Settings, load_settings
from bot.errors import CitewatchError
from bot.logs import setup_logging
from storage.db import Database
from storage.models import HL_END, HL_START

T = TypeVar("T")


def get_settings(ctx: click.Context | None = None) -> Settings:
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "settings" not in obj:
        environ = dict(os.environ)
        if obj.get("db"):  # --db wins over CITEWATCH_DB, and is checked like it
            environ["CITEWATCH_DB"] = obj["db"]
        s = load_settings(environ, dotenv_path=obj.get("env_file", ".env"))
        setup_logging(s.log_level, s.log_format, secrets=[s.tg_api_hash, s.tg_bot_token,
                                                          s.deepl_api_key,
                                                          s.libretranslate_api_key])
        obj["settings"] = s
    return obj["settings"]


def missing_db_message(path: Path) -> str:
    return f"no database at {path}; run `citewatch run` or `citewatch import` first"


@asynccontextmanager
async def open_db(settings: Settings, *, create: bool = True):  # type: ignore[no-untyped-def]
    """The database; ``create=False`` for commands that only read, so a typo in CITEWATCH_DB or a
    fresh directory never gains an empty database (or a ``./data/``)."""
    if not create and not settings.citewatch_db.exists():
        raise CitewatchError(missing_db_message(settings.citewatch_db))
    db = await Database.open(settings.citewatch_db, create=create)
    try:
        yield db
    finally:
        await db.close()


def run_async(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command body; a CitewatchError becomes one line on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def fail(message: str, code: int = 2) -> None:
    click.echo(f"citewatch: error: {message}", err=True)
    sys.exit(code)


def parse_when(value: str | None) -> datetime | None:
    """ISO date/time, or a relative '7d', '12h', '30m'."""
    if value is None:
        return None
    v = value.strip()
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    if len(v) > 1 and v[-1] in units and v[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[v[-1]]: int(v[:-1])})
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use 2024-01-31, an ISO time or 7d)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class When(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime | None:
        if isinstance(value, datetime) or value is None:
            return value
        return parse_when(str(value))


WHEN = When()


#: C0 and C1 control characters but tab and newline, and DEL: in untrusted text they could move the
#: cursor, retitle the terminal or ring the bell
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str | None) -> str:
    """Untrusted text (posts, titles, errors from servers) made safe to print as text."""
    # a lone surrogate (JSON allows "\\ud800") cannot be written to a UTF-8 stream: shown escaped
    return _CONTROL.sub("", text or "").encode("utf-8", "backslashreplace").decode("utf-8")


def color_ok() -> bool:
    """ANSI styling only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


_MARKS = {"ansi": ("\x1b[1m", "\x1b[0m"), "none": ("", ""), "plain": ("[", "]")}


def render_snippet(s: str, style: str = "plain") -> str:
    """Render storage's highlight markers: bold on a terminal, [brackets] in plain text, nothing
    for machines. The text between them is cleaned of control characters (the markers are ones)."""
    start, end = _MARKS[style]
    return "".join(start if part == HL_START else end if part == HL_END else clean(part)
                   for part in re.split(f"([{HL_START}{HL_END}])", s))


def _jsonable(v: Any) -> Any:
    if is_dataclass(v) and not isinstance(v, type):
        return {k: _jsonable(x) for k, x in asdict(v).items()}
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def print_json(obj: Any) -> None:
    click.echo(json.dumps(_jsonable(obj), ensure_ascii=False, indent=2))


def csv_value(x: Any) -> Any:
    """One CSV cell: empty for None, true/false (as in JSON) for booleans, JSON for lists and
    objects, ISO for times."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    x = _jsonable(x)
    return json.dumps(x, ensure_ascii=False) if isinstance(x, list | dict) else x


def print_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    w = csv.writer(sys.stdout)
    w.writerow(header)
    for r in rows:
        w.writerow([csv_value(x) for x in r])


def handle_errors(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except CitewatchError as exc:
            fail(str(exc))
            raise  # unreachable
        except KeyboardInterrupt:
            fail("interrupted", 130)
            raise

    return wrapper
