"""Installed Argos Translate model packages in MODELS_DIR, read without argostranslate.

A package is a directory holding ``metadata.json`` (from_code, to_code, package_version, …), a
CTranslate2 model in ``model/`` and a tokenizer (``sentencepiece.model`` or ``bpe.model``) — the
layout argospm unpacks, so a folder of packages installed by argospm works as MODELS_DIR too.
Directories whose name starts with a dot are an installer's work in progress and never read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class PackageError(ValueError):
    """A package directory is not a usable model (one line: what is wrong)."""


@dataclass(frozen=True)
class PackageInfo:
    path: Path
    from_code: str
    to_code: str
    package_version: str
    argos_version: str
    from_name: str
    to_name: str
    tokenizer: str  # "sentencepiece" | "bpe"
    target_prefix: str = ""

    @property
    def code(self) -> str:
        return f"translate-{self.from_code}_{self.to_code}"

    @property
    def version(self) -> str:
        """What a stored translation records as its model: ``translate-uk_en@1.9``."""
        return f"{self.code}@{self.package_version or '?'}"

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def read_package(path: Path) -> PackageInfo:
    """Check the layout of an unpacked package and read its metadata; PackageError if unusable."""
    meta_path = path / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(f"{path.name}: no metadata.json") from None
    except (OSError, ValueError) as exc:
        raise PackageError(f"{path.name}: unreadable metadata.json ({exc})") from None
    if not isinstance(meta, dict):
        raise PackageError(f"{path.name}: metadata.json is not an object")
    codes = [meta.get("from_code"), meta.get("to_code")]
    if not all(isinstance(c, str) and c.strip() for c in codes):
        raise PackageError(f"{path.name}: metadata.json has no from_code/to_code")
    if meta.get("type", "translate") != "translate":
        raise PackageError(f"{path.name}: a {meta.get('type')!r} package, not a translation model")
    if not (path / "model" / "model.bin").is_file():
        raise PackageError(f"{path.name}: no CTranslate2 model (model/model.bin)")
    if (path / "sentencepiece.model").is_file():
        tokenizer = "sentencepiece"
    elif (path / "bpe.model").is_file():
        tokenizer = "bpe"
    else:
        raise PackageError(f"{path.name}: no tokenizer (sentencepiece.model or bpe.model)")
    return PackageInfo(
        path=path, from_code=codes[0].strip().lower(), to_code=codes[1].strip().lower(),
        package_version=str(meta.get("package_version", "")),
        argos_version=str(meta.get("argos_version", "")),
        from_name=str(meta.get("from_name", "")), to_name=str(meta.get("to_name", "")),
        tokenizer=tokenizer, target_prefix=str(meta.get("target_prefix", "") or ""),
    )


def installed(models_dir: Path) -> list[PackageInfo]:
    """Every usable package in ``models_dir`` (broken ones are logged and skipped)."""
    if not models_dir.is_dir():
        return []
    out: list[PackageInfo] = []
    for d in sorted(models_dir.iterdir()):
        if not d.is_dir() or d.name.startswith("."):
            continue
        try:
            out.append(read_package(d))
        except PackageError as exc:
            log.warning("models: skipping %s", exc)
    return out


def find(models_dir: Path, from_code: str, to_code: str) -> PackageInfo | None:
    """The installed package for a pair (the newest version if several are there)."""
    found = [p for p in installed(models_dir) if (p.from_code, p.to_code) == (from_code, to_code)]
    return max(found, key=lambda p: _version_key(p.package_version)) if found else None


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else 0 for x in v.split("."))
