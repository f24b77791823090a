"""HTTP digest authentication for SIP REGISTER (RFC 3261 §22, RFC 7616, RFC 8760), sans-I/O.

What a registrar needs and nothing else: the HA1 values stored per agent (never the password),
challenges for SHA-256 (preferred, RFC 8760) and MD5 (older phones), parsing an Authorization
header, and checking its response. `qop=auth` is offered; a response without qop (RFC 2069
phones) is still checked and then counts as nonce-count 1, so its nonce cannot be used twice.

Nonces are stateless and shared by every node: `time | random | HMAC(secret, time | random)`,
so any node that knows the secret can tell its age and that a registrar minted it. Replay
(the same nonce with a nonce-count not above the last one seen) is refused by the caller of
`check`, which claims the count in shared storage (see `ivr.agents.registrar_store`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ivr.sip.uri import quote_string

# Offered in this order (RFC 8760 §2.4: most preferred first). Some phones (and sipp 3.6) read
# only the first challenge; where such phones are in use, list MD5 first in the settings.
ALGORITHMS = ("SHA-256", "MD5")
NONCE_LIFETIME = 300.0  # seconds a nonce may be used; then the phone is re-challenged (stale)

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)')


def hexdigest(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode("utf-8")).hexdigest()


def ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """H(username:realm:password), what the agent store keeps per algorithm."""
    return hexdigest(algorithm, f"{username}:{realm}:{password}")


@dataclass(frozen=True)
class Credentials:
    """The fields of one `Authorization: Digest ...` header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"  # RFC 7616 §3.4: absent means MD5
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None

    @property
    def nonce_count(self) -> int:
        """The nonce-count as a number (1 when the phone sent no qop, so no nc)."""
        return int(self.nc, 16) if self.nc is not None else 1


class BadCredentials(ValueError):
    """An Authorization header that is not a usable digest response."""


def parse_authorization(value: str) -> Credentials:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise BadCredentials(f"not a Digest authorization: {scheme!r}")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise BadCredentials("malformed digest parameters")
        name, raw = match.group(1).lower(), match.group(2)
        params[name] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        position = match.end()
    missing = [
        name for name in ("username", "realm", "nonce", "uri", "response") if name not in params
    ]
    if missing:
        raise BadCredentials(f"digest without {', '.join(missing)}")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in _HASHES:
        raise BadCredentials(f"unsupported digest algorithm {algorithm}")
    qop = params.get("qop")
    if qop is not None and qop.lower() != "auth":
        raise BadCredentials(f"unsupported qop {qop}")
    if qop is not None and (
        not re.fullmatch(r"[0-9A-Fa-f]{8}", params.get("nc", "")) or not params.get("cnonce")
    ):
        raise BadCredentials("qop=auth needs nc (8 hex digits) and cnonce")
    return Credentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        algorithm=algorithm,
        qop=qop.lower() if qop else None,
        nc=params.get("nc") if qop else None,
        cnonce=params.get("cnonce") if qop else None,
    )


def expected_response(credentials: Credentials, stored_ha1: str, method: str) -> str:
    algorithm = credentials.algorithm
    ha2 = hexdigest(algorithm, f"{method}:{credentials.uri}")
    if credentials.qop is None:
        return hexdigest(algorithm, f"{stored_ha1}:{credentials.nonce}:{ha2}")
    return hexdigest(
        algorithm,
        f"{stored_ha1}:{credentials.nonce}:{credentials.nc}:{credentials.cnonce}:"
        f"{credentials.qop}:{ha2}",
    )


def response_matches(credentials: Credentials, stored_ha1: str, method: str) -> bool:
    return hmac.compare_digest(
        expected_response(credentials, stored_ha1, method), credentials.response
    )


class NonceMint:
    """Mints and checks stateless nonces with a secret every node shares."""

    def __init__(
        self, secret: bytes | Callable[[], bytes], lifetime: float = NONCE_LIFETIME
    ) -> None:
        """`secret`, or how to fetch it (from Redis) at the first use: so a node starts with
        Redis down, and a REGISTER then fails until Redis answers."""
        self._secret = secret
        self.lifetime = lifetime

    @property
    def secret(self) -> bytes:
        if callable(self._secret):
            self._secret = self._secret()
        return self._secret

    def mint(self, now: float) -> str:
        body = struct.pack(">Q", int(now * 1000)) + secrets.token_bytes(8)
        return base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii").rstrip("=")

    def age(self, nonce: str, now: float) -> float | None:
        """Seconds since `nonce` was minted, or None when no registrar with our secret made it."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 32 or not hmac.compare_digest(raw[16:], self._mac(raw[:16])):
            return None
        (minted_ms,) = struct.unpack(">Q", raw[:8])
        return now - minted_ms / 1000

    def is_fresh(self, nonce: str, now: float) -> bool | None:
        """True while usable, False once expired (the phone gets `stale=true`), None if forged."""
        age = self.age(nonce, now)
        if age is None:
            return None
        return -5.0 <= age <= self.lifetime  # a few seconds of clock skew between nodes

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self.secret, body, hashlib.sha256).digest()[:16]


def challenges(
    realm: str, nonce: str, stale: bool = False, algorithms: tuple[str, ...] = ALGORITHMS
) -> list[str]:
    """WWW-Authenticate values, one per algorithm, most preferred first (RFC 8760 §2.4)."""
    values = []
    for algorithm in algorithms:
        value = (
            f"Digest realm={quote_string(realm)}, nonce={quote_string(nonce)}, "
            f'algorithm={algorithm}, qop="auth"'
        )
        values.append(value + (", stale=true" if stale else ""))
    return values
