"""`python -m ivr COMMAND ...`: the operator's commands, each living in its own room."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "agents": ("ivr.agents.cli", "agents' SIP accounts: add, passwd, disable, enable, list"),
    "db": ("ivr.actions.cli", "database: upgrade, seed-demo, counter operations"),
    "menus": ("ivr.menus.cli", "menus: validate, publish, history, rollback"),
    "prompts": ("ivr.media.prompts_cli", "prompt recordings: build, check"),
    "speech": ("ivr.speech.cli", "speech: check intent phrases against the Vosk model"),
    "users": ("ivr.web.users_cli", "web console accounts: add, passwd, disable, enable, list"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m ivr COMMAND [ARGS...]\n\ncommands:")
        for name, (_, summary) in COMMANDS.items():
            print(f"  {name:10} {summary}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
