"""A real HTTP server on 127.0.0.1 for tests: routes map a path to bytes or to a handler.

Runs in a thread (stdlib ``ThreadingHTTPServer``) so both sync and async code under test talk to it
over a real socket. Every request is recorded, so tests can assert on conditional headers, pacing, etc.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    time: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (time-out tests)

    @classmethod
    def json(cls, obj: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **headers})


Handler = Callable[[Request], Response]


class TestHTTPServer:
    """``with TestHTTPServer() as srv: srv.route("/feed.xml", Response(...)); srv.url("/feed.xml")``."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[Request] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                outer.requests.append(req)
                route = outer.routes.get(parts.path)
                if route is None:
                    resp = Response(404, b"not found", {"Content-Type": "text/plain"})
                elif callable(route):
                    resp = route(req)
                else:
                    resp = route
                if resp.delay:
                    time.sleep(resp.delay)
                data = resp.body.encode() if isinstance(resp.body, str) else resp.body
                try:
                    self.send_response(resp.status)
                    headers = {"Content-Type": "text/html; charset=utf-8", **resp.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        # a short poll interval makes shutdown() quick (the default waits up to 0.5 s per server)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, response: Response | Handler) -> None:
        self.routes[path] = response

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> TestHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TestHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
