"""`python -m ivr users COMMAND`: the web consoles' accounts.

    add USERNAME --role agent|supervisor [--name 显示名]   create; the password is asked for
    passwd USERNAME                                        set a new password
    disable USERNAME / enable USERNAME                     lock out (sessions end at once) / undo
    list                                                   every account, with role and state

Passwords are read from the terminal, or one line from stdin with `--password-stdin` (scripts);
never from the command line, where `ps` and shell history would keep them. Each change is in the
change log as done by "cli".
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from ivr.config import load_config
from ivr.store.accounts import ROLES, AccountError, add_user, list_users, set_disabled, set_password
from ivr.store.db import open_database
from ivr.store.migrate import upgrade

BY = "cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ivr users", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="settings file (default: config/ivr.yaml or IVR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", default="", help="display name (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = commands.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        commands.add_parser(name, help=f"{name} an account").add_argument("username")
    commands.add_parser("list", help="every account")
    return parser


def read_password(from_stdin: bool) -> str:
    """A new password: one line of stdin (scripts), or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("两次输入的密码不一致")
    return first


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    db = open_database(load_config(args.config).store)
    now = dt.datetime.now(dt.UTC)
    try:
        upgrade(db.engine)
        if args.command == "add":
            password = read_password(args.password_stdin)
            account = add_user(db, args.username, args.name, args.role, password, by=BY, now=now)
            print(f"user {account.username} ({account.role}) added")
        elif args.command == "passwd":
            set_password(db, args.username, read_password(args.password_stdin), by=BY, now=now)
            print(f"password of {args.username} changed")
        elif args.command in ("disable", "enable"):
            set_disabled(db, args.username, args.command == "disable", by=BY, now=now)
            print(f"user {args.username} {args.command}d")
        else:
            for account in list_users(db):
                state = "disabled" if account.disabled else "active"
                print(f"{account.username:20} {account.role:11} {state:9} {account.display_name}")
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
