"""Live updates of the agent console: server-sent events on the web server's reactor.

Each open console holds one `GET /agent/events` stream (`text/event-stream`). The process
listens once for the queue's change nudges (`ivr:acd:changed`: published by the ACD scripts on
whichever node made the change, and by the callback list and notes) and refreshes only the
streams a change concerns: the agent's snapshot is read on the worker pool, once per agent
however many of its tabs are open, and each stream gets it when it differs from what it last got.

A slow periodic refresh is the safety net (a nudge lost while Redis reconnects, a wrap-up that
runs out without a write) and checks each stream's session again, so a disabled user or a
logged-out session stops receiving. A comment line every 15 s keeps proxies and idle timers from
closing a quiet stream; EventSource reconnects by itself when the connection drops. A session
may hold a few streams (tabs); one more is refused with 429 rather than closing an older tab,
which would reconnect and take the slot back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.server import Request

from ivr.agents.acd import Change
from ivr.web.server import COOKIE

log = logging.getLogger("ivr.agents.console")

STREAMS_PER_SESSION = 4
HEARTBEAT_S = 15.0
REFRESH_S = 10.0
RETRY_MS = 3000  # how long EventSource waits before reconnecting


def session_key(request: Request) -> str:
    """Which session a stream belongs to (a digest of the cookie, never the token itself)."""
    token = request.getCookie(COOKIE.encode()) or b""
    return hashlib.sha256(token).hexdigest()[:16]


class Stream:
    """One open event stream: its response stays open until `done` fires."""

    def __init__(self, request: Request, agent: str, session: str) -> None:
        self.request = request
        self.agent = agent
        self.session = session
        self.queues: frozenset[str] = frozenset()
        self.sent = ""
        self.closed = False
        self.done: Deferred[None] = Deferred()

    def write(self, chunk: bytes) -> None:
        if not self.closed:
            self.request.write(chunk)

    def send(self, payload: str) -> None:
        if payload != self.sent:
            self.sent = payload
            self.write(b"event: state\ndata: " + payload.encode("utf-8") + b"\n\n")

    def close(self) -> None:
        """End the response (the page handler returns; the browser reconnects if it wants)."""
        if not self.closed:
            self.closed = True
            self.done.callback(None)


class AgentStreams:
    """This process's open agent-console streams, fed from one nudge subscription."""

    def __init__(
        self,
        load: Callable[[str], Deferred[dict[str, Any]]],
        still_signed_in: Callable[[Request], Deferred[bool]],
    ) -> None:
        """`load(agent)`: the console's snapshot for an agent (blocking work on the pool);
        `still_signed_in(request)`: whether the stream's session still holds."""
        self._load = load
        self._signed_in = still_signed_in
        self.streams: list[Stream] = []
        self._loading: set[str] = set()
        self._again: set[str] = set()

    # --- streams ----------------------------------------------------------------------------

    def open(self, request: Request, agent: str) -> Stream | None:
        """A new stream, sent its agent's snapshot at once; None when its session has too
        many open."""
        session = session_key(request)
        if sum(1 for s in self.streams if s.session == session) >= STREAMS_PER_SESSION:
            log.info("agent %s: console stream refused, %d already open", agent,
                     STREAMS_PER_SESSION)  # fmt: skip
            return None
        stream = Stream(request, agent, session)
        self.streams.append(stream)
        stream.write(f"retry: {RETRY_MS}\n\n".encode())
        self.refresh(agent)
        return stream

    def remove(self, stream: Stream) -> None:
        stream.closed = True
        if stream in self.streams:
            self.streams.remove(stream)

    # --- what makes a stream send -----------------------------------------------------------

    def changed(self, data: str) -> None:
        """An `ivr:acd:changed` nudge (on the reactor): refresh the agents it concerns."""
        change = Change.parse(data)
        for agent in {s.agent for s in self.streams if change.concerns(s.agent, s.queues)}:
            self.refresh(agent)

    def refresh(self, agent: str) -> None:
        """Read the agent's snapshot and send it to its streams; a refresh asked for while one
        is loading runs once more after it (bursts of nudges cost two reads, not one each)."""
        if agent in self._loading:
            self._again.add(agent)
            return
        self._loading.add(agent)

        def loaded(snapshot: dict[str, Any]) -> None:
            payload = json.dumps(snapshot, ensure_ascii=False, default=str)
            queues = frozenset(q["name"] for q in snapshot.get("queues", ()))
            for stream in self.streams:
                if stream.agent == agent:
                    stream.queues = queues
                    stream.send(payload)

        def failed(failure: Failure) -> None:
            log.warning("agent %s: console not refreshed: %s", agent, failure.getErrorMessage())

        def settled(_: object) -> None:
            self._loading.discard(agent)
            if agent in self._again:
                self._again.discard(agent)
                self.refresh(agent)

        self._load(agent).addCallbacks(loaded, failed).addBoth(settled)

    def heartbeat(self) -> None:
        for stream in list(self.streams):
            stream.write(b": keep-alive\n\n")

    def refresh_all(self) -> None:
        """The safety net: every stream's session checked again, every agent read again."""
        for stream in list(self.streams):

            def checked(ok: bool, stream: Stream = stream) -> None:
                if not ok:
                    log.info("agent %s: console stream ended, session gone", stream.agent)
                    stream.close()

            self._signed_in(stream.request).addCallbacks(
                checked, lambda failure: log.warning("session check failed: %s", failure.value)
            )
        for agent in {stream.agent for stream in self.streams}:
            self.refresh(agent)
