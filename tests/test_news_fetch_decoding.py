"""Content-Encoding against a real server on 127.0.0.1: the size cap holds for decoded bytes as they
are produced, so a few KB of nested gzip that would inflate to 2 GiB costs neither memory nor time."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bot.errors import FetchError
from bot.news.decompress import BodyDecoder
from bot.news.fetch import Fetcher
from tests.httpserver import Response, TestHTTPServer
from tests.test_news_fetch import PAGE, make_settings

MiB = 1 << 20
REPO = Path(__file__).resolve().parents[1]


def gzip_of_zeros(mib: int) -> bytes:
    """One gzip member holding ``mib`` MiB of zeros, built block by block (a full flush makes every
    1 MiB block the same bytes), with the true CRC and length: what a hostile server would send."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = comp.compress(bytes(MiB)) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    piece = bytes(64 * MiB)
    for _ in range(mib // 64):
        crc = zlib.crc32(piece, crc)
    for _ in range(mib % 64):
        crc = zlib.crc32(piece[:MiB], crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * mib + comp.flush() + struct.pack("<II", crc, (mib * MiB) & 0xFFFFFFFF)


def test_bomb_builder_is_real_gzip() -> None:
    assert gzip.decompress(gzip_of_zeros(3)) == bytes(3 * MiB)


FETCH_AND_MEASURE = """
import asyncio, json, sys
from bot.config import load_settings
from bot.errors import FetchError
from bot.news.decompress import BodyDecoder
from bot.news.fetch import Fetcher

async def main() -> None:
    async with Fetcher(load_settings(json.loads(sys.argv[2]), dotenv_path=None)) as f:
        try:
            result = f"fetched {len((await f.get(sys.argv[1], accept='html')).body):,} bytes"
        except FetchError as exc:
            result = str(exc)
    # VmHWM: peak RSS since exec (ru_maxrss would also count the forking pytest process's peak)
    with open("/proc/self/status") as status:
        peak_kb = int(status.read().split("VmHWM:")[1].split()[0])
    print(json.dumps({"result": result, "peak_mb": peak_kb / 1024}))

asyncio.run(main())
"""


def test_nested_gzip_bomb_is_cut_off_with_little_memory(http: TestHTTPServer, tmp_path: Path) -> None:
    """~5 KB sent as ``Content-Encoding: gzip, gzip`` that decodes to 2 GiB: the fetch stops at the
    5 MB cap; peak memory of the whole fetching process (measured in a subprocess) stays < 100 MB."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc/self/status (Linux)")
    bomb = gzip.compress(gzip_of_zeros(2048), 9, mtime=0)
    assert len(bomb) < 10_000
    http.route("/bomb", Response(200, bomb, {"Content-Encoding": "gzip, gzip"}))
    env = {"CITEWATCH_DB": str(tmp_path / "cw.db"), "TG_SESSION": str(tmp_path / "s"),
           "TG_BOT_SESSION": str(tmp_path / "b"), "ALLOW_PRIVATE_URLS": "true", "FETCH_TIMEOUT": "60"}
    proc = subprocess.run([sys.executable, "-c", FETCH_AND_MEASURE, http.url("/bomb"), json.dumps(env)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["result"].startswith("page larger than 5 MB (stopped after "), out
    assert out["peak_mb"] < 100, out


async def test_encodings_decoded_and_limited(http: TestHTTPServer, tmp_path: Path) -> None:
    body = PAGE.encode()
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    routes = {
        "/gzip": (gzip.compress(body), "gzip"),
        "/x-gzip": (gzip.compress(body), "x-gzip"),
        "/zlib-deflate": (zlib.compress(body), "deflate"),
        "/raw-deflate": (raw_deflate.compress(body) + raw_deflate.flush(), "deflate"),
        "/two": (gzip.compress(zlib.compress(body)), "deflate, gzip"),
        "/identity": (body, "identity"),
        "/members": (gzip.compress(body[:20]) + gzip.compress(body[20:]), "gzip"),
        "/three": (gzip.compress(gzip.compress(gzip.compress(body))), "gzip, gzip, gzip"),
        "/brotli": (b"\x1b\x4f\x00\x00" + body, "br"),
        "/corrupt": (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "gzip"),
    }
    for path, (data, coding) in routes.items():
        http.route(path, Response(200, data, {"Content-Encoding": coding}))

    async with Fetcher(make_settings(tmp_path)) as f:
        for path in ("/gzip", "/x-gzip", "/zlib-deflate", "/raw-deflate", "/two", "/identity",
                     "/members"):
            assert (await f.get(http.url(path), accept="html")).body == body, path
        assert "gzip" in http.requests_to("/gzip")[0].headers["accept-encoding"]
        assert "br" not in http.requests_to("/gzip")[0].headers["accept-encoding"]
        with pytest.raises(FetchError, match=r"^more than two Content-Encodings \(gzip, gzip, gzip\)$"):
            await f.get(http.url("/three"))
        with pytest.raises(FetchError, match=r"^unsupported Content-Encoding br$"):
            await f.get(http.url("/brotli"))
        with pytest.raises(FetchError, match=r"^cannot decode gzip body: [^\n]+$"):
            await f.get(http.url("/corrupt"))


def test_decoder_same_bytes_over_any_split_in_bounded_pieces() -> None:
    """Whatever the network chunking and piece size, the decoded bytes are the original ones, and
    no single piece is larger than asked (multi-member gzip and trailing padding included)."""
    data = bytes(range(256)) * 40 + b"a" * 30_000 + bytes(range(255, -1, -1)) * 3
    cases = {"gzip": gzip.compress(data[:5]) + gzip.compress(data[5:]) + b"\x00\x00",
             "deflate": zlib.compress(data), "deflate, gzip": gzip.compress(zlib.compress(data))}
    for coding, blob in cases.items():
        for piece in (1, 7, 4096):
            for step in (13, 1000, len(blob)):
                decoder = BodyDecoder([coding], piece=piece)
                pieces = [p for i in range(0, len(blob), step) for p in decoder.feed(blob[i:i + step])]
                assert b"".join(pieces) == data, (coding, piece, step)
                assert max(map(len, pieces)) <= piece
