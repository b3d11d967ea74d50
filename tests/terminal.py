"""Run the real ``citewatch`` with one of its output streams on a pseudo-terminal, as a user sees it:
progress bars and colour only appear there, so the tests that check them all share this one harness."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path
from typing import Literal

from tests.conftest import CITEWATCH


def on_a_terminal(env: dict[str, str], cwd: Path, *args: str,
                  tty: Literal["stdout", "stderr"] = "stdout") -> tuple[int, str, bytes]:
    """``citewatch *args`` with ``tty`` on a 24x100 pseudo-terminal and the other stream piped;
    returns the exit code, what the terminal showed, and the piped bytes."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real window
    try:
        streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, tty: slave}
        p = subprocess.Popen([CITEWATCH, *args], env=env, cwd=cwd, **streams)
        os.close(slave)
        chunks = []
        while True:  # read while it runs: Linux drops unread pty output once the slave closes
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out, err = p.communicate(timeout=60)
    finally:
        os.close(master)
    return p.returncode, b"".join(chunks).decode(errors="replace"), (err if tty == "stdout" else out)
