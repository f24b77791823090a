import pytest

from ivr.rtp.ports import PortsExhausted, RtpPortPool


def test_only_even_ports_with_room_for_rtcp_are_handed_out():
    pool = RtpPortPool(20001, 20008)
    assert [pool.allocate() for _ in range(3)] == [20002, 20004, 20006]
    with pytest.raises(PortsExhausted):
        pool.allocate()


def test_released_port_is_reused_last():
    pool = RtpPortPool(30000, 30003)
    first = pool.allocate()
    pool.release(first)
    assert pool.allocate() == 30002
    assert pool.allocate() == first


def test_releasing_an_unallocated_port_is_an_error():
    pool = RtpPortPool(30000, 30005)
    with pytest.raises(ValueError):
        pool.release(30000)


def test_range_without_a_pair_is_rejected():
    with pytest.raises(ValueError):
        RtpPortPool(30001, 30002)
