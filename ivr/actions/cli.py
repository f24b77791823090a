"""`python -m ivr db COMMAND`: schema upgrades, demo data and the counter's operations.

    upgrade            bring the database to the latest schema (alembic upgrade head)
    seed-demo          upgrade, then add demo people and cards in every state; prints IDs, PINs
    formal-loss ID     正式挂失 (supersedes a temporary loss)
    release ID         解挂: end a temporary or formal loss
    unlock ID          unlock a PIN locked after six wrong tries
    sweep              record lapsed temporary losses in the audit log
    pepper-pins        wrap every PIN hash made before the pepper (IVR_PIN_PEPPER) was set

The demo table is printed in full on purpose (it is invented data, for trying each journey);
nothing here logs an ID number or PIN.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata

from sqlalchemy import select

from ivr.actions.base import system_clock
from ivr.actions.counter import counter_operation, sweep_lapsed
from ivr.actions.demo import seed_demo
from ivr.actions.pin_hash import pepper_stored
from ivr.actions.service import ActionContext
from ivr.actions.settings import parse_action_settings
from ivr.config import Config, load_config
from ivr.store.db import open_database
from ivr.store.migrate import upgrade
from ivr.store.models import PinCredential
from ivr.work_calendar import configured_calendar

COUNTER_COMMANDS = {"formal-loss": "formal_loss", "release": "release", "unlock": "unlock"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ivr db", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="settings file (default: config/ivr.yaml or IVR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade", help="alembic upgrade head")
    commands.add_parser("seed-demo", help="add demo people and cards in every state")
    for name in COUNTER_COMMANDS:
        command = commands.add_parser(name, help=f"counter operation: {name}")
        command.add_argument("id_number", help="the holder's 18-character ID number")
        command.add_argument("--operator", default="counter", help="who did it, for the audit")
    commands.add_parser("sweep", help="record lapsed temporary losses in the audit log")
    commands.add_parser("pepper-pins", help="wrap PIN hashes made before the pepper was set")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    config = load_config(args.config)
    if args.command == "upgrade":
        db = open_database(config.store)
        upgrade(db.engine)
        db.dispose()
        print("database schema is up to date")
        return 0
    if args.command == "seed-demo":
        return _seed_demo(config)
    if args.command == "pepper-pins":
        return _pepper_pins(config)
    ctx = ActionContext.from_config(config)
    try:
        if args.command == "sweep":
            print(f"recorded {sweep_lapsed(ctx)} lapsed temporary loss(es)")
            return 0
        result = counter_operation(
            ctx, COUNTER_COMMANDS[args.command], args.id_number, args.operator
        )
    finally:
        ctx.db.dispose()
    print(result.outcome, *(f"{k}={v}" for k, v in result.values.items()))
    return 0 if result.outcome in ("reported", "released", "unlocked") else 1


def _seed_demo(config: Config) -> int:
    settings = parse_action_settings(config.section("actions"), configured_calendar(config))
    db = open_database(config.store)
    upgrade(db.engine)
    with db.transaction() as session:
        rows = seed_demo(session, system_clock(), settings)
    db.dispose()
    print(_row("ID number", "PIN", "name", "card state", "journey"))
    for person, added in rows:
        journey = person.journey + ("" if added else " (already present)")
        pin = person.cards[-1].pin
        print(_row(person.id_number, pin, person.name, person.states_text, journey))
    return 0


def _pepper_pins(config: Config) -> int:
    """One transaction: every plain hash becomes its peppered form (the PINs are not needed)."""
    settings = parse_action_settings(config.section("actions"), configured_calendar(config))
    if settings.pin.pepper is None:
        print("no pepper configured: set IVR_PIN_PEPPER", file=sys.stderr)
        return 1
    db = open_database(config.store)
    wrapped = 0
    with db.transaction() as session:
        for credential in session.scalars(select(PinCredential).with_for_update()):
            peppered = pepper_stored(credential.pin_hash, settings.pin.pepper)
            if peppered is not None:
                credential.pin_hash = peppered
                wrapped += 1
    db.dispose()
    print(f"peppered {wrapped} PIN hash(es)")
    return 0


def _row(*cells: str) -> str:
    """Cells padded to fixed display widths (a Chinese character takes two columns)."""
    widths = (20, 8, 6, 16)
    padded = (
        cell + " " * (width - _display_width(cell))
        for cell, width in zip(cells, widths, strict=False)
    )
    return "".join(padded) + cells[-1]


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
