"""What ``citewatch status`` and the ``/status`` chat command report, gathered once from storage.

Lag is the time since a source last succeeded: a channel or feed whose lag keeps growing is stuck,
whatever its last error says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from storage import alerts as alerts_repo
from storage import channels as channels_repo
from storage import feeds as feeds_repo
from storage import search_index
from storage import stats as stats_repo
from storage.db import Database
from storage.models import utcnow


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    active: bool
    posts: int
    last_success: str | None  # ISO times: the report is what ``status --json`` prints
    lag_seconds: float | None
    last_error: str | None
    last_error_at: str | None
    paused_until: str | None
    added_at: str | None = None
    state: str = "watched"  # storage.models.Channel.state


@dataclass(frozen=True)
class FeedStatus:
    feed: str
    title: str | None
    last_success: str | None
    lag_seconds: float | None
    last_error: str | None
    last_error_at: str | None
    next_poll: str | None
    added_at: str | None = None


@dataclass(frozen=True)
class TranslationDepth:
    pending: int
    failed: int


@dataclass(frozen=True)
class Queues:
    translations: TranslationDepth
    alerts: dict[str, int]  # alerts per status ("pending", "sent", "printed", "failed")


@dataclass(frozen=True)
class LastAlert:
    id: int | None
    chat: str
    sent_at: str | None
    message_id: int | None
    article: str | None
    post: str | None
    status: str = "sent"  # or "printed": shown on stdout only, no Telegram credentials


@dataclass(frozen=True)
class FailedAlert:
    id: int | None
    chat: str
    reason: str | None
    article: str | None
    post: str | None


@dataclass(frozen=True)
class IndexStatus:
    words_version: str | None  # what the file's index words were made with (None: not recorded)
    current: bool  # made by this code's normaliser, key rules and glossary; else: citewatch reindex


@dataclass(frozen=True)
class StatusReport:
    """One snapshot; field names and order are the ``status --json`` keys (``to_json``)."""

    database: str
    checked_at: str
    channels: list[ChannelStatus]
    feeds: list[FeedStatus]
    queues: Queues
    last_alert: LastAlert | None
    failed_alerts: list[FailedAlert]
    index: IndexStatus

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _lag(now: datetime, last: datetime | None) -> float | None:
    return round((now - last).total_seconds()) if last else None


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


async def gather(db: Database, now: datetime | None = None) -> StatusReport:
    """A snapshot: channels, feeds, queue depths, last alert, failed alerts."""
    now = now or utcnow()
    summary = await stats_repo.summary(db)
    posts = {c["channel"].lower(): c["posts"] for c in summary["channels"]}
    last = await alerts_repo.last_sent(db)
    tq = summary["translation_queue"]
    stored = await search_index.stored_words_version(db)
    return StatusReport(
        database=str(db.path),
        checked_at=now.isoformat(),
        channels=[
            ChannelStatus(
                channel=c.username,
                active=c.active,
                posts=posts.get(c.username.lower(), 0),
                last_success=_iso(c.last_success_at),
                lag_seconds=_lag(now, c.last_success_at),
                last_error=c.last_error,
                last_error_at=_iso(c.last_error_at),
                paused_until=_iso(c.paused_until),
                added_at=_iso(c.added_at),
                state=c.state,
            )
            for c in await channels_repo.list_all(db)
        ],
        feeds=[
            FeedStatus(
                feed=f.url,
                title=f.title,
                last_success=_iso(f.last_success_at),
                lag_seconds=_lag(now, f.last_success_at),
                last_error=f.last_error,
                last_error_at=_iso(f.last_error_at),
                next_poll=_iso(f.next_poll_at),
                added_at=_iso(f.added_at),
            )
            for f in await feeds_repo.list_all(db)
        ],
        queues=Queues(
            translations=TranslationDepth(pending=tq.get("pending", 0), failed=tq.get("failed", 0)),
            alerts=await alerts_repo.counts_by_status(db),
        ),
        last_alert=None if last is None else LastAlert(
            id=last.alert.id,
            chat=last.alert.chat,
            sent_at=_iso(last.alert.sent_at),
            message_id=last.alert.message_id,
            article=last.article_url,
            post=last.post_url,
            status=last.alert.status,
        ),
        failed_alerts=[
            FailedAlert(id=v.alert.id, chat=v.alert.chat, reason=v.alert.last_error,
                        article=v.article_url, post=v.post_url)
            for v in await alerts_repo.failed(db)
        ],
        index=IndexStatus(words_version=stored,
                          current=stored == search_index.words_version()),
    )


def problems(report: StatusReport, stale_after: float) -> list[str]:
    """Why the service looks unhealthy (empty: healthy). It is when it has sources — watched
    channels or feeds — and none of them succeeded within ``stale_after`` seconds (a source that
    never succeeded counts from when it was added): whatever each error says, nothing arrives.
    Nothing to watch is not a fault."""
    now = datetime.fromisoformat(report.checked_at)
    sources = [(c.lag_seconds, c.added_at) for c in report.channels if c.active]
    sources += [(f.lag_seconds, f.added_at) for f in report.feeds]
    if not sources:
        return []
    waits = [lag if lag is not None else
             (now - datetime.fromisoformat(added)).total_seconds() if added else 0.0
             for lag, added in sources]
    if min(waits) <= stale_after:
        return []
    known = [lag for lag, _ in sources if lag is not None]
    last = f"the last success was {fmt_lag(min(known))}" if known else "none ever succeeded"
    return [f"no channel or feed succeeded in the last {fmt_lag(stale_after).removesuffix(' ago')}"
            f" ({last})"]


def fmt_lag(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"
