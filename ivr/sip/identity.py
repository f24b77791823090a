"""The caller's identity as the IVR passes it on: the From user part reduced to a dial string.

A From header is whatever the caller's side wrote. Its user part may carry escaped octets
(`%0D%0A` becomes a line break once un-escaped), letters or an entire forged header. Before
the identity reaches a log line, a CDR, the agent's screen or another SIP message (the agent
INVITE's From), it is reduced to the characters of a dial string, `[0-9+*#]`, the rest
dropped, and cut to MAX_IDENTITY characters (E.164 allows 15 digits; 32 leaves room for
prefixes and extensions).
"""

from __future__ import annotations

import re

from ivr.sip.message import Request
from ivr.sip.uri import NameAddr

MAX_IDENTITY = 32
_NOT_DIALABLE = re.compile(r"[^0-9+*#]")


def dial_string(text: str) -> str:
    """`text` with every character outside `[0-9+*#]` dropped, at most MAX_IDENTITY long."""
    return _NOT_DIALABLE.sub("", text)[:MAX_IDENTITY]


def caller_identity(request: Request) -> str:
    """The reduced From user part (`sip:138 0013 8000@...` -> `13800138000`); '' if none."""
    try:
        address = NameAddr.parse(request.headers.get("From") or "")
    except ValueError:
        return ""
    return dial_string(getattr(address.uri, "user", None) or "")
