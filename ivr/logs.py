"""Operator logs: one line per call event, every line of a call tagged with its call reference.

The reference is a short local id plus the SIP Call-ID, so an operator can grep one call across
SIP traces and our logs. Secrets never reach here unmasked (see ivr/masking.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from twisted.logger import STDLibLogObserver, globalLogBeginner

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(level: str = "INFO") -> None:
    """Log to stderr and route Twisted's own log events into the same stdlib logging."""
    logging.basicConfig(level=level.upper(), format=FORMAT, stream=sys.stderr, force=True)
    # Twisted announces every port opened and closed: one per call for RTP. Keep its warnings.
    logging.getLogger("twisted").setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


class CallLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that prefixes every message with `[ref]`."""

    def __init__(self, logger: logging.Logger, ref: str) -> None:
        super().__init__(logger, {"call_ref": ref})
        self.ref = ref

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return f"[{self.ref}] {msg}", kwargs
