"""Server side of Telegram's two-step verification (SRP-2048), mirroring ``telethon/password.py``.

Telegram never sees the password: the client proves it knows ``x = PH2(password, salt1, salt2)``
against the verifier ``v = g^x mod p`` with an SRP exchange. Doing the real math here (rather than
comparing a hash the test chose) means a login test fails if Telethon's ``compute_check`` and our
answer disagree, exactly as it would against Telegram. See https://core.telegram.org/api/srp.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from telethon.tl import types

from .handshake import DH_G, DH_PRIME

_SIZE = 256  # every number is hashed as 256 big-endian bytes
_SAFETY = 2 ** (2048 - 64)  # what the client demands of g^b (``is_good_mod_exp_first``)
Algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow


def _h(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _pad(n: int) -> bytes:
    return n.to_bytes(_SIZE, "big")


def password_hash(password: str, salt1: bytes, salt2: bytes) -> int:
    """``x = PH2(password, salt1, salt2)`` (SH, SH, PBKDF2-HMAC-SHA512 ×100000, SH)."""
    ph1 = _h(salt2, _h(salt1, password.encode(), salt1), salt2)
    return int.from_bytes(_h(salt2, hashlib.pbkdf2_hmac("sha512", ph1, salt1, 100_000), salt2), "big")


class SrpAccount:
    """One account password: its salts and verifier, plus the open SRP challenges by ``srp_id``."""

    def __init__(self, password: str) -> None:
        self.p, self.g = DH_PRIME, DH_G
        self.new_salt1 = secrets.token_bytes(8)
        # Telegram's current salt1 is the new_algo salt1 plus 32 random bytes chosen at set time
        self.salt1 = self.new_salt1 + secrets.token_bytes(32)
        self.salt2 = secrets.token_bytes(16)
        self.v = pow(self.g, password_hash(password, self.salt1, self.salt2), self.p)
        self.k = int.from_bytes(_h(_pad(self.p), _pad(self.g)), "big")
        self._challenges: dict[int, tuple[int, int]] = {}  # srp_id -> (b, B)

    def algo(self, salt1: bytes) -> Algo:
        return Algo(salt1=salt1, salt2=self.salt2, g=self.g, p=_pad(self.p))

    def challenge(self) -> types.account.Password:
        """A fresh ``account.password`` with ``B = k·v + g^b``; each call opens a new ``srp_id``."""
        while True:
            b = secrets.randbits(2048) % self.p
            g_b = pow(self.g, b, self.p)
            if _SAFETY <= g_b <= self.p - _SAFETY:
                break
        big_b = (self.k * self.v + g_b) % self.p
        srp_id = secrets.randbits(63)
        self._challenges[srp_id] = (b, big_b)
        return types.account.Password(
            has_password=True,
            current_algo=self.algo(self.salt1),
            srp_B=_pad(big_b),
            srp_id=srp_id,
            new_algo=self.algo(self.new_salt1),
            new_secure_algo=types.SecurePasswordKdfAlgoPBKDF2HMACSHA512iter100000(
                salt=secrets.token_bytes(8)
            ),
            secure_random=secrets.token_bytes(32),
        )

    def check(self, srp_id: int, a_bytes: bytes, m1: bytes) -> str | None:
        """``None`` when ``M1`` proves the password, else the Telegram error name."""
        found = self._challenges.get(srp_id)
        if found is None:
            return "SRP_ID_INVALID"
        b, big_b = found
        big_a = int.from_bytes(a_bytes, "big")
        if not 0 < big_a < self.p:
            return "SRP_A_INVALID"
        u = int.from_bytes(_h(_pad(big_a), _pad(big_b)), "big")
        s = pow(big_a * pow(self.v, u, self.p) % self.p, b, self.p)
        expected = _h(
            bytes(x ^ y for x, y in zip(_h(_pad(self.p)), _h(_pad(self.g)), strict=True)),
            _h(self.salt1),
            _h(self.salt2),
            _pad(big_a),
            _pad(big_b),
            _h(_pad(s)),
        )
        if not hmac.compare_digest(expected, m1):
            return "PASSWORD_HASH_INVALID"
        del self._challenges[srp_id]  # a proof is good once
        return None
