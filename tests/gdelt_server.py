"""A GDELT DOC 2.0 API stand-in for tests: answers ``/api/v2/doc/doc`` the way GDELT does.

Replies are taken from a queue (the last one repeats): the documented artlist JSON, or GDELT's
error replies as it sends them — a plain-text "Please limit requests…" body with status 200, an
empty ``{}`` when nothing matches, malformed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from tests.httpserver import Request, Response, TestHTTPServer

PATH = "/api/v2/doc/doc"
RATE_LIMITED = "Please limit requests to one every 5 seconds or contact us for larger queries."


def artlist(urls: Iterable[str], seen: str = "20260101T101500Z") -> Response:
    """The documented ``mode=artlist&format=json`` shape (every field GDELT sends)."""
    items = []
    for u in urls:
        host = urlsplit(u).hostname or ""
        items.append({"url": u, "url_mobile": "", "title": f"Story at {host}", "seendate": seen,
                      "socialimage": "", "domain": host, "language": "English",
                      "sourcecountry": "United States"})
    return Response(200, json.dumps({"articles": items}), {"Content-Type": "application/json"})


def rate_limited() -> Response:
    return Response(200, RATE_LIMITED, {"Content-Type": "text/html"})


def empty() -> Response:
    return Response(200, "{}", {"Content-Type": "application/json"})


def malformed() -> Response:
    return Response(200, '{"articles": [{"url": "https://x.example/a", "title": "cut', {
        "Content-Type": "application/json"})


class FakeGdelt:
    """``gd = FakeGdelt(http); gd.replies = [rate_limited(), artlist([...])]``."""

    def __init__(self, http: TestHTTPServer) -> None:
        self.http = http
        self.replies: list[Response] = [empty()]
        http.route(PATH, self)

    @property
    def url(self) -> str:
        return self.http.url(PATH)

    @property
    def requests(self) -> list[Request]:
        return self.http.requests_to(PATH)

    def __call__(self, req: Request) -> Response:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
