"""One call's lines in the IVR's log: every line of a call carries `[<ref> <Call-ID>]`."""

from __future__ import annotations

import re
import time

from tests.e2e.server import IvrProcess

ANSWERED = re.compile(r"\[(?P<ref>c\d+) [^\]]*\] answered: .* menu [^@\s]+@(?P<version>\w+)")


def answered_after(server: IvrProcess, since: int, timeout: float = 20.0) -> re.Match[str]:
    """The first `answered:` line after log offset `since` (ref and menu version), waited for."""
    deadline = time.monotonic() + timeout
    while (found := ANSWERED.search(server.log(), since)) is None:
        assert time.monotonic() < deadline, f"no call answered: {server.log()[since:]}"
        time.sleep(0.05)
    return found


def call_lines(server: IvrProcess, ref: str) -> list[str]:
    """Every log line of call `ref`, once it has ended."""
    server.wait_for_log(rf"\[{ref} [^\]]*\] ended: ")
    return [line for line in server.log().splitlines() if f"[{ref} " in line]


def events(lines: list[str], kind: str) -> list[str]:
    """What followed `kind` in these lines, e.g. events(lines, "play") = the prompt ids played."""
    marker = f"] {kind} "
    return [line.split(marker, 1)[1] for line in lines if marker in line]
