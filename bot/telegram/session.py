"""The Telethon session file: private (mode 0600) and used by one process at a time.

Two processes on one session end in SQLite's "database is locked" or Telegram's
AUTH_KEY_DUPLICATED (which kills the session). An ``fcntl`` lock on a file beside the session
turns that into one clear line; the kernel drops the lock when a process dies, so it never goes
stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from bot.errors import SourceError

SUFFIX = ".session"


def session_file(path: str | Path) -> Path:
    """The file Telethon will actually use (it appends ``.session`` when missing)."""
    p = Path(path)
    return p if p.name.endswith(SUFFIX) else p.with_name(p.name + SUFFIX)


def make_private(path: str | Path) -> Path:
    """Create the session file with mode 0600 before Telethon opens it; tighten an existing one."""
    p = session_file(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(p, 0o600)
    return p


def tighten(path: str | Path) -> None:
    """chmod 0600 the session and any SQLite side files Telethon left (journal)."""
    p = session_file(path)
    for f in (p, p.with_name(p.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f, 0o600)


class SessionBusy(SourceError):
    """The session is held by another process (usually the running ``citewatch run``)."""


class SessionLock:
    """An exclusive, non-blocking lock on ``<session>.lock`` holding our pid."""

    def __init__(self, session: str | Path) -> None:
        self.session = session_file(session)
        self.path = self.session.with_name(self.session.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> SessionLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise SessionBusy(
                f"another citewatch process is using session {self.session} (pid {pid})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> SessionLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
