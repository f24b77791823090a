import random

import pytest

from ivr.rtp.ports import PortsExhausted, RtpPortPool


def test_only_even_ports_with_room_for_rtcp_are_handed_out():
    pool = RtpPortPool(20001, 20008)
    assert sorted(pool.allocate() for _ in range(3)) == [20002, 20004, 20006]
    with pytest.raises(PortsExhausted):
        pool.allocate()


def test_ports_come_in_an_order_a_third_party_cannot_predict():
    orders = {tuple(RtpPortPool(30000, 30200).allocate() for _ in range(10)) for _ in range(5)}
    assert len(orders) == 5
    ascending = tuple(range(30000, 30020, 2))
    assert ascending not in orders


def test_a_released_port_cools_down_before_it_is_handed_out_again():
    pool = RtpPortPool(30000, 30040, rng=random.Random(7))  # 20 pairs: 10 may cool
    first = pool.allocate()
    pool.release(first)
    again = [pool.allocate() for _ in range(10)]
    assert first not in again


def test_a_cooling_port_is_used_rather_than_refusing_a_call():
    pool = RtpPortPool(30000, 30003)  # two pairs: one may cool
    first, second = pool.allocate(), pool.allocate()
    pool.release(first)
    assert pool.allocate() == first
    assert pool.available == 0
    assert second != first


def test_releasing_an_unallocated_port_is_an_error():
    pool = RtpPortPool(30000, 30005)
    with pytest.raises(ValueError):
        pool.release(30000)


def test_range_without_a_pair_is_rejected():
    with pytest.raises(ValueError):
        RtpPortPool(30001, 30002)
