"""`python -m ivr db ...` on the embedded defaults, configured through a settings file."""

from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.actions.card_rules import CardState
from ivr.actions.cli import main
from ivr.actions.demo import DEMO_PEOPLE
from ivr.actions.pin_hash import verify_pin
from ivr.config import load_config
from ivr.id_number import check_id_number
from ivr.store.db import open_database
from ivr.store.models import AuditEntry, Card, PinCredential

LOSS_DEMO = next(p for p in DEMO_PEOPLE if p.name == "杨磊").id_number
LOCKED_DEMO = next(p for p in DEMO_PEOPLE if p.name == "周杰").id_number


def test_demo_people_have_valid_ids_and_cover_every_state() -> None:
    assert all(check_id_number(p.id_number).ok for p in DEMO_PEOPLE)
    assert any(p.id_number.endswith("X") for p in DEMO_PEOPLE)
    states = {card.state for p in DEMO_PEOPLE for card in p.cards}
    assert states == set(CardState) - {CardState.TEMPORARY_LOSS}  # that one is a deadline
    assert any(card.temporary_loss_days_ago for p in DEMO_PEOPLE for card in p.cards)


def test_upgrade_then_seed_demo_prints_every_journey_once(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config_file), "upgrade"]) == 0
    assert main(["--config", str(config_file), "seed-demo"]) == 0
    table = capsys.readouterr().out
    for person in DEMO_PEOPLE:
        assert person.id_number in table
    assert "临时挂失" in table
    assert main(["--config", str(config_file), "seed-demo"]) == 0  # idempotent
    assert capsys.readouterr().out.count("already present") == len(DEMO_PEOPLE)
    db = open_database(load_config(config_file).store)
    with db.reading() as session:
        cards = list(session.scalars(select(Card)))
        credentials = list(session.scalars(select(PinCredential)))
    db.dispose()
    assert len(cards) == sum(len(p.cards) for p in DEMO_PEOPLE)
    assert all(c.pin_hash.startswith("scrypt$") for c in credentials)


def test_counter_commands_act_and_are_audited(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config", str(config_file)]
    main([*args, "seed-demo"])
    assert main([*args, "formal-loss", LOSS_DEMO]) == 0
    assert main([*args, "release", LOSS_DEMO]) == 0
    assert main([*args, "release", LOSS_DEMO]) == 1  # nothing left to release
    assert main([*args, "unlock", LOCKED_DEMO, "--operator", "window-3"]) == 0
    assert main([*args, "sweep"]) == 0
    out = capsys.readouterr().out
    assert "released status_text=正常" in out
    assert "not_lost" in out
    db = open_database(load_config(config_file).store)
    with db.reading() as session:
        audit = [
            (a.action, a.outcome, a.channel, a.caller) for a in session.scalars(select(AuditEntry))
        ]
    db.dispose()
    assert ("formal_loss", "reported", "counter", "counter") in audit
    assert ("unlock", "unlocked", "counter", "window-3") in audit


def test_pepper_pins_wraps_every_old_hash_so_the_same_pins_still_verify(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--config", str(config_file)]
    main([*args, "seed-demo"])
    monkeypatch.delenv("IVR_PIN_PEPPER", raising=False)
    assert main([*args, "pepper-pins"]) == 1  # no pepper: nothing to do it with
    pepper = "a pepper of at least sixteen bytes"
    monkeypatch.setenv("IVR_PIN_PEPPER", pepper)
    assert main([*args, "pepper-pins"]) == 0
    assert main([*args, "pepper-pins"]) == 0  # idempotent
    out = capsys.readouterr().out
    assert f"peppered {sum(len(p.cards) for p in DEMO_PEOPLE)} PIN hash(es)" in out
    assert "peppered 0 PIN hash(es)" in out
    db = open_database(load_config(config_file).store)
    with db.reading() as session:
        card = session.scalars(select(Card).where(Card.pin_locked_at.is_not(None))).first()
        assert card is not None and card.pin is not None
        stored = card.pin.pin_hash
    db.dispose()
    assert stored.startswith("scrypt-hmac$")
    assert verify_pin("904718", stored, pepper.encode())  # 周杰's demo PIN
