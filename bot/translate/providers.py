"""Translators behind one small interface, and ``make_translator`` that picks one from the settings.

Every failure is a ``TranslationError``: ``transient`` (network, 5xx: retry with backoff), ``pause``
(seconds; rate limits and quotas: the whole queue waits, no post is failed) or neither (permanent: a bad
request or key; recorded on the post). Nothing here knows the queue or the database. API keys go in
headers or bodies only, never in error messages or logs. See docs/translation.md for the choice order.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from bot.config import Settings
from bot.errors import ConfigError, TranslationError

log = logging.getLogger(__name__)

#: Translation of a full batch on a self-hosted CPU server can take a while.
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: Default pause on 429 without Retry-After, and on an exhausted quota (456): a quota rarely comes
#: back within the hour, and the queue retries cheaply when it does.
RATE_LIMIT_PAUSE = 60.0
QUOTA_PAUSE = 3600.0


@runtime_checkable
class Translator(Protocol):
    name: str
    #: most texts one ``translate`` call should carry
    max_batch: int

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        """Translations of ``texts``, in order, one per text."""
        ...


class NoneTranslator:
    """TRANSLATOR=none: posts are stored (and their language detected) but not translated."""

    name = "none"
    max_batch = 1

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        raise TranslationError("no translator configured (set TRANSLATOR, see docs/translation.md)")


def _retry_after(resp: httpx.Response, default: float) -> float:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return default


def _error_text(resp: httpx.Response) -> str:
    """The server's own words ({"error": ...} for LibreTranslate, {"message": ...} for DeepL)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:300]
    return resp.text.strip().replace("\n", " ")[:300] or resp.reason_phrase


class _HTTPTranslator:
    """Shared HTTP plumbing: a client passed in (tests, connection reuse) or one per call."""

    name = "http"
    max_batch = 20

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client

    async def _post(self, url: str, *, json_body: Any, headers: Mapping[str, str]) -> httpx.Response:
        try:
            if self._client is not None:
                return await self._client.post(url, json=json_body, headers=dict(headers))
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                return await client.post(url, json=json_body, headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise TranslationError(f"{self.name}: timed out", transient=True) from exc
        except httpx.HTTPError as exc:
            raise TranslationError(f"{self.name}: {type(exc).__name__}: {exc}", transient=True) from exc

    def _check(self, resp: httpx.Response) -> None:
        """Map the status to our error kinds; provider subclasses add their own codes first."""
        code = resp.status_code
        if code < 300:
            return
        what = f"{self.name}: HTTP {code}: {_error_text(resp)}"
        if code == 429:
            raise TranslationError(what, transient=True, pause=_retry_after(resp, RATE_LIMIT_PAUSE))
        if code >= 500 or code == 408:
            raise TranslationError(what, transient=True)
        raise TranslationError(what)

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError as exc:
            raise TranslationError(f"{self.name}: reply is not JSON", transient=True) from exc

    def _expect(self, out: list[str], texts: list[str]) -> list[str]:
        if len(out) != len(texts) or not all(isinstance(t, str) for t in out):
            raise TranslationError(
                f"{self.name}: expected {len(texts)} translations, got {len(out)}", transient=True
            )
        return out


class LibreTranslateTranslator(_HTTPTranslator):
    """A self-hosted LibreTranslate server: ``POST /translate`` with ``q`` as a list of texts."""

    name = "libretranslate"
    max_batch = 20  # LT_BATCH_LIMIT is often small on shared servers; 20 is a safe default

    def __init__(self, url: str, api_key: str = "", client: httpx.AsyncClient | None = None) -> None:
        super().__init__(client)
        if not url.strip():
            raise ConfigError("LIBRETRANSLATE_URL: must be set for the libretranslate translator")
        self.url = url.rstrip("/") + "/translate"
        self._api_key = api_key

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        if not texts:
            return []
        body: dict[str, Any] = {"q": texts, "source": source_lang, "target": target_lang,
                                "format": "text"}
        if self._api_key:
            body["api_key"] = self._api_key
        resp = await self._post(self.url, json_body=body, headers={"Accept": "application/json"})
        self._check(resp)
        data = self._json(resp)
        out = data.get("translatedText") if isinstance(data, dict) else None
        if isinstance(out, str) and len(texts) == 1:
            out = [out]  # older servers answer a one-element list with a plain string
        if not isinstance(out, list):
            raise TranslationError(f"{self.name}: reply has no translatedText", transient=True)
        return self._expect(out, texts)


#: DeepL source languages (v2 /languages?type=source); others are sent without source_lang so DeepL
#: detects them instead of refusing the request.
DEEPL_SOURCES = frozenset({
    "ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "he", "hu", "id", "it", "ja",
    "ko", "lt", "lv", "nb", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "th", "tr", "uk", "vi", "zh",
})
#: DeepL wants a variant for these targets ("EN" alone is deprecated).
_DEEPL_TARGETS = {"en": "EN-US", "pt": "PT-PT"}


def deepl_endpoint(api_key: str, override: str = "") -> str:
    """Free keys (ending ':fx') use api-free.deepl.com; DEEPL_API_URL overrides both."""
    if override.strip():
        base = override.strip().rstrip("/")
        return base if base.endswith("/v2/translate") else base + "/v2/translate"
    host = "api-free.deepl.com" if api_key.endswith(":fx") else "api.deepl.com"
    return f"https://{host}/v2/translate"


class DeepLTranslator(_HTTPTranslator):
    """The DeepL API v2: ``POST /v2/translate`` (JSON), up to 50 texts a request."""

    name = "deepl"
    max_batch = 50

    def __init__(self, api_key: str, api_url: str = "", client: httpx.AsyncClient | None = None) -> None:
        super().__init__(client)
        if not api_key.strip():
            raise ConfigError("DEEPL_API_KEY: must be set for the deepl translator")
        self._api_key = api_key.strip()
        self.url = deepl_endpoint(self._api_key, api_url)

    def _check(self, resp: httpx.Response) -> None:
        code = resp.status_code
        if code == 456:
            raise TranslationError(
                f"deepl: quota exceeded (HTTP 456): {_error_text(resp)}", transient=True,
                pause=_retry_after(resp, QUOTA_PAUSE),
            )
        if code == 403:
            raise TranslationError("deepl: HTTP 403: authorization failed (check DEEPL_API_KEY)")
        super()._check(resp)

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        if not texts:
            return []
        out: list[str] = []
        for start in range(0, len(texts), self.max_batch):
            chunk = texts[start:start + self.max_batch]
            body: dict[str, Any] = {
                "text": chunk,
                "target_lang": _DEEPL_TARGETS.get(target_lang.lower(), target_lang.upper()),
            }
            if source_lang.lower() in DEEPL_SOURCES:
                body["source_lang"] = source_lang.upper()
            resp = await self._post(
                self.url, json_body=body,
                headers={"Authorization": f"DeepL-Auth-Key {self._api_key}",
                         "Accept": "application/json"},
            )
            self._check(resp)
            data = self._json(resp)
            items = data.get("translations") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise TranslationError("deepl: reply has no translations", transient=True)
            out.extend(self._expect([i.get("text") if isinstance(i, dict) else None
                                     for i in items], chunk))  # type: ignore[misc]
        return out


# --- argos ---------------------------------------------------------------------------------------------


def argos_packages_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where argostranslate keeps installed models (its own ARGOS_PACKAGES_DIR rule)."""
    env = os.environ if environ is None else environ
    if env.get("ARGOS_PACKAGES_DIR"):
        return Path(env["ARGOS_PACKAGES_DIR"]).expanduser()
    data_home = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "argos-translate" / "packages"


def argos_installed_pairs(packages_dir: Path) -> set[tuple[str, str]]:
    """(from_code, to_code) of every model in ``packages_dir``, read from each metadata.json.

    Read directly, not through argostranslate, so the answer needs neither the library (nor torch)
    nor any network access.
    """
    pairs: set[tuple[str, str]] = set()
    if not packages_dir.is_dir():
        return pairs
    for meta in sorted(packages_dir.glob("*/metadata.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("argos: unreadable package metadata %s", meta)
            continue
        if isinstance(data, dict) and data.get("from_code") and data.get("to_code"):
            pairs.add((str(data["from_code"]), str(data["to_code"])))
    return pairs


def argos_available() -> bool:
    return importlib.util.find_spec("argostranslate") is not None


class ArgosTranslator:
    """Offline translation with argostranslate; never downloads a model on its own."""

    name = "argos"
    max_batch = 8

    def __init__(self, packages_dir: Path | None = None) -> None:
        self.packages_dir = packages_dir or argos_packages_dir()

    def check(self, source_lang: str, target_lang: str) -> None:
        """Raise a permanent TranslationError naming what is missing and how to install it."""
        if (source_lang, target_lang) not in argos_installed_pairs(self.packages_dir):
            raise TranslationError(
                f"argos model {source_lang}→{target_lang} is not installed; install it with: "
                f"argospm install translate-{source_lang}_{target_lang}"
            )
        if not argos_available():
            raise TranslationError(
                "argostranslate is not installed; install it with: pip install 'citewatch[argos]'"
            )

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        if not texts:
            return []
        self.check(source_lang, target_lang)
        return await asyncio.to_thread(self._translate_sync, texts, source_lang, target_lang)

    def _translate_sync(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        os.environ.setdefault("ARGOS_PACKAGES_DIR", str(self.packages_dir))
        try:
            from argostranslate import translate as argos  # optional extra; heavy import
        except ImportError as exc:
            raise TranslationError(
                "argostranslate is not installed; install it with: pip install 'citewatch[argos]'"
            ) from exc
        try:
            return [argos.translate(t, source_lang, target_lang) for t in texts]
        except Exception as exc:  # argos raises plain exceptions; a model problem is not transient
            raise TranslationError(f"argos: {type(exc).__name__}: {exc}") from exc


# --- choice --------------------------------------------------------------------------------------------


def make_translator(
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    argos_dir: Path | None = None,
) -> Translator:
    """TRANSLATOR, or for ``auto``: deepl (key set) → libretranslate (URL set) → argos (installed,
    with a model into TRANSLATE_TO) → none. Configured services win over local models because they
    are faster and better; argos needs no network and no account; none loses nothing (posts wait).
    """
    choice = settings.translator
    packages = argos_dir or argos_packages_dir()
    if choice == "auto":
        if settings.deepl_api_key:
            choice = "deepl"
        elif settings.libretranslate_url:
            choice = "libretranslate"
        elif argos_available() and any(
            to == settings.translate_to for _, to in argos_installed_pairs(packages)
        ):
            choice = "argos"
        else:
            choice = "none"
    if choice == "deepl":
        return DeepLTranslator(settings.deepl_api_key, settings.deepl_api_url, client)
    if choice == "libretranslate":
        return LibreTranslateTranslator(settings.libretranslate_url,
                                        settings.libretranslate_api_key, client)
    if choice == "argos":
        if not argos_available():
            raise ConfigError(
                "TRANSLATOR: argos needs argostranslate; install it with: pip install 'citewatch[argos]'"
            )
        return ArgosTranslator(packages)
    return NoneTranslator()
