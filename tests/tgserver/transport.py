"""Server side of Telethon's TCP transports (packet framing only, no crypto).

Telethon's ``Connection`` classes (``telethon/network/connection/``) announce their
framing in the first bytes of a connection, so the server sniffs them:

* ``0xef``                 -> abridged (``ConnectionTcpAbridged``)
* ``0xeeeeeeee``           -> intermediate (``ConnectionTcpIntermediate``)
* ``0xdddddddd``           -> padded intermediate
* 8 bytes, bytes 4..8 zero -> full (``ConnectionTcpFull``, the default): length + seq 0
* anything else            -> 64-byte obfuscated2 header (``ConnectionTcpObfuscated``)
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Protocol
from zlib import crc32

from telethon.crypto import AESModeCTR

MAX_PACKET = 4 * 1024 * 1024


class TransportError(Exception):
    """The peer sent bytes that do not follow the negotiated framing."""


class _ByteSource(Protocol):
    async def readexactly(self, n: int) -> bytes: ...


class _ByteSink(Protocol):
    def write(self, data: bytes) -> None: ...


class _ObfuscatedReader:
    """Decrypts everything read after an obfuscated2 header (AES-CTR, continuous)."""

    def __init__(self, reader: _ByteSource, cipher: AESModeCTR) -> None:
        self._reader, self._cipher = reader, cipher

    async def readexactly(self, n: int) -> bytes:
        return self._cipher.encrypt(await self._reader.readexactly(n))


class _ObfuscatedWriter:
    """Encrypts everything written after an obfuscated2 header."""

    def __init__(self, writer: _ByteSink, cipher: AESModeCTR) -> None:
        self._writer, self._cipher = writer, cipher

    def write(self, data: bytes) -> None:
        self._writer.write(self._cipher.encrypt(data))


class Codec:
    """Frames MTProto payloads; subclasses mirror one Telethon ``PacketCodec``."""

    name = "base"

    def __init__(self, reader: _ByteSource, writer: _ByteSink) -> None:
        self.reader, self.writer = reader, writer

    async def read_packet(self) -> bytes:
        raise NotImplementedError

    def encode(self, data: bytes) -> bytes:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Write one packet synchronously, so pushes from sync code keep packet order."""
        self.writer.write(self.encode(data))

    @staticmethod
    def _check_len(n: int) -> int:
        if n < 0 or n > MAX_PACKET:
            raise TransportError(f"bad packet length {n}")
        return n


class FullCodec(Codec):
    """``len:int seq:int payload crc32:uint``; the client checks our ``seq`` and CRC."""

    name = "full"

    def __init__(self, reader: _ByteSource, writer: _ByteSink, first8: bytes = b"") -> None:
        super().__init__(reader, writer)
        self._pending_head = first8
        self._recv_seq = 0
        self._send_seq = 0

    async def read_packet(self) -> bytes:
        head = self._pending_head or await self.reader.readexactly(8)
        self._pending_head = b""
        length, seq = struct.unpack("<ii", head)
        self._check_len(length)
        if length < 12:
            raise TransportError(f"full packet too short: {length}")
        rest = await self.reader.readexactly(length - 8)
        body, (crc,) = rest[:-4], struct.unpack("<I", rest[-4:])
        if crc32(head + body) != crc:
            raise TransportError("bad crc32")
        if seq != self._recv_seq:
            raise TransportError(f"bad full-transport seq {seq}, expected {self._recv_seq}")
        self._recv_seq += 1
        return body

    def encode(self, data: bytes) -> bytes:
        head = struct.pack("<ii", len(data) + 12, self._send_seq)
        self._send_seq += 1
        return head + data + struct.pack("<I", crc32(head + data))


class AbridgedCodec(Codec):
    """Length in 4-byte words: 1 byte, or ``0x7f`` + 3 bytes."""

    name = "abridged"

    async def read_packet(self) -> bytes:
        first = (await self.reader.readexactly(1))[0]
        first &= 0x7F  # drop the quick-ack request bit; Telethon never sets it
        words = first
        if first == 0x7F:
            words = int.from_bytes(await self.reader.readexactly(3), "little")
        return await self.reader.readexactly(self._check_len(words * 4))

    def encode(self, data: bytes) -> bytes:
        words = len(data) // 4
        head = bytes([words]) if words < 0x7F else b"\x7f" + words.to_bytes(3, "little")
        return head + data


class IntermediateCodec(Codec):
    """``len:int payload``."""

    name = "intermediate"

    async def read_packet(self) -> bytes:
        (length,) = struct.unpack("<i", await self.reader.readexactly(4))
        return await self.reader.readexactly(self._check_len(length & 0x7FFFFFFF))

    def encode(self, data: bytes) -> bytes:
        return struct.pack("<i", len(data)) + data


class PaddedIntermediateCodec(IntermediateCodec):
    """Intermediate with 0-3 random trailing bytes that the receiver drops."""

    name = "padded-intermediate"

    async def read_packet(self) -> bytes:
        data = await super().read_packet()
        return data[: len(data) - len(data) % 4]

    def encode(self, data: bytes) -> bytes:
        return super().encode(data + os.urandom(len(data) % 4))


_TAGGED: dict[bytes, type[Codec]] = {
    b"\xef\xef\xef\xef": AbridgedCodec,
    b"\xee\xee\xee\xee": IntermediateCodec,
    b"\xdd\xdd\xdd\xdd": PaddedIntermediateCodec,
}


async def negotiate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Codec:
    """Read the connection preamble and return the codec the client chose."""
    first = await reader.readexactly(1)
    if first == b"\xef":
        return AbridgedCodec(reader, writer)
    head = first + await reader.readexactly(3)
    if head in (b"\xee\xee\xee\xee", b"\xdd\xdd\xdd\xdd"):
        return _TAGGED[head](reader, writer)
    head += await reader.readexactly(4)
    if head[4:8] == b"\0\0\0\0":
        return FullCodec(reader, writer, first8=head)
    return _negotiate_obfuscated(head + await reader.readexactly(56), reader, writer)


def _negotiate_obfuscated(header: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Codec:
    """Mirror ``ObfuscatedIO.init_header``: the client's encrypt key is our decrypt key."""
    reversed_ = header[55:7:-1]
    decryptor = AESModeCTR(header[8:40], header[40:56])
    encryptor = AESModeCTR(reversed_[:32], reversed_[32:48])
    tag = decryptor.encrypt(header)[56:60]  # also advances the CTR stream past the header
    codec_type = _TAGGED.get(tag)
    if codec_type is None:
        raise TransportError(f"unknown obfuscated tag {tag.hex()}")
    return codec_type(_ObfuscatedReader(reader, decryptor), _ObfuscatedWriter(writer, encryptor))
