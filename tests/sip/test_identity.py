"""The caller identity passed on to logs, CDRs and the agent INVITE is a dial string only."""

from __future__ import annotations

import pytest

from ivr.sip.identity import MAX_IDENTITY, caller_identity, dial_string
from ivr.sip.message import parse_message
from tests.sip.sip_core_helpers import request


def invite_from(from_header: str):
    data = request("INVITE").replace(
        b"From: <sip:caller@192.0.2.10>;tag=peer-tag", f"From: {from_header}".encode()
    )
    return parse_message(data)


@pytest.mark.parametrize(
    ("from_header", "identity"),
    [
        ("<sip:13800138000@192.0.2.10>;tag=a", "13800138000"),
        ("<sip:+86-138-0013-8000@192.0.2.10>;tag=a", "+8613800138000"),
        ("<sip:1%0D%0ACall-Info%3A%20%3Csip%3Ax%3E%3Banswer-after%3D0@192.0.2.10>;tag=a", "10"),
        ('"Boss" <sip:alice@192.0.2.10>;tag=a', ""),
        ("<sip:192.0.2.10>;tag=a", ""),
        ("<tel:+8612333>;tag=a", ""),
        ("<sip:*12%23@192.0.2.10>;tag=a", "*12#"),
    ],
    ids=["plain", "punctuated", "crlf-injection", "name", "no-user", "tel-uri", "keys"],
)
def test_the_from_user_part_is_reduced_to_a_dial_string(from_header, identity):
    assert caller_identity(invite_from(from_header)) == identity


def test_control_characters_and_escapes_never_survive():
    assert dial_string("12\r\n\x1b[1m34\x00") == "12134"
    assert len(dial_string("1" * 500)) == MAX_IDENTITY
