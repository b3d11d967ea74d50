"""The Argos package index (ARGOS_INDEX_URL): a JSON list of packages, parsed and searched (pure).

Each entry has ``from_code``, ``to_code``, ``package_version`` and ``links`` (download URLs; ipfs://
links are ignored: we only fetch http(s)); see ../shared/reference/argospm-index.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


class ModelIndexError(ValueError):
    """The index is not the JSON list we expect."""


@dataclass(frozen=True)
class IndexEntry:
    code: str
    from_code: str
    to_code: str
    from_name: str
    to_name: str
    package_version: str
    links: tuple[str, ...]

    @property
    def filename(self) -> str:
        """``translate-uk_en-1_9.argosmodel``: the download's name (also for resuming)."""
        return f"{self.code}-{self.package_version.replace('.', '_') or '0'}.argosmodel"


def parse_index(body: bytes) -> list[IndexEntry]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ModelIndexError(f"the package index is not JSON ({exc})") from None
    if not isinstance(data, list):
        raise ModelIndexError("the package index is not a JSON list")
    out: list[IndexEntry] = []
    for item in data:
        if not isinstance(item, dict) or item.get("type", "translate") != "translate":
            continue
        src, dst = item.get("from_code"), item.get("to_code")
        links = item.get("links")
        if not (isinstance(src, str) and isinstance(dst, str) and isinstance(links, list)):
            continue
        http = tuple(u for u in links if isinstance(u, str) and u.startswith(("http://", "https://")))
        if not http:
            continue
        out.append(IndexEntry(
            code=str(item.get("code") or f"translate-{src}_{dst}"), from_code=src.lower(),
            to_code=dst.lower(), from_name=str(item.get("from_name", "")),
            to_name=str(item.get("to_name", "")),
            package_version=str(item.get("package_version", "")), links=http,
        ))
    return out


def pick(entries: list[IndexEntry], from_code: str, to_code: str) -> IndexEntry | None:
    """The entry for a pair, newest version first when the index lists several."""
    found = [e for e in entries if (e.from_code, e.to_code) == (from_code, to_code)]
    return max(found, key=lambda e: tuple(int(x) if x.isdigit() else 0
                                          for x in e.package_version.split("."))) if found else None
