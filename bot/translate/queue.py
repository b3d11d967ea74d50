"""The translation job: due queue rows → detected language → batched translation → stored.

The database row is the state (storage/translations.py), so the job holds nothing that a crash could
lose: each batch is committed as soon as it is translated, a failure is written to its rows before the
next batch starts, and a restarted process simply reads what is still due. ``run_batch`` is the body
of the service's scheduled job and of ``citewatch translate``; with nothing due it costs one query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.config import Settings
from bot.errors import TranslationError
from bot.translate.detect import detect_language
from bot.translate.providers import Translator
from storage import translations as tr_repo
from storage.db import Database
from storage.models import Translation, utcnow
from storage.translations import QueueItem

log = logging.getLogger(__name__)

#: Transient failures are retried after 30 s, 1 min, 2 min, … capped at 6 h; after MAX_ATTEMPTS the
#: post is marked failed (``citewatch translate --retry-failed`` puts it back).
BACKOFF_BASE = 30.0
BACKOFF_MAX = 6 * 3600.0
MAX_ATTEMPTS = 10


def backoff(attempts: int) -> timedelta:
    """Delay before the next try of a row that has failed ``attempts`` times before this one."""
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts, 0), BACKOFF_MAX))


def base_lang(code: str) -> str:
    return code.split("-")[0].split("_")[0].lower()


@dataclass
class BatchStats:
    """What one ``run_batch`` did (the CLI shows it; tests assert on it)."""

    taken: int = 0
    translated: int = 0
    skipped: int = 0  # already in the target language, or no words to translate
    waiting: int = 0  # language detected, no translator configured: left queued
    retried: int = 0
    deferred: int = 0  # waiting for their model (being installed): no attempt counted
    failed: int = 0
    paused_until: datetime | None = None

    @property
    def settled(self) -> int:
        return self.translated + self.skipped + self.failed + self.waiting

    @property
    def handled(self) -> int:
        """Rows taken off the due set by this run (settled, or postponed for a retry or a model)."""
        return self.settled + self.retried + self.deferred


class TranslationQueue:
    """``await TranslationQueue(db, translator, settings).run_batch()``; drain a backlog with
    ``while await queue.run_batch(): ...`` (it returns 0 once nothing due is left to progress on)."""

    def __init__(
        self,
        db: Database,
        translator: Translator,
        settings: Settings,
        *,
        channel: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.translator = translator
        self.target = base_lang(settings.translate_to)
        self.batch_size = settings.translate_batch
        self.channel = channel
        self._clock = clock
        #: set by a rate limit or quota; also written to the rows, so a restart keeps it
        self.paused_until: datetime | None = None
        self.last = BatchStats()

    async def run_batch(self) -> int:
        """Take up to TRANSLATE_BATCH due posts through detection and translation.

        Returns how many rows it took off the due set (translated, not needing translation, failed,
        postponed for a retry, or — with no translator — detected and left waiting), so a drain loop
        always ends; ``self.last`` has the breakdown.
        """
        now = self._clock()
        self.last = stats = BatchStats()
        if self.paused_until is not None:
            if now < self.paused_until:
                stats.paused_until = self.paused_until
                return 0
            self.paused_until = None
        detect_only = self.translator.name == "none"
        items = await tr_repo.due(self.db, self.batch_size, now, channel=self.channel,
                                  undetected_only=detect_only)
        if not items:
            return 0
        stats.taken = len(items)
        items = await self._detect(items, stats)
        if detect_only:
            stats.waiting = len(items)  # languages are stored; the posts wait for a translator
            return stats.handled
        by_lang: dict[str, list[QueueItem]] = {}
        for it in items:
            by_lang.setdefault(it.lang or "", []).append(it)
        size = max(1, min(self.batch_size, self.translator.max_batch))
        for lang, group in by_lang.items():
            for start in range(0, len(group), size):
                if not await self._translate(group[start:start + size], lang, now, stats):
                    return stats.handled  # paused: leave the rest for later
        return stats.handled

    async def _detect(self, items: list[QueueItem], stats: BatchStats) -> list[QueueItem]:
        """Store languages not yet known; drop posts needing no translation. Returns the rest."""
        detected: list[tuple[QueueItem, str | None]] = []
        drop: list[int] = []
        rest: list[QueueItem] = []
        for it in items:
            if it.lang is None:
                it = replace(it, lang=detect_language(it.text))
                detected.append((it, it.lang))
            if it.lang is None or base_lang(it.lang) == self.target:
                drop.append(it.post_id)
            else:
                rest.append(it)
        if detected or drop:
            await tr_repo.record_languages(self.db, detected, drop)
        stats.skipped += len(drop)
        return rest

    async def _translate(
        self, chunk: list[QueueItem], lang: str, now: datetime, stats: BatchStats
    ) -> bool:
        """Translate and store one chunk, or record why not. False means: the queue is paused."""
        try:
            out = await self.translator.translate([it.text for it in chunk], lang, self.target)
            if len(out) != len(chunk):
                raise TranslationError(
                    f"{self.translator.name}: {len(out)} translations for {len(chunk)} texts",
                    transient=True,
                )
        except TranslationError as exc:
            if exc.pause:
                await self._pause(exc, now, stats)
                return False
            if exc.defer:  # e.g. the model is being installed: wait, nothing counted, nothing lost
                log.info("translation of %d %s posts waits: %s", len(chunk), lang, exc)
                await tr_repo.defer(self.db, chunk, now + timedelta(seconds=exc.defer), str(exc))
                stats.deferred += len(chunk)
                return True
            if exc.transient:
                await self._retry_later(chunk, str(exc), now, stats)
            elif len(chunk) > 1:
                # one bad text must not fail its neighbours: try them one by one
                for it in chunk:
                    if not await self._translate([it], lang, now, stats):
                        return False
            else:
                log.warning("translation of post %s failed: %s", chunk[0].post_id, exc)
                await tr_repo.mark_failed(self.db, chunk, str(exc))
                stats.failed += 1
            return True
        except Exception as exc:  # an unexpected library error: keep the posts, try again later
            log.exception("translator %s crashed", self.translator.name)
            await self._retry_later(chunk, f"{type(exc).__name__}: {exc}", now, stats)
            return True
        model, glossary = self._versions(lang)
        translations = [
            (Translation(post_id=it.post_id, lang=self.target, provider=self.translator.name,
                         text=text, source_lang=lang, created_at=self._clock(), model=model,
                         glossary=glossary), it)
            for it, text in zip(chunk, out, strict=True)
        ]
        stats.translated += await tr_repo.store(self.db, translations)
        return True

    def _versions(self, lang: str) -> tuple[str | None, str | None]:
        """Model and glossary versions to store (translators written for tests may not say)."""
        model_version = getattr(self.translator, "model_version", None)
        glossary_version = getattr(self.translator, "glossary_version", None)
        return (model_version(lang, self.target) if model_version else None,
                glossary_version(lang) if glossary_version else None)

    async def _retry_later(
        self, chunk: list[QueueItem], error: str, now: datetime, stats: BatchStats
    ) -> None:
        give_up = [it for it in chunk if it.attempts + 1 >= MAX_ATTEMPTS]
        later = [(it, now + backoff(it.attempts)) for it in chunk if it.attempts + 1 < MAX_ATTEMPTS]
        if later:
            log.info("translation of %d posts will be retried: %s", len(later), error)
            await tr_repo.postpone(self.db, later, error)
            stats.retried += len(later)
        if give_up:
            await tr_repo.mark_failed(self.db, give_up, f"gave up after {MAX_ATTEMPTS} attempts: {error}")
            stats.failed += len(give_up)

    async def _pause(self, exc: TranslationError, now: datetime, stats: BatchStats) -> None:
        until = now + timedelta(seconds=exc.pause)
        self.paused_until = stats.paused_until = until
        log.warning("translation queue paused until %s: %s", until.isoformat(timespec="seconds"), exc)
        await tr_repo.pause_all(self.db, until, f"paused: {exc}")
