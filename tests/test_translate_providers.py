"""Translators against local HTTP servers speaking the LibreTranslate and DeepL formats; argos offline."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bot.config import Settings, load_settings
from bot.errors import TranslationError
from bot.translate.providers import (
    QUOTA_PAUSE,
    RATE_LIMIT_PAUSE,
    DeepLTranslator,
    LibreTranslateTranslator,
    NoneTranslator,
    deepl_endpoint,
    make_translator,
)
from tests.httpserver import Request, Response, TestHTTPServer

LT_KEY = "lt-secret-key-123"
DEEPL_KEY = "0123abcd-0000-1111-2222-deadbeef0000:fx"


def settings(tmp_path: Path, **env: str) -> Settings:
    base = {"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": str(tmp_path / "s"),
            "TG_BOT_SESSION": str(tmp_path / "b"), "TRANSLATOR": "auto"}
    return load_settings({**base, **env}, dotenv_path=None)


# --- a LibreTranslate server: POST /translate {q, source, target, format, api_key} -------------------

LT_LANGS = {"en", "uk", "ru", "de"}


def libretranslate(req: Request) -> Response:
    """Answers like LibreTranslate's /translate, including its {"error": ...} replies."""
    try:
        body = req.json()
    except ValueError:
        return Response.json({"error": "Invalid request: invalid JSON"}, 400)
    if body.get("api_key") != LT_KEY:
        return Response.json({"error": "Invalid API key"}, 403)
    q = body.get("q")
    if not q:
        return Response.json({"error": "Invalid request: missing q parameter"}, 400)
    for key in ("source", "target"):
        if body.get(key) not in LT_LANGS:
            return Response.json({"error": f"{body.get(key)} is not supported"}, 400)
    texts = q if isinstance(q, list) else [q]
    out = [f"<{body['source']}>{t}</{body['target']}>" for t in texts]
    return Response.json({"translatedText": out if isinstance(q, list) else out[0]})


async def test_libretranslate_translates_a_batch(http: TestHTTPServer) -> None:
    http.route("/translate", libretranslate)
    tr = LibreTranslateTranslator(http.base + "/", LT_KEY)
    out = await tr.translate(["Привіт", "Слава Україні"], "uk", "en")
    assert out == ["<uk>Привіт</en>", "<uk>Слава Україні</en>"]
    [req] = http.requests_to("/translate")
    assert req.method == "POST" and req.headers["content-type"] == "application/json"
    assert req.json() == {"q": ["Привіт", "Слава Україні"], "source": "uk", "target": "en",
                          "format": "text", "api_key": LT_KEY}


async def test_libretranslate_without_key_sends_none(http: TestHTTPServer) -> None:
    http.route("/translate", lambda r: Response.json({"translatedText": ["ok"]}))
    assert await LibreTranslateTranslator(http.base).translate(["x"], "ru", "en") == ["ok"]
    assert "api_key" not in http.requests_to("/translate")[0].json()


async def test_libretranslate_single_string_reply(http: TestHTTPServer) -> None:
    http.route("/translate", lambda r: Response.json({"translatedText": "Hello"}))
    assert await LibreTranslateTranslator(http.base).translate(["Привіт"], "uk", "en") == ["Hello"]


async def test_libretranslate_bad_key_is_permanent_and_not_leaked(http: TestHTTPServer) -> None:
    http.route("/translate", libretranslate)
    with pytest.raises(TranslationError) as ei:
        await LibreTranslateTranslator(http.base, "wrong-key-456").translate(["x"], "uk", "en")
    assert not ei.value.transient and not ei.value.pause
    assert "HTTP 403" in str(ei.value) and "Invalid API key" in str(ei.value)
    assert "wrong-key-456" not in str(ei.value)


async def test_libretranslate_unsupported_language_is_permanent(http: TestHTTPServer) -> None:
    http.route("/translate", libretranslate)
    with pytest.raises(TranslationError) as ei:
        await LibreTranslateTranslator(http.base, LT_KEY).translate(["x"], "be", "en")
    assert not ei.value.transient
    assert "HTTP 400: be is not supported" in str(ei.value)


@pytest.mark.parametrize(
    ("resp", "transient", "pause", "words"),
    [
        (Response.json({"error": "Too many request limits violations"}, 429), True,
         RATE_LIMIT_PAUSE, "Too many request"),
        (Response.json({"error": "Slow down"}, 429, **{"Retry-After": "12"}), True, 12.0, "Slow"),
        (Response.json({"error": "Cannot translate text: model crashed"}, 500), True, 0.0,
         "Cannot translate"),
        (Response(502, "<html>Bad Gateway</html>"), True, 0.0, "Bad Gateway"),
        (Response(200, "not json", {"Content-Type": "text/plain"}), True, 0.0, "not JSON"),
        (Response.json({"translatedText": ["only one"]}), True, 0.0, "expected 2"),
    ],
)
async def test_libretranslate_error_replies(
    http: TestHTTPServer, resp: Response, transient: bool, pause: float, words: str
) -> None:
    http.route("/translate", resp)
    with pytest.raises(TranslationError) as ei:
        await LibreTranslateTranslator(http.base, LT_KEY).translate(["a", "b"], "uk", "en")
    assert ei.value.transient is transient
    assert ei.value.pause == pause
    assert words in str(ei.value)


async def test_unreachable_server_and_timeout_are_transient(http: TestHTTPServer) -> None:
    http.route("/translate", Response(200, json.dumps({"translatedText": ["late"]}),
                                      {"Content-Type": "application/json"}, delay=1.0))
    async with httpx.AsyncClient(timeout=0.2) as client:
        with pytest.raises(TranslationError) as ei:
            await LibreTranslateTranslator(http.base, client=client).translate(["a"], "uk", "en")
    assert ei.value.transient and "timed out" in str(ei.value)

    dead = TestHTTPServer().start()
    url = dead.base
    dead.stop()
    with pytest.raises(TranslationError) as ei:
        await LibreTranslateTranslator(url).translate(["a"], "uk", "en")
    assert ei.value.transient and not ei.value.pause


# --- a DeepL server: POST /v2/translate, Authorization: DeepL-Auth-Key ... --------------------------


def deepl(req: Request) -> Response:
    """Answers like DeepL's /v2/translate, including 403 for a wrong key and 400 for bad values."""
    if req.headers.get("authorization") != f"DeepL-Auth-Key {DEEPL_KEY}":
        return Response.json({"message": "Authorization failure, check auth_key"}, 403)
    body = req.json()
    texts = body.get("text")
    if not isinstance(texts, list) or not texts or len(texts) > 50:
        return Response.json({"message": "Parameter 'text' not specified or too many texts."}, 400)
    if body.get("target_lang") not in {"EN-US", "EN-GB", "DE", "UK"}:
        return Response.json({"message": "Value for 'target_lang' not supported."}, 400)
    src = body.get("source_lang", "RU")
    return Response.json({"translations": [
        {"detected_source_language": src, "text": f"{src}:{t}"} for t in texts
    ]})


def test_deepl_endpoints() -> None:
    assert deepl_endpoint("abc:fx") == "https://api-free.deepl.com/v2/translate"
    assert deepl_endpoint("abc") == "https://api.deepl.com/v2/translate"
    assert deepl_endpoint("abc:fx", "http://127.0.0.1:9/") == "http://127.0.0.1:9/v2/translate"
    assert deepl_endpoint("abc", "http://h/v2/translate") == "http://h/v2/translate"


async def test_deepl_batches_of_50_with_auth_header(http: TestHTTPServer) -> None:
    http.route("/v2/translate", deepl)
    tr = DeepLTranslator(DEEPL_KEY, http.base)
    texts = [f"текст {i}" for i in range(120)]
    out = await tr.translate(texts, "uk", "en")
    assert out == [f"UK:{t}" for t in texts]
    reqs = http.requests_to("/v2/translate")
    assert [len(r.json()["text"]) for r in reqs] == [50, 50, 20]
    assert all(r.json()["target_lang"] == "EN-US" and r.json()["source_lang"] == "UK" for r in reqs)


async def test_deepl_lets_deepl_detect_unsupported_sources(http: TestHTTPServer) -> None:
    http.route("/v2/translate", deepl)
    assert await DeepLTranslator(DEEPL_KEY, http.base).translate(["Дзень добры"], "be", "en") == [
        "RU:Дзень добры"
    ]
    assert "source_lang" not in http.requests_to("/v2/translate")[0].json()


async def test_deepl_wrong_key_is_permanent_and_not_leaked(http: TestHTTPServer) -> None:
    http.route("/v2/translate", deepl)
    with pytest.raises(TranslationError) as ei:
        await DeepLTranslator("bad-key-999:fx", http.base).translate(["x"], "uk", "en")
    assert not ei.value.transient and not ei.value.pause
    assert "403" in str(ei.value) and "bad-key-999" not in str(ei.value)


async def test_deepl_bad_request_is_permanent(http: TestHTTPServer) -> None:
    http.route("/v2/translate", deepl)
    with pytest.raises(TranslationError) as ei:
        await DeepLTranslator(DEEPL_KEY, http.base).translate(["x"], "uk", "ja")
    assert not ei.value.transient and "target_lang' not supported" in str(ei.value)


@pytest.mark.parametrize(
    ("resp", "transient", "pause", "words"),
    [
        (Response.json({"message": "Too many requests"}, 429, **{"Retry-After": "7"}), True, 7.0,
         "Too many"),
        (Response.json({"message": "Too many requests"}, 429), True, RATE_LIMIT_PAUSE, "429"),
        (Response.json({"message": "Quota Exceeded"}, 456), True, QUOTA_PAUSE, "quota exceeded"),
        (Response.json({"message": "Internal error"}, 500), True, 0.0, "500"),
        (Response(503, "Service Unavailable", {"Content-Type": "text/plain"}), True, 0.0, "503"),
        (Response.json({"nothing": 1}), True, 0.0, "no translations"),
    ],
)
async def test_deepl_error_replies(
    http: TestHTTPServer, resp: Response, transient: bool, pause: float, words: str
) -> None:
    http.route("/v2/translate", resp)
    with pytest.raises(TranslationError) as ei:
        await DeepLTranslator(DEEPL_KEY, http.base).translate(["a"], "uk", "en")
    assert ei.value.transient is transient
    assert ei.value.pause == pause
    assert words in str(ei.value)


# --- the choice -------------------------------------------------------------------------------------
# (argos, the offline translator, and its place in auto's order: tests/test_translate_argos.py)


def test_auto_prefers_deepl_then_libretranslate(tmp_path: Path) -> None:
    both = settings(tmp_path, DEEPL_API_KEY=DEEPL_KEY, LIBRETRANSLATE_URL="http://127.0.0.1:1")
    assert isinstance(make_translator(both), DeepLTranslator)
    lt = settings(tmp_path, LIBRETRANSLATE_URL="http://127.0.0.1:1")
    assert isinstance(make_translator(lt), LibreTranslateTranslator)
    # an explicit choice wins over auto's order
    forced = settings(tmp_path, TRANSLATOR="libretranslate", DEEPL_API_KEY=DEEPL_KEY,
                      LIBRETRANSLATE_URL="http://127.0.0.1:1")
    assert make_translator(forced).name == "libretranslate"
    assert make_translator(settings(tmp_path, TRANSLATOR="none", DEEPL_API_KEY="k")).name == "none"


async def test_none_translator_refuses() -> None:
    with pytest.raises(TranslationError, match="no translator configured"):
        await NoneTranslator().translate(["x"], "uk", "en")
