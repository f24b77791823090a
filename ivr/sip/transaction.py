"""RFC 3261 §17 transactions, sans-I/O: four state machines written as tables.

Rule: everything that decides a transaction's state lives in the tables at the top of this
file. A table maps `state -> {input -> (next state, action)}`; an input is a message going
through the transaction or a timer firing. Entering a state arms the timers listed for it in
`TIMERS` (all others stop, except those marked KEEP). The classes below only apply the tables.

Theory of operation: the user agent core (the TU) creates a transaction per request, hands it
retransmissions, ACKs and its own responses (server side) or the responses that match it
(client side), and calls `handle_timer(now)` when `deadline` passes (`on_deadline` announces
each new deadline, so one heap can schedule thousands of transactions). A transaction sends
through the `send` callable it was given and tells the TU about timeouts through
`handle_timer`'s return value. Time is always passed in (`now`, seconds, monotonic).

Departures from the letter of RFC 3261, all following RFC 6026: a 2xx to INVITE keeps the
server transaction alive ("Accepted") to retransmit the 2xx until the ACK (the RFC 3261 §13.3.1.4
schedule: T1 doubling to T2, for 64*T1 at most), so INVITE retransmissions after the 200 are
absorbed instead of looking like new calls; a client INVITE transaction stays "Accepted" for
64*T1 so retransmitted 2xx still reach the TU, which re-sends its ACK.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from ivr.sip.message import Headers, Request, Response

T1 = 0.5  # RTT estimate
T2 = 4.0  # longest retransmit interval for non-INVITE requests and INVITE responses
T4 = 5.0  # how long a message may live in the network
TIMER_D_UNRELIABLE = 32.0


@dataclass(frozen=True)
class Outgoing:
    """Bytes to send. For TCP the (transport, destination) pair names the connection: responses
    go back on the connection the request came from (its peer address)."""

    data: bytes
    destination: tuple[str, int]
    transport: str  # "udp" | "tcp"


class TransactionError(Exception):
    """The TU asked for something its transaction's state does not allow (a bug in the TU)."""


class State(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Input(enum.Enum):
    # network -> transaction
    REQUEST = "request retransmission"
    ACK = "ack"
    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_FINAL = "300-699 received"
    # TU -> transaction
    SEND_1XX = "send 1xx"
    SEND_2XX = "send 2xx"
    SEND_FINAL = "send 300-699"
    # timers (RFC 3261 §17 names; L and M from RFC 6026)
    TIMER_A = "A"
    TIMER_B = "B"
    TIMER_D = "D"
    TIMER_E = "E"
    TIMER_F = "F"
    TIMER_G = "G"
    TIMER_H = "H"
    TIMER_I = "I"
    TIMER_J = "J"
    TIMER_K = "K"
    TIMER_L = "L"
    TIMER_M = "M"
    CANCEL_WAIT = "64*T1 after our CANCEL"  # RFC 3261 §9.1: then give up on a final response


TU_INPUTS = frozenset({Input.SEND_1XX, Input.SEND_2XX, Input.SEND_FINAL})


class Action(enum.Enum):
    NOTHING = "absorb"
    SEND = "send the TU's message and keep it as the last one sent"
    RESEND = "send the last message again"
    REPORT = "pass the response to the TU"
    ACK_AND_REPORT = "send ACK for a non-2xx final, keep it as the last message, pass it up"
    TIMEOUT = "tell the TU the transaction failed"


S, In, A = State, Input, Action
Table = dict[State, dict[Input, tuple[State, Action]]]

SERVER_INVITE: Table = {
    S.PROCEEDING: {
        In.REQUEST: (S.PROCEEDING, A.RESEND),
        In.SEND_1XX: (S.PROCEEDING, A.SEND),
        In.SEND_2XX: (S.ACCEPTED, A.SEND),
        In.SEND_FINAL: (S.COMPLETED, A.SEND),
    },
    S.ACCEPTED: {
        In.REQUEST: (S.ACCEPTED, A.RESEND),
        In.TIMER_G: (S.ACCEPTED, A.RESEND),
        In.ACK: (S.CONFIRMED, A.NOTHING),
        In.TIMER_L: (S.TERMINATED, A.TIMEOUT),
    },
    S.COMPLETED: {
        In.REQUEST: (S.COMPLETED, A.RESEND),
        In.TIMER_G: (S.COMPLETED, A.RESEND),
        In.ACK: (S.CONFIRMED, A.NOTHING),
        In.TIMER_H: (S.TERMINATED, A.TIMEOUT),
    },
    S.CONFIRMED: {
        In.REQUEST: (S.CONFIRMED, A.NOTHING),
        In.ACK: (S.CONFIRMED, A.NOTHING),
        In.TIMER_I: (S.TERMINATED, A.NOTHING),
    },
}

SERVER_NON_INVITE: Table = {
    S.TRYING: {
        In.SEND_1XX: (S.PROCEEDING, A.SEND),
        In.SEND_2XX: (S.COMPLETED, A.SEND),
        In.SEND_FINAL: (S.COMPLETED, A.SEND),
    },
    S.PROCEEDING: {
        In.REQUEST: (S.PROCEEDING, A.RESEND),
        In.SEND_1XX: (S.PROCEEDING, A.SEND),
        In.SEND_2XX: (S.COMPLETED, A.SEND),
        In.SEND_FINAL: (S.COMPLETED, A.SEND),
    },
    S.COMPLETED: {
        In.REQUEST: (S.COMPLETED, A.RESEND),
        In.TIMER_J: (S.TERMINATED, A.NOTHING),
    },
}

CLIENT_INVITE: Table = {
    S.CALLING: {
        In.TIMER_A: (S.CALLING, A.RESEND),
        In.TIMER_B: (S.TERMINATED, A.TIMEOUT),
        In.RECV_1XX: (S.PROCEEDING, A.REPORT),
        In.RECV_2XX: (S.ACCEPTED, A.REPORT),
        In.RECV_FINAL: (S.COMPLETED, A.ACK_AND_REPORT),
    },
    S.PROCEEDING: {
        In.RECV_1XX: (S.PROCEEDING, A.REPORT),
        In.RECV_2XX: (S.ACCEPTED, A.REPORT),
        In.RECV_FINAL: (S.COMPLETED, A.ACK_AND_REPORT),
        In.CANCEL_WAIT: (S.TERMINATED, A.TIMEOUT),
    },
    S.ACCEPTED: {
        In.RECV_2XX: (S.ACCEPTED, A.REPORT),  # the TU re-sends its ACK
        In.TIMER_M: (S.TERMINATED, A.NOTHING),
    },
    S.COMPLETED: {
        In.RECV_FINAL: (S.COMPLETED, A.RESEND),  # the ACK again
        In.TIMER_D: (S.TERMINATED, A.NOTHING),
    },
}

CLIENT_NON_INVITE: Table = {
    S.TRYING: {
        In.TIMER_E: (S.TRYING, A.RESEND),
        In.TIMER_F: (S.TERMINATED, A.TIMEOUT),
        In.RECV_1XX: (S.PROCEEDING, A.REPORT),
        In.RECV_2XX: (S.COMPLETED, A.REPORT),
        In.RECV_FINAL: (S.COMPLETED, A.REPORT),
    },
    S.PROCEEDING: {
        In.TIMER_E: (S.PROCEEDING, A.RESEND),
        In.TIMER_F: (S.TERMINATED, A.TIMEOUT),
        In.RECV_1XX: (S.PROCEEDING, A.REPORT),
        In.RECV_2XX: (S.COMPLETED, A.REPORT),
        In.RECV_FINAL: (S.COMPLETED, A.REPORT),
    },
    S.COMPLETED: {
        In.RECV_1XX: (S.COMPLETED, A.NOTHING),
        In.RECV_2XX: (S.COMPLETED, A.NOTHING),
        In.RECV_FINAL: (S.COMPLETED, A.NOTHING),
        In.TIMER_K: (S.TERMINATED, A.NOTHING),
    },
}

KEEP = -1.0  # in TIMERS: leave this timer running as it was
# state -> ((timer, delay on UDP, delay on TCP or None = not armed), ...)
TimerPlan = dict[State, tuple[tuple[Input, float, float | None], ...]]
SERVER_INVITE_TIMERS: TimerPlan = {
    S.ACCEPTED: ((In.TIMER_G, T1, T1), (In.TIMER_L, 64 * T1, 64 * T1)),  # 2xx is end-to-end
    S.COMPLETED: ((In.TIMER_G, T1, None), (In.TIMER_H, 64 * T1, 64 * T1)),
    S.CONFIRMED: ((In.TIMER_I, T4, 0.0),),
}
SERVER_NON_INVITE_TIMERS: TimerPlan = {S.COMPLETED: ((In.TIMER_J, 64 * T1, 0.0),)}
CLIENT_INVITE_TIMERS: TimerPlan = {
    S.CALLING: ((In.TIMER_A, T1, None), (In.TIMER_B, 64 * T1, 64 * T1)),
    S.ACCEPTED: ((In.TIMER_M, 64 * T1, 64 * T1),),
    S.COMPLETED: ((In.TIMER_D, TIMER_D_UNRELIABLE, 0.0),),
}
CLIENT_NON_INVITE_TIMERS: TimerPlan = {
    S.TRYING: ((In.TIMER_E, T1, None), (In.TIMER_F, 64 * T1, 64 * T1)),
    S.PROCEEDING: ((In.TIMER_E, KEEP, None), (In.TIMER_F, KEEP, KEEP)),
    S.COMPLETED: ((In.TIMER_K, T4, 0.0),),
}
RETRANSMIT_TIMERS = frozenset({In.TIMER_A, In.TIMER_E, In.TIMER_G})
UNRELIABLE = frozenset({"udp"})


def next_interval(timer: Input, state: State, interval: float) -> float:
    """Retransmit back-off: A doubles without limit; E and G double up to T2, and E stays at
    T2 once the request is in Proceeding (RFC 3261 §17.1.2.2)."""
    if timer is In.TIMER_A:
        return interval * 2
    if timer is In.TIMER_E and state is S.PROCEEDING:
        return T2
    return min(interval * 2, T2)


class Transaction:
    """Applies one of the tables; subclasses say which and what their inputs are."""

    TABLE: Table
    TIMERS: TimerPlan

    def __init__(
        self,
        state: State,
        first: Request | Response | None,
        destination: tuple[str, int],
        transport: str,
        send: Callable[[Outgoing], None],
        now: float,
        on_deadline: Callable[[float], None] | None,
    ) -> None:
        self.state = state
        self.destination = destination
        self.transport = transport
        self._send = send
        self._on_deadline = on_deadline
        self._announced: float | None = None
        self._last: bytes | None = None
        self._deadlines: dict[Input, float] = {}
        self._intervals: dict[Input, float] = {}
        if first is not None:
            self._transmit(first)
        self._arm(now)
        self._announce()

    @property
    def reliable(self) -> bool:
        return self.transport not in UNRELIABLE

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    @property
    def deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def handle_timer(self, now: float) -> bool:
        """Fire every timer due by `now`, earliest first. True if the transaction timed out."""
        timed_out = False
        while (due := self._due(now)) is not None:
            timer, when = due
            del self._deadlines[timer]
            if timer in RETRANSMIT_TIMERS and timer in self.TABLE.get(self.state, {}):
                interval = next_interval(timer, self.state, self._intervals[timer])
                self._intervals[timer] = interval
                self._deadlines[timer] = when + interval
            action = self._apply(timer, None, when)
            timed_out = timed_out or action is A.TIMEOUT
        return timed_out

    def _announce(self) -> None:
        """Tell the owner (a scheduler) when the earliest deadline moved to a new time."""
        deadline = self.deadline
        if deadline != self._announced:
            self._announced = deadline
            if deadline is not None and self._on_deadline is not None:
                self._on_deadline(deadline)

    def _due(self, now: float) -> tuple[Input, float] | None:
        if not self._deadlines:
            return None
        timer = min(self._deadlines, key=self._deadlines.__getitem__)
        when = self._deadlines[timer]
        return (timer, when) if when <= now else None

    def _apply(self, event: Input, message: Request | Response | None, now: float) -> Action:
        transition = self.TABLE.get(self.state, {}).get(event)
        if transition is None:
            if event in TU_INPUTS:
                raise TransactionError(f"cannot {event.value} in state {self.state.value}")
            return A.NOTHING  # a stray message or a stale timer: absorbed
        next_state, action = transition
        if action is A.SEND and message is not None:
            self._transmit(message)
        elif action is A.RESEND and self._last is not None:
            self._send(Outgoing(self._last, self.destination, self.transport))
        elif action is A.ACK_AND_REPORT and isinstance(message, Response):
            self._transmit(self._ack_for(message))
        if next_state is not self.state:
            self.state = next_state
            self._arm(now)
        self._announce()
        return action

    def _transmit(self, message: Request | Response) -> None:
        self._last = message.serialize()
        self._send(Outgoing(self._last, self.destination, self.transport))

    def _arm(self, now: float) -> None:
        kept = self._deadlines
        self._deadlines = {}
        for timer, unreliable_delay, reliable_delay in self.TIMERS.get(self.state, ()):
            delay = reliable_delay if self.reliable else unreliable_delay
            if delay is None:
                continue
            if delay == KEEP:
                if timer in kept:
                    self._deadlines[timer] = kept[timer]
                continue
            self._deadlines[timer] = now + delay
            self._intervals[timer] = delay

    def _ack_for(self, response: Response) -> Request:
        raise TransactionError("only INVITE client transactions acknowledge responses")


class ServerTransaction(Transaction):
    """A request we received; the TU answers it with `respond`."""

    def __init__(
        self,
        request: Request,
        source: tuple[str, int],
        transport: str,
        send: Callable[[Outgoing], None],
        now: float,
        on_deadline: Callable[[float], None] | None = None,
    ) -> None:
        self.request = request
        self.is_invite = request.method == "INVITE"
        self.TABLE = SERVER_INVITE if self.is_invite else SERVER_NON_INVITE
        self.TIMERS = SERVER_INVITE_TIMERS if self.is_invite else SERVER_NON_INVITE_TIMERS
        self.final_status: int | None = None
        initial = S.PROCEEDING if self.is_invite else S.TRYING
        super().__init__(initial, None, source, transport, send, now, on_deadline)

    def receive(self, request: Request, now: float) -> None:
        """A retransmission of our request, or (INVITE) the ACK for our final response."""
        self._apply(In.ACK if request.method == "ACK" else In.REQUEST, request, now)

    def acknowledge(self, now: float) -> None:
        """The TU matched an ACK for our 2xx to this transaction (it has its own branch)."""
        self._apply(In.ACK, None, now)

    def respond(self, response: Response, now: float) -> None:
        status = response.status
        event = In.SEND_1XX if status < 200 else In.SEND_2XX if status < 300 else In.SEND_FINAL
        self._apply(event, response, now)
        if status >= 200:
            self.final_status = status


class ClientTransaction(Transaction):
    """A request we send; responses that match it come in through `receive`."""

    def __init__(
        self,
        request: Request,
        destination: tuple[str, int],
        transport: str,
        send: Callable[[Outgoing], None],
        now: float,
        on_deadline: Callable[[float], None] | None = None,
    ) -> None:
        self.request = request
        self.is_invite = request.method == "INVITE"
        self.TABLE = CLIENT_INVITE if self.is_invite else CLIENT_NON_INVITE
        self.TIMERS = CLIENT_INVITE_TIMERS if self.is_invite else CLIENT_NON_INVITE_TIMERS
        initial = S.CALLING if self.is_invite else S.TRYING
        super().__init__(initial, request, destination, transport, send, now, on_deadline)

    def receive(self, response: Response, now: float) -> Response | None:
        """The response if the TU should see it, None if the transaction absorbed it."""
        status = response.status
        event = In.RECV_1XX if status < 200 else In.RECV_2XX if status < 300 else In.RECV_FINAL
        action = self._apply(event, response, now)
        return response if action in (A.REPORT, A.ACK_AND_REPORT) else None

    def cancel_sent(self, now: float) -> None:
        """The TU sent CANCEL for this INVITE: wait 64*T1 for the final response, then time out
        (there is no other timer in Proceeding)."""
        if self.state is S.PROCEEDING:
            self._deadlines[In.CANCEL_WAIT] = now + 64 * T1
            self._announce()

    def _ack_for(self, response: Response) -> Request:
        """RFC 3261 §17.1.1.3: the ACK for a non-2xx final shares the INVITE's branch."""
        invite = self.request.headers
        headers = Headers()
        headers.add("Via", invite.get_all("Via")[0])
        for route in invite.get_all("Route"):
            headers.add("Route", route)
        for name in ("Max-Forwards", "From"):
            headers.add(name, invite.get(name) or "")
        headers.add("To", response.headers.get("To") or "")
        headers.add("Call-ID", self.request.call_id)
        headers.add("CSeq", f"{self.request.cseq[0]} ACK")
        return Request("ACK", self.request.uri, headers)


def server_key(request: Request) -> tuple[str, ...]:
    """RFC 3261 §17.2.3 matching key (an ACK gives its INVITE's key), plus the CSeq number:
    a retransmission never changes it, while some clients (sipp scenarios that loop) reuse a
    branch for their next request. Requests without the magic cookie fall back to RFC 2543-
    style identity."""
    return _server_key(request, "INVITE" if request.method == "ACK" else request.method)


def invite_key(request: Request) -> tuple[str, ...]:
    """The key of the INVITE transaction a CANCEL (or ACK) refers to."""
    return _server_key(request, "INVITE")


def _server_key(request: Request, method: str) -> tuple[str, ...]:
    via = request.top_via
    branch = via.branch or ""
    if branch.startswith("z9hG4bK"):
        return (branch, via.host.lower(), str(via.port or ""), method, str(request.cseq[0]))
    return ("2543", request.call_id, request.from_tag or "", str(request.cseq[0]), method)


def client_key(message: Request | Response) -> tuple[str, str]:
    """Responses match the client transaction by top Via branch and CSeq method (§17.1.3)."""
    return (message.top_via.branch or "", message.cseq[1])
