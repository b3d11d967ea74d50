"""robots.txt for article pages: an outlet that disallows our user agent is not fetched.

RFC 9309 semantics through Protego (Scrapy's parser: longest match, ``*`` and ``$``, Allow beats
Disallow on a tie — the stdlib parser takes the first match and knows no wildcards). A robots.txt
that is missing (4xx) allows everything; one that cannot be read (5xx, network) disallows the host
until the next try, as RFC 9309 asks. Each origin's answer is cached for ``TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from protego import Protego

from bot.errors import FetchError
from bot.news.fetch import Fetcher, HTTPStatusError

#: How long one robots.txt answer is trusted.
TTL = 3600.0
#: After a failed read (5xx, network) the host is retried sooner.
ERROR_TTL = 300.0
#: robots.txt larger than this is cut (RFC 9309 asks parsers to read at least 500 KiB).
MAX_BYTES = 512 * 1024


class RobotsDisallowed(FetchError):
    """The outlet's robots.txt does not let us fetch this page."""


class RobotsUnavailable(RobotsDisallowed):
    """The outlet's robots.txt cannot be read now (5xx, network): ask again later."""


class RobotsCache:
    """``await robots.check(url)`` raises RobotsDisallowed (for good) or RobotsUnavailable (for
    now); one robots.txt fetch per origin and TTL."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self.fetcher = fetcher
        # the product token is what robots.txt groups name ("citewatch/0.1 (+…)" → "citewatch")
        self.agent = user_agent.split("/")[0].split()[0] if user_agent.strip() else "*"
        self._rules: dict[str, tuple[float, Protego | None, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        async with self._locks.setdefault(origin, asyncio.Lock()):
            cached = self._rules.get(origin)
            if cached is None or cached[0] <= time.monotonic():
                cached = await self._load(origin)
                self._rules[origin] = cached
        _until, rules, why = cached
        if rules is None:
            raise RobotsUnavailable(f"robots.txt of {parts.netloc} could not be read ({why}); "
                                    "not fetched until it can")
        if not rules.can_fetch(url, self.agent):
            raise RobotsDisallowed(f"disallowed by robots.txt of {parts.netloc}")

    async def _load(self, origin: str) -> tuple[float, Protego | None, str]:
        now = time.monotonic()
        try:
            res = await self.fetcher.get(origin + "/robots.txt", {"Accept": "text/plain"})
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:  # no robots.txt (or refused to us): everything allowed
                return now + TTL, Protego.parse(""), ""
            return now + ERROR_TTL, None, str(exc)
        except FetchError as exc:
            return now + ERROR_TTL, None, str(exc)
        text = res.body[:MAX_BYTES].decode("utf-8", "replace")
        return now + TTL, Protego.parse(text), ""
