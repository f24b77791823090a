"""The SIP user agent core (RFC 3261 §8, §9, §12-15), sans-I/O in the aioquic style.

Bytes go in with `receive(data, source, transport, now)`, timers fire through
`handle_timer(now)` at `get_timer()`, bytes to send come out of `datagrams_to_send()` and what
happened comes out of `next_event()`. The call layer drives calls with the commands
(`answer`, `hangup`, `invite`, ...). Nothing here touches a socket or a clock.

Rule: what a call may do next is decided by `CALL_TABLE` alone (phase -> {input -> next
phase}); the methods below do the sending that goes with a transition. Transactions
(ivr.sip.transaction) handle retransmissions and timers; dialogs (ivr.sip.dialog) hold tags,
CSeq and routing.

Policy, where RFC 3261 leaves a choice:
- Responses go to the request's source address and port, on the same transport (for TCP,
  the connection it came on); Via gets `received`/`rport` as RFC 3581 asks.
- Max-Forwards 0 is processed like any other value: it limits proxies (§16.3), and the IVR
  is the request's final destination.
- INFO: `application/dtmf-relay` and `application/dtmf` give a DtmfInfo event and 200; an
  empty INFO (a keep-alive) gets 200; other bodies get 415 with Accept, a malformed DTMF body
  400.
- A re-INVITE while an earlier one from the peer awaits our answer gets 500 + Retry-After
  (§14.2); one arriving before our 2xx was acknowledged gets 491.
- Requests in an early dialog (before we answer) get 481: the IVR answers at once.
- Of several 2xx from a forked outgoing INVITE only the first dialog is kept.
- Stateless where state buys nothing (RFC 3261 8.2.7): refusals (400-class checks, 405, 501),
  OPTIONS and other requests outside a dialog, and 503s are answered without a transaction,
  so a flood of them costs no memory. A new INVITE first asks `admission` (the process's
  call cap and per-source rate) and is refused 503 + Retry-After before any state exists;
  the transaction and call tables are capped (MAX_TRANSACTIONS, MAX_CALLS) the same way, and
  so are the calls from one address still waiting for the ACK of our 2xx
  (MAX_UNCONFIRMED_PER_SOURCE): a spoofed source, which never ACKs, cannot fill the IVR.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import heapq
import itertools
import logging
import re
import secrets
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr.sip.dialog import Dialog, new_branch, new_tag
from ivr.sip.events import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    CallHandle,
    DtmfInfo,
    Event,
    IncomingCall,
    OutgoingAnswered,
    OutgoingFailed,
    OutgoingRinging,
    Referred,
    RegisterReceived,
    Reinvite,
    RequestHandle,
)
from ivr.sip.message import (
    REASON_PHRASES,
    Headers,
    Request,
    Response,
    SipParseError,
    make_response,
    parse_message,
)
from ivr.sip.transaction import (
    ClientTransaction,
    Outgoing,
    ServerTransaction,
    client_key,
    invite_key,
    server_key,
)
from ivr.sip.uri import NameAddr, SipUri, Via
from ivr.sip.validation import check_request

__all__ = ["CallStateError", "Outgoing", "UserAgent"]

log = logging.getLogger("ivr.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
ACCEPT = "application/sdp, application/dtmf-relay, application/dtmf"
SDP = "application/sdp"
SIPFRAG = "message/sipfrag;version=2.0"
DTMF_RELAY = "application/dtmf-relay"  # Signal=5\r\nDuration=160 (pjsip, linphone, sipp)
DTMF_TYPES = (DTMF_RELAY, "application/dtmf")
# Methods we know and refuse with 405 (the IVR is no registrar, presence or messaging server).
NOT_ALLOWED = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", "UPDATE", "PRACK"}
)
DTMF_SIGNALS = "0123456789*#ABCD"  # RFC 4733 event codes 0-15, in order
_DTMF_RELAY_SIGNAL = re.compile(r"^\s*signal\s*=\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_DTMF_RELAY_DURATION = re.compile(r"^\s*duration\s*=\s*([0-9]+)\s*$", re.IGNORECASE | re.MULTILINE)
_LINE_BREAKING = re.compile(r"[\x00\r\n]")
MAX_REASON = 100  # longest parser reason we echo in a 400 Reason-Phrase
# Backstops whatever the admission settings say: live transactions (a call holds 1-3) and calls.
MAX_TRANSACTIONS = 20_000
MAX_CALLS = 5_000
# Incoming calls from one address not yet confirmed by an ACK: a source that never ACKs (a
# spoofed address) holds at most this many calls, each for 64*T1, instead of its whole rate.
MAX_UNCONFIRMED_PER_SOURCE = 32
TABLE_FULL_RETRY_AFTER = 5  # seconds, in the 503 of a full table


Registry = dict[tuple[str, ...], Any]  # transaction key -> (transaction, call)
# (source, now) -> None to take a new INVITE, or the Retry-After seconds of its 503.
Admission = Callable[[tuple[str, int], float], int | None]
# (source, now) -> whether to read a message from that source at all (a flood is not parsed).
MessageGate = Callable[[tuple[str, int], float], bool]


class CallStateError(Exception):
    """The call layer asked for something the call's phase does not allow (a bug there)."""


class Phase(enum.Enum):
    OFFERED = "offered"  # incoming INVITE not answered yet
    ANSWERED = "answered"  # our 2xx is out, the ACK not yet in
    BYE_AFTER_ACK = "bye after ack"  # hung up while ANSWERED: BYE waits for the ACK (§15)
    CALLING = "calling"  # our INVITE is out, no provisional response yet
    RINGING = "ringing"  # a provisional response came
    CANCEL_AFTER_1XX = "cancel after 1xx"  # hung up while CALLING: CANCEL waits for a 1xx (§9.1)
    CANCELLING = "cancelling"  # CANCEL sent; a 2xx that crosses it gets ACK + BYE
    CONFIRMED = "confirmed"
    ENDED = "ended"


class In(enum.Enum):
    RING = "ring"
    ANSWER = "answer"
    REJECT = "reject"
    HANGUP = "hangup"
    CANCEL = "CANCEL received"
    ACK = "ACK received"
    ACK_TIMEOUT = "no ACK for our 2xx"
    BYE = "BYE received"
    PROVISIONAL = "1xx received"
    SUCCESS = "2xx received"
    FAILURE = "3xx-6xx received"
    TIMEOUT = "INVITE timed out"


P = Phase
CALL_TABLE: dict[Phase, dict[In, Phase]] = {
    P.OFFERED: {
        In.RING: P.OFFERED,
        In.ANSWER: P.ANSWERED,
        In.REJECT: P.ENDED,
        In.HANGUP: P.ENDED,
        In.CANCEL: P.ENDED,
    },
    P.ANSWERED: {
        In.ACK: P.CONFIRMED,
        In.ACK_TIMEOUT: P.ENDED,
        In.BYE: P.ENDED,
        In.HANGUP: P.BYE_AFTER_ACK,
    },
    P.BYE_AFTER_ACK: {In.ACK: P.ENDED, In.ACK_TIMEOUT: P.ENDED, In.BYE: P.ENDED},
    P.CALLING: {
        In.PROVISIONAL: P.RINGING,
        In.SUCCESS: P.CONFIRMED,
        In.FAILURE: P.ENDED,
        In.TIMEOUT: P.ENDED,
        In.HANGUP: P.CANCEL_AFTER_1XX,
    },
    P.RINGING: {
        In.PROVISIONAL: P.RINGING,
        In.SUCCESS: P.CONFIRMED,
        In.FAILURE: P.ENDED,
        In.TIMEOUT: P.ENDED,
        In.HANGUP: P.CANCELLING,
    },
    P.CANCEL_AFTER_1XX: {
        In.PROVISIONAL: P.CANCELLING,
        In.SUCCESS: P.ENDED,
        In.FAILURE: P.ENDED,
        In.TIMEOUT: P.ENDED,
    },
    P.CANCELLING: {
        In.PROVISIONAL: P.CANCELLING,
        In.SUCCESS: P.ENDED,
        In.FAILURE: P.ENDED,
        In.TIMEOUT: P.ENDED,
    },
    P.CONFIRMED: {In.BYE: P.ENDED, In.HANGUP: P.ENDED, In.ACK_TIMEOUT: P.ENDED},
    P.ENDED: {},
}
COMMANDS = frozenset({In.RING, In.ANSWER, In.REJECT, In.HANGUP})
UNCONFIRMED = frozenset({P.OFFERED, P.ANSWERED, P.BYE_AFTER_ACK})  # incoming, no ACK yet


@dataclass(eq=False)
class _Call:
    handle: CallHandle
    invite: Request
    invite_tx: ServerTransaction | ClientTransaction | None  # None only while being created
    flow: tuple[str, int]
    transport: str
    phase: Phase
    dialog: Dialog | None = None
    reported: bool = False  # the terminal event went out: commands are now ignored
    rang: bool = False  # OutgoingRinging went out
    ack: bytes | None = None  # our ACK for the 2xx of our INVITE, re-sent on 2xx retransmission
    reinvite: ServerTransaction | None = None  # the peer's re-INVITE awaiting our answer
    awaiting_ack: dict[int, ServerTransaction] = field(default_factory=dict)  # CSeq -> 2xx'd tx

    @property
    def invite_server(self) -> ServerTransaction:
        """The INVITE transaction of an incoming call."""
        assert isinstance(self.invite_tx, ServerTransaction)
        return self.invite_tx

    @property
    def invite_client(self) -> ClientTransaction:
        """The INVITE transaction of a call we placed."""
        assert isinstance(self.invite_tx, ClientTransaction)
        return self.invite_tx


class UserAgent:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        user_agent: str = "ivr12333",
        admission: Admission | None = None,
        message_gate: MessageGate | None = None,
        registrar: bool = False,
    ) -> None:
        """`registrar`: pass REGISTER up as `RegisterReceived` instead of refusing it (405)."""
        self.host = host
        self.registrar = registrar
        self.port = port
        self.user_agent = user_agent
        self.admission = admission
        self.message_gate = message_gate
        self._outbox: list[Outgoing] = []
        self._events: deque[Event] = deque()
        self._server_tx: dict[tuple[str, ...], tuple[ServerTransaction, _Call | None]] = {}
        self._client_tx: dict[tuple[str, ...], tuple[ClientTransaction, _Call]] = {}
        # (deadline, tie-breaker, registry, key) of every transaction timer; stale entries
        # (the transaction moved on or ended) are skipped when they come up.
        self._timers: list[tuple[float, int, Registry, tuple[str, ...]]] = []
        self._timer_order = itertools.count()
        self._calls: dict[CallHandle, _Call] = {}
        self._dialogs: dict[tuple[str, str, str], _Call] = {}
        # (Call-ID, From tag, CSeq) of each live incoming call: spots merged requests (§8.2.2.2)
        self._origins: dict[tuple[str, str, int], _Call] = {}
        self._unconfirmed: Counter[str] = Counter()  # source host -> incoming calls not ACKed
        # A node shutting down gracefully: OPTIONS outside a dialog get 503, so a dispatcher
        # probing it (Kamailio's dispatcher) sends it no new calls while its calls finish.
        self.draining = False
        self._requests: dict[RequestHandle, ServerTransaction] = {}  # awaiting `respond`

    # ------------------------------------------------------------------ aioquic-style I/O

    def receive(self, data: bytes, source: tuple[str, int], transport: str, now: float) -> None:
        """One datagram (UDP) or one framed message (TCP) from `source`."""
        if self.message_gate is not None and not self.message_gate(source, now):
            return  # a flooding source: not even parsed
        try:
            message = parse_message(data)
        except SipParseError as error:
            self._refuse_unparsable(error, source, transport)
            return
        if isinstance(message, Response):
            self._receive_response(message, now)
        else:
            self._receive_request(message, source, transport, now)

    def handle_timer(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, registry, key = heapq.heappop(self._timers)
            entry = registry.get(key)
            if entry is None:
                continue
            tx, call = entry
            deadline = tx.deadline
            if deadline is None or deadline > now:
                continue  # stale: the transaction has moved on
            if tx.handle_timer(now) and call is not None:
                self._timed_out(tx, call, now)
            if tx.terminated:
                del registry[key]

    def get_timer(self) -> float | None:
        while self._timers:
            deadline, _, registry, key = self._timers[0]
            entry = registry.get(key)
            if entry is not None and entry[0].deadline == deadline:
                return deadline
            heapq.heappop(self._timers)
        return None

    def datagrams_to_send(self) -> list[Outgoing]:
        outbox = self._outbox.copy()
        self._outbox.clear()  # in place: transactions hold its append method
        return outbox

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def has_call_on(self, flow: tuple[str, int], transport: str) -> bool:
        """Whether a live call is carried by `flow` (for TCP: the connection to that peer)."""
        return any(
            call.transport == transport
            and flow in (call.flow, call.dialog.flow if call.dialog else None)
            for call in self._calls.values()
        )

    # ------------------------------------------------------------------ commands: incoming calls

    def ringing(self, call: CallHandle, now: float) -> None:
        active = self._command(call, In.RING)
        if active is not None:
            self._respond_invite(active, 180, now)

    def answer(self, call: CallHandle, sdp: bytes, now: float) -> None:
        active = self._command(call, In.ANSWER)
        if active is None:
            return
        self._respond_invite(active, 200, now, sdp)
        active.dialog = Dialog.for_incoming(
            active.invite,
            active.handle.local_tag,
            active.flow,
            active.transport,
            self._sent_by,
            self._contact(active.transport),
        )
        self._dialogs[active.dialog.key] = active
        active.awaiting_ack[active.invite.cseq[0]] = active.invite_server
        log.info("call %s answered", call.call_id)

    def reject(self, call: CallHandle, status: int, now: float, reason: str | None = None) -> None:
        if not 300 <= status <= 699:
            raise ValueError(f"reject needs a 3xx-6xx status, not {status}")
        active = self._command(call, In.REJECT)
        if active is not None:
            self._respond_invite(active, status, now, reason=reason)
            self._report(active, CallEnded(call, "rejected"))

    def hangup(self, call: CallHandle, now: float) -> None:
        """BYE for a call that is up; refuses (480) an unanswered incoming call; CANCELs an
        unanswered outgoing one. The terminal event is reported at once."""
        active = self._calls.get(call)
        if active is None or active.reported:
            return
        before = active.phase
        after = self._command(call, In.HANGUP)
        if after is None:
            return
        if before is P.OFFERED:
            self._respond_invite(after, 480, now)
            self._report(after, CallEnded(call, "rejected"))
        elif before is P.CONFIRMED:
            self._send_bye(after, now)
            self._report(after, CallEnded(call, "bye-sent"))
        elif before is P.ANSWERED:
            self._report(after, CallEnded(call, "bye-sent"))
        else:  # CALLING or RINGING
            if after.phase is P.CANCELLING:
                self._send_cancel(after, now)
            self._report(after, CallEnded(call, "cancelled"))

    def answer_reinvite(self, call: CallHandle, sdp: bytes, now: float) -> None:
        pending = self._take_reinvite(call)
        if pending is not None:
            active, tx = pending
            self._reply(tx, 200, now, sdp=sdp)
            active.awaiting_ack[tx.request.cseq[0]] = tx

    def reject_reinvite(self, call: CallHandle, status: int, now: float) -> None:
        pending = self._take_reinvite(call)
        if pending is not None:
            self._reply(pending[1], status, now)

    def respond(
        self,
        handle: RequestHandle,
        status: int,
        now: float,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """The final answer to a request passed up outside a call (`RegisterReceived`)."""
        tx = self._requests.pop(handle, None)
        if tx is None:
            return
        self._reply(tx, status, now, reason, extra=headers)

    # ------------------------------------------------------------------ commands: outgoing calls

    def invite(
        self,
        target: str,
        sdp: bytes,
        now: float,
        from_user: str = "ivr",
        headers: dict[str, str] | None = None,
    ) -> CallHandle:
        """Place a call to `target` (a sip: URI; `;transport=tcp` selects TCP)."""
        uri = SipUri.parse(target)
        transport = "tcp" if (uri.params.get("transport") or "").lower() == "tcp" else "udp"
        destination = (uri.host.strip("[]"), uri.port or 5060)
        local_tag = new_tag()
        call_id = f"{secrets.token_hex(10)}@{self.host}"
        request_headers = Headers()
        request_headers.add("Via", self._via(transport))
        request_headers.add("Max-Forwards", "70")
        # from_user is escaped as a URI user part: whatever it holds stays inside the URI
        caller_uri = SipUri(user=from_user, host=self.host, port=self.port)
        request_headers.add("From", f"<{caller_uri}>;tag={local_tag}")
        request_headers.add("To", f"<{target}>")
        request_headers.add("Call-ID", call_id)
        request_headers.add("CSeq", "1 INVITE")
        request_headers.add("Contact", self._contact(transport))
        request_headers.add("Allow", ALLOW)
        request_headers.add("User-Agent", self.user_agent)
        for name, value in (headers or {}).items():
            if _LINE_BREAKING.search(name + value):
                raise ValueError(f"header {name[:30]!r} would break the message's lines")
            request_headers.add(name, value)
        request_headers.add("Content-Type", SDP)
        request = Request("INVITE", target, request_headers, sdp)
        handle = CallHandle(call_id, local_tag)
        call = _Call(handle, request, None, destination, transport, P.CALLING)
        self._calls[handle] = call
        call.invite_tx = self._start_client(call, request, now)
        log.info("call %s: INVITE to %s", call_id, target)
        return handle

    # ------------------------------------------------------------------ requests in

    def _receive_request(
        self, request: Request, source: tuple[str, int], transport: str, now: float
    ) -> None:
        self._stamp_via(request, source)
        if request.method == "ACK":
            self._receive_ack(request, now)
            return
        key = server_key(request)
        known = self._server_tx.get(key)
        if known is not None:
            known[0].receive(request, now)  # a retransmission
            return
        refusal = self._refusal(request)
        if refusal is not None:
            self._send_stateless(refusal, source, transport)
            return
        method, new = request.method, request.to_tag is None
        register = method == "REGISTER" and self.registrar  # answered by the TU, statefully
        if new and method not in ("INVITE", "CANCEL") and not register:
            status = (503 if self.draining else 200) if method == "OPTIONS" else 481
            self._answer_stateless(request, status, source, transport)
            return
        if not new and method != "CANCEL" and not register and self._dialog_call(request) is None:
            self._answer_stateless(request, 481, source, transport)
            return
        retry_after = self._busy(source, now) if new and method == "INVITE" else None
        if retry_after is None and len(self._server_tx) >= MAX_TRANSACTIONS:
            retry_after = TABLE_FULL_RETRY_AFTER
        if retry_after is not None:
            extra = (("Retry-After", str(retry_after)),)
            self._answer_stateless(request, 503, source, transport, extra)
            return
        on_deadline = functools.partial(self._schedule, self._server_tx, key)
        tx = ServerTransaction(request, source, transport, self._outbox.append, now, on_deadline)
        self._server_tx[key] = (tx, None)
        if method == "CANCEL":
            self._receive_cancel(tx, now)
        elif register:
            handle = RequestHandle(key)
            self._requests[handle] = tx
            self._events.append(RegisterReceived(handle, request, source, transport))
        elif new:
            self._receive_invite(tx, source, transport, now)
        else:
            self._receive_in_dialog(tx, now)

    def _busy(self, source: tuple[str, int], now: float) -> int | None:
        """The Retry-After of a 503 for a new INVITE, or None to take it."""
        if len(self._calls) >= MAX_CALLS:
            return TABLE_FULL_RETRY_AFTER
        if self._unconfirmed[source[0]] >= MAX_UNCONFIRMED_PER_SOURCE:
            return TABLE_FULL_RETRY_AFTER
        return self.admission(source, now) if self.admission is not None else None

    def _refusal(self, request: Request) -> Response | None:
        """§8.2.1 method inspection, then the header checks of ivr.sip.validation."""
        method = request.method
        if method == "REGISTER" and self.registrar:
            return check_request(request, to_tag=request.to_tag or new_tag())
        if method == "REFER" and request.to_tag is not None:  # a transfer inside a call
            return check_request(request, to_tag=request.to_tag)
        if method in NOT_ALLOWED or method not in ALLOW.split(", "):
            response = make_response(
                request, 405 if method in NOT_ALLOWED else 501, to_tag=new_tag()
            )
            response.headers.add("Allow", ALLOW)
            return response
        return check_request(request, to_tag=request.to_tag or new_tag())

    def _receive_invite(
        self, tx: ServerTransaction, source: tuple[str, int], transport: str, now: float
    ) -> None:
        request = tx.request
        origin = _origin(request)
        if origin in self._origins:  # the same INVITE by another path (or a new branch)
            self._reply(tx, 482, now)
            return
        handle = CallHandle(request.call_id, new_tag())
        call = _Call(handle, request, tx, source, transport, P.OFFERED)
        self._calls[handle] = call
        self._unconfirmed[source[0]] += 1
        self._origins[origin] = call
        self._server_tx[server_key(request)] = (tx, call)
        self._reply(tx, 100, now)  # at once: some phones wait for it
        log.info("call %s: INVITE from %s:%d over %s", handle.call_id, *source, transport)
        self._events.append(IncomingCall(handle, request, request.body))

    def _receive_cancel(self, tx: ServerTransaction, now: float) -> None:
        """§9.2: 200 for the CANCEL; 487 for the INVITE if it is still unanswered."""
        invite = self._server_tx.get(invite_key(tx.request))
        if invite is None or invite[1] is None:
            self._reply(tx, 481, now)
            return
        call = invite[1]
        self._reply(tx, 200, now, to_tag=call.handle.local_tag)
        if invite[0] is call.reinvite:
            self._reply(call.reinvite, 487, now)
            call.reinvite = None
        elif call.phase is P.OFFERED and not call.reported:
            self._respond_invite(call, 487, now)
            self._advance(call, In.CANCEL)
            log.info("call %s cancelled by the caller", call.handle.call_id)
            self._report(call, CallCancelled(call.handle))

    def _receive_ack(self, ack: Request, now: float) -> None:
        known = self._server_tx.get(server_key(ack))
        if known is not None:  # ACK for a non-2xx final: same branch as the INVITE
            known[0].receive(ack, now)
            return
        call = self._dialogs.get((ack.call_id, ack.to_tag or "", ack.from_tag or ""))
        if call is None:
            return  # stray ACKs are never answered
        tx = call.awaiting_ack.pop(ack.cseq[0], None)
        if tx is None:
            return  # a retransmitted ACK
        tx.acknowledge(now)
        if tx is not call.invite_tx:  # the ACK of a re-INVITE's 2xx: maybe the answer to ours
            self._report_progress(call, CallConfirmed(call.handle, ack.body))
            return
        before = call.phase
        self._advance(call, In.ACK)
        if before is P.ANSWERED:
            log.info("call %s confirmed", call.handle.call_id)
            self._events.append(CallConfirmed(call.handle, ack.body))
        elif before is P.BYE_AFTER_ACK:
            self._send_bye(call, now)

    def _dialog_call(self, request: Request) -> _Call | None:
        call = self._dialogs.get((request.call_id, request.to_tag or "", request.from_tag or ""))
        return call if call is not None and call.dialog is not None else None

    def _receive_in_dialog(self, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        call = self._dialog_call(request)
        assert call is not None and call.dialog is not None  # checked before the tx existed
        if not call.dialog.accepts_cseq(request):
            self._reply(tx, 500, now, reason="Server Internal Error (CSeq out of order)")
            return
        method = request.method
        if method == "BYE":
            self._receive_bye(call, tx, now)
        elif method == "INVITE":
            self._receive_reinvite(call, tx, now)
        elif method == "INFO":
            self._receive_info(call, tx, now)
        elif method == "REFER":
            self._receive_refer(call, tx, now)
        else:  # OPTIONS inside the dialog: a keep-alive
            self._reply(tx, 200, now)

    def _receive_refer(self, call: _Call, tx: ServerTransaction, now: float) -> None:
        """RFC 3515 blind transfer: 202, the target to the call layer, then at once the NOTIFY
        that ends the implicit subscription with "200 OK" (the IVR moves the caller itself)."""
        try:
            target = NameAddr.parse(tx.request.headers.get("Refer-To") or "").uri
        except ValueError:
            self._reply(tx, 400, now, "Bad Request (no usable Refer-To)")
            return
        if call.phase is not P.CONFIRMED or call.dialog is None:
            self._reply(tx, 603, now)
            return
        self._reply(tx, 202, now)
        self._events.append(Referred(call.handle, str(target)))
        notify = call.dialog.new_request("NOTIFY", b"SIP/2.0 200 OK\r\n", SIPFRAG)
        notify.headers.add("Event", "refer")
        notify.headers.add("Subscription-State", "terminated;reason=noresource")
        self._start_client(call, notify, now)
        log.info("call %s: REFER to %s", call.handle.call_id, target)

    def _receive_bye(self, call: _Call, tx: ServerTransaction, now: float) -> None:
        self._reply(tx, 200, now)
        for pending in call.awaiting_ack.values():
            pending.acknowledge(now)  # the peer got our 2xx, or it would not hang up
        call.awaiting_ack.clear()
        if call.reinvite is not None:
            self._reply(call.reinvite, 487, now)
            call.reinvite = None
        self._advance(call, In.BYE)
        log.info("call %s: BYE from the peer", call.handle.call_id)
        self._report(call, CallEnded(call.handle, "bye"))

    def _receive_reinvite(self, call: _Call, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        self._server_tx[server_key(request)] = (tx, call)
        if call.reinvite is not None:
            reason = "Server Internal Error (re-INVITE pending)"
            self._reply(tx, 500, now, reason, extra=(("Retry-After", "1"),))
        elif call.phase is not P.CONFIRMED or call.awaiting_ack:
            self._reply(tx, 491, now)
        else:
            self._reply(tx, 100, now)
            call.reinvite = tx
            self._events.append(Reinvite(call.handle, request.body))

    def _receive_info(self, call: _Call, tx: ServerTransaction, now: float) -> None:
        request = tx.request
        content_type = (request.headers.get("Content-Type") or "").partition(";")[0]
        content_type = content_type.strip().lower()
        if request.body and content_type not in DTMF_TYPES:
            self._reply(tx, 415, now, extra=(("Accept", ACCEPT),))
            return
        if request.body:
            press = parse_dtmf_info(content_type, request.body)
            if press is None:
                self._reply(tx, 400, now, "Bad Request (no DTMF key in the body)")
                return
            self._events.append(DtmfInfo(call.handle, *press))
        self._reply(tx, 200, now)

    # ------------------------------------------------------------------ responses in

    def _receive_response(self, response: Response, now: float) -> None:
        known = self._client_tx.get(client_key(response))
        if known is None:
            return  # stray response
        tx, call = known
        passed = tx.receive(response, now)
        if passed is not None and tx.is_invite:
            self._invite_response(call, response, now)

    def _invite_response(self, call: _Call, response: Response, now: float) -> None:
        status = response.status
        before = call.phase
        if status < 200:
            self._advance(call, In.PROVISIONAL)
            if before is P.CANCEL_AFTER_1XX:
                self._send_cancel(call, now)
            if status > 100 and not call.rang:
                call.rang = True
                self._report_progress(call, OutgoingRinging(call.handle))
        elif status < 300:
            self._invite_success(call, response, now)
        else:
            self._advance(call, In.FAILURE)
            log.info("call %s: INVITE failed with %d", call.handle.call_id, status)
            self._report(call, OutgoingFailed(call.handle, status, response.reason))

    def _invite_success(self, call: _Call, response: Response, now: float) -> None:
        """§13.2.2.4: every 2xx is ACKed by us (retransmissions too); if we had hung up
        meanwhile, the call is ended with BYE right after."""
        if call.dialog is not None:
            if response.to_tag == call.dialog.remote_tag and call.ack is not None:
                self._outbox.append(Outgoing(call.ack, call.dialog.flow, call.transport))
            return
        dialog = Dialog.for_outgoing(call.invite, response, call.flow, call.transport)
        call.dialog = dialog
        call.ack = dialog.ack(call.invite.cseq[0]).serialize()
        self._outbox.append(Outgoing(call.ack, dialog.flow, call.transport))
        before = call.phase
        if self._advance(call, In.SUCCESS) is P.CONFIRMED:
            self._dialogs[dialog.key] = call
            log.info("call %s answered by the far end", call.handle.call_id)
            self._report_progress(call, OutgoingAnswered(call.handle, response.body))
        elif before in (P.CANCEL_AFTER_1XX, P.CANCELLING):
            self._send_bye(call, now)

    # ------------------------------------------------------------------ helpers

    def _command(self, handle: CallHandle, command: In) -> _Call | None:
        """The call to act on, moved to its next phase; None if the call is already over for
        the call layer (a race with the peer, not an error)."""
        call = self._calls.get(handle)
        if call is None or call.reported:
            return None
        if command not in CALL_TABLE[call.phase]:
            raise CallStateError(f"cannot {command.value} a call that is {call.phase.value}")
        self._advance(call, command)
        return call

    def _advance(self, call: _Call, event: In) -> Phase:
        """Apply CALL_TABLE; network inputs a phase does not expect are ignored."""
        next_phase = CALL_TABLE[call.phase].get(event)
        if next_phase is None:
            return call.phase
        if call.phase in UNCONFIRMED and next_phase not in UNCONFIRMED:
            host = call.flow[0]
            self._unconfirmed[host] -= 1
            if self._unconfirmed[host] <= 0:
                del self._unconfirmed[host]
        call.phase = next_phase
        if next_phase is P.ENDED:
            self._calls.pop(call.handle, None)
            self._origins.pop(_origin(call.invite), None)
            if call.dialog is not None:
                self._dialogs.pop(call.dialog.key, None)
        return next_phase

    def _report(self, call: _Call, event: Event) -> None:
        """The call's one terminal event."""
        if not call.reported:
            call.reported = True
            self._events.append(event)

    def _report_progress(self, call: _Call, event: Event) -> None:
        if not call.reported:
            self._events.append(event)

    def _take_reinvite(self, handle: CallHandle) -> tuple[_Call, ServerTransaction] | None:
        """The call and the re-INVITE the call layer answers now; None if the call is over or
        the peer withdrew the re-INVITE (CANCEL, BYE) meanwhile."""
        call = self._calls.get(handle)
        if call is None or call.reported or call.reinvite is None:
            return None
        tx, call.reinvite = call.reinvite, None
        return call, tx

    def _ack_timeout(self, call: _Call, tx: ServerTransaction, now: float) -> None:
        """§13.3.1.4: no ACK for our 2xx in 64*T1: the session is over; end it with BYE."""
        if call.awaiting_ack.pop(tx.request.cseq[0], None) is None:
            return
        log.warning("call %s: no ACK for our 2xx, sending BYE", call.handle.call_id)
        if call.phase is not P.ENDED:
            self._advance(call, In.ACK_TIMEOUT)
            self._send_bye(call, now)
        self._report(call, CallEnded(call.handle, "ack-timeout"))

    def _send_bye(self, call: _Call, now: float) -> None:
        assert call.dialog is not None
        self._start_client(call, call.dialog.new_request("BYE"), now)

    def _send_cancel(self, call: _Call, now: float) -> None:
        """§9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE."""
        invite = call.invite
        headers = Headers()
        headers.add("Via", invite.headers.get_all("Via")[0])
        for name in ("Route", "Max-Forwards", "From", "To", "Call-ID"):
            for value in invite.headers.get_all(name):
                headers.add(name, value)
        headers.add("CSeq", f"{invite.cseq[0]} CANCEL")
        self._start_client(call, Request("CANCEL", invite.uri, headers), now)
        call.invite_client.cancel_sent(now)

    def _start_client(self, call: _Call, request: Request, now: float) -> ClientTransaction:
        flow = call.dialog.flow if call.dialog is not None else call.flow
        key = client_key(request)
        on_deadline = functools.partial(self._schedule, self._client_tx, key)
        tx = ClientTransaction(request, flow, call.transport, self._outbox.append, now, on_deadline)
        self._client_tx[key] = (tx, call)
        return tx

    def _schedule(self, registry: Registry, key: tuple[str, ...], deadline: float) -> None:
        heapq.heappush(self._timers, (deadline, next(self._timer_order), registry, key))

    def _timed_out(
        self, tx: ServerTransaction | ClientTransaction, call: _Call, now: float
    ) -> None:
        if isinstance(tx, ServerTransaction):
            if tx.final_status is not None and 200 <= tx.final_status < 300:
                self._ack_timeout(call, tx, now)
        elif tx.is_invite:
            self._advance(call, In.TIMEOUT)
            self._report(call, OutgoingFailed(call.handle, 408, "Request Timeout"))

    def _respond_invite(
        self,
        call: _Call,
        status: int,
        now: float,
        sdp: bytes = b"",
        reason: str | None = None,
    ) -> None:
        self._reply(call.invite_server, status, now, reason, call.handle.local_tag, sdp)

    def _reply(
        self,
        tx: ServerTransaction,
        status: int,
        now: float,
        reason: str | None = None,
        to_tag: str | None = None,
        sdp: bytes = b"",
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Respond through `tx`; a request without a To tag gets `to_tag` or a fresh one
        (§8.2.6.2), the request's own tag is always kept."""
        request = tx.request
        response = make_response(
            request,
            status,
            reason,
            to_tag=None if status == 100 else to_tag or new_tag(),
            body=sdp,
            content_type=SDP if sdp else None,
        )
        method = request.method
        if method == "INVITE" and 100 < status < 300:
            # §12.1.1: the route set of a proxy that record-routed (Kamailio) goes back to the
            # caller, so its ACK, re-INVITEs and BYE pass through the same proxy.
            for route in request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", route)
            response.headers.add("Contact", self._contact(tx.transport))
        if method in ("INVITE", "OPTIONS") and 200 <= status < 300:
            response.headers.add("Allow", ALLOW)
        if method == "OPTIONS" and 200 <= status < 300:
            response.headers.add("Accept", ACCEPT)
        for name, value in extra:
            response.headers.add(name, value)
        response.headers.add("Server", self.user_agent)
        tx.respond(response, now)

    def _answer_stateless(
        self,
        request: Request,
        status: int,
        source: tuple[str, int],
        transport: str,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        response = make_response(request, status, to_tag=request.to_tag or new_tag())
        if request.method == "OPTIONS" and status == 200:
            response.headers.add("Allow", ALLOW)
            response.headers.add("Accept", ACCEPT)
        for name, value in extra:
            response.headers.add(name, value)
        self._send_stateless(response, source, transport)

    def _send_stateless(self, response: Response, source: tuple[str, int], transport: str) -> None:
        """A response that needs no transaction: sent once, to where the request came from."""
        response.headers.add("Server", self.user_agent)
        self._outbox.append(Outgoing(response.serialize(), source, transport))

    def _refuse_unparsable(
        self, error: SipParseError, source: tuple[str, int], transport: str
    ) -> None:
        """Statelessly answer what the parser refused, when it left enough to address a reply."""
        request = error.partial
        log.info("unparsable message from %s:%d: %s", *source, error.reason)
        if error.status is None or request is None or request.method == "ACK":
            return
        if not request.headers.get_all("Via"):  # absent, or present but empty
            return
        with contextlib.suppress(ValueError):  # a broken Via: the reply still goes to the source
            self._stamp_via(request, source)
        reason = re.sub(r"[\x00-\x1f\x7f]", " ", error.reason)[:MAX_REASON]
        phrase = f"{REASON_PHRASES.get(error.status, 'Error')} ({reason})"
        response = make_response(request, error.status, phrase)
        self._outbox.append(Outgoing(response.serialize(), source, transport))

    def _stamp_via(self, request: Request, source: tuple[str, int]) -> None:
        """RFC 3261 §18.2.1 `received`, RFC 3581 `rport`: record where the request came from."""
        vias = request.headers.get_all("Via")
        via = Via.parse(vias[0])
        asked_rport = "rport" in via.params
        if not asked_rport and via.host == source[0]:
            return
        via.params["received"] = source[0]
        if asked_rport:
            via.params["rport"] = str(source[1])
        request.headers.set_all("Via", [str(via), *vias[1:]])

    @property
    def _sent_by(self) -> str:
        return f"{self.host}:{self.port}"

    def _via(self, transport: str) -> str:
        return f"SIP/2.0/{transport.upper()} {self._sent_by};branch={new_branch()};rport"

    def _contact(self, transport: str) -> str:
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:ivr@{self._sent_by}{suffix}>"


def _origin(invite: Request) -> tuple[str, str, int]:
    return (invite.call_id, invite.from_tag or "", invite.cseq[0])


def parse_dtmf_info(content_type: str, body: bytes) -> tuple[str, int | None] | None:
    """(digit, duration in ms or None) from an INFO body; None when it names no DTMF key.

    application/dtmf-relay: `Signal=5\\r\\nDuration=160`; application/dtmf: `5`. Signals may be
    the key itself or its RFC 4733 event code (10 = *, 11 = #, 12-15 = A-D).
    """
    text = body.decode("ascii", errors="replace")
    duration: int | None = None
    if content_type == DTMF_RELAY:
        signal = _DTMF_RELAY_SIGNAL.search(text)
        if signal is None:
            return None
        value = signal.group(1)
        duration_match = _DTMF_RELAY_DURATION.search(text)
        duration = int(duration_match.group(1)) if duration_match else None
    else:
        value = text.strip()
    if value.isdigit() and int(value) < len(DTMF_SIGNALS):
        return DTMF_SIGNALS[int(value)], duration
    if len(value) == 1 and value.upper() in DTMF_SIGNALS:
        return value.upper(), duration
    return None
