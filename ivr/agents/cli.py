"""`python -m ivr agents COMMAND`: agents' SIP accounts.

    add USER [--name 王芳]   a new agent: a console user with role agent and a SIP account,
                             one password for both (asked for, or read from stdin)
    passwd USER              a new password (console and phone)
    disable USER / enable USER
    list                     every agent, whether enabled, and its registered phones

Passwords are read with getpass (or one line of stdin with --password-stdin, for scripts) and
kept only as the console's scrypt hash and the phone's digest HA1s. The realm is
`agents.realm` in the settings (default 12333). Every change is in the change log ("cli").
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from ivr.agents import accounts
from ivr.agents.registrar import RegistrarSettings
from ivr.agents.registrar_store import RegistrarStore
from ivr.config import Config, load_config
from ivr.store import accounts as users
from ivr.store.db import Database, open_database
from ivr.store.migrate import upgrade
from ivr.store.redis_state import open_redis
from ivr.web.users_cli import read_password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ivr agents", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", help="settings file (default: config/ivr.yaml or IVR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="a new agent")
    add.add_argument("username")
    add.add_argument("--name", default="", help="the agent's name as the console shows it")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = commands.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        commands.add_parser(name, help=f"{name} an agent").add_argument("username")
    commands.add_parser("list", help="every agent and its registered phones")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    config = load_config(args.config)
    realm = RegistrarSettings.from_section(config.section("agents")).realm
    db = open_database(config.store)
    upgrade(db.engine)
    now = dt.datetime.now(dt.UTC)
    try:
        if args.command == "add":
            password = read_password(args.password_stdin)
            accounts.add_agent(db, args.username, password, realm, args.name, now)
            print(f"agent {args.username} added (realm {realm})")
        elif args.command == "passwd":
            accounts.set_password(db, args.username, read_password(args.password_stdin), realm, now)
            print(f"agent {args.username}: password changed")
        elif args.command in ("disable", "enable"):
            if accounts.credentials(db, args.username) is None:
                raise accounts.AccountError(f"没有坐席 {args.username}")
            disabled = args.command == "disable"
            users.set_disabled(db, args.username, disabled, by="cli", now=now)
            print(f"agent {args.username} {args.command}d")
        else:
            _list(db, config)
    except accounts.AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


def _list(db: Database, config: Config) -> None:
    store = RegistrarStore(open_redis(config.store))
    now = time.time()
    for agent in accounts.list_agents(db):
        phones = store.bindings(agent.username, now).values()
        state = "enabled" if agent.enabled else "disabled"
        contacts = ", ".join(f"{b.contact} ({b.seconds_left(now)} s)" for b in phones) or "-"
        print(f"{agent.username:12} {agent.display_name:10} {state:9} {contacts}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
