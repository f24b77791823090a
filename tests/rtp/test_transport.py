"""The RTP sockets over real loopback UDP, read when the receiver is drained (as the pacing tick
does)."""

import socket

import pytest
from twisted.internet.error import CannotListenError

from ivr.rtp.ports import RtpPortPool
from ivr.rtp.transport import RtpReceiver, listen_rtp


def free_even_port_pair() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1] & ~1
        try:
            for p in (port, port + 2, port + 4):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free ports")


def test_datagrams_arrive_with_source_and_reception_time_and_replies_go_out():
    low = free_even_port_pair()
    pool = RtpPortPool(low, low + 5)
    received = []
    endpoint = listen_rtp(
        RtpReceiver(monotonic=lambda: 42.0), pool, lambda *args: received.append(args), "127.0.0.1"
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
            caller.bind(("127.0.0.1", 0))
            caller.settimeout(2)
            caller.sendto(b"rtp!", ("127.0.0.1", endpoint.port))
            assert endpoint.receiver.drain() == 1
            assert received == [(b"rtp!", caller.getsockname(), 42.0)]
            endpoint.protocol.send(b"back", caller.getsockname())
            assert caller.recvfrom(100) == (b"back", ("127.0.0.1", endpoint.port))
    finally:
        endpoint.close()
    endpoint.close()
    assert endpoint.port in (low, low + 2, low + 4)
    assert pool.available == 3


def test_a_port_held_by_another_process_is_skipped():
    low = free_even_port_pair()
    pool = RtpPortPool(low, low + 3)  # two pairs: whichever is tried first, low + 2 is bound
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", low))
        endpoint = listen_rtp(RtpReceiver(), pool, lambda *args: None, "127.0.0.1")
        try:
            assert endpoint.port == low + 2
        finally:
            endpoint.close()
    assert pool.available == 2


def test_no_bindable_port_raises_and_leaks_nothing():
    low = free_even_port_pair()
    pool = RtpPortPool(low, low + 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", low))
        with pytest.raises(CannotListenError):
            listen_rtp(RtpReceiver(), pool, lambda *args: None, "127.0.0.1")
    assert pool.available == 1


def test_a_drain_reads_every_ready_socket_one_time_stamp_a_pass_until_all_is_read():
    low = free_even_port_pair()
    pool = RtpPortPool(low, low + 5)
    received = []
    receiver = RtpReceiver(monotonic=iter([7.0, 8.0, 9.0]).__next__)
    endpoints = [
        listen_rtp(receiver, pool, lambda *args: received.append(args), "127.0.0.1")
        for _ in range(2)
    ]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
            caller.bind(("127.0.0.1", 0))
            for endpoint in endpoints:
                caller.sendto(b"first", ("127.0.0.1", endpoint.port))
            caller.sendto(b"second", ("127.0.0.1", endpoints[0].port))
            assert receiver.drain() == 3
            assert sorted(received[:2]) == [(b"first", caller.getsockname(), 7.0)] * 2
            assert received[2:] == [(b"second", caller.getsockname(), 8.0)]  # the next pass
            assert receiver.drain() == 0
            endpoints[1].close()
            caller.sendto(b"late", ("127.0.0.1", endpoints[1].port))
            assert receiver.drain() == 0  # a closed port is no longer read
    finally:
        for endpoint in endpoints:
            endpoint.close()
        receiver.close()
