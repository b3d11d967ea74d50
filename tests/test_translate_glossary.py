"""The glossary with the HTTP translators: protected terms for LibreTranslate, a DeepL glossary where
DeepL's API lists the pair (servers on 127.0.0.1 speaking their formats)."""

from __future__ import annotations

import pytest

from bot.translate.glossary import Glossary
from bot.translate.providers import DeepLTranslator, LibreTranslateTranslator
from tests.httpserver import Request, Response, TestHTTPServer
from tests.test_translate_providers import DEEPL_KEY

UK = "ЗСУ відбили атаку під Харковом, ППО працювала всю ніч."


async def test_libretranslate_gets_protected_terms(http: TestHTTPServer) -> None:
    http.route("/translate", lambda req: Response.json(
        {"translatedText": [f"[{t}]" for t in req.json()["q"]]}))
    g = Glossary.load()
    tr = LibreTranslateTranslator(http.base, glossary=g)
    assert await tr.translate([UK], "uk", "en") == [f"[{g.protect(UK, 'uk')}]"]
    sent = http.requests_to("/translate")[0].json()["q"][0]
    assert sent.startswith("AFU ") and "Kharkiv" in sent and "air defence" in sent
    assert tr.glossary_version("uk") == g.version and tr.model_version("uk", "en") is None


class DeepLGlossaries:
    """DeepL's glossary endpoints: language pairs, list, create; translate checks glossary_id."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.glossaries: dict[str, dict[str, str]] = {}

    def route(self, http: TestHTTPServer) -> None:
        http.route("/v2/glossary-language-pairs", lambda req: Response.json({"supported_languages": [
            {"source_lang": s, "target_lang": t} for s, t in self.pairs]}))
        http.route("/v2/glossaries", self.glossaries_endpoint)
        http.route("/v2/translate", self.translate)

    def glossaries_endpoint(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"DeepL-Auth-Key {DEEPL_KEY}":
            return Response.json({"message": "Authorization failure"}, 403)
        if req.method == "GET":
            return Response.json({"glossaries": [{"glossary_id": gid, "name": g["name"], "ready": True}
                                                 for gid, g in self.glossaries.items()]})
        body = req.json()
        pair = (body["source_lang"], body["target_lang"])
        if body.get("entries_format") != "tsv" or pair not in self.pairs:
            return Response.json({"message": "Unsupported glossary"}, 400)
        gid = f"g-{len(self.glossaries) + 1}"
        self.glossaries[gid] = {"name": body["name"], "entries": body["entries"]}
        return Response.json({"glossary_id": gid, "name": body["name"]}, 201)

    def translate(self, req: Request) -> Response:
        body = req.json()
        gid = body.get("glossary_id")
        out = []
        for text in body["text"]:
            if gid:
                for line in self.glossaries[gid]["entries"].splitlines():
                    src, dst = line.split("\t")
                    text = text.replace(src, dst)
            out.append({"detected_source_language": body.get("source_lang", ""), "text": text})
        return Response.json({"translations": out})


async def test_deepl_creates_the_glossary_once_and_uses_it(http: TestHTTPServer) -> None:
    server = DeepLGlossaries([("uk", "en"), ("de", "en")])
    server.route(http)
    g = Glossary.load()
    tr = DeepLTranslator(DEEPL_KEY, http.base, glossary=g)
    assert await tr.translate([UK], "uk", "en") == [UK.replace("ЗСУ", "AFU").replace("ППО", "air defence")]
    [gid] = server.glossaries
    assert server.glossaries[gid]["name"] == f"citewatch {g.version} uk-en"
    entries = dict(line.split("\t") for line in server.glossaries[gid]["entries"].splitlines())
    assert entries["ЗСУ"] == "AFU" and not any(k.endswith("*") for k in entries)  # exact entries only
    assert http.requests_to("/v2/translate")[0].json()["glossary_id"] == gid
    assert tr.glossary_version("uk") == g.version
    await tr.translate([UK], "uk", "en")
    assert len([r for r in http.requests_to("/v2/glossaries") if r.method == "POST"]) == 1
    # a new process finds it by name instead of creating another
    again = DeepLTranslator(DEEPL_KEY, http.base, glossary=g)
    await again.translate([UK], "uk", "en")
    assert list(server.glossaries) == [gid]


@pytest.mark.parametrize("pairs_reply", ["unsupported", "error"])
async def test_deepl_without_a_glossary_for_the_pair_still_translates(
    http: TestHTTPServer, pairs_reply: str
) -> None:
    server = DeepLGlossaries([("de", "en")])
    server.route(http)
    if pairs_reply == "error":
        http.route("/v2/glossary-language-pairs", Response.json({"message": "Bad request"}, 400))
    tr = DeepLTranslator(DEEPL_KEY, http.base, glossary=Glossary.load())
    assert await tr.translate([UK], "uk", "en") == [UK]
    assert "glossary_id" not in http.requests_to("/v2/translate")[0].json()
    assert server.glossaries == {} and tr.glossary_version("uk") is None
