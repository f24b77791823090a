"""Social-security PINs kept as salted scrypt hashes (stdlib `hashlib.scrypt`), never in clear.

A stored hash names its own parameters, `scrypt$n$r$p$salt_hex$hash_hex`, so the cost can be
raised in configuration without invalidating PINs hashed before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ivr.actions.settings import PinPolicy

SALT_BYTES = 16
HASH_BYTES = 32


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=HASH_BYTES)


def hash_pin(pin: str, policy: PinPolicy) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    n, r, p = policy.scrypt_n, policy.scrypt_r, policy.scrypt_p
    digest = _scrypt(pin, salt, n, r, p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown PIN hash scheme {scheme!r}")
    digest = _scrypt(pin, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))
