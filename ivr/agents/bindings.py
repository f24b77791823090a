"""Registrar bindings: RFC 3261 §10.3 steps 6-8 as pure functions over (bindings, REGISTER).

An agent's address of record (AOR) is its user name; each of its phones registers a Contact
with an expiry, so one agent may have several contacts (desk phone and softphone). Storage
(`ivr.agents.registrar_store`) reads the current bindings, calls `apply_register` and writes
the result back atomically; everything that decides what a REGISTER does is here.

Policy where RFC 3261 leaves a choice: Expires below `min_expires` gets 423 with Min-Expires,
above `max_expires` is shortened to it; an agent may have at most `max_contacts` bindings
(a REGISTER that would add more gets 403); a Contact URI is compared by scheme, user, host
(case-insensitive), port (5060 when absent) and transport, as §19.1.4 requires for those parts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ivr.sip.message import Request
from ivr.sip.uri import NameAddr, SipUri

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
MAX_CONTACTS = 5


@dataclass(frozen=True)
class Binding:
    contact: str  # the registered Contact URI, as sent (params included)
    expires_at: float  # wall-clock seconds (epoch): the binding is gone after this
    call_id: str
    cseq: int
    source: str  # "host:port" the REGISTER came from (where a NATed phone can be reached)
    transport: str  # "udp" | "tcp"
    user_agent: str = ""
    q: float = 1.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Binding:
        return cls(**json.loads(text))

    def seconds_left(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


@dataclass(frozen=True)
class Refusal:
    """A REGISTER that changes nothing: the status, reason and extra headers to answer with."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ContactRequest:
    uri: str
    expires: int
    q: float


@dataclass(frozen=True)
class RegisterRequest:
    """What a REGISTER asks of the bindings. `remove_all` is `Contact: *` with Expires: 0;
    an empty `contacts` without it is a query (the answer lists the current bindings)."""

    call_id: str
    cseq: int
    remove_all: bool
    contacts: tuple[ContactRequest, ...]


@dataclass(frozen=True)
class Limits:
    default_expires: int = DEFAULT_EXPIRES
    min_expires: int = MIN_EXPIRES
    max_expires: int = MAX_EXPIRES
    max_contacts: int = MAX_CONTACTS


def contact_key(uri: str) -> str:
    """The parts of a Contact URI that make two bindings the same (RFC 3261 §19.1.4)."""
    parsed = SipUri.parse(uri)
    transport = (parsed.params.get("transport") or "udp").lower()
    port = parsed.port or (5061 if parsed.scheme == "sips" else 5060)
    return f"{parsed.scheme}:{parsed.user or ''}@{parsed.host.lower()}:{port};{transport}"


def _expires_value(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"Expires is not a number of seconds: {text!r}")
    return min(int(text.strip()), 2**32 - 1)


def read_register(request: Request, limits: Limits) -> RegisterRequest | Refusal:
    """§10.3 steps 6-7: the Contact list of a REGISTER, each with its expiry, or why not."""
    header_expires = request.headers.get("Expires")
    try:
        default = _expires_value(header_expires) if header_expires is not None else None
    except ValueError as error:
        return Refusal(400, f"Bad Request ({error})")
    values = request.headers.get_all("Contact")
    if any(value.strip() == "*" for value in values):
        if len(values) != 1 or default != 0:
            return Refusal(400, "Bad Request (Contact: * needs Expires: 0 and no other Contact)")
        return RegisterRequest(request.call_id, request.cseq[0], True, ())
    contacts: list[ContactRequest] = []
    for value in values:
        try:
            address = NameAddr.parse(value)
            if not isinstance(address.uri, SipUri):
                raise ValueError("a Contact must be a sip: or sips: URI")
            contact_key(str(address.uri))
            raw = address.params.get("expires")
            expires = _expires_value(raw) if raw is not None else default
            q = float(address.params.get("q") or 1.0)
        except ValueError as error:
            return Refusal(400, f"Bad Request (Contact: {error})")
        if expires is None:
            expires = limits.default_expires
        if 0 < expires < limits.min_expires:
            return Refusal(423, "Interval Too Brief", (("Min-Expires", str(limits.min_expires)),))
        contacts.append(ContactRequest(str(address.uri), min(expires, limits.max_expires), q))
    return RegisterRequest(request.call_id, request.cseq[0], False, tuple(contacts))


def live(bindings: dict[str, Binding], now: float) -> dict[str, Binding]:
    return {key: binding for key, binding in bindings.items() if binding.expires_at > now}


def apply_register(
    current: dict[str, Binding],
    register: RegisterRequest,
    now: float,
    *,
    source: str,
    transport: str,
    user_agent: str,
    limits: Limits,
) -> dict[str, Binding] | Refusal:
    """The agent's bindings after `register` (§10.3 steps 6-7), or a refusal changing nothing.

    A REGISTER from the same Call-ID with a CSeq not above the binding's is out of order
    (an old retransmission or a replay) and gets 500, as §10.3 says."""
    bindings = live(current, now)
    out_of_order = Refusal(500, "Server Internal Error (REGISTER out of order)")
    if register.remove_all:
        for binding in bindings.values():
            if binding.call_id == register.call_id and register.cseq <= binding.cseq:
                return out_of_order
        return {}
    updated = dict(bindings)
    for contact in register.contacts:
        key = contact_key(contact.uri)
        existing = updated.get(key)
        if (
            existing is not None
            and existing.call_id == register.call_id
            and register.cseq <= existing.cseq
        ):
            return out_of_order
        if contact.expires == 0:
            updated.pop(key, None)
            continue
        updated[key] = Binding(
            contact=contact.uri,
            expires_at=now + contact.expires,
            call_id=register.call_id,
            cseq=register.cseq,
            source=source,
            transport=transport,
            user_agent=user_agent,
            q=contact.q,
        )
    if len(updated) > limits.max_contacts and len(updated) > len(bindings):
        return Refusal(403, f"Forbidden (at most {limits.max_contacts} phones per agent)")
    return updated


def contact_headers(bindings: dict[str, Binding], now: float) -> tuple[tuple[str, str], ...]:
    """§10.3 step 8: every current binding, with the seconds it has left."""
    ordered = sorted(bindings.values(), key=lambda binding: (-binding.q, binding.expires_at))
    return tuple(
        ("Contact", f"<{binding.contact}>;expires={binding.seconds_left(now)}")
        for binding in ordered
    )
