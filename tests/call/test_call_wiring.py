"""A real `Call` wired to a fake process: task.Clock time, recorded SIP commands, fake RTP ports.

The menu interpreter, the player, the pacing clock, the RTP session, the DTMF merger and the
in-band detector are the real ones; only sockets, threads and the reactor are replaced.
"""

from __future__ import annotations

import logging
import re

import pytest
from twisted.python.failure import Failure

from ivr.actions.base import ActionResult
from ivr.call import HANGUP_DRAIN, Call
from ivr.rtp.packet import RtpPacket
from ivr.sip.events import CallCancelled, CallConfirmed, CallEnded, DtmfInfo, Reinvite
from ivr.sip.sdp import negotiate
from tests.call.fakes import PHONE, PROMPT_FRAMES, FakePort, FakeProcess, Phone, sdp
from tests.menus.menu_harness import VALID_ID_KEYS


@pytest.fixture
def process() -> FakeProcess:
    return FakeProcess()


def answered(process: FakeProcess, offer: bytes | None = None) -> tuple[Call, FakePort]:
    call = process.new_call(offer)
    return call, process.ports[-1]


def finish_prompts(process: FakeProcess) -> None:
    """Long enough for any queued prompt of the fake catalog to play out."""
    process.run(PROMPT_FRAMES * 0.02 * 3)


def keys(process: FakeProcess, call: Call, digits: str) -> None:
    for digit in digits:
        process.sip(DtmfInfo(call.handle, digit, 100))
        process.run(0.1)


# --- answering --------------------------------------------------------------------------------


def test_early_offer_is_answered_and_the_greeting_streams_to_the_sdp_address(
    process: FakeProcess,
) -> None:
    call, port = answered(process)
    name, handle, answer = process.signalling.commands[0]
    assert (name, handle) == ("answer", call.handle)
    assert negotiate(answer).remote_port == port.port  # our answer names our RTP port
    assert call.started and process.played == ["welcome", "main_keys"]
    process.run(0.2)
    assert len(port.sent) >= 9 and {dest for _, dest in port.sent} == {PHONE}  # 20 ms each
    assert all(RtpPacket.parse(data).payload_type == 0 for data, _ in port.sent)


def test_delayed_offer_starts_the_menu_on_the_acks_answer(process: FakeProcess) -> None:
    call, port = answered(process, b"")
    assert "m=audio 20000 RTP/AVP 0 8 101" in process.signalling.commands[0][2].decode()
    assert not call.started and process.played == []
    Phone(process, port).rfc4733("3")  # media before the answer: nothing is agreed yet
    process.run(0.2)
    assert port.sent == []
    process.sip(CallConfirmed(call.handle, sdp(6000, "8 101")))
    assert call.started and call.codec.name == "PCMA" and process.played == ["welcome", "main_keys"]
    process.run(0.1)
    assert {RtpPacket.parse(data).payload_type for data, _ in port.sent} == {8}


def test_delayed_offer_without_an_answer_in_the_ack_is_hung_up(process: FakeProcess) -> None:
    call, port = answered(process, b"")
    process.sip(CallConfirmed(call.handle, b""))
    assert process.signalling.names() == ["answer", "hang_up"]
    process.sip(CallEnded(call.handle, "bye-sent"))
    assert port.closed and process.finished == [call] and call.answered_at is None


def test_offer_without_g711_is_refused_with_488_and_the_port_returned(
    process: FakeProcess,
) -> None:
    call, port = answered(process, sdp(6000, "18", "a=rtpmap:18 G729/8000"))
    assert process.signalling.commands == [("reject", call.handle, 488)]
    process.sip(CallEnded(call.handle, "rejected"))
    assert port.closed and not call.started and process.finished == [call]


def test_no_free_rtp_port_is_refused_with_503(process: FakeProcess) -> None:
    process.free_ports = 0
    call = process.new_call()
    assert process.signalling.commands == [("reject", call.handle, 503)]


def test_caller_cancelling_ends_the_call_once(process: FakeProcess) -> None:
    call, port = answered(process)
    process.sip(CallCancelled(call.handle))
    process.sip(CallEnded(call.handle, "bye"))
    assert process.finished == [call] and call.end_reason == "cancelled" and port.closed
    sent = len(port.sent)
    process.run(0.2)
    assert len(port.sent) == sent  # no longer paced


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["rfc4733", "info", "inband"])
def test_a_key_from_each_dtmf_source_reaches_the_menu(process: FakeProcess, source: str) -> None:
    call, port = answered(process)
    phone = Phone(process, port)
    if source == "rfc4733":
        phone.rfc4733("3")
    elif source == "info":
        process.sip(DtmfInfo(call.handle, "3", 100))
    else:
        phone.inband("3")
    assert process.played[-1] == "notice"
    assert call.run.path[-1] == "notice"


@pytest.mark.parametrize(("codecs", "heard"), [("0 101", False), ("0", True)])
def test_auto_hears_tones_only_from_a_phone_that_offered_no_rfc4733_events(
    process: FakeProcess, codecs: str, heard: bool
) -> None:
    process.inband_dtmf = "auto"
    call, port = answered(process, sdp(PHONE[1], codecs))
    phone = Phone(process, port)
    phone.inband("3")
    assert (call.run.path[-1] == "notice") is heard
    if not heard:
        phone.rfc4733("3")  # such a phone's keys come as events, and are heard
        assert call.run.path[-1] == "notice"


def test_the_same_press_over_two_sources_counts_once(process: FakeProcess) -> None:
    call, port = answered(process)
    Phone(process, port).rfc4733("1")
    process.sip(DtmfInfo(call.handle, "1", 100))  # the phone's INFO copy of the same press
    assert process.played.count("sub_keys") == 1


def test_the_caller_is_known_only_by_a_dial_string(process: FakeProcess) -> None:
    injected = "1%0D%0ACall-Info%3A%20%3Csip%3Ax%3E%3Banswer-after%3D0"
    call = process.new_call(caller=injected)
    assert call.info.caller == "10"


def test_keys_are_logged_only_where_they_choose_a_menu_entry(
    process: FakeProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.call")
    call, _ = answered(process)
    keys(process, call, "2")
    assert "key 2 " in caplog.text  # a menu choice
    caplog.clear()
    keys(process, call, VALID_ID_KEYS + "1")  # an ID number, its #, the confirmation's key
    logged = caplog.text
    assert "key •" in logged
    assert not re.search(r"key [0-9*#] ", logged)


# --- actions ----------------------------------------------------------------------------------


def to_the_action(process: FakeProcess, call: Call) -> None:
    keys(process, call, "2")
    keys(process, call, VALID_ID_KEYS)
    keys(process, call, "1")  # confirms the read-back
    assert len(process.actions) == 1


def test_action_success_plays_its_outcome(process: FakeProcess) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    request, result = process.actions[0]
    assert request.name == "lookup" and request.call_ref == call.info.ref
    assert request.params["id_number"] == "11010519491231002X"
    result.callback(ActionResult("ok"))
    assert process.played[-1] == "found" and call.last_outcome == "lookup:ok"


def test_action_failure_is_unavailable_and_ends_with_goodbye(process: FakeProcess) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    process.actions[0][1].errback(Failure(RuntimeError("database down")))
    assert process.played[-1] == "busy"
    finish_prompts(process)
    assert process.played[-1] == "goodbye"
    finish_prompts(process)
    process.run(HANGUP_DRAIN)
    assert process.signalling.names()[-1] == "hang_up"


def test_action_timeout_is_unavailable_and_a_late_result_is_ignored(
    process: FakeProcess,
) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    process.run(15.1)  # the lookup node's timeout
    assert "busy" in process.played
    played = list(process.played)
    process.actions[0][1].callback(ActionResult("ok"))
    assert "found" not in process.played[len(played) :]


def test_the_action_timeout_withdraws_the_commit_before_saying_busy(process: FakeProcess) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    guard = process.actions[0][0].guard
    assert guard is not None and not guard.withdrawn
    process.run(15.1)
    assert "busy" in process.played
    assert guard.withdrawn  # the job can no longer commit what the caller was told failed


def test_a_commit_already_under_way_at_the_timeout_is_waited_for(process: FakeProcess) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    guard = process.actions[0][0].guard
    assert guard is not None
    guard.claim()  # the worker is committing
    process.run(15.1)
    assert "busy" not in process.played  # not told it failed ...
    process.actions[0][1].callback(ActionResult("ok"))
    assert process.played[-1] == "found"  # ... but what committed


def test_hanging_up_mid_action_withdraws_its_commit(process: FakeProcess) -> None:
    call, _ = answered(process)
    to_the_action(process, call)
    guard = process.actions[0][0].guard
    assert guard is not None
    process.sip(CallEnded(call.handle, "bye"))
    assert guard.withdrawn


# --- re-INVITE --------------------------------------------------------------------------------


def test_hold_stops_our_media_and_resume_restarts_it(process: FakeProcess) -> None:
    call, port = answered(process)
    process.sip(Reinvite(call.handle, sdp(6000, "0 101", "a=sendonly")))
    answer = process.signalling.last("answer_reinvite")[2]
    assert b"a=recvonly" in answer and call.held
    sent = len(port.sent)
    process.run(0.2)
    assert len(port.sent) == sent
    process.sip(Reinvite(call.handle, sdp(6002)))
    assert not call.held and b"a=sendrecv" in process.signalling.last("answer_reinvite")[2]
    process.run(0.2)
    assert len(port.sent) >= sent + 9 and port.sent[-1][1] == ("127.0.0.1", 6002)


def test_codec_change_reinvite_is_refused_with_488(process: FakeProcess) -> None:
    call, _ = answered(process)
    process.sip(Reinvite(call.handle, sdp(6000, "8 101")))
    assert process.signalling.commands[-1] == ("reject_reinvite", call.handle, 488)
    assert call.session.codec.name == "PCMU"


def test_reinvite_without_sdp_offers_the_session_and_takes_the_acks_answer(
    process: FakeProcess,
) -> None:
    call, port = answered(process)
    first_answer = process.signalling.commands[0][2]
    process.sip(Reinvite(call.handle, b""))
    assert process.signalling.last("answer_reinvite")[2] == first_answer
    process.sip(CallConfirmed(call.handle, sdp(6004)))
    process.run(0.1)
    assert port.sent[-1][1] == ("127.0.0.1", 6004)


# --- limits ---------------------------------------------------------------------------------


def test_media_timeout_hangs_up_a_call_whose_rtp_stopped(process: FakeProcess) -> None:
    call, port = answered(process)
    Phone(process, port).rfc4733("1")
    call.check_limits(process.monotonic() + 59)
    assert "hang_up" not in process.signalling.names()
    call.check_limits(process.monotonic() + 61)
    assert process.signalling.names()[-1] == "hang_up"


def test_media_timeout_counts_from_the_answer_when_no_rtp_ever_came(
    process: FakeProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.call")
    call, _ = answered(process)
    process.sip(DtmfInfo(call.handle, "1", 100))  # keys by INFO keep no call alive
    call.check_limits(process.monotonic() + 61)
    assert process.signalling.names()[-1] == "hang_up" and "no RTP for 60 s" in caplog.text


def test_media_timeout_spares_a_held_call_but_not_its_maximum_length(
    process: FakeProcess,
) -> None:
    call, port = answered(process)
    Phone(process, port).rfc4733("1")
    process.sip(Reinvite(call.handle, sdp(6000, "0 101", "a=inactive")))
    call.check_limits(process.monotonic() + 300)
    assert "hang_up" not in process.signalling.names()
    call.check_limits(process.monotonic() + 601)
    assert process.signalling.names()[-1] == "hang_up"


def test_a_call_waiting_for_its_ack_is_left_to_the_sip_layer(process: FakeProcess) -> None:
    call, _ = answered(process, b"")
    call.check_limits(process.monotonic() + 3600)
    assert process.signalling.names() == ["answer"]
