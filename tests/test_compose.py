"""docker-compose.yml: the optional LibreTranslate service (profile ``translate``) and the start
command that points citewatch at it only when it is there."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def services() -> dict[str, dict]:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_libretranslate_service_is_optional_with_models_volume_and_healthcheck() -> None:
    lt = services()["libretranslate"]
    assert lt["profiles"] == ["translate"]
    assert lt["environment"]["LT_LOAD_ONLY"] == "en,uk,ru"
    assert any(v.endswith(":/home/libretranslate/.local") for v in lt["volumes"])
    assert lt["healthcheck"]["test"]
    cw = services()["citewatch"]
    assert "profiles" not in cw  # citewatch always runs
    dep = cw["depends_on"]["libretranslate"]
    assert dep == {"condition": "service_healthy", "required": False}
    assert cw["environment"]["MODELS_DIR"].startswith("/data/")


def run_command(tmp_path: Path, resolves: bool, preset: str | None) -> str:
    """Run citewatch's compose command with stand-ins for getent (does ``libretranslate``
    resolve?) and citewatch (prints the URL it was given)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "getent").write_text(f"#!/bin/sh\nexit {0 if resolves else 2}\n")
    (bin_dir / "citewatch").write_text('#!/bin/sh\necho "url=$LIBRETRANSLATE_URL args=$*"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    cmd = services()["citewatch"]["command"]
    script = cmd[2].replace("$$", "$")  # compose's escape for a literal $
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    if preset is not None:
        env["LIBRETRANSLATE_URL"] = preset
    out = subprocess.run([*cmd[:2], script], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_command_points_at_libretranslate_only_with_the_profile(tmp_path: Path) -> None:
    assert run_command(tmp_path, True, None) == "url=http://libretranslate:5000 args=run"
    assert run_command(tmp_path, True, "") == "url=http://libretranslate:5000 args=run"
    assert run_command(tmp_path, False, None) == "url= args=run"
    assert run_command(tmp_path, True, "http://lt.example:5000") == "url=http://lt.example:5000 args=run"
