"""Social-security PINs kept as salted scrypt hashes (stdlib `hashlib.scrypt`), never in clear.

A stored hash names its own parameters, `SCHEME$n$r$p$salt_hex$digest_hex`, so the cost can be
raised in configuration without invalidating PINs hashed before.

A PIN has only 10^6 values: a leaked table with salts alone is cracked offline in hours. The
pepper (`IVR_PIN_PEPPER`, or `actions.pin.pepper`) is a secret kept out of the database; with
it, the stored digest is HMAC-SHA256(pepper, scrypt(PIN, salt)) under the scheme
`scrypt-hmac`, useless without the pepper. Because the pepper wraps the scrypt output, hashes
made before a pepper was configured (scheme `scrypt`) are wrapped in place, without the PINs,
by `python -m ivr db pepper-pins` (`pepper_stored`); until then they keep verifying.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ivr.actions.settings import PinPolicy

SALT_BYTES = 16
HASH_BYTES = 32
PLAIN = "scrypt"
PEPPERED = "scrypt-hmac"


class PepperMissing(RuntimeError):
    """A peppered hash and no pepper configured: no PIN can be checked (a deployment error)."""


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=HASH_BYTES)


def _wrap(digest: bytes, pepper: bytes) -> bytes:
    return hmac.new(pepper, digest, hashlib.sha256).digest()


def hash_pin(pin: str, policy: PinPolicy) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    n, r, p = policy.scrypt_n, policy.scrypt_r, policy.scrypt_p
    digest = _scrypt(pin, salt, n, r, p)
    scheme = PLAIN
    if policy.pepper:
        digest, scheme = _wrap(digest, policy.pepper), PEPPERED
    return f"{scheme}${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str, pepper: bytes | None = None) -> bool:
    scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    if scheme not in (PLAIN, PEPPERED):
        raise ValueError(f"unknown PIN hash scheme {scheme!r}")
    digest = _scrypt(pin, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    if scheme == PEPPERED:
        if not pepper:
            raise PepperMissing("a PIN hash is peppered but no pepper is configured")
        digest = _wrap(digest, pepper)
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


def pepper_stored(stored: str, pepper: bytes) -> str | None:
    """The peppered form of a plain stored hash (no PIN needed); None if already peppered."""
    scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    if scheme != PLAIN:
        return None
    wrapped = _wrap(bytes.fromhex(digest_hex), pepper)
    return f"{PEPPERED}${n}${r}${p}${salt_hex}${wrapped.hex()}"
