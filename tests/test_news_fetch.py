"""The safe fetcher against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from pathlib import Path

import httpcore
import httpx
import pytest

from bot.config import Settings, load_settings
from bot.errors import FetchError
from bot.news.fetch import (
    Fetcher,
    HTTPStatusError,
    PublicOnlyBackend,
    check_address,
    looks_binary,
)
from tests.httpserver import Response, TestHTTPServer

PAGE = "<!DOCTYPE html><html><head><title>t</title></head><body><p>hello</p></body></html>"


def make_settings(tmp_path: Path, **extra: str) -> Settings:
    env = {"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": str(tmp_path / "s"),
           "TG_BOT_SESSION": str(tmp_path / "b"), "ALLOW_PRIVATE_URLS": "true",
           "FETCH_TIMEOUT": "5", "DISCOVER": "off", "FETCH_HOST_GAP": "0", **extra}
    return load_settings(env, dotenv_path=None)


async def test_page_and_redirect(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/story", Response(200, PAGE))
    http.route("/short", Response(301, "", {"Location": "/hop"}))
    http.route("/hop", Response(302, "", {"Location": http.url("/story") + "#frag"}))
    async with Fetcher(make_settings(tmp_path)) as f:
        res = await f.get(http.url("/short"), accept="html")
    assert (res.status, res.url, res.final_url) == (200, http.url("/short"), http.url("/story"))
    assert res.body == PAGE.encode()
    assert http.requests[0].headers["user-agent"].startswith("citewatch/")


async def test_redirect_loop_and_limit(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/a", Response(302, "", {"Location": "/b"}))
    http.route("/b", Response(302, "", {"Location": "/a"}))
    for i in range(10):
        http.route(f"/chain{i}", Response(302, "", {"Location": f"/chain{i + 1}"}))
    async with Fetcher(make_settings(tmp_path, MAX_REDIRECTS="3")) as f:
        with pytest.raises(FetchError, match="redirect loop"):
            await f.get(http.url("/a"))
        with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
            await f.get(http.url("/chain0"))
    assert len(http.requests_to("/a")) == 1 and len(http.requests_to("/chain4")) == 0


async def test_redirect_to_other_scheme_refused(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/r", Response(302, "", {"Location": "file:///etc/passwd"}))
    async with Fetcher(make_settings(tmp_path)) as f:
        with pytest.raises(FetchError, match="only http and https"):
            await f.get(http.url("/r"))


async def test_private_addresses_refused_without_request(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/x", Response(200, PAGE))
    async with Fetcher(make_settings(tmp_path, ALLOW_PRIVATE_URLS="false")) as f:
        with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address"):
            await f.get(http.url("/x"))
        with pytest.raises(FetchError, match="loopback"):
            await f.get(f"http://localhost:{http.port}/x")
    assert http.requests == []


async def test_connections_themselves_refuse_private_addresses(http: TestHTTPServer,
                                                                tmp_path: Path) -> None:
    """The guard sits where the socket is opened, not only in the URL check before a request: a
    name that resolved to a public address at check time and to 127.0.0.1 at connect time (DNS
    rebinding) is refused there. Shown by sending through the fetcher's HTTP client directly."""
    http.route("/x", Response(200, PAGE))
    async with Fetcher(make_settings(tmp_path, ALLOW_PRIVATE_URLS="false")) as f:
        for url in (http.url("/x"), f"http://localhost:{http.port}/x"):
            with pytest.raises(httpx.ConnectError, match="loopback"):
                await f._client.get(url)
    backend = PublicOnlyBackend(timeout=5)
    with pytest.raises(httpcore.ConnectError, match="private"):
        await backend.connect_tcp("10.1.2.3", 80)
    assert http.requests == []
    # allowed (as in these tests): the same client setup reaches the local server
    async with Fetcher(make_settings(tmp_path)) as f:
        assert (await f.get(http.url("/x"))).status == 200


def test_check_address() -> None:
    bad = {"10.1.2.3": "private", "192.168.0.1": "private", "169.254.169.254": "link-local",
           "::1": "loopback", "::ffff:127.0.0.1": "loopback", "224.0.0.251": "multicast",
           "0.0.0.0": "unspecified", "fe80::1": "link-local", "100.64.0.1": "non-public"}
    for addr, why in bad.items():
        assert check_address(ipaddress.ip_address(addr)) == why, addr
    assert check_address(ipaddress.ip_address("93.184.216.34")) is None
    assert check_address(ipaddress.ip_address("2606:4700::1111")) is None


# address: (reason without ALLOW_PRIVATE_URLS, reason with it)
ADDRESS_CASES = {
    "169.254.169.254": ("link-local", "link-local"),
    "169.254.170.2": ("link-local", "link-local"),
    "fe80::1": ("link-local", "link-local"),
    "febf:ffff::1": ("link-local", "link-local"),
    "fd00:ec2::254": ("cloud-metadata", "cloud-metadata"),
    "100.100.100.200": ("cloud-metadata", "cloud-metadata"),
    "::ffff:169.254.169.254": ("link-local", "link-local"),
    "2002:a9fe:a9fe::1": ("6to4 form of a link-local", "6to4 form of a link-local"),
    "2002:7f00:1::": ("6to4 form of a loopback", None),
    "2002:0a00:0001::5": ("6to4 form of a private", None),
    "2001:0:4136:e378:8000:63bf:5601:5601": ("Teredo form of a link-local",
                                             "Teredo form of a link-local"),
    "2001:0:4136:e378:8000:63bf:80ff:fffe": ("Teredo form of a loopback", None),
    "64:ff9b::a9fe:a9fe": ("NAT64 form of a link-local", "NAT64 form of a link-local"),
    "64:ff9b::7f00:1": ("NAT64 form of a loopback", None),
    "64:ff9b:1::a9fe:a9fe": ("NAT64 form of a link-local", "NAT64 form of a link-local"),
    "64:ff9b:1:a9fe:a9:fe00::": ("NAT64 form of a link-local", "NAT64 form of a link-local"),
    "::169.254.169.254": ("IPv4-compatible form of a link-local", "IPv4-compatible form of a link-local"),
    "::ffff:0:a9fe:a9fe": ("IPv4-translated form of a link-local", "IPv4-translated form of a link-local"),
    "127.0.0.1": ("loopback", None),
    "10.0.0.1": ("private", None),
    "0.0.0.0": ("unspecified", None),
    # 6to4 and well-known NAT64 reach their IPv4 address: a public one is public
    "2002:5db8:d822::1": (None, None),
    "64:ff9b::5db8:d822": (None, None),
    "93.184.216.34": (None, None),
}


def test_check_address_embedded_forms_and_never_fetched() -> None:
    for addr, (strict, allowed) in ADDRESS_CASES.items():
        ip = ipaddress.ip_address(addr)
        assert (check_address(ip), check_address(ip, allow_private=True)) == (strict, allowed), addr


async def test_private_allowed_still_refuses_link_local_and_metadata(http: TestHTTPServer,
                                                                   tmp_path: Path) -> None:
    """ALLOW_PRIVATE_URLS=true (as in these tests) reaches 127.0.0.1 but never the link-local and
    cloud-metadata addresses, in any spelling: literal, IPv6 forms, a decimal host that resolves
    there, a redirect there, or a connection opened by the fetcher's client directly."""
    http.route("/ok", Response(200, PAGE))
    http.route("/to-metadata", Response(302, "", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    never = r"is an? (?:\S+ form of an? )?(?:link-local|cloud-metadata) address " \
            r"\(never fetched, whatever ALLOW_PRIVATE_URLS says\)$"
    async with Fetcher(make_settings(tmp_path, FETCH_TIMEOUT="1")) as f:
        assert (await f.get(http.url("/ok"))).status == 200
        for host in ("169.254.169.254", "[fe80::1]", "[fd00:ec2::254]", "100.100.100.200",
                     "[2002:a9fe:a9fe::]", "[2001:0:4136:e378:8000:63bf:5601:5601]",
                     "[64:ff9b::a9fe:a9fe]", "[::ffff:169.254.169.254]", "2852039166"):
            with pytest.raises(FetchError, match=r"^refused \S+: \S+ " + never):
                await f.get(f"http://{host}/latest/meta-data/")
        with pytest.raises(FetchError, match=r"^refused 169\.254\.169\.254: 169\.254\.169\.254 " + never):
            await f.get(http.url("/to-metadata"))
        with pytest.raises(httpx.ConnectError, match="link-local"):
            await f._client.get("http://169.254.169.254/")
    assert [r.path for r in http.requests] == ["/ok", "/to-metadata"]


async def test_declared_oversized_page_refused_before_reading(http: TestHTTPServer,
                                                              tmp_path: Path) -> None:
    http.route("/huge", Response(200, b"<html>" + b"x" * 50_000_000))
    started = time.monotonic()
    async with Fetcher(make_settings(tmp_path)) as f:
        with pytest.raises(FetchError, match=r"^page larger than 5 MB \(Content-Length 50,000,006\)$"):
            await f.get(http.url("/huge"), accept="html")
    assert time.monotonic() - started < 5


class DripServer:
    """Streams an HTML body of ``total`` bytes with no Content-Length, counting what the socket took."""

    def __init__(self, total: int = 50_000_000) -> None:
        self.total = total
        self.sent = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/big"

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html>")
            chunk = b"<p>" + b"a" * 65533
            try:
                while self.sent < self.total:
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass


async def test_streamed_50mb_page_cut_off_early(tmp_path: Path) -> None:
    srv = DripServer()
    async with Fetcher(make_settings(tmp_path)) as f:
        with pytest.raises(FetchError, match=r"^page larger than 5 MB \(stopped after [\d,]+ bytes\)$"):
            await f.get(srv.url, accept="html")
    srv.thread.join(10)
    assert not srv.thread.is_alive()
    assert srv.sent < 20_000_000, f"{srv.sent:,} bytes were sent before we stopped"


async def test_binary_and_non_html_refused(http: TestHTTPServer, tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    http.route("/img", Response(200, png, {"Content-Type": "image/png"}))
    http.route("/disguised", Response(200, png, {"Content-Type": "text/html"}))
    http.route("/pdf", Response(200, b"%PDF-1.7\n%\xe2\xe3", {"Content-Type": "application/octet-stream"}))
    http.route("/json", Response.json({"a": 1}))
    http.route("/plain", Response(200, "just words, no markup", {"Content-Type": "text/plain"}))
    async with Fetcher(make_settings(tmp_path)) as f:
        with pytest.raises(FetchError, match=r"not an HTML page \(Content-Type image/png\)"):
            await f.get(http.url("/img"), accept="html")
        with pytest.raises(FetchError, match="binary content, not a web page"):
            await f.get(http.url("/disguised"), accept="html")
        with pytest.raises(FetchError, match="binary content"):
            await f.get(http.url("/pdf"), accept="html")
        with pytest.raises(FetchError, match="not an HTML page"):
            await f.get(http.url("/json"), accept="html")
        with pytest.raises(FetchError, match="not an HTML page"):
            await f.get(http.url("/plain"), accept="html")
        with pytest.raises(FetchError, match="binary content, not a feed"):
            await f.get(http.url("/img"), accept="feed")
    assert looks_binary(b"\x00\x00\x00\x18ftypmp4") and not looks_binary("<p>привіт</p>".encode())


async def test_timeout(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/slow", Response(200, PAGE, delay=2.0))
    started = time.monotonic()
    async with Fetcher(make_settings(tmp_path, FETCH_TIMEOUT="0.3")) as f:
        with pytest.raises(FetchError, match=r"^timed out after 0\.3 s$"):
            await f.get(http.url("/slow"))
    assert time.monotonic() - started < 1.5


async def test_status_errors_carry_retry_after(http: TestHTTPServer, tmp_path: Path) -> None:
    http.route("/busy", Response(503, "down", {"Retry-After": "120"}))
    async with Fetcher(make_settings(tmp_path)) as f:
        with pytest.raises(HTTPStatusError) as info:
            await f.get(http.url("/busy"))
        with pytest.raises(FetchError, match="HTTP 404 Not Found"):
            await f.get(http.url("/missing"))
    assert (info.value.status, info.value.retry_after, str(info.value)) == \
        (503, 120.0, "HTTP 503 Service Unavailable")


async def test_one_request_at_a_time_per_host(http: TestHTTPServer, tmp_path: Path) -> None:
    import asyncio

    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(req: object) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return Response(200, PAGE)

    http.route("/p", handler)
    async with Fetcher(make_settings(tmp_path)) as f:
        await asyncio.gather(*(f.get(http.url("/p")) for _ in range(5)))
    assert len(http.requests_to("/p")) == 5
    assert peak == 1
