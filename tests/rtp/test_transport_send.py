"""The RTP send path over real loopback UDP: each destination is checked once, then sent fast."""

import socket

import pytest
from twisted.internet import abstract
from twisted.internet.error import InvalidAddressError

from ivr.rtp.ports import RtpPortPool
from ivr.rtp.transport import RtpReceiver, listen_rtp
from tests.rtp.test_transport import free_even_port_pair


@pytest.fixture
def endpoint():
    low = free_even_port_pair()
    endpoint = listen_rtp(RtpReceiver(), RtpPortPool(low, low + 5), lambda *args: None, "127.0.0.1")
    yield endpoint
    endpoint.close()


def caller_socket() -> socket.socket:
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.settimeout(2)
    return caller


def test_every_packet_reaches_the_destination_in_order_and_the_address_is_checked_once(
    endpoint, monkeypatch
):
    checks = []
    real_check = abstract.isIPAddress

    def counted_check(address: str, *family: int) -> bool:
        checks.append(address)
        return real_check(address, *family)

    monkeypatch.setattr(abstract, "isIPAddress", counted_check)
    with caller_socket() as caller:
        endpoint.protocol.send(b"frame 0", caller.getsockname())
        checked_first = len(checks)
        for n in range(1, 5):
            endpoint.protocol.send(b"frame %d" % n, caller.getsockname())
        heard = [caller.recvfrom(100) for _ in range(5)]
    assert heard == [(b"frame %d" % n, ("127.0.0.1", endpoint.port)) for n in range(5)]
    assert checked_first > 0  # the first packet's address was checked ...
    assert len(checks) == checked_first  # ... and only the first packet's


def test_a_new_destination_is_checked_again_and_gets_the_following_packets(endpoint):
    with caller_socket() as first, caller_socket() as moved:
        endpoint.protocol.send(b"one", first.getsockname())
        endpoint.protocol.send(b"two", moved.getsockname())  # symmetric RTP latched elsewhere
        endpoint.protocol.send(b"three", moved.getsockname())
        assert first.recvfrom(100)[0] == b"one"
        assert [moved.recvfrom(100)[0] for _ in range(2)] == [b"two", b"three"]


def test_a_host_name_is_refused_never_resolved_even_after_a_good_destination(endpoint):
    with caller_socket() as caller:
        endpoint.protocol.send(b"ok", caller.getsockname())
        with pytest.raises(InvalidAddressError):
            endpoint.protocol.send(b"no", ("localhost", caller.getsockname()[1]))
        assert caller.recvfrom(100)[0] == b"ok"
