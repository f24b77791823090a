"""One key press, however many ways the phone reports it, counts once.

Phones may send a press as RFC 4733 events AND as SIP INFO, or as RFC 4733 while the tone also
leaks into the audio (in-band). Two rules, per call:
  1. Priority: once a source of higher priority (rfc4733 > info > inband) has reported a digit,
     lower-priority sources are ignored for `suppress_window` seconds after its latest digit.
     The phone evidently uses the better channel, so its echoes elsewhere are noise.
  2. Pairing, for the first press (before rule 1 knows anything): a digit from one source that
     matches a digit accepted from ANOTHER source within `match_window` seconds is the same
     press; each accepted digit absorbs at most one copy per other source.
A source never duplicates itself (each has its own once-per-press logic), so genuine repeats
sent one way, however quick, always count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

Source = Literal["rfc4733", "info", "inband"]
PRIORITY: Final[dict[str, int]] = {"rfc4733": 3, "info": 2, "inband": 1}


@dataclass(slots=True)
class _Accepted:
    digit: str
    source: str
    at: float
    absorbed: set[str] = field(default_factory=set)


class DtmfMerger:
    def __init__(self, match_window: float = 1.0, suppress_window: float = 3.0) -> None:
        self.match_window = match_window
        self.suppress_window = suppress_window
        self._last_seen: dict[str, float] = {}  # source -> time of its latest digit
        self._accepted: deque[_Accepted] = deque()

    def accept(self, digit: str, source: Source, now: float) -> bool:
        """True when this report is a new press; False when it repeats one already counted."""
        self._last_seen[source] = now
        rank = PRIORITY[source]
        for other, seen_at in self._last_seen.items():
            if PRIORITY[other] > rank and now - seen_at <= self.suppress_window:
                return False
        while self._accepted and now - self._accepted[0].at > self.match_window:
            self._accepted.popleft()
        for press in self._accepted:
            if press.digit == digit and press.source != source and source not in press.absorbed:
                press.absorbed.add(source)
                return False
        self._accepted.append(_Accepted(digit, source, now))
        return True
