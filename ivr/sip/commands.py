"""The user agent's commands as plain calls, for the call layer (the Twisted edge's side).

Each command runs on the reactor thread against the `UserAgent` inside `SipTransport` and is
flushed at once. Calls and agent legs see only the methods they need (`ivr.call.CallSignalling`,
`ivr.agents.transfer.LegSignalling`), so a unit test hands them a recorder instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.sip.events import CallHandle
from ivr.sip.transport import SipTransport


class SipCommands:
    def __init__(self, transport: SipTransport) -> None:
        self._sip = transport

    def answer(self, call: CallHandle, sdp: bytes) -> None:
        self._sip.command(lambda ua, now: ua.answer(call, sdp, now))

    def reject(self, call: CallHandle, status: int) -> None:
        self._sip.command(lambda ua, now: ua.reject(call, status, now))

    def hang_up(self, call: CallHandle) -> None:
        self._sip.command(lambda ua, now: ua.hangup(call, now))

    def answer_reinvite(self, call: CallHandle, sdp: bytes) -> None:
        self._sip.command(lambda ua, now: ua.answer_reinvite(call, sdp, now))

    def reject_reinvite(self, call: CallHandle, status: int) -> None:
        self._sip.command(lambda ua, now: ua.reject_reinvite(call, status, now))

    def invite(
        self, target: str, sdp: bytes, from_user: str, headers: Mapping[str, str]
    ) -> CallHandle:
        return self._sip.command(
            lambda ua, now: ua.invite(target, sdp, now, from_user=from_user, headers=dict(headers))
        )
