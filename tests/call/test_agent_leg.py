"""A caller's `Call` handed to a real `AgentLeg`: ringing, answered, refused, no answer, hang-ups.

The leg's INVITE, CANCEL and BYE are recorded by the fake signalling; its RTP port is a fake one
the test delivers the agent's packets to.
"""

from __future__ import annotations

import pytest

from ivr.agents.transfer import AgentLeg
from ivr.call import Call
from ivr.rtp.g711 import PCMA
from ivr.rtp.packet import RtpPacket
from ivr.sip.events import CallEnded, DtmfInfo, OutgoingAnswered, OutgoingFailed, Referred
from ivr.sip.sdp import negotiate
from tests.call.fakes import AGENT, PHONE, PROMPT_FRAMES, FakePort, FakeProcess, Phone, sdp


@pytest.fixture
def process() -> FakeProcess:
    return FakeProcess()


def ringing(process: FakeProcess) -> tuple[Call, FakePort, AgentLeg, FakePort]:
    """A call that pressed 0, heard "please hold", and whose agent's phone now rings."""
    call = process.new_call()
    caller_port = process.ports[-1]
    process.sip(DtmfInfo(call.handle, "0", 100))
    assert process.played[-1] == "hold"
    process.run(PROMPT_FRAMES * 0.02 + 0.1)
    assert len(process.legs) == 1, "the transfer did not start"
    leg = next(iter(process.legs.values()))
    return call, caller_port, leg, process.ports[-1]


def test_the_agent_is_invited_with_the_calls_context_while_the_caller_hears_ringback(
    process: FakeProcess,
) -> None:
    call, caller_port, leg, agent_port = ringing(process)
    _, target, offer, from_user, headers, handle = process.signalling.last("invite")
    assert target == "sip:agent@127.0.0.1:7070" and from_user == "13800138000"
    assert headers["X-IVR-Call"] == call.info.ref and handle == leg.handle
    assert negotiate(offer).remote_port == agent_port.port
    ref, context = process.contexts[0]
    assert ref == call.info.ref and context["caller"] == "13800138000"
    before = len(caller_port.sent)
    process.run(1.0)
    tones = caller_port.payloads()[before:]
    assert len(tones) >= 45 and len(set(tones)) > 1  # 450 Hz, not silence


def test_answered_agent_is_bridged_both_ways(process: FakeProcess) -> None:
    call, caller_port, leg, agent_port = ringing(process)
    process.sip(OutgoingAnswered(leg.handle, sdp(AGENT[1], "8 101")))
    assert call.last_outcome == "transfer:answered"
    paced = len(caller_port.sent)
    process.run(0.2)
    assert len(caller_port.sent) == paced  # our prompts stop: the agent talks now
    phone = Phone(process, caller_port)
    phone.audio(phone_tone := _tone())
    relayed = [RtpPacket.parse(data) for data, dest in agent_port.sent if dest == AGENT]
    assert relayed and {packet.payload_type for packet in relayed} == {8}  # transcoded to PCMA
    assert len(relayed) == len(phone_tone) // 160
    agent_packet = RtpPacket(8, 1, 0, 9, PCMA.encode(_tone()[:160])).serialize()
    agent_port.deliver(agent_packet, AGENT, process.monotonic())
    assert caller_port.sent[-1][1] == PHONE
    assert RtpPacket.parse(caller_port.sent[-1][0]).payload_type == 0  # back to PCMU


def test_agent_transferring_back_to_the_ivr_resumes_the_menu(process: FakeProcess) -> None:
    call, caller_port, leg, agent_port = ringing(process)
    process.sip(OutgoingAnswered(leg.handle, sdp(AGENT[1], "0 101")))
    process.sip(Referred(leg.handle, "sip:ivr@127.0.0.1:5060"))
    assert process.signalling.last("hang_up") == ("hang_up", leg.handle)  # BYE to the agent
    assert call.transfer is None and agent_port.closed and not call.run.ended
    assert process.played[-1] == "main_keys"  # the menu the caller was in, prompting again
    before = len(caller_port.sent)
    process.run(0.5)
    assert len(caller_port.sent) > before  # our prompts flow to the caller again


def test_refused_transfer_apologizes_and_returns_to_the_menu(process: FakeProcess) -> None:
    call, _, leg, agent_port = ringing(process)
    process.sip(OutgoingFailed(leg.handle, 486, "Busy Here"))
    assert process.played[-1] == "agents_busy" and agent_port.closed
    assert process.legs == {} and call.transfer is None
    assert call.last_outcome == "transfer:no_answer"


def test_no_answer_in_the_ring_timeout_cancels_the_agent(process: FakeProcess) -> None:
    call, _, leg, agent_port = ringing(process)
    process.run(30.1)
    assert process.signalling.last("hang_up") == ("hang_up", leg.handle)  # CANCEL
    assert process.played[-1] == "agents_busy" and agent_port.closed and call.transfer is None


def test_the_end_of_our_own_cancel_is_not_a_second_verdict(process: FakeProcess) -> None:
    """The SIP layer reports the CANCEL's end (CallEnded "cancelled") as the real UA does: the
    leg gave its verdict already, once (a queue would count a second one as another miss)."""
    call, _, leg, _ = ringing(process)
    verdicts: list[str] = []
    told = call.transfer_ended
    call.transfer_ended = lambda outcome: (verdicts.append(outcome), told(outcome))
    process.run(30.1)
    leg.on_sip(CallEnded(leg.handle, "cancelled"))  # as it arrives: during the CANCEL's send
    assert verdicts == ["no_answer"]


def test_caller_hanging_up_while_the_agent_rings_cancels_the_agent(process: FakeProcess) -> None:
    call, _, leg, agent_port = ringing(process)
    process.sip(CallEnded(call.handle, "bye"))
    assert process.signalling.last("hang_up") == ("hang_up", leg.handle)
    assert agent_port.closed and process.legs == {}
    process.run(31)  # the ring timer was cancelled with the leg
    assert process.signalling.names().count("hang_up") == 1


def test_caller_hanging_up_while_bridged_sends_the_agent_bye(process: FakeProcess) -> None:
    call, caller_port, leg, agent_port = ringing(process)
    process.sip(OutgoingAnswered(leg.handle, sdp(AGENT[1])))
    process.sip(CallEnded(call.handle, "bye"))
    assert process.signalling.last("hang_up") == ("hang_up", leg.handle)
    assert agent_port.closed and caller_port.closed and process.finished == [call]


def test_agent_hanging_up_while_bridged_ends_the_callers_call(process: FakeProcess) -> None:
    call, caller_port, leg, agent_port = ringing(process)
    process.sip(OutgoingAnswered(leg.handle, sdp(AGENT[1])))
    process.sip(CallEnded(leg.handle, "bye"))
    assert process.signalling.last("hang_up") == ("hang_up", call.handle)
    assert agent_port.closed
    process.sip(CallEnded(call.handle, "bye-sent"))
    assert caller_port.closed and process.finished == [call]


def test_agent_answering_with_unusable_sdp_is_hung_up(process: FakeProcess) -> None:
    _, _, leg, agent_port = ringing(process)
    process.sip(OutgoingAnswered(leg.handle, b"v=0\r\n"))
    assert process.signalling.last("hang_up") == ("hang_up", leg.handle)
    assert process.played[-1] == "agents_busy" and agent_port.closed


def test_no_agent_configured_apologizes_on_the_next_turn() -> None:
    process = FakeProcess(agent=None)
    call = process.new_call()
    process.sip(DtmfInfo(call.handle, "0", 100))
    process.run(PROMPT_FRAMES * 0.02 + 0.1)
    assert process.played[-1] == "agents_busy" and call.last_outcome == "transfer:no_answer"


def _tone():
    import numpy as np

    t = np.arange(800) / 8000
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
