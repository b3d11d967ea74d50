"""The alerts outbox: which alerts are due, grouped into one message per (article, chat), and their fate.

Rows are created by ``storage.citations.store`` in the transaction that stores the citation, so an
alert can never be lost between "found" and "queued". The sender reads due groups here, sends, and
records the outcome. ``attempts`` is raised *before* a send (``begin_attempt``) so that after a crash
we still know which rows were in flight — a resend of those that Telegram reports as a duplicate was
delivered and is marked sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from storage import posts as posts_repo
from storage import stories as stories_repo
from storage.db import Database
from storage.models import Alert, Article, Citation, Post, from_iso, from_row, post_url, to_iso, utcnow


@dataclass
class AlertItem:
    """One citation of the article as it goes into the message."""

    alert: Alert
    citation: Citation
    post: Post


@dataclass
class AlertGroup:
    """Every due alert of one article for one chat: they are sent as one message."""

    chat: str
    article: Article
    items: list[AlertItem] = field(default_factory=list)
    #: every stored copy of the article's story, the first published first (empty: no story)
    story: list[Article] = field(default_factory=list)

    @property
    def alert_ids(self) -> list[int]:
        return [i.alert.id for i in self.items if i.alert.id is not None]

    @property
    def first_id(self) -> int:
        """The smallest alert id: the random_id of the message is derived from it."""
        return min(self.alert_ids)


@dataclass
class AlertView:
    """An alert with enough context to show it in ``citewatch status``."""

    alert: Alert
    article_url: str | None
    article_title: str | None
    post_url: str | None


_DUE = """
SELECT a.id, a.citation_id, a.chat, a.status, a.attempts, a.next_attempt_at, a.last_error,
       a.message_id, a.created_at, a.sent_at,
       c.article_id, c.post_id, c.score, c.evidence, c.created_at AS c_created,
       r.url, r.canonical_url, r.title, r.author, r.outlet, r.published, r.lang, r.feed_id,
       r.story_id
FROM alerts a
JOIN citations c ON c.id = a.citation_id
JOIN articles r ON r.id = c.article_id
WHERE a.status = 'pending' AND a.next_attempt_at <= ?
ORDER BY a.id
LIMIT ?
"""


def _alert(r: aiosqlite.Row, article_id: int | None = None) -> Alert:
    return from_row(Alert, r, article_id=article_id)


async def due(db: Database, now: datetime | None = None, limit: int = 200) -> list[AlertGroup]:
    """Pending alerts whose time has come, grouped by (article, chat), oldest group first.

    A citation whose post row is gone (deleted with ON DELETE CASCADE) takes its alert with it, so
    every row here has a post.
    """
    rows = await db.fetchall(_DUE, (to_iso(now or utcnow()), limit))
    posts = {p.id: p for p in await posts_repo.get_many(db, {r["post_id"] for r in rows})}
    groups: dict[tuple[int, str], AlertGroup] = {}
    for r in rows:
        key = (r["article_id"], r["chat"])
        if key not in groups:
            groups[key] = AlertGroup(
                chat=r["chat"],
                article=Article(
                    id=r["article_id"], url=r["url"], canonical_url=r["canonical_url"],
                    title=r["title"], author=r["author"], outlet=r["outlet"],
                    published=from_iso(r["published"]), lang=r["lang"], feed_id=r["feed_id"],
                    story_id=r["story_id"],
                ),
            )
        post = posts.get(r["post_id"])
        if post is None:
            continue
        citation = Citation(
            id=r["citation_id"], article_id=r["article_id"], post_id=r["post_id"],
            score=r["score"], evidence=json.loads(r["evidence"] or "[]"),
            created_at=from_iso(r["c_created"]), channel=post.channel, message_id=post.message_id,
            article_url=r["url"], article_title=r["title"],
        )
        groups[key].items.append(AlertItem(_alert(r, r["article_id"]), citation, post))
    out = [g for g in groups.values() if g.items]
    for g in out:
        if g.article.story_id is not None:
            g.story = await stories_repo.members(db, g.article.story_id)
    return out


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


async def begin_attempt(db: Database, ids: Sequence[int]) -> None:
    """Count an attempt before sending, so a crash mid-send leaves a trace on the rows in flight."""
    if ids:
        await db.execute(
            f"UPDATE alerts SET attempts = attempts + 1 WHERE id IN ({_marks(ids)})", list(ids)
        )


#: what became of a delivered alert: sent to Telegram, or printed on stdout (no credentials)
DELIVERED = ("sent", "printed")


async def mark_sent(db: Database, ids: Sequence[int], message_id: int | None,
                    status: str = "sent") -> None:
    """Delivered (``message_id`` is None when Telegram only told us it was a duplicate); ``status``
    'printed' when it only went to stdout, so nobody reads "sent" for a message never sent."""
    if status not in DELIVERED:
        raise ValueError(f"not a delivered status: {status!r}")
    if ids:
        await db.execute(
            "UPDATE alerts SET status = ?, message_id = ?, sent_at = ?, last_error = NULL"
            f" WHERE id IN ({_marks(ids)})",
            [status, message_id, to_iso(utcnow()), *ids],
        )


async def mark_failed(db: Database, ids: Sequence[int], reason: str) -> None:
    """Given up for good (chat gone, write forbidden, bot blocked); the reason is shown by status."""
    if ids:
        await db.execute(
            f"UPDATE alerts SET status = 'failed', last_error = ? WHERE id IN ({_marks(ids)})",
            [reason, *ids],
        )


async def postpone(db: Database, ids: Sequence[int], until: datetime, error: str) -> None:
    """Try again at ``until`` (flood wait, network trouble); the rows stay pending."""
    if ids:
        await db.execute(
            "UPDATE alerts SET next_attempt_at = ?, last_error = ?"
            f" WHERE id IN ({_marks(ids)})",
            [to_iso(until), error, *ids],
        )


async def counts_by_status(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT status, count(*) FROM alerts GROUP BY status")
    out = {"pending": 0, "sent": 0, "printed": 0, "failed": 0}
    out.update({r[0]: r[1] for r in rows})
    return out


_VIEW = """
SELECT a.*, c.article_id, r.url AS article_url, r.title AS article_title,
       ch.username, p.message_id AS post_message_id
FROM alerts a
JOIN citations c ON c.id = a.citation_id
JOIN articles r ON r.id = c.article_id
JOIN posts p ON p.id = c.post_id
JOIN channels ch ON ch.id = p.channel_id
"""


def _view(r: aiosqlite.Row) -> AlertView:
    return AlertView(
        alert=_alert(r, r["article_id"]),
        article_url=r["article_url"],
        article_title=r["article_title"],
        post_url=post_url(r["username"], r["post_message_id"]),
    )


async def last_sent(db: Database) -> AlertView | None:
    """The last delivered alert, sent or printed (its ``status`` says which)."""
    r = await db.fetchone(_VIEW + " WHERE a.status IN ('sent', 'printed')"
                          " ORDER BY a.sent_at DESC, a.id DESC LIMIT 1")
    return _view(r) if r else None


async def failed(db: Database, limit: int = 20) -> list[AlertView]:
    """The most recent failed alerts with their reasons."""
    rows = await db.fetchall(_VIEW + " WHERE a.status = 'failed' ORDER BY a.id DESC LIMIT ?", (limit,))
    return [_view(r) for r in rows]


async def list_all(db: Database, status: str | None = None) -> list[Alert]:
    """Alerts in id order (all, or those with ``status``)."""
    rows = await db.fetchall(
        "SELECT a.*, c.article_id FROM alerts a JOIN citations c ON c.id = a.citation_id"
        " WHERE ? IS NULL OR a.status = ? ORDER BY a.id",
        (status, status),
    )
    return [_alert(r, r["article_id"]) for r in rows]
