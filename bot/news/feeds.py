"""Pure feed logic: bytes → entries, and the schedule decider (when to poll a feed next).

feedparser is only ever given bytes we fetched ourselves (wrapped in a stream): given a string that
looks like a URL or a path it would fetch or open it, bypassing every rule of ``Fetcher``.
"""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import feedparser

from bot.errors import CitewatchError
from bot.news.fetch import looks_binary, looks_html

#: The longest we wait between polls of one feed, however often it failed or whatever it asked.
MAX_DELAY = 24 * 3600
#: A Retry-After longer than this is treated as this (a server cannot park a feed for a year).
MAX_RETRY_AFTER = 7 * 24 * 3600

_FEED_LINK = re.compile(
    rb"<link[^>]+type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.IGNORECASE
)
_HREF = re.compile(rb"href=[\"']([^\"']+)[\"']", re.IGNORECASE)


class FeedError(CitewatchError):
    """The response is not a usable RSS/Atom feed (HTML, malformed XML, binary)."""


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str
    link: str
    title: str | None = None
    published: datetime | None = None


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    warning: str | None = None  # feedparser recovered from an error; entries are still usable
    kind: str = "rss"  # "rss", "atom", "sitemap" or "gdelt": what the URL turned out to be


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if t:
            return datetime.fromtimestamp(calendar.timegm(t), UTC)
    return None


def _html_error(body: bytes, url: str) -> FeedError:
    hint = ""
    if (m := _FEED_LINK.search(body[:200_000])) and (h := _HREF.search(m.group(0))):
        href = urljoin(url, h.group(1).decode("utf-8", "replace"))
        hint = f" (the page links to a feed: {href})"
    return FeedError(f"not a feed: the URL returned an HTML page{hint}")


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Entries with an http(s) link, newest information first as the feed lists them.

    Raises FeedError with one line when the bytes are HTML, binary or XML that yields nothing.
    """
    head = body[:4096]
    if not body.strip():
        raise FeedError("empty response, not a feed")
    if looks_binary(head):
        raise FeedError("binary content, not a feed")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not stripped.startswith(b"<?xml") and looks_html(head):
        raise _html_error(body, url)
    from bot.news.sitemap import looks_like_sitemap, parse_sitemap  # it builds on this module

    if looks_like_sitemap(head):
        return parse_sitemap(body, url)
    # without a content type feedparser flags every feed as bozo ("no Content-type specified")
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, feedparser.CharacterEncodingOverride):
        problem = None  # declared one encoding, was another: the text is fine
    if not parsed.entries and (problem is not None or not parsed.get("version")):
        if problem is not None:
            reason = " ".join(str(problem).split()) or type(problem).__name__
            raise FeedError(f"malformed feed XML: {reason}")
        raise FeedError("not an RSS or Atom feed")
    entries: list[FeedEntry] = []
    for e in parsed.entries:
        link = (e.get("link") or "").strip()
        if link:
            link = urljoin(url, link)
        if not link.startswith(("http://", "https://")):
            continue
        entry_id = str(e.get("id") or link).strip()
        entries.append(FeedEntry(entry_id, link, (e.get("title") or None), _entry_time(e)))
    if problem is not None and not entries:
        raise FeedError(f"malformed feed XML: {' '.join(str(problem).split()) or type(problem).__name__}")
    title = parsed.feed.get("title") or None
    warning = None
    if problem is not None:
        warning = "feed has errors: " + (" ".join(str(problem).split()) or type(problem).__name__)
    kind = "atom" if str(parsed.get("version", "")).startswith("atom") else "rss"
    return ParsedFeed(title, entries, warning, kind)


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` seconds from a Cache-Control header, if any."""
    if not cache_control:
        return None
    m = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control, re.IGNORECASE)
    return int(m.group(1)) if m else None


def next_after_success(
    now: datetime, interval: int, *, max_age: int | None = None, retry_after: float | None = None
) -> datetime:
    """Poll again after our interval, but not before the server said the feed can change."""
    delay = float(interval)
    if max_age is not None:
        delay = max(delay, min(max_age, MAX_DELAY))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=delay)


def next_after_error(
    now: datetime, interval: int, error_count: int, *, retry_after: float | None = None
) -> datetime:
    """Exponential back-off: the n-th failure in a row waits interval·2ⁿ (at most a day), and never
    less than a Retry-After the server sent."""
    delay = min(float(interval) * 2 ** min(max(error_count, 1), 20), MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=delay)
