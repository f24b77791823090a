"""A lossy, jittery UDP path between a phone and the IVR, for machines without tc netem.

The kernel here has no `sch_netem`, so the drill impairs media in user space instead: the IVR
advertises 127.0.0.2 (its `sip.public_host`) while it listens on 127.0.0.1, and this relay
listens on 127.0.0.2 at each given port and forwards to 127.0.0.1 at the same port, through one
upstream socket per phone address (so the IVR's RTP latches to the relay and its replies come
back the same way). Datagrams on impaired ports are dropped with probability `loss` and each is
delayed by `delay` plus a uniform random part up to `jitter` in both directions, so they also
arrive out of order; other ports (SIP) pass untouched.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

FRONT = "127.0.0.2"
BACK = "127.0.0.1"


@dataclass
class ImpairedRelay:
    ports: list[int]
    impaired: set[int]
    loss: float = 0.10
    delay: float = 0.02
    jitter: float = 0.05
    seed: int = 12333
    dropped: int = 0
    passed: int = 0
    _selector: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    _upstream: dict[tuple[int, tuple[str, int]], socket.socket] = field(default_factory=dict)
    _fronts: dict[int, socket.socket] = field(default_factory=dict)
    _due: list[tuple[float, int, socket.socket, bytes, tuple[str, int]]] = field(
        default_factory=list
    )
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._random = random.Random(self.seed)
        self._order = itertools.count()
        for port in self.ports:
            front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            front.bind((FRONT, port))
            self._fronts[port] = front
            self._selector.register(front, selectors.EVENT_READ, ("front", port, None))
        self._thread = threading.Thread(target=self._run, name="impaired-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    def _send_later(self, port: int, sock: socket.socket, data: bytes, to: tuple[str, int]) -> None:
        if port in self.impaired:
            if self._random.random() < self.loss:
                self.dropped += 1
                return
            wait = self.delay + self._random.uniform(0, self.jitter)
        else:
            wait = 0.0
        self.passed += 1
        heapq.heappush(self._due, (time.monotonic() + wait, next(self._order), sock, data, to))

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = 0.05
            if self._due:
                timeout = max(0.0, min(timeout, self._due[0][0] - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                kind, port, phone = key.data
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                data, source = sock.recvfrom(65535)
                if kind == "front":
                    upstream = self._upstream.get((port, source))
                    if upstream is None:
                        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        upstream.bind((FRONT, 0))
                        self._upstream[(port, source)] = upstream
                        self._selector.register(
                            upstream, selectors.EVENT_READ, ("up", port, source)
                        )
                    self._send_later(port, upstream, data, (BACK, port))
                else:
                    self._send_later(port, self._fronts[port], data, phone)
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                _, _, sock, data, to = heapq.heappop(self._due)
                with contextlib.suppress(OSError):  # the far end is gone: lost, as on a real path
                    sock.sendto(data, to)
