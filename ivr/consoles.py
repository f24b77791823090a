"""The web consoles put together: which sections the one web server carries.

The IVR process calls `start_consoles` once its services exist; each section declares its own
pages on the shared `WebConsole` (accounts, sessions, CSRF and role checks are built once there).
The agents room adds its console here with one line beside the supervisor's.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort

from ivr.admin.pages import SupervisorConsole
from ivr.agents.console_pages import AgentConsole
from ivr.web.server import WebConsole
from ivr.web.services import WebServices
from ivr.web.settings import WebSettings

log = logging.getLogger("ivr.web")


def start_consoles(reactor: Any, services: WebServices) -> IListeningPort | None:
    """Listen on the `web:` address (None when the consoles are off or cannot listen: calls
    matter more than the consoles, so the IVR answers on without them and says why)."""
    settings = WebSettings.from_config(services.config)
    if not settings.enabled:
        return None
    console = WebConsole(services, settings)
    SupervisorConsole(console)
    AgentConsole(console)
    try:
        return console.listen(reactor)
    except CannotListenError as error:
        log.error("web console not started: %s (set web.port or IVR_WEB_PORT)", error)
        return None
