"""Settings from the environment and a ``.env`` file (the environment wins).

Every setting is declared once, as a ``Settings`` field with its parser and default, so
``config.example.env``, validation and the error messages cannot drift apart. A bad value raises
``ConfigError`` naming the variable; the CLI prints that one line and exits 2. Reading settings
changes nothing on disk.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values

from bot.cite import aliases as channel_aliases
from bot.errors import ConfigError
from bot.tglinks import normalize_username

#: Built-in aliases of well-known channels (bot/cite/data/channel_aliases.csv); CHANNEL_ALIASES
#: replaces a channel's list, ``citewatch channels alias`` adds to or hides from it per database.
DEFAULT_ALIASES: dict[str, list[str]] = channel_aliases.defaults()

N = TypeVar("N")


def _int(v: str) -> int:
    try:
        return int(v.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {v!r}") from None


def _opt_int(v: str) -> int | None:
    return None if not v.strip() else _int(v)


def _checked(parse: Callable[[str], N], ok: Callable[[N], bool], expected: str) -> Callable[[str], N]:
    """``parse``, then refuse a value outside what ``ok`` accepts, saying what was ``expected``."""
    def check(v: str) -> N:
        x = parse(v)
        if not ok(x):
            raise ValueError(f"expected {expected}, got {v!r}")
        return x

    return check


_pos_int = _checked(_int, lambda n: n > 0, "a positive integer")
_nonneg_int = _checked(_int, lambda n: n >= 0, "zero or a positive integer")


def _int_in(low: int, high: int, why: str = "") -> Callable[[str], int]:
    """An integer in [low, high]; past ``high`` is a typo or a misunderstanding, refused at start."""
    return _checked(_int, lambda n: low <= n <= high, f"{low} to {high}{why}")


#: CITE_WORKERS beyond this many per core only add memory and context switches
WORKERS_PER_CORE = 4


def _workers(v: str) -> int:
    cores = os.cpu_count() or 1
    return _int_in(0, WORKERS_PER_CORE * cores,
                   f" ({WORKERS_PER_CORE} per CPU core; this machine has {cores})")(v)


def _chat(v: str) -> str:
    """ALERT_CHAT / an ALLOWED_CHATS entry: ``me``, a (marked) chat id, or a @username / t.me link."""
    s = v.strip()
    if s.lower() in {"me", "self"} or re.fullmatch(r"-?\d{1,20}", s):
        return s
    try:
        normalize_username(s)
    except ValueError:
        raise ValueError(f"expected me, a chat id or a @username, got {v!r}") from None
    return s


def _chats(v: str) -> list[str]:
    return [_chat(p) for p in _list(v)]


def _ip(v: str) -> str:
    s = v.strip()
    try:
        ipaddress.ip_address(s)
    except ValueError:
        raise ValueError(f"expected an IP address to listen on (127.0.0.1, ::1, 0.0.0.0), got {v!r}"
                         ) from None
    return s


def _float(v: str) -> float:
    # float() also accepts "nan" and "inf", which slip through every range check below
    try:
        x = float(v.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number, got {v!r}")
    return x


_nonneg_float = _checked(_float, lambda x: x >= 0, "zero or a positive number")


_opt_port = _checked(_opt_int, lambda n: n is None or 1 <= n <= 65535, "a TCP port (1-65535)")
_pos_float = _checked(_float, lambda x: x > 0, "a positive number")
_unit_float = _checked(_float, lambda x: 0.0 <= x <= 1.0, "a number between 0 and 1")


def _bool(v: str) -> bool:
    s = v.strip().lower()
    if s in {"1", "true", "yes", "on"}:
        return True
    if s in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {v!r}")


def _str(v: str) -> str:
    return v.strip()


def _list(v: str) -> list[str]:
    return [p.strip() for p in v.split(",") if p.strip()]


def _channels(v: str) -> list[str]:
    return [normalize_username(p) for p in _list(v)]


def parse_urls(v: str) -> list[str]:
    """Comma-separated http(s) URLs (FEEDS, and ``feeds add`` arguments); ValueError names a bad one."""
    out = []
    for u in _list(v):
        # the whole URL is checked: a prefix match let "https://a b" through
        if not re.fullmatch(r"https?://[^\s/?#@]+(?::\d{1,5})?(?:[/?#]\S*)?", u, re.IGNORECASE):
            raise ValueError(f"{u!r} is not an http(s) URL")
        out.append(u)
    return out


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        s = v.strip().lower()
        if s not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {v!r}")
        return s

    return parse


def _aliases(v: str) -> dict[str, list[str]]:
    """``DIUkraine=HUR|GUR|Budanov;rybar=Rybar`` → {"diukraine": [...], "rybar": [...]}."""
    out: dict[str, list[str]] = {}
    for part in v.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"expected channel=alias|alias;..., got {part.strip()!r}")
        name, names = part.split("=", 1)
        out[normalize_username(name).lower()] = [a.strip() for a in names.split("|") if a.strip()]
    return out


def _server(v: str) -> tuple[str, int, int] | None:
    """``host:port`` or ``host:port:dc`` → (host, port, dc); empty → None."""
    s = v.strip()
    if not s:
        return None
    parts = s.rsplit(":", 2) if s.count(":") >= 2 else s.rsplit(":", 1)
    try:
        if len(parts) == 3:
            return parts[0], int(parts[1]), int(parts[2])
        if len(parts) == 2:
            return parts[0], int(parts[1]), 2
    except ValueError:
        pass
    raise ValueError(f"expected host:port or host:port:dc, got {v!r}")


def _existing_file(v: str) -> Path | None:
    if not v.strip():
        return None
    p = Path(v.strip()).expanduser()
    if not p.is_file():
        raise ValueError(f"no such file: {p}")
    return p


def _writable_path(v: str) -> Path:
    """A file we can create or write. Checked only: the directory is made on first use (the database,
    the session), so reading settings (``--help``, a bad value elsewhere) leaves no trace."""
    p = Path(v.strip()).expanduser()
    if not v.strip():
        raise ValueError("empty path")
    parent = existing = p.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"cannot create directory {parent}: {existing} is not a directory")
    if existing != parent and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create directory {parent}: {existing} is not writable")
    if p.is_dir():
        raise ValueError(f"{p} is a directory")
    if not os.access(existing, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"{p} is not writable")
    return p


def _dir_path(v: str) -> Path:
    if not v.strip():
        raise ValueError("empty path")
    p = Path(v.strip()).expanduser()
    if p.exists() and not p.is_dir():
        raise ValueError(f"{p} is not a directory")
    return p


@dataclass(frozen=True)
class Spec:
    default: str
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False


def _setting(default: str, parse: Callable[[str], Any], doc: str, *, secret: bool = False) -> Any:
    """A ``Settings`` field read from the env variable of the same name (upper case)."""
    return field(metadata={"spec": Spec(default, parse, doc, secret)})


@dataclass(frozen=True)
class Settings:
    """Every setting, declared once: the field is the env variable in lower case, its metadata the
    default, parser and doc (the order here is the order of config.example.env)."""

    # core
    citewatch_db: Path = _setting("./data/citewatch.db", _writable_path, "SQLite database file")
    channels: list[str] = _setting("DIUkraine", _channels, "comma-separated channel usernames to watch")
    channel_aliases: dict[str, list[str]] = _setting(
        "", _aliases, "extra names per channel: chan=alias|alias;chan2=...")
    feeds: list[str] = _setting("", parse_urls, "comma-separated RSS/Atom feed URLs to follow")
    log_level: str = _setting("INFO", _choice("debug", "info", "warning", "error"), "log verbosity")
    log_format: str = _setting("text", _choice("text", "json"), "text lines or JSON lines")
    # telegram
    source: str = _setting("auto", _choice("auto", "telethon", "web"), "where posts come from")
    tg_api_id: int | None = _setting("", _opt_int, "Telegram API id from my.telegram.org")
    tg_api_hash: str = _setting("", _str, "Telegram API hash", secret=True)
    tg_session: Path = _setting("./data/citewatch.session", _writable_path, "Telethon session file")
    tg_bot_token: str = _setting("", _str, "optional bot token to send alerts as a bot", secret=True)
    tg_bot_session: Path = _setting("./data/citewatch-bot.session", _writable_path, "bot session file")
    tg_server: tuple[str, int, int] | None = _setting(
        "", _server, "host:port[:dc] of a test server (empty: Telegram)")
    tg_server_key: Path | None = _setting("", _existing_file, "PEM public key of that test server")
    poll_interval: int = _setting("300", _pos_int, "seconds between polls of channels not joined")
    catchup_interval: int = _setting("900", _pos_int, "seconds between catch-ups of every channel")
    backfill_days: int = _setting("30", _nonneg_int, "how far back to load a new channel (days)")
    backfill_limit: int = _setting("1000", _nonneg_int, "at most this many posts for a new channel")
    flood_sleep_max: int = _setting("60", _nonneg_int, "flood waits up to this many seconds are slept")
    join_delay: int = _setting("10", _nonneg_int, "seconds between channel joins")
    web_base_url: str = _setting("https://t.me", _str, "base URL of the public web preview")
    web_interval: float = _setting("2", _nonneg_float, "seconds between requests to one web host")
    # translation
    translator: str = _setting("auto", _choice("auto", "argos", "libretranslate", "deepl", "none"),
                               "translation provider (auto: deepl, libretranslate, argos, none)")
    translate_to: str = _setting("en", _str, "target language of translations")
    libretranslate_url: str = _setting("", _str, "base URL of a LibreTranslate server")
    libretranslate_api_key: str = _setting("", _str, "LibreTranslate API key", secret=True)
    deepl_api_key: str = _setting("", _str, "DeepL API key (':fx' keys use the free endpoint)",
                                  secret=True)
    deepl_api_url: str = _setting("", _str, "override the DeepL endpoint (tests, proxies)")
    translate_interval: int = _setting("30", _pos_int, "seconds between translation queue runs")
    translate_batch: int = _setting("20", _pos_int, "posts per translation batch")
    models_dir: Path = _setting("./data/models", _dir_path, "where offline translation models are installed")
    argos_index_url: str = _setting(
        "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json", _str,
        "the Argos Translate package index models are installed from")
    auto_install_models: bool = _setting(
        "true", _bool, "install the offline model for a language when first needed")
    models_max_bytes: int = _setting("1000000000", _pos_int, "largest model package we download")
    translate_threads: int = _setting("0", _nonneg_int, "CPU threads for the offline model (0: all cores)")
    translation_glossary: Path | None = _setting(
        "", _existing_file, "CSV of source,target[,lang] terms kept as given (adds to the default)")
    # news
    feed_interval: int = _setting("600", _pos_int, "default seconds between polls of one feed")
    fetch_timeout: float = _setting("20", _pos_float, "seconds before an HTTP request gives up")
    fetch_max_bytes: int = _setting("5000000", _pos_int, "largest page or feed we download")
    max_redirects: int = _setting("5", _int_in(0, 20), "redirects followed per request (at most 20)")
    allow_private_urls: bool = _setting("false", _bool, "allow loopback/private addresses (tests only)")
    user_agent: str = _setting("citewatch/0.1 (+https://github.com/citewatch)", _str, "HTTP User-Agent")
    fetch_host_gap: float = _setting("1", _nonneg_float, "seconds between two requests to one host")
    articles_per_poll: int = _setting("100", _pos_int,
                                      "article pages fetched per poll at most (all feeds)")
    articles_per_hour: int = _setting("600", _pos_int, "article pages fetched per hour at most")
    discover: str = _setting("auto", _choice("auto", "off"),
                             "auto: a GDELT query per watched channel finds news quoting it; "
                             "off: only FEEDS")
    gdelt_api_url: str = _setting("https://api.gdeltproject.org/api/v2/doc/doc", _str,
                                  "GDELT DOC 2.0 API endpoint (tests, mirrors)")
    gdelt_interval: int = _setting("900", _pos_int, "seconds between polls of one gdelt: feed")
    # citations and alerts
    citation_threshold: float = _setting("0.6", _unit_float, "score from which a citation is alerted")
    citation_window_days: int = _setting("30", _int_in(1, 3650),
                                         "a post must precede the article by at most (days)")
    cite_workers: int = _setting(
        "2", _workers, "processes that check a backlog of articles in parallel (0: in-process only; "
        f"at most {WORKERS_PER_CORE} per CPU core)")
    alert_chat: str = _setting("me", _chat, "chat id, @username or me (Saved Messages) for alerts")
    allowed_chats: list[str] = _setting("", _chats, "more chat ids/usernames whose commands are answered")
    alert_interval: int = _setting("5", _pos_int, "seconds between alert sender runs")
    metrics_port: int | None = _setting("", _opt_port, "serve Prometheus metrics on this port (empty: off)")
    metrics_addr: str = _setting("127.0.0.1", _ip,
                                 "address the metrics listen on (0.0.0.0: every interface)")

    @property
    def has_telegram_credentials(self) -> bool:
        return bool(self.tg_api_id and self.tg_api_hash)

    def aliases_for(self, username: str) -> list[str]:
        key = username.lower()
        return self.channel_aliases.get(key, DEFAULT_ALIASES.get(key, []))


#: env variable name → spec, in declaration order (derived from ``Settings``)
_SPECS: dict[str, Spec] = {f.name.upper(): f.metadata["spec"] for f in fields(Settings)}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read settings: defaults < .env file < environment."""
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        try:
            file_values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{dotenv_path}: cannot read settings file: {exc}") from None
    values: dict[str, Any] = {}
    for name, spec in _SPECS.items():
        text = env.get(name, file_values.get(name, spec.default))
        try:
            values[name.lower()] = spec.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    if values["tg_api_id"] is not None and not values["tg_api_hash"]:
        raise ConfigError("TG_API_HASH: must be set when TG_API_ID is set")
    if values["source"] == "telethon" and values["tg_api_id"] is None:
        raise ConfigError("SOURCE: 'telethon' needs TG_API_ID and TG_API_HASH")
    if values["translator"] == "libretranslate" and not values["libretranslate_url"]:
        raise ConfigError("LIBRETRANSLATE_URL: must be set when TRANSLATOR=libretranslate")
    if values["tg_bot_token"] and values["alert_chat"].lower() == "me":
        raise ConfigError("ALERT_CHAT: 'me' would be the bot's own chat; with TG_BOT_TOKEN give "
                          "the chat id or @username the bot should write to")
    if values["tg_bot_token"] and "me" in (c.lower() for c in values["allowed_chats"]):
        raise ConfigError("ALLOWED_CHATS: 'me' names no chat a bot can be written in; with "
                          "TG_BOT_TOKEN list chat ids or @usernames")
    if values["translator"] == "deepl" and not values["deepl_api_key"]:
        raise ConfigError("DEEPL_API_KEY: must be set when TRANSLATOR=deepl")
    aliases = {k: list(v) for k, v in DEFAULT_ALIASES.items()}
    aliases.update(values["channel_aliases"])
    values["channel_aliases"] = aliases
    return Settings(**values)


def example_env() -> str:
    """The text of config.example.env, generated from the specs (a test keeps the file in sync)."""
    lines = ["# citewatch settings. The environment wins over this file.", ""]
    for name, spec in _SPECS.items():
        lines.append(f"# {spec.doc}" + (" (a secret: keep this file private)" if spec.secret else ""))
        lines.append(f"{name}={spec.default}")
        lines.append("")
    return "\n".join(lines)

