"""The one HTTP fetcher for feeds and articles: article URLs come from untrusted feeds and pages.

Safety rules, each a one-line ``FetchError`` (never a traceback):
- only http(s); the host is resolved and EVERY address checked — loopback, private, multicast,
  reserved and unspecified addresses are refused unless ALLOW_PRIVATE_URLS=true; link-local and
  cloud-metadata addresses always; IPv6 forms carrying a refused IPv4 address (6to4, Teredo, NAT64)
  too — and this is done again on every redirect hop and at connect time;
- redirects are followed by hand, at most MAX_REDIRECTS, and a loop is named as a loop;
- the body is streamed and abandoned as soon as it passes FETCH_MAX_BYTES, counted on decoded bytes
  as they are produced (bot/news/decompress.py: at most two gzip/deflate layers, each inflated in
  small pieces, so a nested gzip bomb costs neither memory nor time); a declared Content-Length over
  the cap is refused before reading;
- one deadline (FETCH_TIMEOUT) per hop covers connect, headers and the whole body (a slow drip
  cannot hold us forever);
- at most one request at a time per host, and FETCH_HOST_GAP seconds between the end of one and
  the start of the next (politeness; feeds and their articles share hosts);
- ``accept="html"`` refuses anything that is not an HTML page (Content-Type, then a sniff of the
  first bytes); binary content is refused for every kind.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from bot.config import Settings
from bot.errors import FetchError
from bot.news.decompress import ACCEPT_ENCODING, BodyDecoder

Accept = Literal["any", "html", "feed"]

_REDIRECTS = {301, 302, 303, 307, 308}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_SNIFF_TYPES = {"", "text/plain", "application/octet-stream", "binary/octet-stream"}
_BINARY_MAGIC = (
    b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b",
    b"RIFF", b"ID3", b"OggS", b"fLaC", b"\x7fELF", b"MZ", b"7z\xbc\xaf", b"Rar!", b"\x00\x00\x00",
    b"wOFF", b"wOF2", b"BZh", b"\xfd7zXZ",
)
_NOUN = {"html": "page", "feed": "feed", "any": "response"}


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HTTPStatusError(FetchError):
    """The server answered with an error status; ``retry_after`` (seconds) when it said so."""

    def __init__(self, url: str, status: int, reason: str, retry_after: float | None = None):
        self.url = url
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}{' ' + reason if reason else ''}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def looks_binary(head: bytes) -> bool:
    """Images, archives, PDFs, executables: known magic numbers, or NUL bytes in text that is not
    UTF-16 (which legitimately has them)."""
    if head.startswith(_BINARY_MAGIC):
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head[:2048]


def looks_html(head: bytes) -> bool:
    s = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if s.startswith((b"<!doctype html", b"<html")):
        return True
    return any(tag in s for tag in (b"<html", b"<head", b"<body", b"<article", b"<title"))


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never fetched, whatever ALLOW_PRIVATE_URLS says: link-local is where cloud metadata services live
# (169.254.169.254 on AWS, GCP, Azure, OpenStack), plus the ones outside it (AWS IPv6, Alibaba).
_ALWAYS_REFUSED = (
    (ipaddress.ip_network("169.254.0.0/16"), "link-local"),
    (ipaddress.ip_network("fe80::/10"), "link-local"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "cloud-metadata"),
    (ipaddress.ip_network("100.100.100.200/32"), "cloud-metadata"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
_V4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiouAEIOU' else 'a'} {noun}"


def _v4(bits: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(bits & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 address(es) an IPv6 address carries, with the form's name: 6to4 (2002::/16), Teredo
    (2001::/32, the client), NAT64 (64:ff9b::/96; the local-use 64:ff9b:1::/48 in each RFC 6052
    layout it may use), IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96)."""
    n = int(ip)
    if ip.sixtofour is not None:
        return "6to4", [ip.sixtofour]
    if ip.teredo is not None:
        return "Teredo", [ip.teredo[1]]
    if ip in _NAT64:
        return "NAT64", [_v4(n)]
    if ip in _NAT64_LOCAL:  # prefix /48, /56, /64 or /96 (bits 64-71 are always zero)
        return "NAT64", [_v4((n >> 56 & 0xFFFF) << 16 | n >> 40 & 0xFFFF),
                         _v4((n >> 48 & 0xFF) << 24 | n >> 32 & 0xFFFFFF), _v4(n >> 24), _v4(n)]
    if ip in _V4_TRANSLATED or (ip in _V4_COMPATIBLE and n > 1):
        return ("IPv4-translated" if ip in _V4_TRANSLATED else "IPv4-compatible"), [_v4(n)]
    return None


def _redirect_target(current: str, status: int, headers: httpx.Headers, seen: set[str]) -> str:
    """Where a redirect leads; FetchError without a Location or when it loops."""
    location = headers.get("location")
    if not location:
        raise FetchError(f"HTTP {status} redirect without a Location header")
    nxt = urljoin(current, location.strip()).split("#")[0]
    if nxt in seen:
        raise FetchError(f"redirect loop: {current} → {nxt}")
    return nxt


def check_address(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why this address must not be fetched (e.g. "loopback", "6to4 form of a link-local"), or None.

    Link-local and cloud-metadata addresses are refused even with ``allow_private``; the rest
    (loopback, private, multicast, reserved, unspecified, non-public) only without it. An IPv6
    address carrying an IPv4 one is refused when that IPv4 address is; 6to4 and the well-known NAT64
    prefix reach exactly their IPv4 address, so they are judged by it alone."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network, why in _ALWAYS_REFUSED:
        if ip.version == network.version and ip in network:
            return why
    if isinstance(ip, ipaddress.IPv6Address) and (wrapped := embedded_ipv4(ip)):
        form, inner = wrapped
        # the local-use NAT64 layouts are guesses: only the never-fetched addresses count there
        strict_inner = allow_private or ip in _NAT64_LOCAL
        for v4 in inner:
            if why := check_address(v4, allow_private=strict_inner):
                return f"{form} form of {_a(why)}"
        if form == "6to4" or ip in _NAT64:
            return None
    if allow_private:
        return None
    for attr, why in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                      ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                      ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return why
    if not ip.is_global:
        return "non-public"
    return None


async def public_address(host: str, port: int, timeout: float, *, allow_private: bool = False) -> str:
    """Resolve ``host`` and return an address to connect to; FetchError when ANY of its addresses
    is refused by ``check_address``."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            async with asyncio.timeout(timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError) as exc:
            raise FetchError(f"cannot resolve {host}: {_one_line(exc)}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        if why := check_address(ip, allow_private=allow_private):
            hint = ("set ALLOW_PRIVATE_URLS=true to allow" if check_address(ip, allow_private=True) is None
                    else "never fetched, whatever ALLOW_PRIVATE_URLS says")
            raise FetchError(f"refused {host[:200]}: {ip} is {_a(why)} address ({hint})")
    return str(addresses[0])


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to an address that passed ``public_address``, resolved at connect time.

    The URL check before a request resolves the name once; the HTTP library would resolve it
    again to connect, and a hostile DNS server can answer differently the second time (DNS
    rebinding) to reach 127.0.0.1 or the LAN. Connecting to the checked address closes that gap;
    TLS still verifies the certificate against the host name (httpcore passes it as SNI).
    """

    def __init__(self, timeout: float, *, allow_private: bool = False) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.timeout = timeout
        self.allow_private = allow_private

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            address = await public_address(host, port, timeout or self.timeout,
                                           allow_private=self.allow_private)
        except FetchError as exc:  # surfaces from httpx as a ConnectError with our reason
            raise httpcore.ConnectError(str(exc)) from exc
        return await self._inner.connect_tcp(address, port, timeout=timeout,
                                             local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _guarded_transport(timeout: float, allow_private: bool) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx does not expose httpcore's network_backend; the pool reads it on every new connection
    transport._pool._network_backend = PublicOnlyBackend(timeout, allow_private=allow_private)
    return transport


class Fetcher:
    """``async with Fetcher(settings) as f: result = await f.get(url, accept="html")``."""

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None) -> None:
        self.timeout = settings.fetch_timeout
        self.max_bytes = settings.fetch_max_bytes
        self.max_redirects = settings.max_redirects
        self.allow_private = settings.allow_private_urls
        # trust_env=False: a proxy from the environment would bypass the address checks
        self._client = client or httpx.AsyncClient(
            # guarded even with ALLOW_PRIVATE_URLS: link-local and metadata addresses stay refused
            transport=_guarded_transport(settings.fetch_timeout, self.allow_private),
            follow_redirects=False,
            timeout=httpx.Timeout(settings.fetch_timeout),
            trust_env=False,
            # only what BodyDecoder decodes (httpx would add br/zstd when their packages are present)
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        self._own_client = client is None
        self._locks: dict[str, asyncio.Lock] = {}
        self.host_gap = settings.fetch_host_gap
        self._done_at: dict[str, float] = {}  # host → when its last request ended (monotonic)

    async def close(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def get(
        self, url: str, headers: Mapping[str, str] | None = None, *, accept: Accept = "any"
    ) -> FetchResult:
        """GET ``url`` following redirects; 2xx and 304 return, anything else raises FetchError."""
        seen: set[str] = set()
        current = url
        for _hop in range(self.max_redirects + 1):
            seen.add(current.split("#")[0])
            await self._check_url(current)
            status, resp_headers, body = await self._hop(current, headers, accept)
            if status in _REDIRECTS:
                current = _redirect_target(current, status, resp_headers, seen)
                continue
            return FetchResult(url, current, status, resp_headers, body)
        raise FetchError(f"too many redirects (more than {self.max_redirects})")

    async def get_once(
        self, url: str, headers: Mapping[str, str] | None = None, *, accept: Accept = "any"
    ) -> FetchResult:
        """One request, no redirect followed: the caller decides what a redirect means (the web
        preview: no such channel). The same address rules, caps and errors as ``get``."""
        await self._check_url(url)
        status, resp_headers, body = await self._hop(url, headers, accept)
        return FetchResult(url, url, status, resp_headers, body)

    async def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"refused {parts.scheme or 'relative'} URL: only http and https")
        host = parts.hostname
        if not host:
            raise FetchError(f"URL without a host: {url[:200]}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"bad port in URL: {url[:200]}") from None
        await public_address(host, port, self.timeout, allow_private=self.allow_private)

    async def _hop(
        self, url: str, headers: Mapping[str, str] | None, accept: Accept
    ) -> tuple[int, httpx.Headers, bytes]:
        host = (urlsplit(url).hostname or "").lower()
        async with self._locks.setdefault(host, asyncio.Lock()):
            if (done := self._done_at.get(host)) is not None:
                wait = done + self.host_gap - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._request(url, headers, accept)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise FetchError(f"timed out after {self.timeout:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {_one_line(exc)}") from exc
            finally:
                self._done_at[host] = time.monotonic()

    async def _request(
        self, url: str, headers: Mapping[str, str] | None, accept: Accept
    ) -> tuple[int, httpx.Headers, bytes]:
        request = self._client.build_request("GET", url, headers=dict(headers or {}))
        resp = await self._client.send(request, stream=True)
        try:
            status = resp.status_code
            if status in _REDIRECTS or status == 304:
                return status, resp.headers, b""
            if status >= 400 or status < 200:
                raise HTTPStatusError(
                    url, status, resp.reason_phrase, parse_retry_after(resp.headers.get("retry-after"))
                )
            noun = _NOUN[accept]
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept == "html" and ctype not in _HTML_TYPES | _SNIFF_TYPES:
                raise FetchError(f"not an HTML page (Content-Type {ctype})")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{noun} larger than {_mb(self.max_bytes)} "
                                 f"(Content-Length {int(declared):,})")
            # decoded here, piece by piece, so the cap holds for decoded bytes as they are produced
            decoder = BodyDecoder(resp.headers.get_list("content-encoding"))
            body = bytearray()
            received = 0
            async for raw in resp.aiter_raw():
                received += len(raw)
                for piece in decoder.feed(raw):
                    body += piece
                    if len(body) > self.max_bytes:
                        break
                if len(body) > self.max_bytes or received > self.max_bytes:
                    raise FetchError(f"{noun} larger than {_mb(self.max_bytes)} "
                                     f"(stopped after {max(len(body), received):,} bytes)")
            head = bytes(body[:4096])
            if head and looks_binary(head):
                raise FetchError(f"binary content, not a {'web page' if accept == 'html' else noun}"
                                 f" (Content-Type {ctype or 'missing'})")
            if accept == "html" and ctype not in _HTML_TYPES and not looks_html(head):
                raise FetchError(f"not an HTML page (Content-Type {ctype or 'missing'})")
            return status, resp.headers, bytes(body)
        finally:
            await resp.aclose()

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Stream ``url`` into ``dest`` (large binary files: model packages), resuming a partial
        ``dest`` with a Range request; a server that ignores the range restarts it from zero.

        The same address rules and redirect limit as ``get``; ``max_bytes`` caps the whole file; the
        deadline is per read (FETCH_TIMEOUT without a byte), not for the whole transfer. Disk errors
        (a full disk) propagate as OSError for the caller to word. ``progress(done, total)``.
        """
        seen: set[str] = set()
        current = url
        for _hop in range(self.max_redirects + 1):
            seen.add(current.split("#")[0])
            await self._check_url(current)
            offset = dest.stat().st_size if dest.exists() else 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            request = self._client.build_request("GET", current, headers=headers)
            try:
                async with asyncio.timeout(self.timeout):
                    resp = await self._client.send(request, stream=True)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise FetchError(f"timed out after {self.timeout:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {_one_line(exc)}") from exc
            try:
                if resp.status_code in _REDIRECTS:
                    current = _redirect_target(current, resp.status_code, resp.headers, seen)
                    continue
                if resp.status_code == 416 and offset:  # the part is complete (or bogus): restart
                    dest.unlink()
                    seen.discard(current.split("#")[0])
                    continue
                if resp.status_code >= 300 or resp.status_code < 200:
                    raise HTTPStatusError(current, resp.status_code, resp.reason_phrase,
                                          parse_retry_after(resp.headers.get("retry-after")))
                await self._stream_to(resp, dest, offset, max_bytes, progress)
                return dest
            finally:
                await resp.aclose()
        raise FetchError(f"too many redirects (more than {self.max_redirects})")

    async def _stream_to(
        self, resp: httpx.Response, dest: Path, offset: int, max_bytes: int,
        progress: Callable[[int, int | None], None] | None,
    ) -> None:
        resumed = resp.status_code == 206 and resp.headers.get(
            "content-range", "").startswith(f"bytes {offset}-")
        start = offset if resumed else 0
        declared = resp.headers.get("content-length", "")
        total = start + int(declared) if declared.isdigit() else None
        if total is not None and total > max_bytes:
            raise FetchError(f"file larger than {_mb(max_bytes)} (Content-Length {total:,})")
        done = start
        chunks = resp.aiter_bytes(1 << 16)
        with dest.open("ab" if resumed else "wb") as out:
            while True:
                try:
                    async with asyncio.timeout(self.timeout):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except (TimeoutError, httpx.TimeoutException) as exc:
                    raise FetchError(f"stalled: no data for {self.timeout:g} s "
                                     f"after {done:,} bytes") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(f"{type(exc).__name__} after {done:,} bytes: "
                                     f"{_one_line(exc)}") from exc
                done += len(chunk)
                if done > max_bytes:
                    raise FetchError(f"file larger than {_mb(max_bytes)} "
                                     f"(stopped after {done:,} bytes)")
                out.write(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise FetchError(f"connection closed after {done:,} of {total:,} bytes")
