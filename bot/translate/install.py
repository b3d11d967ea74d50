"""Install and remove Argos model packages in MODELS_DIR, so that a broken one is never used.

``install`` reads the index (ARGOS_INDEX_URL), downloads the package with the news ``Fetcher`` (same
address rules and redirect limit; MODELS_MAX_BYTES as the size cap) into
``MODELS_DIR/.downloads/<name>.part`` — an interrupted download resumes from there with a Range
request, or restarts if the server ignores it — then checks it is a sane zip (no absolute or ``..``
paths, no links, no zip bomb), unpacks it into a hidden temporary folder, checks the layout, the
language pair and that CTranslate2 loads it, and only then renames it into place (one atomic
rename; an older version is swapped out the same way). A corrupt download is deleted so the next try
starts afresh. One install per pair at a time, across processes (a lock file).

Every failure is one ``ModelInstallError`` line; ``transient`` marks the network ones.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from bot.config import Settings
from bot.errors import FetchError, ModelInstallError
from bot.news.fetch import Fetcher
from bot.translate.model_index import IndexEntry, ModelIndexError, parse_index, pick
from bot.translate.packages import PackageError, PackageInfo, installed, read_package

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]

#: An unpacked package may be at most this many times MODELS_MAX_BYTES (deflated weights barely
#: shrink; a zip bomb is refused before a byte is written).
UNPACK_RATIO = 2


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.0f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


def _disk_error(exc: OSError, where: Path) -> ModelInstallError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelInstallError(f"disk full in {where}: free some space and install again")
    return ModelInstallError(f"cannot write in {where}: {exc.strerror or exc}")


@contextmanager
def install_lock(models_dir: Path, from_code: str, to_code: str) -> Iterator[None]:
    """Hold the pair's lock file; a second concurrent install of the same pair fails at once."""
    path = models_dir / f".install-{from_code}_{to_code}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelInstallError(
                f"another install of the {from_code}→{to_code} model is running; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


def unpack(archive: Path, into: Path, max_bytes: int) -> Path:
    """Extract a package zip into the empty folder ``into``; returns the folder with metadata.json."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError):
        raise ModelInstallError("the download is not a valid zip (truncated or corrupt)") from None
    with zf:
        total = 0
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename or ":" in info.filename:
                raise ModelInstallError(f"the package has an unsafe path: {info.filename[:100]!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ModelInstallError(f"the package has a symbolic link: {info.filename[:100]!r}")
            total += info.file_size
        if total > max_bytes:
            raise ModelInstallError(f"the package unpacks to more than {_mb(max_bytes)}")
        free = shutil.disk_usage(into).free
        if total > free:
            raise ModelInstallError(f"disk full in {into.parent}: the model needs {_mb(total)}, "
                                    f"{_mb(free)} free")
        try:
            zf.extractall(into)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise ModelInstallError(f"the download is corrupt ({exc})") from None
        except OSError as exc:
            raise _disk_error(exc, into.parent) from None
    if (into / "metadata.json").is_file():
        return into
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) == 1 and (tops[0] / "metadata.json").is_file():
        return tops[0]
    raise ModelInstallError("wrong package layout: no metadata.json at the top or in one folder")


def check_loads(package: PackageInfo) -> None:
    """Load the model and tokenizer once, so a package that cannot run is never put in place."""
    from bot.translate.offline import OfflineModel

    try:
        OfflineModel(package, threads=1)
    except Exception as exc:  # ctranslate2/sentencepiece raise RuntimeError, ValueError, OSError …
        raise ModelInstallError(f"the model does not load: {' '.join(str(exc).split())[:200]}") from None


class ModelInstaller:
    """``await ModelInstaller(settings).install("uk", "en", progress=...)`` → PackageInfo."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.models_dir = settings.models_dir
        self._fetcher = fetcher

    async def index(self) -> list[IndexEntry]:
        url = self.settings.argos_index_url
        try:
            async with self._fetch() as f:
                result = await f.get(url, headers={"Accept": "application/json"})
        except FetchError as exc:
            raise ModelInstallError(f"cannot read the model index {url}: {exc}", transient=True) from None
        try:
            return parse_index(result.body)
        except ModelIndexError as exc:
            raise ModelInstallError(f"{url}: {exc}") from None

    async def install(
        self, from_code: str, to_code: str, *, progress: Progress | None = None,
        entries: list[IndexEntry] | None = None,
    ) -> PackageInfo:
        from_code, to_code = from_code.lower(), to_code.lower()
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _disk_error(exc, self.models_dir) from None
        with install_lock(self.models_dir, from_code, to_code):
            entry = pick(entries if entries is not None else await self.index(), from_code, to_code)
            if entry is None:
                raise ModelInstallError(f"the model index has no {from_code}→{to_code} model "
                                        f"({self.settings.argos_index_url})")
            part = await self._download(entry, progress)
            try:
                package = await asyncio.to_thread(self._place, part, from_code, to_code)
            except ModelInstallError:
                part.unlink(missing_ok=True)  # a bad download: the next try starts from zero
                raise
            part.unlink(missing_ok=True)
            log.info("models: installed %s (%s→%s) in %s", package.version, from_code, to_code,
                     package.path)
            return package

    async def _download(self, entry: IndexEntry, progress: Progress | None) -> Path:
        downloads = self.models_dir / ".downloads"
        part = downloads / (entry.filename + ".part")
        reasons: list[str] = []
        try:
            downloads.mkdir(exist_ok=True)
            async with self._fetch() as f:
                for url in entry.links:
                    try:
                        await f.download(url, part, max_bytes=self.settings.models_max_bytes,
                                         progress=progress)
                        return part
                    except FetchError as exc:
                        reasons.append(f"{url}: {exc}")
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise _disk_error(exc, self.models_dir) from None
        too_big = any("larger than" in r for r in reasons)
        if too_big:
            part.unlink(missing_ok=True)
        raise ModelInstallError(f"download of {entry.code} failed: {'; '.join(reasons)}",
                                transient=not too_big)

    def _place(self, archive: Path, from_code: str, to_code: str) -> PackageInfo:
        """Unpack, check, and rename into place (blocking: runs in a thread)."""
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{from_code}_{to_code}-", dir=self.models_dir))
        except OSError as exc:
            raise _disk_error(exc, self.models_dir) from None
        try:
            root = unpack(archive, tmp, UNPACK_RATIO * self.settings.models_max_bytes)
            try:
                package = read_package(root)
            except PackageError as exc:
                raise ModelInstallError(f"wrong package layout: {exc}") from None
            if (package.from_code, package.to_code) != (from_code, to_code):
                raise ModelInstallError(f"the package is a {package.from_code}→{package.to_code} "
                                        f"model, not {from_code}→{to_code}")
            check_loads(package)
            final = self.models_dir / f"translate-{from_code}_{to_code}"
            old = None
            if final.exists():
                old = self.models_dir / f".old-{final.name}-{os.getpid()}"
                final.rename(old)
            try:
                root.rename(final)
            except OSError:
                if old is not None:
                    old.rename(final)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return read_package(final)
        except OSError as exc:
            raise _disk_error(exc, self.models_dir) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _fetch(self) -> Fetcher:
        if self._fetcher is not None:
            return _Borrowed(self._fetcher)  # type: ignore[return-value]
        return Fetcher(self.settings)


class _Borrowed:
    """A caller's fetcher used as ``async with`` without closing it."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    async def __aenter__(self) -> Fetcher:
        return self.fetcher

    async def __aexit__(self, *exc: object) -> None:
        return None


def remove(models_dir: Path, from_code: str, to_code: str) -> list[PackageInfo]:
    """Delete every installed package of a pair (moved aside first, so no reader sees half of one)."""
    gone: list[PackageInfo] = []
    if not models_dir.is_dir():
        return gone
    with install_lock(models_dir, from_code, to_code):
        for package in installed(models_dir):
            if (package.from_code, package.to_code) != (from_code, to_code):
                continue
            trash = models_dir / f".trash-{package.path.name}-{os.getpid()}"
            package.path.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
            gone.append(package)
    return gone
