"""Installing Argos packages from an index served on 127.0.0.1: the happy path, resuming, and every
failure the installer must survive with one clear line and nothing half-installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ModelInstallError
from bot.translate import install as installer
from bot.translate import packages
from bot.translate.offline import OfflineModel
from tests.argos_model import index_entry, pack, package_files, ranged, reference_translate
from tests.conftest import Cli
from tests.httpserver import Response, TestHTTPServer


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return package_files(tmp=tmp_path_factory.mktemp("ct2"))


@pytest.fixture(scope="module")
def ru_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return package_files("ru", "en", tmp=tmp_path_factory.mktemp("ct2ru"))


def settings_for(tmp_path: Path, http: TestHTTPServer, **extra: str) -> Settings:
    return load_settings({
        "CITEWATCH_DB": str(tmp_path / "cw.db"), "MODELS_DIR": str(tmp_path / "models"),
        "ARGOS_INDEX_URL": http.url("/index.json"), "ALLOW_PRIVATE_URLS": "true",
        "FETCH_TIMEOUT": "5", **extra,
    }, dotenv_path=None)


def serve(http: TestHTTPServer, entries: list[dict[str, object]], bodies: dict[str, object]) -> None:
    http.route("/index.json", Response.json(entries))
    for path, body in bodies.items():
        http.route(path, body if callable(body) else Response(200, body, {  # type: ignore[arg-type]
            "Content-Type": "application/octet-stream"}))


def leftovers(models: Path) -> list[str]:
    """Anything but finished packages, lock files and the (empty) downloads folder."""
    if not models.exists():
        return []
    out = [p.name for p in models.iterdir()
           if p.name.startswith((".tmp-", ".old-", ".trash-"))]
    downloads = models / ".downloads"
    if downloads.exists():
        out += [f".downloads/{p.name}" for p in downloads.iterdir()]
    return out


UK_PATH = "/v1/translate-uk_en-1_9.argosmodel"


async def test_install_unpacks_checks_and_translates(tmp_path: Path, http: TestHTTPServer,
                                                     files: dict[str, bytes]) -> None:
    serve(http, [index_entry(http.base)], {UK_PATH: pack(files)})
    s = settings_for(tmp_path, http)
    seen: list[tuple[int, int | None]] = []
    package = await installer.ModelInstaller(s).install("uk", "en", progress=lambda d, t: seen.append((d, t)))
    assert package.path == s.models_dir / "translate-uk_en"
    assert (package.from_code, package.to_code, package.package_version) == ("uk", "en", "1.9")
    assert package.version == "translate-uk_en@1.9"
    assert packages.find(s.models_dir, "uk", "en") == package
    assert seen[-1] == (len(pack(files)), len(pack(files)))
    assert leftovers(s.models_dir) == []
    # the installed model runs, and gives what the raw libraries give
    text = "ЗСУ збили ракету над Києвом. Повітряна тривога в Харкові!"
    model = OfflineModel(package, threads=1)
    assert model.translate([text]) == [" ".join(reference_translate(package.path, [
        "ЗСУ збили ракету над Києвом.", "Повітряна тривога в Харкові!"]))]
    # the ipfs link was never requested, the http one once
    assert len(http.requests_to(UK_PATH)) == 1


async def test_resume_uses_range_and_restarts_when_ignored(tmp_path: Path, http: TestHTTPServer,
                                                           files: dict[str, bytes]) -> None:
    body = pack(files)
    serve(http, [index_entry(http.base)], {UK_PATH: ranged(body)})
    s = settings_for(tmp_path, http)
    part = s.models_dir / ".downloads" / "translate-uk_en-1_9.argosmodel.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(body[:1000])  # an interrupted earlier download
    await installer.ModelInstaller(s).install("uk", "en")
    assert http.requests_to(UK_PATH)[-1].headers["range"] == "bytes=1000-"
    assert packages.find(s.models_dir, "uk", "en") is not None and not part.exists()

    # a server without Range support answers 200 with the whole file: the part is rewritten
    http.route(UK_PATH, Response(200, body, {"Content-Type": "application/zip"}))
    part.write_bytes(b"garbage that is not the start of the file")
    await installer.ModelInstaller(s).install("uk", "en")
    assert http.requests_to(UK_PATH)[-1].headers["range"].startswith("bytes=")
    assert packages.find(s.models_dir, "uk", "en") is not None
    assert leftovers(s.models_dir) == []


async def test_reinstall_replaces_an_older_version(tmp_path: Path, http: TestHTTPServer,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   files: dict[str, bytes]) -> None:
    newer = dict(files)
    meta = json.loads(files["metadata.json"])
    newer["metadata.json"] = json.dumps({**meta, "package_version": "2.0"}).encode()
    serve(http, [index_entry(http.base)], {UK_PATH: pack(files)})
    s = settings_for(tmp_path, http)
    await installer.ModelInstaller(s).install("uk", "en")
    serve(http, [index_entry(http.base, version="2.0", path=UK_PATH)], {UK_PATH: pack(newer)})
    package = await installer.ModelInstaller(s).install("uk", "en")
    assert package.package_version == "2.0"
    assert [p.package_version for p in packages.installed(s.models_dir)] == ["2.0"]
    assert leftovers(s.models_dir) == []


@pytest.mark.parametrize("case", ["404", "truncated", "not_zip", "no_metadata", "no_model",
                                  "no_tokenizer", "other_pair", "unsafe_path", "bad_model",
                                  "too_big"])
async def test_failures_are_one_line_and_leave_nothing(
    case: str, tmp_path: Path, http: TestHTTPServer, files: dict[str, bytes],
    ru_files: dict[str, bytes],
) -> None:
    body = pack(files)
    extra: dict[str, str] = {}
    expect = {
        "404": r"download of translate-uk_en failed: .*HTTP 404",
        "truncated": r"not a valid zip \(truncated or corrupt\)",
        "not_zip": r"not a valid zip",
        "no_metadata": r"wrong package layout: no metadata.json",
        "no_model": r"wrong package layout: .*no CTranslate2 model",
        "no_tokenizer": r"wrong package layout: .*no tokenizer",
        "other_pair": r"the package is a ru→en model, not uk→en",
        "unsafe_path": r"unsafe path: '../evil.txt'",
        "bad_model": r"the model does not load",
        "too_big": r"larger than 0.01 MB",
    }[case]
    if case == "404":
        body = None  # type: ignore[assignment]
    elif case == "truncated":
        body = body[: len(body) // 2]
    elif case == "not_zip":
        body = b"<html>an error page served as the model</html>"
    elif case == "no_metadata":
        body = pack({k: v for k, v in files.items() if k != "metadata.json"})
    elif case == "no_model":
        body = pack({k: v for k, v in files.items() if not k.startswith("model/")})
    elif case == "no_tokenizer":
        body = pack({k: v for k, v in files.items() if k != "sentencepiece.model"})
    elif case == "other_pair":
        body = pack(ru_files)
    elif case == "unsafe_path":
        body = pack({**files, "../evil.txt": b"x"}, top="")
    elif case == "bad_model":
        body = pack({**files, "model/model.bin": b"\x00" * 100})
    elif case == "too_big":
        extra["MODELS_MAX_BYTES"] = "10000"
    serve(http, [index_entry(http.base)], {UK_PATH: body} if body is not None else {})
    s = settings_for(tmp_path, http, **extra)
    with pytest.raises(ModelInstallError, match=expect) as info:
        await installer.ModelInstaller(s).install("uk", "en")
    assert "\n" not in str(info.value)
    assert packages.installed(s.models_dir) == []
    assert leftovers(s.models_dir) == []
    assert not (tmp_path / "evil.txt").exists() and not (s.models_dir / "evil.txt").exists()
    assert info.value.transient == (case == "404")


async def test_pair_missing_from_index_and_unreachable_index(tmp_path: Path, http: TestHTTPServer) -> None:
    serve(http, [index_entry(http.base, "ru", "en")], {})
    s = settings_for(tmp_path, http)
    with pytest.raises(ModelInstallError, match=r"the model index has no uk→en model"):
        await installer.ModelInstaller(s).install("uk", "en")
    http.route("/index.json", Response(200, b"{not json", {"Content-Type": "application/json"}))
    with pytest.raises(ModelInstallError, match=r"index.json: the package index is not JSON"):
        await installer.ModelInstaller(s).install("uk", "en")
    http.routes.pop("/index.json")
    with pytest.raises(ModelInstallError, match=r"cannot read the model index .*HTTP 404") as info:
        await installer.ModelInstaller(s).install("uk", "en")
    assert info.value.transient


async def test_index_and_downloads_obey_the_address_rules(tmp_path: Path, http: TestHTTPServer,
                                                          files: dict[str, bytes]) -> None:
    serve(http, [index_entry(http.base)], {UK_PATH: pack(files)})
    s = settings_for(tmp_path, http, ALLOW_PRIVATE_URLS="false")
    with pytest.raises(ModelInstallError, match=r"refused 127.0.0.1: 127.0.0.1 is a loopback address"):
        await installer.ModelInstaller(s).install("uk", "en")
    assert http.requests == []


async def test_full_disk_is_named_and_cleaned(tmp_path: Path, http: TestHTTPServer,
                                              files: dict[str, bytes]) -> None:
    """The download lands on a file whose every write fails with ENOSPC (/dev/full)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    serve(http, [index_entry(http.base)], {UK_PATH: pack(files)})
    s = settings_for(tmp_path, http)
    downloads = s.models_dir / ".downloads"
    downloads.mkdir(parents=True)
    (downloads / "translate-uk_en-1_9.argosmodel.part").symlink_to("/dev/full")
    with pytest.raises(ModelInstallError, match=r"^disk full in .*models: free some space"):
        await installer.ModelInstaller(s).install("uk", "en")
    assert packages.installed(s.models_dir) == []
    assert leftovers(s.models_dir) == []


async def test_second_concurrent_install_is_refused(tmp_path: Path, http: TestHTTPServer,
                                                    files: dict[str, bytes]) -> None:
    """Another process holds the pair's lock (as a running install does): refused at once."""
    serve(http, [index_entry(http.base)], {UK_PATH: pack(files)})
    s = settings_for(tmp_path, http)
    s.models_dir.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from bot.translate.install import install_lock\n"
         f"with install_lock(pathlib.Path({str(s.models_dir)!r}), 'uk', 'en'):\n"
         "    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ModelInstallError, match=r"another install of the uk→en model is running"):
            await installer.ModelInstaller(s).install("uk", "en")
        assert http.requests_to(UK_PATH) == []
    finally:
        holder.communicate("")
    package = await installer.ModelInstaller(s).install("uk", "en")  # lock released: it works
    assert package.from_code == "uk"


def test_cli_install_list_remove(tmp_path: Path, http: TestHTTPServer, env: dict[str, str],
                                 cli: Cli, files: dict[str, bytes]) -> None:
    serve(http, [index_entry(http.base), index_entry(http.base, "ru", "en")],
          {UK_PATH: pack(files)})
    env = {**env, "MODELS_DIR": str(tmp_path / "models"), "ARGOS_INDEX_URL": http.url("/index.json")}
    r = cli(env, "models", "install", "uk", "ru", "--to", "en")
    assert r.returncode == 1
    assert "installed translate-uk_en@1.9 (uk→en" in r.stdout
    err = [line for line in r.stderr.splitlines() if line.startswith("citewatch:")]
    assert len(err) == 1 and err[0].startswith("citewatch: error: ru→en: download of translate-ru_en")
    r = cli(env, "models", "list", "--json", "--available")
    data = json.loads(r.stdout)
    assert [(m["from"], m["to"], m["version"]) for m in data["installed"]] == [("uk", "en", "1.9")]
    assert {m["from"] for m in data["available"]} == {"uk", "ru"}
    r = cli(env, "models", "list")
    assert r.stdout.startswith("uk→en  1.9")
    r = cli(env, "models", "remove", "uk")
    assert r.returncode == 0 and r.stdout.startswith("removed translate-uk_en@1.9")
    r = cli(env, "models", "remove", "uk")
    assert r.returncode == 1 and "no uk→en model installed" in r.stderr
    assert not (tmp_path / "models" / "translate-uk_en").exists()


async def test_download_follows_a_redirect_with_the_same_rules(tmp_path: Path, http: TestHTTPServer,
                                                               files: dict[str, bytes]) -> None:
    serve(http, [index_entry(http.base)], {"/cdn/uk.zip": pack(files)})
    http.route(UK_PATH, Response(302, b"", {"Location": "/cdn/uk.zip"}))
    s = settings_for(tmp_path, http)
    package = await installer.ModelInstaller(s).install("uk", "en")
    assert package.version == "translate-uk_en@1.9"
    http.route(UK_PATH, Response(302, b"", {"Location": UK_PATH}))  # a loop
    with pytest.raises(ModelInstallError, match=r"redirect loop"):
        await installer.ModelInstaller(s).install("uk", "en")
    assert packages.find(s.models_dir, "uk", "en") == package  # the installed one is untouched
