"""RFC 3261 §12 dialogs: the state two user agents share for one call.

A `Dialog` is created when the call is answered (we send or receive a 2xx to INVITE) and holds
what every later request in the call needs: Call-ID, both tags, both parties' From/To values,
our and the peer's CSeq, the peer's target (its Contact) and the route set (Record-Route).

Requests in a dialog go to the dialog's *flow*: where the peer's INVITE (or its answer) came
from, over the same transport. That is the RFC 3581 idea applied to requests: it reaches
callers behind NAT and reuses their TCP connection, where the Contact address often would not.
The Request-URI and Route headers follow §12.2.1.1 for loose routers (`;lr`, every RFC 3261
proxy); RFC 2543 strict routers are not supported.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ivr.sip.message import Headers, Request, Response
from ivr.sip.uri import NameAddr

MAGIC_COOKIE = "z9hG4bK"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def with_tag(party: str, tag: str) -> str:
    """A From/To value with its tag parameter set."""
    address = NameAddr.parse(party)
    address.params["tag"] = tag
    return str(address)


def contact_uri(value: str | None) -> str | None:
    """The URI inside a Contact/Record-Route value, or None when there is none usable."""
    if not value or value.strip() == "*":
        return None
    try:
        return str(NameAddr.parse(value).uri)
    except ValueError:
        return None


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_party: str  # our From (or To, when the peer sends) value, tag included
    remote_party: str
    remote_target: str  # Request-URI of our requests: the peer's Contact
    route_set: list[str]  # Route header values, in the order our requests carry them
    local_seq: int
    remote_seq: int | None
    flow: tuple[str, int]  # where our requests go
    transport: str
    via_host: str  # sent-by for the Via of our requests
    contact: str  # our Contact value

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def for_incoming(
        cls,
        invite: Request,
        local_tag: str,
        flow: tuple[str, int],
        transport: str,
        via_host: str,
        contact: str,
    ) -> Dialog:
        """UAS side (§12.1.1), created as we send the 2xx."""
        headers = invite.headers
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_tag or "",
            local_party=with_tag(headers.get("To") or "", local_tag),
            remote_party=headers.get("From") or "",
            remote_target=contact_uri(headers.get("Contact"))
            or contact_uri(headers.get("From"))
            or "",
            route_set=headers.get_all("Record-Route"),
            local_seq=0,
            remote_seq=invite.cseq[0],
            flow=flow,
            transport=transport,
            via_host=via_host,
            contact=contact,
        )

    @classmethod
    def for_outgoing(
        cls, invite: Request, response: Response, flow: tuple[str, int], transport: str
    ) -> Dialog:
        """UAC side (§12.1.2), created from the 2xx to our INVITE."""
        headers = invite.headers
        via = invite.top_via
        return cls(
            call_id=invite.call_id,
            local_tag=invite.from_tag or "",
            remote_tag=response.to_tag or "",
            local_party=headers.get("From") or "",
            remote_party=response.headers.get("To") or "",
            remote_target=contact_uri(response.headers.get("Contact")) or invite.uri,
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            local_seq=invite.cseq[0],
            remote_seq=None,
            flow=flow,
            transport=transport,
            via_host=f"{via.host}:{via.port}" if via.port else via.host,
            contact=headers.get("Contact") or "",
        )

    def accepts_cseq(self, request: Request) -> bool:
        """§12.2.2: a request with a lower CSeq than the last one is out of order (500)."""
        seq = request.cseq[0]
        if self.remote_seq is not None and seq < self.remote_seq:
            return False
        self.remote_seq = seq
        return True

    def new_request(
        self, method: str, body: bytes = b"", content_type: str | None = None
    ) -> Request:
        """§12.2.1.1: the next request of ours in this dialog (takes the next CSeq)."""
        self.local_seq += 1
        return self._request(method, self.local_seq, new_branch(), body, content_type)

    def ack(self, invite_seq: int, body: bytes = b"", content_type: str | None = None) -> Request:
        """The ACK for a 2xx: a transaction of its own, same CSeq number as the INVITE."""
        return self._request("ACK", invite_seq, new_branch(), body, content_type)

    def _request(
        self, method: str, seq: int, branch: str, body: bytes, content_type: str | None
    ) -> Request:
        headers = Headers()
        headers.add(
            "Via", f"SIP/2.0/{self.transport.upper()} {self.via_host};branch={branch};rport"
        )
        for route in self.route_set:
            headers.add("Route", route)
        headers.add("Max-Forwards", "70")
        headers.add("From", self.local_party)
        headers.add("To", self.remote_party)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{seq} {method}")
        headers.add("Contact", self.contact)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return Request(method, self.remote_target, headers, body)
