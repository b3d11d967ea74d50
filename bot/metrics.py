"""Prometheus metrics (optional: served only when METRICS_PORT is set).

Totals that live in the database (posts, articles, citations, queue depths, alerts by status) are
gauges refreshed from it by ``refresh(db)``, so they are right after a restart and no module has to
remember to count. Things that happen only in memory — alerts delivered or given up by this process,
flood waits — are counters incremented where they happen.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, start_http_server

from storage import alerts as alerts_repo
from storage import stats as stats_repo
from storage.db import Database

POSTS_STORED = Gauge("citewatch_posts_stored", "posts in the database")
ARTICLES_FETCHED = Gauge("citewatch_articles_fetched", "articles in the database")
CITATIONS = Gauge("citewatch_citations", "citations found")
QUEUE_DEPTH = Gauge("citewatch_queue_depth", "items waiting in a queue", ["queue"])
ALERTS = Gauge("citewatch_alerts", "alerts by status", ["status"])
ALERTS_SENT = Counter("citewatch_alerts_sent", "alert messages delivered by this process")
ALERTS_FAILED = Counter("citewatch_alerts_failed", "alert messages given up (permanent errors)")
FLOOD_WAITS = Counter("citewatch_flood_waits", "flood waits received from Telegram", ["where"])


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> None:
    """Serve /metrics on ``addr``:``port`` (a daemon thread of prometheus_client); loopback unless
    METRICS_ADDR says otherwise, since the numbers describe what is being watched."""
    start_http_server(port, addr=addr)


async def refresh(db: Database) -> None:
    """Set the database-backed gauges (schedule this every minute or so when metrics are on)."""
    s = await stats_repo.summary(db)
    POSTS_STORED.set(s["posts"])
    ARTICLES_FETCHED.set(s["articles_total"])
    CITATIONS.set(s["citations"] or 0)
    QUEUE_DEPTH.labels("translations").set(sum(s["translation_queue"].values()))
    counts = await alerts_repo.counts_by_status(db)
    QUEUE_DEPTH.labels("alerts").set(counts.get("pending", 0))
    for status, n in counts.items():
        ALERTS.labels(status).set(n)
