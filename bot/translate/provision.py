"""Automatic model install on first need (AUTO_INSTALL_MODELS): one install per language pair, in the
background, with back-off when it cannot (no network, a bad package), never failing a post.

The translator asks ``ensure(src, dst)`` before each batch. Installed: it returns. Otherwise it
starts (or is already running, or is backing off from) an install and raises
``TranslationError(defer=…)``: the queue then puts those posts back until then without counting an
attempt, so they are translated as soon as the model is there and nothing is lost. One log line
says an install started, one that it finished; the first failure is a warning, repeats while
backing off are info lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import ModelInstallError, TranslationError
from bot.translate import packages
from bot.translate.install import ModelInstaller
from bot.translate.packages import PackageInfo

log = logging.getLogger(__name__)

#: Back-off between failed installs of one pair: 1 min, 2, 4 … at most 6 h.
RETRY_BASE = 60.0
RETRY_MAX = 6 * 3600.0
#: How soon posts look again while an install runs.
INSTALLING_RECHECK = 30.0


@dataclass
class _Pair:
    task: asyncio.Task[PackageInfo] | None = None
    failures: int = 0
    next_try: float = 0.0
    last_error: str = ""


class ModelProvisioner:
    """``await provisioner.ensure("uk", "en")`` → the installed package, or TranslationError(defer)."""

    def __init__(self, installer: ModelInstaller, *, background: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.installer = installer
        self.background = background
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Pair] = {}

    async def ensure(self, src: str, dst: str) -> PackageInfo:
        package = packages.find(self.installer.models_dir, src, dst)
        if package is not None:
            return package
        state = self._pairs.setdefault((src, dst), _Pair())
        if state.task is not None and state.task.done():
            state.task = None  # a finished try: its outcome is in the state (or on disk)
        now = self._clock()
        if state.task is None and now < state.next_try:
            raise TranslationError(
                f"argos model {src}→{dst} is not installed yet (last try: {state.last_error}); "
                f"retrying in {state.next_try - now:.0f} s", defer=state.next_try - now)
        if state.task is None:
            log.info("models: installing the offline %s→%s model (first %s post to translate)",
                     src, dst, src)
            state.task = asyncio.create_task(self._install(src, dst, state))
            # the outcome is read from the state; retrieving it keeps asyncio from warning
            state.task.add_done_callback(lambda t: t.cancelled() or t.exception())
        if not self.background:
            await asyncio.wait({state.task})
        if state.task is not None and state.task.done():
            state.task = None
            package = packages.find(self.installer.models_dir, src, dst)
            if package is not None:
                return package
            raise TranslationError(f"argos model {src}→{dst} could not be installed: "
                                   f"{state.last_error}", defer=max(1.0, state.next_try - self._clock()))
        raise TranslationError(f"argos model {src}→{dst} is being installed; posts wait for it",
                               defer=INSTALLING_RECHECK)

    async def _install(self, src: str, dst: str, state: _Pair) -> PackageInfo:
        try:
            package = await self.installer.install(src, dst)
        except ModelInstallError as exc:
            state.failures += 1
            delay = min(RETRY_BASE * 2 ** (state.failures - 1), RETRY_MAX)
            state.next_try = self._clock() + delay
            state.last_error = str(exc)
            level = logging.WARNING if state.failures == 1 else logging.INFO
            log.log(level, "models: cannot install the %s→%s model (try %d, next in %.0f s; "
                    "posts stay queued): %s", src, dst, state.failures, delay, exc)
            raise
        except Exception as exc:  # a bug must not kill the task silently
            state.failures += 1
            state.next_try = self._clock() + min(RETRY_BASE * 2 ** (state.failures - 1), RETRY_MAX)
            state.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("models: install of %s→%s crashed", src, dst)
            raise
        state.failures, state.last_error = 0, ""
        log.info("models: %s ready (%s→%s)", package.version, src, dst)
        return package

    def installing(self) -> list[str]:
        """Pairs being installed now (for status displays)."""
        return [f"{s}→{d}" for (s, d), st in self._pairs.items() if st.task and not st.task.done()]

    async def close(self) -> None:
        """Cancel running installs (their temporary files are removed as they unwind)."""
        tasks = [st.task for st in self._pairs.values() if st.task and not st.task.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
