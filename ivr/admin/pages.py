"""Every page of the supervisor console, registered on the shared web server."""

from __future__ import annotations

from pathlib import Path

from ivr.admin.changes import ChangeLogPages
from ivr.web.server import WebConsole

HERE = Path(__file__).resolve().parent
SUPERVISOR = ("supervisor",)


class SupervisorConsole:
    def __init__(self, console: WebConsole) -> None:
        console.add_templates(HERE / "templates")
        console.add_static("admin", HERE / "static")
        self.changes = ChangeLogPages(console, SUPERVISOR)
