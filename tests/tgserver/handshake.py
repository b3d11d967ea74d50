"""Server side of the MTProto auth-key exchange, mirroring ``telethon/network/authenticator.py``.

The three plain-text steps are ``req_pq_multi`` -> ``ResPQ``, ``req_DH_params`` ->
``ServerDHParamsOk`` and ``set_client_DH_params`` -> ``DhGenOk``. Telethon 1.45 encrypts
``p_q_inner_data`` as ``sha1(data) + data + random`` (255 bytes) raised to ``e`` mod ``n``
(``telethon/crypto/rsa.py::encrypt``), so the server only needs the raw RSA private op.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from functools import cached_property
from hashlib import sha1
from pathlib import Path

import rsa
from telethon import helpers
from telethon.crypto import AES, AuthKey
from telethon.crypto.rsa import _compute_fingerprint, get_byte_array
from telethon.extensions import BinaryReader
from telethon.tl.functions import ReqDHParamsRequest, ReqPqMultiRequest, SetClientDHParamsRequest
from telethon.tl.tlobject import TLObject
from telethon.tl.types import (
    ClientDHInnerData,
    DhGenOk,
    PQInnerData,
    ResPQ,
    ServerDHInnerData,
    ServerDHParamsOk,
)

KEY_PATH = Path(__file__).with_name("test_key.pem")

# Telegram's published 2048-bit safe prime (https://core.telegram.org/mtproto/auth_key), g = 3.
DH_PRIME = int(
    "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d2"
    "2530f4dbfa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454"
    "f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051"
    "907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6b"
    "c465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f"
    "0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b",
    16,
)
DH_G = 3
# The pq of Telegram's own documentation example (61 bits; Telethon reads pq as a *signed*
# big-endian int, so its top bit must be clear). Smaller products made Telethon's Pollard-rho
# return the trivial factorisation (1, pq) about once in 2,000 handshakes: a flaky test.
PQ_P, PQ_Q = 1_229_739_323, 1_402_015_859
assert (PQ_P * PQ_Q).bit_length() % 8 != 0
_SAFETY = 2 ** (2048 - 64)


class HandshakeError(Exception):
    """The client broke the key-exchange protocol; the connection is closed."""


class ServerKey:
    """The test-only RSA key pair; the client learns the public half via ``rsa.add_key``."""

    def __init__(self, path: Path = KEY_PATH) -> None:
        self.private = rsa.PrivateKey.load_pkcs1(path.read_bytes())
        self.public = rsa.PublicKey(self.private.n, self.private.e)

    @cached_property
    def fingerprint(self) -> int:
        return int(_compute_fingerprint(self.public))

    @cached_property
    def public_pem(self) -> str:
        return self.public.save_pkcs1().decode()

    def decrypt_raw(self, block: bytes) -> bytes:
        """Textbook RSA, as Telethon applies no PKCS#1 padding; returns the 255-byte block."""
        value = pow(int.from_bytes(block, "big"), self.private.d, self.private.n)
        return value.to_bytes(256, "big")[1:]


@dataclass
class _Pending:
    nonce: int
    server_nonce: int
    new_nonce: int = 0
    a: int = 0
    key: bytes = b""
    iv: bytes = b""


class Handshake:
    """Per-connection DH state machine; ``handle`` maps one plain request to its answer."""

    def __init__(self, key: ServerKey) -> None:
        self._key = key
        self._pending: _Pending | None = None

    def handle(self, request: TLObject) -> tuple[TLObject, AuthKey | None]:
        """Answer one step; the second item is the new auth key once step 3 succeeds."""
        if isinstance(request, ReqPqMultiRequest):
            return self._req_pq(request), None
        if isinstance(request, ReqDHParamsRequest):
            return self._req_dh_params(request), None
        if isinstance(request, SetClientDHParamsRequest):
            return self._set_client_dh_params(request)
        raise HandshakeError(f"unexpected plain message {type(request).__name__}")

    def _req_pq(self, req: ReqPqMultiRequest) -> ResPQ:
        server_nonce = int.from_bytes(os.urandom(16), "big", signed=True)
        self._pending = _Pending(nonce=req.nonce, server_nonce=server_nonce)
        return ResPQ(
            nonce=req.nonce,
            server_nonce=server_nonce,
            pq=get_byte_array(PQ_P * PQ_Q),
            server_public_key_fingerprints=[self._key.fingerprint],
        )

    def _check_nonces(self, nonce: int, server_nonce: int) -> _Pending:
        st = self._pending
        if st is None or st.nonce != nonce or st.server_nonce != server_nonce:
            raise HandshakeError("nonce mismatch")
        return st

    def _req_dh_params(self, req: ReqDHParamsRequest) -> ServerDHParamsOk:
        st = self._check_nonces(req.nonce, req.server_nonce)
        if req.public_key_fingerprint != self._key.fingerprint:
            raise HandshakeError("unknown RSA fingerprint")
        plain = self._key.decrypt_raw(req.encrypted_data)
        reader = BinaryReader(plain[20:])
        inner = reader.tgread_object()
        if sha1(plain[20 : 20 + reader.tell_position()]).digest() != plain[:20]:
            raise HandshakeError("bad sha1 in p_q_inner_data")
        if not isinstance(inner, PQInnerData) or (inner.nonce, inner.server_nonce) != (
            st.nonce,
            st.server_nonce,
        ):
            raise HandshakeError("bad p_q_inner_data")
        if {int.from_bytes(inner.p, "big"), int.from_bytes(inner.q, "big")} != {PQ_P, PQ_Q}:
            raise HandshakeError("wrong factorisation of pq")

        st.new_nonce = inner.new_nonce
        st.key, st.iv = helpers.generate_key_data_from_nonce(st.server_nonce, st.new_nonce)
        while True:
            st.a = secrets.randbits(2048) % DH_PRIME
            g_a = pow(DH_G, st.a, DH_PRIME)
            if _SAFETY <= g_a <= DH_PRIME - _SAFETY:
                break
        answer = bytes(
            ServerDHInnerData(
                nonce=st.nonce,
                server_nonce=st.server_nonce,
                g=DH_G,
                dh_prime=get_byte_array(DH_PRIME),
                g_a=get_byte_array(g_a),
                server_time=int(time.time()),
            )
        )
        with_hash = sha1(answer).digest() + answer
        with_hash += os.urandom(-len(with_hash) % 16)
        return ServerDHParamsOk(
            nonce=st.nonce,
            server_nonce=st.server_nonce,
            encrypted_answer=AES.encrypt_ige(with_hash, st.key, st.iv),
        )

    def _set_client_dh_params(self, req: SetClientDHParamsRequest) -> tuple[DhGenOk, AuthKey]:
        st = self._check_nonces(req.nonce, req.server_nonce)
        if not st.key:
            raise HandshakeError("set_client_DH_params before req_DH_params")
        plain = AES.decrypt_ige(req.encrypted_data, st.key, st.iv)
        reader = BinaryReader(plain[20:])
        inner = reader.tgread_object()
        if sha1(plain[20 : 20 + reader.tell_position()]).digest() != plain[:20]:
            raise HandshakeError("bad sha1 in client_DH_inner_data")
        if not isinstance(inner, ClientDHInnerData):
            raise HandshakeError("bad client_DH_inner_data")
        g_b = int.from_bytes(inner.g_b, "big")
        if not _SAFETY <= g_b <= DH_PRIME - _SAFETY:
            raise HandshakeError("g_b out of range")
        # Telethon keeps the variable-length big-endian bytes of g^ab (authenticator.py).
        auth_key = AuthKey(get_byte_array(pow(g_b, st.a, DH_PRIME)))
        self._pending = None
        return (
            DhGenOk(
                nonce=st.nonce,
                server_nonce=st.server_nonce,
                new_nonce_hash1=auth_key.calc_new_nonce_hash(st.new_nonce, 1),
            ),
            auth_key,
        )
