import pytest

from ivr.actions.pin_hash import hash_pin, verify_pin
from ivr.actions.pin_rules import REASON_TEXT, WeakPin, weak_pin_reason
from ivr.actions.settings import PinPolicy
from tests.actions.support import id_for

ID = id_for(7, born="19800312")  # 360102 19800312 007 + check


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("12345", WeakPin.FORMAT),
        ("12a456", WeakPin.FORMAT),
        ("777777", WeakPin.REPEATED),
        ("123456", WeakPin.SEQUENCE),
        ("345678", WeakPin.SEQUENCE),
        ("987654", WeakPin.SEQUENCE),
        ("890123", WeakPin.SEQUENCE),
        ("800312", WeakPin.BIRTH_DATE),  # YYMMDD
        ("031280", WeakPin.BIRTH_DATE),  # MMDDYY
        (ID[-6:], WeakPin.ID_TAIL),
        ("802461", WeakPin.SAME_AS_OLD),
    ],
)
def test_trivial_pins_are_refused_with_their_reason(pin: str, reason: WeakPin) -> None:
    assert weak_pin_reason(pin, "802461", ID) is reason
    assert REASON_TEXT[reason]


def test_an_ordinary_pin_is_accepted() -> None:
    assert weak_pin_reason("730915", "802461", ID) is None


def test_pin_hash_is_salted_and_verifies_only_the_right_pin() -> None:
    policy = PinPolicy()  # the production cost
    first, second = hash_pin("730915", policy), hash_pin("730915", policy)
    assert first != second
    assert "730915" not in first
    assert verify_pin("730915", first)
    assert not verify_pin("730916", first)


def test_hash_keeps_verifying_after_the_cost_changes() -> None:
    old = hash_pin("730915", PinPolicy(scrypt_n=2**4, scrypt_r=1, scrypt_p=1))
    assert old.startswith("scrypt$16$1$1$")
    assert verify_pin("730915", old)
