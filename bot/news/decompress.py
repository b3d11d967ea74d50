"""Content-Encoding decoded in bounded pieces, so the size cap applies to bytes as they are produced.

A decoder that inflates a whole network chunk at once lets a few KB of ``gzip, gzip`` become 2 GiB in
one call, before any cap is checked. Here every layer inflates at most ``piece`` bytes per step
(zlib's ``max_length``), and the caller sees each piece as it comes, so memory stays at a few pieces
per layer and the fetch stops as soon as the decoded total passes the cap. At most two encodings are
accepted: nothing legitimate needs more, and each layer multiplies the ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from bot.errors import FetchError

ACCEPT_ENCODING = "gzip, deflate"
MAX_ENCODINGS = 2
PIECE = 64 * 1024

_GZIP = ("gzip", "x-gzip")
_DEFLATE = ("deflate",)
_IDENTITY = ("identity", "")
# real codings we cannot decode: refused (their bytes would be garbage); unknown tokens such as the
# "utf-8" some servers send by mistake are ignored, as browsers and httpx do
_UNSUPPORTED = ("br", "zstd", "compress", "x-compress", "x-bzip2", "bzip2", "xz", "lzma")


class _ZlibLayer:
    """One gzip or deflate layer, inflating at most ``piece`` bytes per step."""

    def __init__(self, name: str, piece: int) -> None:
        self.name = name
        self.piece = piece
        self._gzip = name in _GZIP
        # deflate is meant to be zlib-wrapped, but many servers send raw deflate: decided on the
        # first two bytes (a zlib header: method 8, window <= 32K, a multiple of 31)
        self._d: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._head = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._feed(data)
        except zlib.error as exc:
            raise FetchError(f"cannot decode {self.name} body: {exc}") from None

    def _feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            cmf, flg = data[0], data[1]
            zlib_wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        while True:
            if self._d.eof:
                data = self._d.unused_data + data
                # another gzip member follows, or else trailing bytes, which are ignored
                if not (self._gzip and data.startswith(b"\x1f")):
                    return
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = self._d.decompress(data, self.piece)
            # at the end of a stream the rest is in unused_data (unconsumed_tail may still hold a stale copy)
            data = b"" if self._d.eof else self._d.unconsumed_tail
            if out:
                yield out
            # a full piece may leave output pending inside zlib even when no input is left
            if not data and (len(out) < self.piece or self._d.eof) and not self._d.unused_data:
                return


def _layers(content_encoding: Iterable[str], piece: int) -> list[_ZlibLayer]:
    names = [token.strip().lower() for value in content_encoding for token in value.split(",")]
    codings = [n for n in names if n not in _IDENTITY]
    for name in codings:
        if name in _UNSUPPORTED:
            raise FetchError(f"unsupported Content-Encoding {name[:40]}")
    known = [n for n in codings if n in _GZIP + _DEFLATE]
    if len(known) > MAX_ENCODINGS:
        raise FetchError(f"more than two Content-Encodings ({', '.join(known)[:200]})")
    # listed in the order they were applied: decode the last one first
    return [_ZlibLayer(name, piece) for name in reversed(known)]


class BodyDecoder:
    """``for piece in dec.feed(raw): ...`` per network chunk; each piece is at most ``piece`` bytes.

    ``content_encoding`` is every Content-Encoding header value (a list, since the header may repeat).
    Raises FetchError (one line) for more than two codings, an unsupported one, or corrupt data.
    """

    def __init__(self, content_encoding: Iterable[str], *, piece: int = PIECE) -> None:
        self._layers = _layers(content_encoding, piece)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(data, 0)

    def _through(self, data: bytes, depth: int) -> Iterator[bytes]:
        if depth == len(self._layers):
            if data:
                yield data
            return
        for out in self._layers[depth].feed(data):
            yield from self._through(out, depth + 1)
