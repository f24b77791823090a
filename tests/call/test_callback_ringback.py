""" "Call back now" with real agent legs on a fake clock: once the agent has answered and the
IVR rings the caller, the agent hears China's ringback (450 Hz, 1 s on, 4 s off) through the
process's media clock, in the agent phone's codec; it stops the moment the caller answers, and
from then on the agent hears only the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from twisted.internet import defer

from ivr.agents.callback_dial import CallbackBridge, DialJob
from ivr.agents.transfer import AgentLeg, CallerSide
from ivr.rtp.g711 import PCMA, PCMU
from ivr.rtp.packet import RtpPacket
from ivr.sip.events import OutgoingAnswered
from tests.call.fakes import AGENT, FakePort, FakeProcess, sdp

GATEWAY = "sip:{number}@127.0.0.1:5099"
CALLER_PHONE = 7090


class DialProcess(FakeProcess):
    """FakeProcess as the callback dialer sees it: real `AgentLeg`s, SQL jobs only noted."""

    database = None
    redis = None
    registrar_store = None

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Callable[..., Any]] = []

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        self.jobs.append(fn)  # settling the request in SQL is test_callback_dial's business
        return defer.succeed(None)

    def epoch(self) -> float:
        return self.clock.seconds()

    def call_agent(
        self,
        side: CallerSide,
        contact: str,
        ring_timeout: float,
        *,
        call_id: str,
        caller: str,
        context: Mapping[str, Any],
    ) -> AgentLeg:
        leg = AgentLeg(self, side, contact, ring_timeout, ref=call_id, from_user=caller,
                       context=context)  # fmt: skip
        self.legs[leg.handle] = leg
        return leg


def packets(port: FakePort, since: int = 0) -> list[RtpPacket]:
    return [RtpPacket.parse(data) for data, _ in port.sent[since:]]


def loudness(payloads: list[bytes]) -> float:
    samples = np.concatenate([PCMA.decode(p) for p in payloads]).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_the_agent_hears_ringback_while_the_caller_rings_and_it_stops_on_answer() -> None:
    process = DialProcess()
    job = DialJob(7, "1001", "社保卡", "13900001234")
    bridge = CallbackBridge(process, job, "sip:1001@127.0.0.1:7070", GATEWAY)
    agent_leg = bridge.legs["agent"]
    assert isinstance(agent_leg, AgentLeg)
    agent_port = process.ports[-1]
    process.run(1.0)
    assert agent_port.sent == []  # the agent's own phone rings: nobody to play to

    process.sip(OutgoingAnswered(agent_leg.handle, sdp(AGENT[1], "8 101")))  # a PCMA phone
    caller_leg = bridge.legs["caller"]
    assert isinstance(caller_leg, AgentLeg)
    assert process.signalling.last("invite")[1] == "sip:13900001234@127.0.0.1:5099"
    caller_port = process.ports[-1]

    process.run(1.0)  # the tone's second
    tone = packets(agent_port)
    assert 45 <= len(tone) <= 51 and {p.payload_type for p in tone} == {8}
    assert loudness([p.payload for p in tone]) > 3000  # 450 Hz at a quarter of full scale
    assert [p.marker for p in tone[:2]] == [True, False]  # one talkspurt
    process.run(3.9)  # the 4 s pause
    pause = packets(agent_port, len(tone))
    assert len(pause) >= 190 and loudness([p.payload for p in pause[5:]]) < 10
    process.run(1.0)  # and the tone again: the cadence goes on while the caller's phone rings
    again = packets(agent_port, len(tone) + len(pause))
    assert loudness([p.payload for p in again[5:]]) > 3000

    process.sip(OutgoingAnswered(caller_leg.handle, sdp(CALLER_PHONE, "0 101")))
    assert bridge.bridged
    paced = len(agent_port.sent)
    process.run(1.0)
    assert len(agent_port.sent) == paced  # no more tone frames once the caller answered
    voice = PCMU.encode(np.full(160, 2000, dtype=np.int16))
    caller_port.deliver(
        RtpPacket(0, 1, 160, 0x1234, voice).serialize(),
        ("127.0.0.1", CALLER_PHONE),
        process.clock.seconds(),
    )
    (relayed,) = packets(agent_port, paced)
    assert (
        relayed.payload_type == 8
        and relayed.sequence == packets(agent_port)[paced - 1].sequence + 1
    )
