"""MTProto 2.0 envelopes seen from the server, mirroring ``telethon/network/mtprotostate.py``.

The client encrypts with ``x = 0`` and we decrypt with ``x = 0``; we encrypt with ``x = 8``
(``MTProtoState._calc_key(..., client=False)``). Telethon checks on every server message:
the msg_key, our echo of its session id, an odd msg_id (we use ``% 4 == 1`` for answers
and ``% 4 == 3`` for unsolicited messages, as Telegram does), no duplicate msg_id, and a
msg_id time within -30 s / +300 s of its clock. Salt and seq_no are not checked.
"""

from __future__ import annotations

import gzip
import os
import struct
import time
from dataclasses import dataclass
from hashlib import sha256

from telethon.crypto import AES, AuthKey
from telethon.extensions import BinaryReader
from telethon.network.mtprotostate import MTProtoState
from telethon.tl.core import GzipPacked, MessageContainer
from telethon.tl.tlobject import TLObject
from telethon.tl.types import RpcError

RPC_RESULT = 0xF35C6D01
MSG_CONTAINER = 0x73F1F8DC
VECTOR = 0x1CB5C415
BOOL_TRUE, BOOL_FALSE = 0x997275B5, 0xBC799737
GZIP_THRESHOLD = 512


class EnvelopeError(Exception):
    """An encrypted packet that does not decrypt or verify (closes that connection)."""


@dataclass
class ClientMessage:
    """One decrypted client message, or one inner message of a client container."""

    salt: int
    session_id: int
    msg_id: int
    seq_no: int
    obj: TLObject


class MsgIdClock:
    """Monotonic server msg_ids: ``unixtime << 32 | ns``, low two bits picked by kind."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, *, answer: bool) -> int:
        now = time.time()
        msg_id = (int(now) << 32) | (int((now % 1) * 1e9) & ~3)
        msg_id = max(msg_id, (self._last | 3) + 1)  # strictly increasing, low bits clear
        self._last = msg_id
        return msg_id | (1 if answer else 3)


def decrypt(auth_key: AuthKey, packet: bytes) -> ClientMessage:
    """Decrypt and verify one client packet (``MTProtoState.encrypt_message_data`` inverse)."""
    if len(packet) < 24 + 32 or (len(packet) - 24) % 16:
        raise EnvelopeError(f"bad encrypted packet length {len(packet)}")
    msg_key = packet[8:24]
    aes_key, aes_iv = MTProtoState._calc_key(auth_key.key, msg_key, True)
    plain = AES.decrypt_ige(packet[24:], aes_key, aes_iv)
    if sha256(auth_key.key[88 : 88 + 32] + plain).digest()[8:24] != msg_key:
        raise EnvelopeError("msg_key mismatch")
    salt, session_id, msg_id, seq_no, length = struct.unpack("<qqqii", plain[:32])
    if msg_id % 4 != 0:
        raise EnvelopeError(f"client msg_id {msg_id} is not divisible by 4")
    if not 0 <= length <= len(plain) - 32:
        raise EnvelopeError(f"bad inner length {length}")
    obj = BinaryReader(plain[32 : 32 + length]).tgread_object()
    return ClientMessage(salt, session_id, msg_id, seq_no, obj)


def encrypt(auth_key: AuthKey, salt: int, session_id: int, message: bytes) -> bytes:
    """Wrap one serialized ``message`` (msg_id, seq_no, len, body) for the client."""
    data = struct.pack("<qq", salt, session_id) + message
    padding = os.urandom(12 + (-(len(data) + 12) % 16))
    msg_key = sha256(auth_key.key[96 : 96 + 32] + data + padding).digest()[8:24]
    aes_key, aes_iv = MTProtoState._calc_key(auth_key.key, msg_key, False)
    return struct.pack("<Q", auth_key.key_id) + msg_key + AES.encrypt_ige(data + padding, aes_key, aes_iv)


def pack_message(msg_id: int, seq_no: int, body: bytes) -> bytes:
    """``message msg_id:long seqno:int bytes:int body:bytes``."""
    return struct.pack("<qii", msg_id, seq_no, len(body)) + body


def pack_container(messages: list[bytes]) -> bytes:
    """``msg_container#73f1f8dc messages:vector<%Message>`` body (no msg header)."""
    return struct.pack("<Ii", MSG_CONTAINER, len(messages)) + b"".join(messages)


def unpack(obj: TLObject, msg: ClientMessage) -> list[ClientMessage]:
    """Flatten containers and gzip into the plain client messages they carry."""
    if isinstance(obj, MessageContainer):
        out: list[ClientMessage] = []
        for inner in obj.messages:
            out += unpack(
                inner.obj, ClientMessage(msg.salt, msg.session_id, inner.msg_id, inner.seq_no, inner.obj)
            )
        return out
    if isinstance(obj, GzipPacked):
        return unpack(BinaryReader(obj.data).tgread_object(), msg)
    msg.obj = obj
    return [msg]


def serialize(value: object) -> bytes:
    """Serialize an RPC answer: TL objects, ``bool`` and ``Vector`` (lists of either/ints)."""
    if isinstance(value, bool):
        return struct.pack("<I", BOOL_TRUE if value else BOOL_FALSE)
    if isinstance(value, TLObject):
        return bytes(value)
    if isinstance(value, list):
        items = b"".join(
            struct.pack("<q", v) if isinstance(v, int) and not isinstance(v, bool) else serialize(v)
            for v in value
        )
        return struct.pack("<Ii", VECTOR, len(value)) + items
    raise TypeError(f"cannot serialize RPC answer {value!r}")


def rpc_result(req_msg_id: int, body: bytes) -> bytes:
    """``rpc_result#f35c6d01 req_msg_id:long result:Object``, gzipped when it pays off."""
    if len(body) > GZIP_THRESHOLD:
        packed = struct.pack("<I", GzipPacked.CONSTRUCTOR_ID) + TLObject.serialize_bytes(gzip.compress(body))
        if len(packed) < len(body):
            body = packed
    return struct.pack("<Iq", RPC_RESULT, req_msg_id) + body


def rpc_error(req_msg_id: int, code: int, message: str) -> bytes:
    """``rpc_result`` carrying ``rpc_error#2144ca19 error_code:int error_message:string``."""
    return struct.pack("<Iq", RPC_RESULT, req_msg_id) + bytes(RpcError(code, message))
