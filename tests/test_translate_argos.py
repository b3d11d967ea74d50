"""The offline translator on a real (tiny, copying) CTranslate2 model: sentences, glossary, versions
stored with each translation, auto's order, and installing a model on first need through the queue."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import TranslationError
from bot.translate import packages
from bot.translate.glossary import Glossary
from bot.translate.offline import OfflineModel
from bot.translate.providers import ArgosTranslator, NoneTranslator, choose_translator, make_translator
from bot.translate.queue import TranslationQueue
from bot.translate.sentences import split_sentences
from storage import posts as posts_repo
from storage import translations as tr_repo
from storage.db import Database
from storage.models import Post, utcnow
from tests.argos_model import index_entry, pack, package_files, reference_translate
from tests.conftest import Cli
from tests.httpserver import Response, TestHTTPServer

UK_POSTS = [
    "ЗСУ збили ракету над Києвом. Повітряна тривога в Харкові!",
    "ГУР повідомляє про удар по складу.\n\nППО працює над Запоріжжям.",
]
RU_POSTS = ["ВСУ отступили из-под Харькова. Рашисты обстреляли Киев."]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    tmp = tmp_path_factory.mktemp("ct2")
    return {"uk": package_files("uk", "en", tmp=tmp), "ru": package_files("ru", "en", tmp=tmp)}


def unpack_to(models: Path, files: dict[str, bytes], name: str) -> Path:
    d = models / name
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    return d


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return load_settings({
        "CITEWATCH_DB": str(tmp_path / "cw.db"), "MODELS_DIR": str(tmp_path / "models"),
        "ALLOW_PRIVATE_URLS": "true", "TRANSLATE_THREADS": "1", "FETCH_TIMEOUT": "5",
        "ARGOS_INDEX_URL": "http://127.0.0.1:9/unused.json", **env,
    }, dotenv_path=None)


async def add_posts(db: Database, texts: list[str], start: int = 1) -> list[int]:
    now = utcnow()
    await posts_repo.upsert_many(db, [Post(channel="DIUkraine", message_id=start + i,
                                           date=now - timedelta(hours=1), text=t)
                                      for i, t in enumerate(texts)])
    out = []
    for i in range(len(texts)):
        p = await posts_repo.get(db, "DIUkraine", start + i)
        assert p is not None and p.id is not None
        out.append(p.id)
    return out


async def test_translates_posts_sentence_by_sentence_with_protected_terms(
    tmp_path: Path, built: dict[str, dict[str, bytes]]
) -> None:
    path = unpack_to(tmp_path, built["uk"], "translate-uk_en")
    glossary = Glossary.load()
    tr = ArgosTranslator(tmp_path, threads=1, glossary=glossary)
    out = await tr.translate(UK_POSTS, "uk", "en")
    # the copy model gives back what it was given: the glossary's terms, the post's layout
    assert out == [glossary.protect(t, "uk") for t in UK_POSTS]
    assert out[0].startswith("AFU ") and "Kyiv" in out[0] and "Kharkiv" in out[0]
    assert out[1].startswith("HUR ") and "\n\nair defence " in out[1] and "Zaporizhzhia" in out[1]
    assert "ЗСУ" not in out[0] and "Києв" not in out[0]
    # and what the raw libraries make of the same sentences
    sentences = split_sentences(glossary.protect(UK_POSTS[0], "uk"))[0]
    assert out[0] == " ".join(reference_translate(path, sentences))
    assert tr.model_version("uk", "en") == "translate-uk_en@1.9"
    assert tr.glossary_version("uk") == glossary.version and glossary.version.startswith("glossary@")


def test_user_glossary_adds_and_overrides(tmp_path: Path) -> None:
    user = tmp_path / "g.csv"
    user.write_text("# ours\nЗСУ,Armed Forces of Ukraine,uk\nБудинк*,House\n", encoding="utf-8")
    g = Glossary.load(user)
    assert g.protect("ЗСУ і будинками", "uk") == "Armed Forces of Ukraine і House"
    assert g.protect("зсу", "uk") == "зсу"  # an abbreviation matches in capitals only
    assert g.version != Glossary.load().version
    bad = tmp_path / "bad.csv"
    bad.write_text("only-one-column\n", encoding="utf-8")
    from bot.errors import ConfigError
    with pytest.raises(ConfigError, match=r"bad.csv line 1: expected source,target\[,lang\]"):
        Glossary.load(bad)


async def test_missing_model_without_auto_install_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(TranslationError) as ei:
        await ArgosTranslator(tmp_path / "models").translate(["Привіт"], "uk", "en")
    assert str(ei.value) == ("argos model uk→en is not installed; install it with: "
                             "citewatch models install uk --to en")
    assert not ei.value.transient and not ei.value.defer


def test_auto_order_and_why(tmp_path: Path, built: dict[str, dict[str, bytes]]) -> None:
    c = choose_translator(settings_for(tmp_path))
    assert c.name == "argos" and "none installed yet" in c.reason and "when first needed" in c.reason
    off = settings_for(tmp_path, AUTO_INSTALL_MODELS="false")
    assert choose_translator(off).name == "none"
    assert isinstance(make_translator(off), NoneTranslator)
    unpack_to(tmp_path / "models", built["uk"], "translate-uk_en")
    c = choose_translator(off)
    assert c.name == "argos" and "installed: uk→en" in c.reason
    assert choose_translator(settings_for(tmp_path, LIBRETRANSLATE_URL="http://127.0.0.1:1")).name == (
        "libretranslate")
    deepl = choose_translator(settings_for(tmp_path, DEEPL_API_KEY="k:fx",
                                           LIBRETRANSLATE_URL="http://127.0.0.1:1"))
    assert deepl == ("deepl", "TRANSLATOR=auto and DEEPL_API_KEY is set") or deepl.name == "deepl"


async def test_queue_stores_provider_model_and_glossary_versions(
    db: Database, tmp_path: Path, built: dict[str, dict[str, bytes]]
) -> None:
    unpack_to(tmp_path / "models", built["uk"], "translate-uk_en")
    unpack_to(tmp_path / "models", built["ru"], "translate-ru_en-1_9")
    s = settings_for(tmp_path, AUTO_INSTALL_MODELS="false")
    ids = await add_posts(db, UK_POSTS + RU_POSTS)
    q = TranslationQueue(db, make_translator(s), s)
    assert await q.run_batch() == 3 and q.last.translated == 3
    g = Glossary.load()
    for pid, text, lang in zip(ids, UK_POSTS + RU_POSTS, ["uk", "uk", "ru"], strict=True):
        [t] = await tr_repo.for_post(db, pid)
        assert (t.provider, t.source_lang, t.model, t.glossary) == (
            "argos", lang, f"translate-{lang}_en@1.9", g.version)
        assert t.text == g.protect(text, lang)


async def test_first_need_installs_in_the_background_and_posts_wait(
    db: Database, tmp_path: Path, http: TestHTTPServer, built: dict[str, dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = pack(built["uk"])
    http.route("/index.json", Response.json([index_entry(http.base)]))
    s = settings_for(tmp_path, ARGOS_INDEX_URL=http.url("/index.json"))
    [pid] = await add_posts(db, UK_POSTS[:1])
    tr = make_translator(s)
    assert isinstance(tr, ArgosTranslator)
    q = TranslationQueue(db, tr, s)

    # the package cannot be had (the server answers 404): one warning, the post stays queued
    caplog.set_level(logging.INFO)
    assert await q.run_batch() == 1 and q.last.deferred == 1
    assert tr.provisioner is not None
    await asyncio.gather(*[st.task for st in tr.provisioner._pairs.values() if st.task],
                         return_exceptions=True)
    assert await q.run_batch() == 0  # the post waits (not due) and counts no attempt
    entry = await tr_repo.queue_entry(db, pid)
    assert entry is not None and entry["status"] == "pending" and entry["attempts"] == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot install" in r.message]
    assert len(warnings) == 1 and "HTTP 404" in warnings[0].message
    assert packages.installed(s.models_dir) == []

    # the package appears; after the back-off the install runs and the post is translated
    http.route("/v1/translate-uk_en-1_9.argosmodel", Response(200, body, {"Content-Type": "application/zip"}))
    await db.execute("UPDATE translation_queue SET next_attempt_at = ''")  # its time has come
    assert await q.run_batch() == 1 and q.last.deferred == 1  # still backing off: waits again
    entry = await tr_repo.queue_entry(db, pid)
    assert entry is not None and "retrying in" in entry["last_error"] and entry["attempts"] == 0
    for st in tr.provisioner._pairs.values():
        st.next_try = 0.0  # the back-off is over
    await db.execute("UPDATE translation_queue SET next_attempt_at = ''")
    assert await q.run_batch() == 1 and q.last.deferred == 1  # install started, post waits
    await asyncio.gather(*[st.task for st in tr.provisioner._pairs.values() if st.task])
    await db.execute("UPDATE translation_queue SET next_attempt_at = ''")
    assert await q.run_batch() == 1 and q.last.translated == 1
    [t] = await tr_repo.for_post(db, pid)
    assert (t.provider, t.model) == ("argos", "translate-uk_en@1.9")
    assert any("installing the offline uk→en model" in r.message for r in caplog.records)
    await tr.close()


def test_cli_install_then_translate_end_to_end(
    tmp_path: Path, http: TestHTTPServer, env: dict[str, str], cli: Cli,
    built: dict[str, dict[str, bytes]],
) -> None:
    """models install → posts queued → citewatch translate → stored translations."""
    http.route("/index.json", Response.json([index_entry(http.base)]))
    http.route("/v1/translate-uk_en-1_9.argosmodel", Response(200, pack(built["uk"]),
                                                              {"Content-Type": "application/zip"}))
    env = {**env, "MODELS_DIR": str(tmp_path / "models"), "ARGOS_INDEX_URL": http.url("/index.json"),
           "TRANSLATOR": "auto", "AUTO_INSTALL_MODELS": "false", "TRANSLATE_THREADS": "1"}
    r = cli(env, "models", "install", "uk")
    assert r.returncode == 0, r.stderr
    posts_file = tmp_path / "posts.jsonl"
    posts_file.write_text("".join(json.dumps({
        "channel": "DIUkraine", "message_id": i + 1, "date": "2024-05-01T10:00:00+00:00", "text": t,
    }, ensure_ascii=False) + "\n" for i, t in enumerate(UK_POSTS)), encoding="utf-8")
    r = cli(env, "import", str(posts_file))
    assert r.returncode == 0, r.stderr
    r = cli(env, "translate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("translated 2,")

    async def stored() -> list[tuple[str, str | None, str]]:
        db = await Database.open(Path(env["CITEWATCH_DB"]))
        try:
            rows = await db.fetchall("SELECT provider, model, text FROM translations ORDER BY post_id")
            return [(r["provider"], r["model"], r["text"]) for r in rows]
        finally:
            await db.close()

    g = Glossary.load()
    assert asyncio.run(stored()) == [("argos", "translate-uk_en@1.9", g.protect(t, "uk"))
                                     for t in UK_POSTS]


def test_offline_model_batches_many_posts(tmp_path: Path, built: dict[str, dict[str, bytes]]) -> None:
    path = unpack_to(tmp_path, built["ru"], "translate-ru_en")
    model = OfflineModel(packages.read_package(path), threads=1)
    texts = [f"{RU_POSTS[0]} Привет, мир. Это тест {i}?" for i in range(40)]
    assert model.translate(texts) == texts
    assert model.translate([]) == [] and model.translate(["", "  "]) == ["", "  "]


async def test_service_installs_the_model_on_first_need(
    db: Database, tmp_path: Path, http: TestHTTPServer, built: dict[str, dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``citewatch run``'s translate job with nothing configured: auto picks argos, the first uk
    post starts the install (one log line), the post waits, and is translated once it is there."""
    from bot.service import Service

    http.route("/index.json", Response.json([index_entry(http.base)]))
    http.route("/v1/translate-uk_en-1_9.argosmodel", Response(200, pack(built["uk"]),
                                                              {"Content-Type": "application/zip"}))
    s = settings_for(tmp_path, ARGOS_INDEX_URL=http.url("/index.json"), CHANNELS="DIUkraine")
    [pid] = await add_posts(db, UK_POSTS[:1])
    caplog.set_level(logging.INFO)
    service = Service(s, db)
    await service._start_translation()
    tr = service.translation_queue.translator
    assert isinstance(tr, ArgosTranslator) and tr.provisioner is not None
    await service._translate()  # starts the install; the post waits
    assert await tr_repo.for_post(db, pid) == []
    assert (await tr_repo.queue_entry(db, pid) or {}).get("attempts") == 0
    await asyncio.gather(*[st.task for st in tr.provisioner._pairs.values() if st.task])
    await db.execute("UPDATE translation_queue SET next_attempt_at = ''")  # the job's next run
    await service._translate()
    [t] = await tr_repo.for_post(db, pid)
    assert (t.provider, t.model) == ("argos", "translate-uk_en@1.9")
    assert t.text == Glossary.load().protect(UK_POSTS[0], "uk")
    started = [r for r in caplog.records if "installing the offline uk→en model" in r.message]
    assert len(started) == 1
    await service.stop()


def test_status_says_which_translator_is_active_and_why(
    tmp_path: Path, env: dict[str, str], cli: Cli, built: dict[str, dict[str, bytes]]
) -> None:
    asyncio.run(_create_db(Path(env["CITEWATCH_DB"])))
    env = {**env, "TRANSLATOR": "auto", "MODELS_DIR": str(tmp_path / "models")}

    def status(**extra: str) -> tuple[str, dict[str, str]]:
        text = cli({**env, **extra}, "status")
        js = cli({**env, **extra}, "status", "--json")
        assert text.returncode == 0 and js.returncode == 0, text.stderr + js.stderr
        [line] = [x for x in text.stdout.splitlines() if x.startswith("translator: ")]
        return line, json.loads(js.stdout)["translator"]

    line, data = status()
    assert data["name"] == "argos" and line == f"translator: argos ({data['reason']})"
    assert data["reason"].startswith("TRANSLATOR=auto, no DeepL key or LibreTranslate URL")
    assert data["reason"].endswith("(none installed yet); missing ones are installed when first needed")
    line, data = status(AUTO_INSTALL_MODELS="false")
    assert data["name"] == "none" and "AUTO_INSTALL_MODELS=false: posts wait" in line
    unpack_to(tmp_path / "models", built["uk"], "translate-uk_en")
    _, data = status(AUTO_INSTALL_MODELS="false")
    assert data["name"] == "argos" and "(installed: uk→en)" in data["reason"]
    _, data = status(LIBRETRANSLATE_URL="http://127.0.0.1:1")
    assert data == {"name": "libretranslate", "reason": "TRANSLATOR=auto and LIBRETRANSLATE_URL is set"}


async def _create_db(path: Path) -> None:
    await (await Database.open(path)).close()


def test_bpe_package_translates(tmp_path: Path) -> None:
    """Older Argos packages ship bpe.model (subword-nmt merges) instead of SentencePiece."""
    from bot.translate.bpe import BPETokenizer
    from tests.argos_model import build_copy_model_for_vocab

    pkg = tmp_path / "translate-ru_en"
    (pkg / "model").mkdir(parents=True)
    (pkg / "bpe.model").write_text("#version: 0.2\nп р\nпр и\nпри в\nе т</w>\nприв ет</w>\nт е\n",
                                   encoding="utf-8")
    lines = ["Привет, мир.", "Это тест? Да, это тест!", "Привет (снова)."]
    tok = BPETokenizer(pkg / "bpe.model")
    assert tok.encode("Привет, привет") == ["П@@", "р@@", "и@@", "в@@", "ет", ",", "привет"]
    vocab = ["<unk>", "<s>", "</s>", *sorted({t for line in lines for t in tok.encode(line)})]
    build_copy_model_for_vocab(pkg / "model", vocab)
    (pkg / "metadata.json").write_text(json.dumps({"from_code": "ru", "to_code": "en",
                                                   "package_version": "1.0"}))
    package = packages.read_package(pkg)
    assert package.tokenizer == "bpe"
    text = "Привет, мир. Это тест? Да, это тест!\nПривет (снова)."
    assert OfflineModel(package, threads=1).translate([text]) == [text]


@pytest.mark.parametrize("case", ["no_network", "404", "truncated", "other_pair", "wrong_layout"])
async def test_auto_install_failures_keep_posts_queued(
    case: str, db: Database, tmp_path: Path, http: TestHTTPServer,
    built: dict[str, dict[str, bytes]],
) -> None:
    path = "/v1/translate-uk_en-1_9.argosmodel"
    body = {"no_network": None, "404": None, "truncated": pack(built["uk"])[:5000],
            "other_pair": pack(built["ru"]),
            "wrong_layout": pack({k: v for k, v in built["uk"].items() if k != "sentencepiece.model"}),
            }[case]
    http.route("/index.json", Response.json([index_entry(http.base)]))
    if body is not None:
        http.route(path, Response(200, body, {"Content-Type": "application/zip"}))
    index = "http://127.0.0.1:9/index.json" if case == "no_network" else http.url("/index.json")
    s = settings_for(tmp_path, ARGOS_INDEX_URL=index)
    [pid] = await add_posts(db, UK_POSTS[:1])
    tr = make_translator(s, background_install=False)  # as `citewatch translate`: waits for it
    q = TranslationQueue(db, tr, s)
    assert await q.run_batch() == 1 and q.last.deferred == 1 and q.last.failed == 0
    entry = await tr_repo.queue_entry(db, pid)
    assert entry is not None and (entry["status"], entry["attempts"]) == ("pending", 0)
    assert "could not be installed" in entry["last_error"] and "\n" not in entry["last_error"]
    assert packages.installed(s.models_dir) == []
    downloads = s.models_dir / ".downloads"
    assert not downloads.exists() or not any(downloads.iterdir())
    if s.models_dir.exists():
        assert [p.name for p in s.models_dir.iterdir() if p.name.startswith(".tmp")] == []
    await tr.close()
