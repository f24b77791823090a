"""Operator logs: one line per call event, every line of a call tagged with its call reference.

The reference is a short local id plus the SIP Call-ID, so an operator can grep one call across
SIP traces and our logs. Secrets never reach here unmasked (see ivr/masking.py).

Much of what is logged comes from the network (a Call-ID, a reason, a URI). `SafeFormatter`
writes every control character as an escape (`\x1b`, `\r`, a lone surrogate from a
non-UTF-8 octet as `\udc80`), so no peer can colour a terminal, rewrite a line with a bare
CR or forge a record; a line break inside a record is kept but indented, so every record's
continuation is visibly its own.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

from twisted.logger import STDLibLogObserver, globalLogBeginner

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CONTINUATION = "\n    "
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """Control characters as escapes; line breaks indented (see the module docstring)."""
    escaped = _CONTROL.sub(lambda match: _escape(match.group()), text)
    return escaped.replace("\n", CONTINUATION)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record))


def configure(level: str = "INFO") -> None:
    """Log to stderr and route Twisted's own log events into the same stdlib logging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Twisted announces every port opened and closed: one per call for RTP. Keep its warnings.
    logging.getLogger("twisted").setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


class CallLog(logging.LoggerAdapter):
    """A logger that prefixes every message with `[ref]`."""

    def __init__(self, logger: logging.Logger, ref: str) -> None:
        super().__init__(logger, {"call_ref": ref})
        self.ref = ref

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return f"[{self.ref}] {msg}", kwargs
