"""Translators behind one small interface, and ``make_translator`` that picks one from the settings.

Every failure is a ``TranslationError``: ``transient`` (network, 5xx: retry with backoff), ``pause``
(seconds; rate limits and quotas: the whole queue waits, no post is failed) or neither (permanent: a bad
request or key; recorded on the post). Nothing here knows the queue or the database. API keys go in
headers or bodies only, never in error messages or logs. See docs/translation.md for the choice order.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from bot.config import Settings
from bot.errors import ConfigError, TranslationError
from bot.news.fetch import Fetcher
from bot.translate import packages
from bot.translate.glossary import Glossary, protect_all, version_for
from bot.translate.install import ModelInstaller
from bot.translate.offline import OfflineModel
from bot.translate.provision import ModelProvisioner

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

    def model_version(self, source_lang: str, target_lang: str) -> str | None:
        """The model that made the last translations of the pair, when known (stored with them)."""
        ...

    def glossary_version(self, source_lang: str) -> str | None:
        """The glossary version applied to texts of ``source_lang``, or None (stored with them)."""
        ...


class NoneTranslator:
    """TRANSLATOR=none: posts are stored (and their language detected) but not translated."""

    name = "none"
    max_batch = 1

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        raise TranslationError("no translator configured (set TRANSLATOR, see docs/translation.md)")

    def model_version(self, source_lang: str, target_lang: str) -> str | None:
        return None

    def glossary_version(self, source_lang: str) -> str | None:
        return None


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

    async def _get(self, url: str, *, headers: Mapping[str, str]) -> httpx.Response:
        try:
            if self._client is not None:
                return await self._client.get(url, headers=dict(headers))
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                return await client.get(url, headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise TranslationError(f"{self.name}: timed out", transient=True) from exc
        except httpx.HTTPError as exc:
            raise TranslationError(f"{self.name}: {type(exc).__name__}: {exc}", transient=True) from exc

    def model_version(self, source_lang: str, target_lang: str) -> str | None:
        """The service does not say which model it used."""
        return None

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

    def __init__(self, url: str, api_key: str = "", client: httpx.AsyncClient | None = None,
                 *, glossary: Glossary | None = None) -> None:
        super().__init__(client)
        if not url.strip():
            raise ConfigError("LIBRETRANSLATE_URL: must be set for the libretranslate translator")
        self.url = url.rstrip("/") + "/translate"
        self._api_key = api_key
        self.glossary = glossary

    def glossary_version(self, source_lang: str) -> str | None:
        return version_for(self.glossary, source_lang)

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        if not texts:
            return []
        texts = protect_all(self.glossary, texts, source_lang)
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

    def __init__(self, api_key: str, api_url: str = "", client: httpx.AsyncClient | None = None,
                 *, glossary: Glossary | None = None) -> None:
        super().__init__(client)
        if not api_key.strip():
            raise ConfigError("DEEPL_API_KEY: must be set for the deepl translator")
        self._api_key = api_key.strip()
        self.url = deepl_endpoint(self._api_key, api_url)
        self.glossary = glossary
        #: (source, target) → DeepL glossary id, or None where DeepL has no glossary for the pair
        self._glossary_ids: dict[tuple[str, str], str | None] = {}
        self._glossary_pairs: set[tuple[str, str]] | None = None

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"DeepL-Auth-Key {self._api_key}", "Accept": "application/json"}

    def glossary_version(self, source_lang: str) -> str | None:
        """Set only for pairs translated with a DeepL glossary."""
        if self.glossary is None:
            return None
        used = any(gid for (src, _), gid in self._glossary_ids.items() if src == source_lang.lower())
        return self.glossary.version if used else None

    async def _glossary_id(self, source_lang: str, target_lang: str) -> str | None:
        """Our glossary as a DeepL glossary for the pair (found by name, else created), or None
        when DeepL supports no glossary for it or refuses: then DeepL translates without one."""
        src, dst = source_lang.lower(), target_lang.lower().split("-")[0]
        if (src, dst) in self._glossary_ids:
            return self._glossary_ids[(src, dst)]
        entries = self.glossary.entries(src) if self.glossary is not None else {}
        gid: str | None = None
        base = self.url.removesuffix("/translate")
        if entries and src in DEEPL_SOURCES:
            try:
                if self._glossary_pairs is None:
                    self._glossary_pairs = await self._deepl_glossary_pairs(base)
                if (src, dst) in self._glossary_pairs:
                    gid = await self._find_or_create_glossary(base, src, dst, entries)
            except TranslationError as exc:
                log.warning("deepl: translating %s→%s without the glossary: %s", src, dst, exc)
                if exc.transient:
                    return None  # ask again next time
        self._glossary_ids[(src, dst)] = gid
        return gid

    async def _deepl_glossary_pairs(self, base: str) -> set[tuple[str, str]]:
        resp = await self._get(f"{base}/glossary-language-pairs", headers=self._headers)
        self._check(resp)
        data = self._json(resp)
        pairs = data.get("supported_languages") if isinstance(data, dict) else None
        return {(str(p.get("source_lang", "")).lower(), str(p.get("target_lang", "")).lower())
                for p in pairs or [] if isinstance(p, dict)}

    async def _find_or_create_glossary(self, base: str, src: str, dst: str,
                                       entries: dict[str, str]) -> str | None:
        assert self.glossary is not None
        name = f"citewatch {self.glossary.version} {src}-{dst}"
        resp = await self._get(f"{base}/glossaries", headers=self._headers)
        self._check(resp)
        listed = self._json(resp)
        for g in (listed.get("glossaries") if isinstance(listed, dict) else None) or []:
            if isinstance(g, dict) and g.get("name") == name and g.get("glossary_id"):
                return str(g["glossary_id"])
        tsv = "\n".join(f"{k}\t{v}" for k, v in entries.items()
                        if not any(c in k + v for c in "\t\n\r"))
        resp = await self._post(f"{base}/glossaries", headers=self._headers, json_body={
            "name": name, "source_lang": src, "target_lang": dst, "entries": tsv,
            "entries_format": "tsv"})
        self._check(resp)
        created = self._json(resp)
        gid = created.get("glossary_id") if isinstance(created, dict) else None
        if gid:
            log.info("deepl: created glossary %s for %s→%s (%d entries)", name, src, dst, len(entries))
        return str(gid) if gid else None

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
                if self.glossary is not None and (gid := await self._glossary_id(source_lang,
                                                                                 target_lang)):
                    body["glossary_id"] = gid
            resp = await self._post(self.url, json_body=body, headers=self._headers)
            self._check(resp)
            data = self._json(resp)
            items = data.get("translations") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise TranslationError("deepl: reply has no translations", transient=True)
            out.extend(self._expect([i.get("text") if isinstance(i, dict) else None
                                     for i in items], chunk))  # type: ignore[misc]
        return out


# --- argos ---------------------------------------------------------------------------------------------


def default_threads() -> int:
    """TRANSLATE_THREADS=0: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ArgosTranslator:
    """Offline translation: Argos packages from MODELS_DIR run with CTranslate2 (no PyTorch).

    Each model is loaded once, on first use, and kept. A missing model is installed on first need
    when a ``provisioner`` is given (AUTO_INSTALL_MODELS); otherwise the post fails with the command
    that installs it. Glossary terms are protected before translation.
    """

    name = "argos"
    #: posts per call; their sentences go to the model as one batch
    max_batch = 32

    def __init__(self, models_dir: Path, *, threads: int = 0, glossary: Glossary | None = None,
                 provisioner: ModelProvisioner | None = None) -> None:
        self.models_dir = models_dir
        self.threads = threads or default_threads()
        self.glossary = glossary
        self.provisioner = provisioner
        self._models: dict[tuple[str, str], OfflineModel] = {}
        self._loading = asyncio.Lock()

    async def _model(self, source_lang: str, target_lang: str) -> OfflineModel:
        key = (source_lang, target_lang)
        if key in self._models:
            return self._models[key]
        async with self._loading:
            if key in self._models:
                return self._models[key]
            if self.provisioner is not None:
                package = await self.provisioner.ensure(source_lang, target_lang)
            else:
                found = packages.find(self.models_dir, source_lang, target_lang)
                if found is None:
                    raise TranslationError(
                        f"argos model {source_lang}→{target_lang} is not installed; install it with: "
                        f"citewatch models install {source_lang} --to {target_lang}")
                package = found
            try:
                model = await asyncio.to_thread(OfflineModel, package, self.threads)
            except Exception as exc:  # a broken package put there by hand
                raise TranslationError(f"argos: cannot load {package.path}: {exc}") from exc
            log.info("argos: loaded %s (%d threads, int8)", package.version, self.threads)
            self._models[key] = model
            return model

    def model_version(self, source_lang: str, target_lang: str) -> str | None:
        model = self._models.get((source_lang, target_lang))
        return model.package.version if model else None

    def glossary_version(self, source_lang: str) -> str | None:
        return version_for(self.glossary, source_lang)

    async def translate(self, texts: list[str], source_lang: str, target_lang: str) -> list[str]:
        if not texts:
            return []
        model = await self._model(source_lang, target_lang)
        texts = protect_all(self.glossary, texts, source_lang)
        try:
            return await asyncio.to_thread(model.translate, texts)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError; a model issue
            raise TranslationError(f"argos: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self.provisioner is not None:
            await self.provisioner.close()


# --- choice --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """Which translator TRANSLATOR selects, and why (``citewatch status`` shows both)."""

    name: str
    reason: str


def choose_translator(settings: Settings) -> Choice:
    """TRANSLATOR, or for ``auto``: deepl (key set) → libretranslate (URL set) → argos (a model into
    TRANSLATE_TO installed, or installable: AUTO_INSTALL_MODELS) → none. Configured services win over
    local models because they are faster and better; argos needs no network once installed and no
    account; none loses nothing (posts wait)."""
    target = settings.translate_to.split("-")[0].lower()
    have = sorted(f"{p.from_code}→{p.to_code}" for p in packages.installed(settings.models_dir)
                  if p.to_code == target)
    models = f"installed: {', '.join(have)}" if have else "none installed yet"
    auto = ("missing ones are installed when first needed" if settings.auto_install_models
            else "AUTO_INSTALL_MODELS=false: missing ones must be installed with citewatch models install")
    if settings.translator != "auto":
        name = settings.translator
        why = f"TRANSLATOR={name}"
        if name == "argos":
            why += f"; models in {settings.models_dir} ({models}); {auto}"
        return Choice(name, why)
    if settings.deepl_api_key:
        return Choice("deepl", "TRANSLATOR=auto and DEEPL_API_KEY is set")
    if settings.libretranslate_url:
        return Choice("libretranslate", "TRANSLATOR=auto and LIBRETRANSLATE_URL is set")
    if have or settings.auto_install_models:
        return Choice("argos", f"TRANSLATOR=auto, no DeepL key or LibreTranslate URL: offline models "
                               f"in {settings.models_dir} ({models}); {auto}")
    return Choice("none", "TRANSLATOR=auto, no DeepL key or LibreTranslate URL, no offline model into "
                          f"{target} in {settings.models_dir} and AUTO_INSTALL_MODELS=false: posts wait")


def make_translator(
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    fetcher: Fetcher | None = None,
    background_install: bool = True,
) -> Translator:
    """The translator ``choose_translator`` names, with the glossary. ``fetcher`` (the service's)
    is used for automatic model installs; ``background_install=False`` makes a first use wait for
    the install (the ``translate`` command) instead of deferring the posts (the service)."""
    choice = choose_translator(settings).name
    glossary = Glossary.load(settings.translation_glossary)
    if choice == "deepl":
        return DeepLTranslator(settings.deepl_api_key, settings.deepl_api_url, client, glossary=glossary)
    if choice == "libretranslate":
        return LibreTranslateTranslator(settings.libretranslate_url,
                                        settings.libretranslate_api_key, client, glossary=glossary)
    if choice == "argos":
        provisioner = None
        if settings.auto_install_models:
            provisioner = ModelProvisioner(ModelInstaller(settings, fetcher),
                                           background=background_install)
        return ArgosTranslator(settings.models_dir, threads=settings.translate_threads,
                               glossary=glossary, provisioner=provisioner)
    return NoneTranslator()
