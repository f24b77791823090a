"""The registrar for agents' phones: one REGISTER in, one reply out (status, reason, headers).

Order of checks, each refusing before the next one costs anything:
1. an address with `max_failures` failed authentications this minute gets 403 at once;
2. no credentials for our realm: 401 with a fresh nonce, SHA-256 and MD5 challenges;
3. malformed credentials: 400; a nonce no registrar of ours minted: 401 (a new challenge);
4. unknown or disabled agent, or a wrong response: 403 (the same answer, so names cannot be
   probed), counted as a failure of that address;
5. a right response on an expired nonce: 401 `stale=true` (the phone retries without asking
   the agent); a nonce-count not above the last one used with that nonce (a replay): 401;
6. the authenticated agent registering anyone else's address: 403;
7. the bindings change (`ivr.agents.bindings`), atomically in Redis.

`handle` blocks (SQL for the agent, Redis for nonces and bindings): run it on a worker pool.
Time is passed in (`now`, epoch seconds), so tests drive expiry without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from ivr.agents.accounts import AgentCredentials
from ivr.agents.bindings import (
    Binding,
    Limits,
    Refusal,
    apply_register,
    contact_headers,
    read_register,
)
from ivr.agents.digest import (
    ALGORITHMS,
    BadCredentials,
    NonceMint,
    challenges,
    parse_authorization,
    response_matches,
)
from ivr.agents.registrar_store import RegistrarStore
from ivr.config import ConfigError
from ivr.sip.message import Request
from ivr.sip.uri import NameAddr, SipUri, Via

log = logging.getLogger("ivr.agents.registrar")

MAX_FAILURES = 10  # failed authentications per address per minute before it is refused outright


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RegistrarSettings:
    realm: str = "12333"
    limits: Limits = field(default_factory=Limits)
    max_failures: int = MAX_FAILURES
    algorithms: tuple[str, ...] = ALGORITHMS
    # Proxies in front of the nodes (Kamailio): their REGISTERs are counted against the phone's
    # address in the Via below theirs, not against the proxy (one bad phone would lock out all).
    trusted_proxies: frozenset[str] = frozenset()

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> RegistrarSettings:
        """`agents:` in config/ivr.yaml: `realm` and `registration: {min_expires, ...}`."""
        registration = section.get("registration") or {}
        defaults = Limits()
        limits = Limits(
            default_expires=int(registration.get("default_expires", defaults.default_expires)),
            min_expires=int(registration.get("min_expires", defaults.min_expires)),
            max_expires=int(registration.get("max_expires", defaults.max_expires)),
            max_contacts=int(registration.get("max_contacts", defaults.max_contacts)),
        )
        algorithms = tuple(str(name).upper() for name in registration.get("algorithms", ALGORITHMS))
        unknown = set(algorithms) - set(ALGORITHMS)
        if unknown or not algorithms:
            raise ConfigError(
                f"agents.registration.algorithms: choose from {', '.join(ALGORITHMS)}"
            )
        return cls(
            realm=str(section.get("realm", cls.realm)),
            limits=limits,
            max_failures=int(registration.get("max_failures", MAX_FAILURES)),
            algorithms=algorithms,
            trusted_proxies=frozenset(str(a) for a in registration.get("trusted_proxies", ())),
        )


class Registrar:
    def __init__(
        self,
        settings: RegistrarSettings,
        store: RegistrarStore,
        lookup: Callable[[str], AgentCredentials | None],
        mint: NonceMint,
    ) -> None:
        self.settings = settings
        self.store = store
        self.lookup = lookup
        self.mint = mint

    def handle(
        self, request: Request, source: tuple[str, int], transport: str, now: float
    ) -> Reply:
        address = self._client_address(request, source)
        if self.store.failures(address, now) >= self.settings.max_failures:
            return Reply(403, "Forbidden (too many failed attempts, try later)")
        aor = _aor_user(request)
        if aor is None:
            return Reply(400, "Bad Request (To is not a sip: address with a user)")
        realm = self.settings.realm
        try:
            offered = [parse_authorization(v) for v in request.headers.get_all("Authorization")]
        except BadCredentials as error:
            self._failed(address, now, f"malformed credentials ({error})")
            return Reply(400, f"Bad Request ({error})")
        ours = [
            credentials
            for credentials in offered
            if credentials.realm == realm and credentials.algorithm in self.settings.algorithms
        ]
        if not ours:
            return self._challenge(now)
        credentials = ours[0]
        fresh = self.mint.is_fresh(credentials.nonce, now)
        if fresh is None:
            self._failed(address, now, "a nonce we did not issue")
            return self._challenge(now)
        if credentials.uri != request.uri:
            self._failed(address, now, "digest uri differs from the Request-URI")
            return Reply(400, "Bad Request (digest uri is not the Request-URI)")
        agent = self.lookup(credentials.username)
        if (
            agent is None
            or not agent.enabled
            or agent.realm != realm
            or not response_matches(credentials, agent.ha1_for(credentials.algorithm), "REGISTER")
        ):
            self._failed(address, now, f"wrong credentials for {credentials.username!r}")
            return Reply(403, "Forbidden")
        if not fresh:
            return self._challenge(now, stale=True)
        if not self.store.claim_nonce_count(
            credentials.nonce, credentials.nonce_count, self.mint.lifetime
        ):
            self._failed(address, now, f"nonce-count replayed by {agent.username}")
            return self._challenge(now)
        if aor != agent.username:
            log.info("agent %s may not register %s", agent.username, aor)
            return Reply(403, "Forbidden (you may register only your own address)")
        return self._register(
            request, agent.username, credentials.algorithm, source, transport, now
        )

    def _register(
        self,
        request: Request,
        agent: str,
        algorithm: str,
        source: tuple[str, int],
        transport: str,
        now: float,
    ) -> Reply:
        limits = self.settings.limits
        register = read_register(request, limits)
        if isinstance(register, Refusal):
            return Reply(register.status, register.reason, register.headers)
        if not register.contacts and not register.remove_all:
            current = self.store.bindings(agent, now)  # a query: list, change nothing
            return Reply(200, None, (*contact_headers(current, now), _date(now)))
        user_agent = request.headers.get("User-Agent") or ""

        def change(current: dict[str, Binding]) -> dict[str, Binding] | Refusal:
            return apply_register(
                current,
                register,
                now,
                source=f"{source[0]}:{source[1]}",
                transport=transport,
                user_agent=user_agent[:80],
                limits=limits,
            )

        result = self.store.update(agent, now, change)
        if isinstance(result, Refusal):
            return Reply(result.status, result.reason, result.headers)
        log.info(
            "agent %s: %d phone(s) registered (%s digest, from %s:%d)",
            agent,
            len(result),
            algorithm,
            source[0],
            source[1],
        )
        return Reply(200, None, (*contact_headers(result, now), _date(now)))

    def _client_address(self, request: Request, source: tuple[str, int]) -> str:
        """Where the REGISTER came from: the sender, or behind a trusted proxy the phone's own
        address as the proxy's Via below its own records it (received=, else the host)."""
        if source[0] not in self.settings.trusted_proxies:
            return source[0]
        vias = request.headers.get_all("Via")
        if len(vias) < 2:
            return source[0]
        try:
            via = Via.parse(vias[1])
        except ValueError:
            return source[0]
        return via.params.get("received") or via.host

    def _challenge(self, now: float, stale: bool = False) -> Reply:
        nonce = self.mint.mint(now)
        return Reply(
            401,
            None,
            tuple(
                ("WWW-Authenticate", value)
                for value in challenges(self.settings.realm, nonce, stale, self.settings.algorithms)
            ),
        )

    def _failed(self, address: str, now: float, why: str) -> None:
        count = self.store.count_failure(address, now)
        log.warning("REGISTER from %s refused: %s (%d this minute)", address, why, count)


def _date(now: float) -> tuple[str, str]:
    """RFC 3261 §20.17: a 200 to REGISTER carries Date, which simple phones set their clock by."""
    return ("Date", formatdate(now, usegmt=True))


def _aor_user(request: Request) -> str | None:
    try:
        to = NameAddr.parse(request.headers.get("To") or "")
    except ValueError:
        return None
    if not isinstance(to.uri, SipUri) or not to.uri.user:
        return None
    return to.uri.user
