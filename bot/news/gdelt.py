"""GDELT DOC 2.0 API as a feed: a ``gdelt:QUERY`` feed lists articles matching QUERY worldwide.

GDELT is free and keyless but asks for at most one request every 5 seconds per address; it says so
in a plain-text body ("Please limit requests to one every 5 seconds…"), not always with a 429. So
every GDELT request of the process goes through one ``RateGate``, and a rate-limit reply widens the
gap for a while. Other replies seen in the wild: ``{}`` when nothing matches (not an error), JSON
with raw control characters inside strings (accepted), malformed JSON and plain-text query errors
("The specified phrase is too short.") — each a one-line ``GdeltError`` on the feed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from bot.errors import FetchError
from bot.news.feeds import FeedEntry, ParsedFeed
from storage import meta
from storage.db import Database

PREFIX = "gdelt:"
DEFAULT_API_URL = "https://api.gdeltproject.org/api/v2/doc/doc"
#: GDELT's own rule: never two requests within this many seconds (across every GDELT feed).
MIN_GAP = 5.0
#: After a "Please limit requests" reply the gap is this long until a request succeeds again.
BACKOFF_GAP = 30.0
#: The most GDELT returns in one artlist reply.
MAX_RECORDS = 250
#: The first poll of a query looks back this far; later ones since the last success (+ margin).
FIRST_LOOKBACK = timedelta(hours=24)
MIN_LOOKBACK = timedelta(minutes=15)  # GDELT's smallest timespan
LOOKBACK_MARGIN = timedelta(minutes=15)  # GDELT indexes an article up to ~15 min after publication


class GdeltError(FetchError):
    """GDELT answered, but not with a usable article list (one line, for ``feeds list``)."""


class GdeltRateLimited(GdeltError):
    """GDELT asked us to slow down."""

    retry_after = BACKOFF_GAP


@dataclass(frozen=True)
class GdeltArticle:
    url: str
    title: str | None
    seen: datetime | None
    domain: str | None
    language: str | None
    country: str | None


def is_gdelt(feed_url: str) -> bool:
    return feed_url.startswith(PREFIX)


def feed_url(query: str) -> str:
    """The feed URL stored for a query (``gdelt:QUERY``)."""
    return PREFIX + " ".join(query.split())


def query_of(feed: str) -> str:
    return feed[len(PREFIX):].strip()


def check_query(query: str) -> str:
    """The query, or ValueError naming what GDELT would refuse (so ``feeds add`` fails early)."""
    q = " ".join(query.split())
    if not q:
        raise ValueError("empty GDELT query (write gdelt:WORDS)")
    if q.count('"') % 2:
        raise ValueError(f"unbalanced quote in GDELT query: {q}")
    depth = 0
    for ch in q:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in GDELT query: {q}")
    if len(q) > 1000:
        raise ValueError("GDELT query longer than 1000 characters")
    return q


def timespan(covered: datetime | None, now: datetime) -> str:
    """GDELT ``timespan`` back to the last poll that took every entry (with a margin), so entries
    a fetch cap left over are listed again; at most FIRST_LOOKBACK."""
    if covered is None:
        span = FIRST_LOOKBACK
    else:
        span = min(max(now - covered + LOOKBACK_MARGIN, MIN_LOOKBACK), FIRST_LOOKBACK)
    return f"{max(15, int(span.total_seconds() // 60))}min"


def request_url(api_url: str, query: str, span: str) -> str:
    params = {"query": query, "mode": "artlist", "format": "json", "sort": "datedesc",
              "timespan": span, "maxrecords": str(MAX_RECORDS)}
    return f"{api_url}{'&' if '?' in api_url else '?'}{urlencode(params)}"


def _seen(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def parse_artlist(body: bytes) -> list[GdeltArticle]:
    """GDELT's artlist JSON → articles. ``{}`` (no match) is an empty list; anything else that is
    not the documented shape raises GdeltError with GDELT's own words when it sent some."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        raise GdeltError("empty reply from GDELT")
    if not text.startswith(("{", "[")):
        line = " ".join(text.split())[:200]
        if "limit requests" in line.lower():
            raise GdeltRateLimited(f"GDELT rate limit: {line}")
        raise GdeltError(f"GDELT refused the query: {line}")
    try:
        # strict=False: GDELT titles sometimes carry raw control characters inside strings
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise GdeltError(f"malformed JSON from GDELT: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise GdeltError("unexpected JSON from GDELT: not an object")
    items = data.get("articles", [])
    if not isinstance(items, list):
        raise GdeltError("unexpected JSON from GDELT: 'articles' is not a list")
    out: list[GdeltArticle] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            continue
        out.append(GdeltArticle(url.strip(), _text(item.get("title")), _seen(item.get("seendate")),
                                _text(item.get("domain")), _text(item.get("language")),
                                _text(item.get("sourcecountry"))))
    return out


def as_feed(query: str, articles: list[GdeltArticle]) -> ParsedFeed:
    """The article list as feed entries (the URL is the entry id: GDELT has no other)."""
    entries = [FeedEntry(a.url, a.url, a.title, a.seen) for a in articles]
    return ParsedFeed(f"GDELT: {query}", entries, kind="gdelt")


class RateGate:
    """At most one request per ``gap`` seconds, whoever asks: ``async with gate: <request>``.

    The gap is measured between request *starts* and the lock is held for the whole request, so
    two GDELT requests are never in flight at once nor started within ``gap`` of each other. With
    ``db``, turns are claimed in the database file, so ``citewatch feeds poll`` beside a running
    service keeps the rule too: GDELT counts per address, not per process.
    """

    def __init__(self, gap: float = MIN_GAP, db: Database | None = None) -> None:
        self.gap = gap
        self.db = db
        self.extra = 0.0  # widened after a rate-limit reply, reset by a good one
        self._lock = asyncio.Lock()
        self._last: float | None = None

    async def __aenter__(self) -> RateGate:
        await self._lock.acquire()
        try:
            gap = max(self.gap, self.extra)
            if self.db is not None:
                wait = await meta.claim_turn(self.db, "gdelt_turn", gap, time.time()) - time.time()
            else:
                wait = 0.0 if self._last is None else self._last + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            self._lock.release()
            raise
        self._last = time.monotonic()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()

    def slow_down(self) -> None:
        self.extra = BACKOFF_GAP

    def recovered(self) -> None:
        self.extra = 0.0
