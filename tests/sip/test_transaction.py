"""RFC 3261 §17 transactions with a fake clock: every timer and state of the four machines."""

from __future__ import annotations

import pytest

from ivr.sip.message import Request, Response, make_response, parse_message
from ivr.sip.transaction import (
    CLIENT_INVITE,
    CLIENT_INVITE_TIMERS,
    CLIENT_NON_INVITE,
    CLIENT_NON_INVITE_TIMERS,
    SERVER_INVITE,
    SERVER_INVITE_TIMERS,
    SERVER_NON_INVITE,
    SERVER_NON_INVITE_TIMERS,
    T1,
    T2,
    T4,
    ClientTransaction,
    Outgoing,
    ServerTransaction,
    State,
    TransactionError,
    client_key,
    invite_key,
    server_key,
)
from tests.sip.sip_core_helpers import PEER, parsed, request, response_to


def req(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def resp(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def run_until(tx, end: float) -> list[float]:
    """Fire the transaction's timers up to `end`; the times at which it fired."""
    fired = []
    while tx.deadline is not None and tx.deadline <= end:
        fired.append(tx.deadline)
        tx.handle_timer(tx.deadline)
    return fired


def server(method: str = "INVITE", transport: str = "udp") -> tuple[ServerTransaction, list]:
    sent: list[Outgoing] = []
    tx = ServerTransaction(req(request(method)), PEER, transport, sent.append, now=0.0)
    return tx, sent


def client(method: str = "INVITE", transport: str = "udp") -> tuple[ClientTransaction, list]:
    sent: list[Outgoing] = []
    tx = ClientTransaction(req(request(method)), PEER, transport, sent.append, now=0.0)
    return tx, sent


@pytest.mark.parametrize(
    ("table", "plan"),
    [
        (SERVER_INVITE, SERVER_INVITE_TIMERS),
        (SERVER_NON_INVITE, SERVER_NON_INVITE_TIMERS),
        (CLIENT_INVITE, CLIENT_INVITE_TIMERS),
        (CLIENT_NON_INVITE, CLIENT_NON_INVITE_TIMERS),
    ],
)
def test_every_armed_timer_has_a_transition_in_its_state(table, plan) -> None:
    for state, timers in plan.items():
        for timer, _, _ in timers:
            assert timer in table[state], (state, timer)


@pytest.mark.parametrize(
    "table", [SERVER_INVITE, SERVER_NON_INVITE, CLIENT_INVITE, CLIENT_NON_INVITE]
)
def test_every_state_can_reach_terminated(table) -> None:
    for start in table:
        seen, frontier = {start}, [start]
        while frontier:
            for next_state, _ in table.get(frontier.pop(), {}).values():
                if next_state not in seen:
                    seen.add(next_state)
                    frontier.append(next_state)
        assert State.TERMINATED in seen, start


# ---------------------------------------------------------------- INVITE server transaction


def test_invite_server_resends_last_provisional_on_invite_retransmission() -> None:
    tx, sent = server()
    tx.respond(make_response(tx.request, 100), now=0.0)
    tx.receive(tx.request, now=0.2)
    assert [m.status for m in parsed(sent)] == [100, 100]
    assert tx.deadline is None  # no timer while proceeding


def test_invite_server_retransmits_2xx_with_t1_doubling_to_t2_until_ack() -> None:
    tx, sent = server()
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    assert tx.state is State.ACCEPTED
    fired = run_until(tx, 12.0)
    assert fired == [0.5, 1.5, 3.5, 7.5, 11.5]  # intervals 0.5 1 2 4 4
    assert len(sent) == 1 + 5
    tx.acknowledge(now=12.0)
    assert tx.state is State.CONFIRMED
    assert run_until(tx, 12.0 + T4) == [12.0 + T4]  # Timer I, no more 2xx
    assert len(sent) == 6
    assert tx.terminated


def test_invite_server_absorbs_invite_retransmission_after_2xx_by_resending_it() -> None:
    tx, sent = server()
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    tx.receive(tx.request, now=0.1)
    assert [m.status for m in parsed(sent)] == [200, 200]
    tx.acknowledge(now=0.2)
    tx.receive(tx.request, now=0.3)
    assert len(sent) == 2  # after the ACK, copies are absorbed silently


def fire_all(tx) -> list[tuple[float, bool]]:
    """Fire every timer until none is left: (time, timed out?) for each."""
    results = []
    while tx.deadline is not None:
        when = tx.deadline
        results.append((when, tx.handle_timer(when)))
    return results


def test_invite_server_reports_ack_timeout_after_64_t1() -> None:
    tx, _ = server()
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    results = fire_all(tx)
    assert results[-1] == (64 * T1, True)
    assert not any(timed_out for _, timed_out in results[:-1])
    assert tx.terminated


def test_invite_server_2xx_is_retransmitted_over_tcp_too() -> None:
    tx, sent = server(transport="tcp")
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    assert run_until(tx, 1.0) == [0.5]
    assert len(sent) == 2


def test_invite_server_non_2xx_timer_g_h_and_ack_absorbed() -> None:
    tx, sent = server()
    tx.respond(make_response(tx.request, 486, to_tag="t"), now=0.0)
    assert tx.state is State.COMPLETED
    assert run_until(tx, 8.0) == [0.5, 1.5, 3.5, 7.5]
    ack = req(request("ACK", cseq_method="ACK", to_tag="t"))
    tx.receive(ack, now=8.0)
    assert tx.state is State.CONFIRMED
    tx.receive(ack, now=8.1)
    tx.receive(tx.request, now=8.2)
    assert len(sent) == 5  # ACK and INVITE copies absorbed in Confirmed
    assert run_until(tx, 20.0) == [8.0 + T4]
    assert tx.terminated


def test_invite_server_non_2xx_without_ack_times_out_with_timer_h() -> None:
    tx, _ = server()
    tx.respond(make_response(tx.request, 486, to_tag="t"), now=0.0)
    assert fire_all(tx)[-1] == (64 * T1, True)


def test_invite_server_over_tcp_no_timer_g_and_timer_i_zero() -> None:
    tx, sent = server(transport="tcp")
    tx.respond(make_response(tx.request, 486, to_tag="t"), now=0.0)
    assert tx.deadline == 64 * T1  # only Timer H
    tx.receive(req(request("ACK", cseq_method="ACK", to_tag="t")), now=1.0)
    assert tx.deadline == 1.0
    tx.handle_timer(1.0)
    assert tx.terminated and len(sent) == 1


def test_invite_server_refuses_a_second_final_response() -> None:
    tx, _ = server()
    tx.respond(make_response(tx.request, 486, to_tag="t"), now=0.0)
    with pytest.raises(TransactionError):
        tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.1)


def test_handle_timer_catches_up_on_every_due_timer_in_order() -> None:
    tx, sent = server()
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    assert tx.handle_timer(40.0) is True  # Timer G ten times (0.5 ... 31.5), then L at 32 s
    assert tx.terminated
    assert len(sent) == 1 + 10


# ---------------------------------------------------------------- non-INVITE server transaction


def test_non_invite_server_resends_final_for_retransmissions_then_timer_j() -> None:
    tx, sent = server("BYE")
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    tx.receive(tx.request, now=1.0)
    tx.receive(tx.request, now=2.0)
    assert [m.status for m in parsed(sent)] == [200, 200, 200]
    assert tx.deadline == 64 * T1
    assert tx.handle_timer(64 * T1) is False
    assert tx.terminated


def test_non_invite_server_absorbs_retransmission_before_any_response() -> None:
    tx, sent = server("OPTIONS")
    tx.receive(tx.request, now=0.1)
    assert sent == []
    tx.respond(make_response(tx.request, 100), now=0.2)
    tx.receive(tx.request, now=0.3)
    assert [m.status for m in parsed(sent)] == [100, 100]


def test_non_invite_server_over_tcp_terminates_at_once() -> None:
    tx, _ = server("BYE", transport="tcp")
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=5.0)
    assert tx.deadline == 5.0
    tx.handle_timer(5.0)
    assert tx.terminated


# ---------------------------------------------------------------- INVITE client transaction


def test_invite_client_timer_a_doubles_without_cap_and_timer_b_times_out() -> None:
    tx, sent = client()
    assert len(sent) == 1
    results = fire_all(tx)
    assert [when for when, _ in results] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 32.0]
    assert results[-1][1] is True and tx.terminated
    assert len(sent) == 7


def test_invite_client_provisional_stops_retransmissions_and_timer_b() -> None:
    tx, sent = client()
    ringing = resp(response_to(tx.request, 180))
    assert tx.receive(ringing, now=0.1) is ringing
    assert tx.state is State.PROCEEDING and tx.deadline is None
    tx.handle_timer(100.0)
    assert len(sent) == 1 and not tx.terminated  # rings until answered or cancelled


def test_invite_client_acks_non_2xx_with_the_invite_branch_and_absorbs_copies() -> None:
    tx, sent = client()
    busy = resp(response_to(tx.request, 486, to_tag="busy-tag"))
    assert tx.receive(busy, now=0.2) is busy
    ack = parsed(sent)[-1]
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.top_via.branch == tx.request.top_via.branch
    assert ack.cseq == (1, "ACK") and ack.to_tag == "busy-tag"
    assert ack.uri == tx.request.uri
    assert tx.receive(busy, now=0.3) is None  # retransmitted final: ACK again, not reported
    assert parsed(sent)[-1] == ack and len(sent) == 3
    assert tx.deadline == pytest.approx(0.2 + 32.0)  # Timer D
    tx.handle_timer(32.2)
    assert tx.terminated


def test_invite_client_passes_every_2xx_up_until_timer_m() -> None:
    tx, _ = client()
    ok = resp(response_to(tx.request, 200))
    assert tx.receive(ok, now=0.1) is ok
    assert tx.state is State.ACCEPTED
    assert tx.receive(ok, now=0.6) is ok
    assert tx.deadline == pytest.approx(0.1 + 64 * T1)
    tx.handle_timer(100.0)
    assert tx.terminated


def test_invite_client_over_tcp_has_no_timer_a_and_timer_d_zero() -> None:
    tx, sent = client(transport="tcp")
    assert tx.deadline == 64 * T1
    tx.receive(resp(response_to(tx.request, 503)), now=1.0)
    assert tx.deadline == 1.0
    assert [m.method for m in parsed(sent)] == ["INVITE", "ACK"]


# ---------------------------------------------------------------- non-INVITE client transaction


def test_non_invite_client_timer_e_caps_at_t2_and_timer_f_times_out() -> None:
    tx, sent = client("BYE")
    results = fire_all(tx)
    times = [when for when, _ in results]
    assert times[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert times[-1] == 64 * T1 and results[-1][1] is True
    assert tx.terminated
    assert len(sent) == len(times)  # the request, then once per Timer E


def test_non_invite_client_in_proceeding_retransmits_every_t2() -> None:
    tx, sent = client("BYE")
    tx.receive(resp(response_to(tx.request, 100)), now=0.1)
    assert tx.state is State.PROCEEDING
    assert run_until(tx, 10.0) == [0.5, 0.5 + T2, 0.5 + 2 * T2]
    assert len(sent) == 4


def test_non_invite_client_final_response_reported_once_then_timer_k() -> None:
    tx, sent = client("BYE")
    ok = resp(response_to(tx.request, 200))
    assert tx.receive(ok, now=0.2) is ok
    assert tx.receive(ok, now=0.3) is None
    assert tx.deadline == pytest.approx(0.2 + T4)
    assert tx.handle_timer(10.0) is False
    assert tx.terminated and len(sent) == 1


def test_non_invite_client_over_tcp_no_retransmissions_timer_k_zero() -> None:
    tx, sent = client("BYE", transport="tcp")
    assert tx.deadline == 64 * T1
    tx.receive(resp(response_to(tx.request, 200)), now=2.0)
    assert tx.deadline == 2.0
    assert len(sent) == 1


# ---------------------------------------------------------------- matching keys


def test_ack_and_cancel_match_the_invite_server_transaction() -> None:
    invite = req(request("INVITE"))
    ack = req(request("ACK", cseq_method="ACK", to_tag="t"))
    cancel = req(request("CANCEL"))
    assert server_key(ack) == server_key(invite) == invite_key(cancel)
    assert server_key(cancel) != server_key(invite)


def test_requests_without_magic_cookie_match_by_dialog_identifiers() -> None:
    first = req(request("OPTIONS", branch="old-style-1"))
    again = req(request("OPTIONS", branch="old-style-1"))
    other = req(request("OPTIONS", branch="old-style-1", cseq=2))
    assert server_key(first) == server_key(again) != server_key(other)


def test_responses_match_client_transactions_by_branch_and_method() -> None:
    invite = req(request("INVITE"))
    cancel = req(request("CANCEL"))
    assert client_key(resp(response_to(invite, 200))) == client_key(invite)
    assert client_key(resp(response_to(cancel, 200))) == client_key(cancel) != client_key(invite)


def test_each_new_deadline_is_announced_once_for_the_scheduler() -> None:
    announced: list[float] = []
    tx = ServerTransaction(
        req(request("INVITE")), PEER, "udp", lambda out: None, now=0.0, on_deadline=announced.append
    )
    assert announced == []  # Proceeding has no timer
    tx.respond(make_response(tx.request, 200, to_tag="t"), now=0.0)
    tx.receive(tx.request, now=0.1)  # resends the 2xx, deadline unchanged
    run_until(tx, 2.0)
    tx.acknowledge(now=2.0)
    assert announced == [0.5, 1.5, 3.5, 2.0 + T4]


def test_a_new_request_reusing_a_branch_is_not_taken_for_a_retransmission() -> None:
    first = req(request("INFO", branch="z9hG4bK-loop", cseq=2))
    second = req(request("INFO", branch="z9hG4bK-loop", cseq=3))  # what looping sipp sends
    assert server_key(first) != server_key(second)
