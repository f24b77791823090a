"""RFC 4733 telephone-event decoder: each key press reported exactly once.

A press is one event: every packet of it carries the same RTP timestamp (the event's start), the
last ones have the E bit and are sent three times, with the same or with new sequence numbers.
Rule: a digit is reported at the FIRST packet seen of a new (ssrc, timestamp, event) key,
whatever its E bit. So:
  - end-packet retransmissions and the packets in between count once (key already seen);
  - a press whose start or end packets were lost still counts, once;
  - a new SSRC mid-call (a replayed pcap, a phone that restarts its stream) is just a new key;
  - the digit reaches the menu at the start of the press, not after it ends.
A bounded memory of recent keys absorbs late retransmissions arriving after a newer press.
Known limit: an event longer than the 16-bit duration (8.2 s) is split by the sender into
segments with new timestamps and would count once per segment; no phone key press lasts that long.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

EVENT_DIGITS: Final = "0123456789*#ABCD"  # event codes 0-15; others (flash, tones) are ignored
_REMEMBERED_KEYS: Final = 32


class TelephoneEventDecoder:
    """Feed it telephone-event payloads of one call; it returns each new digit once."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[int, int, int], None] = OrderedDict()

    def feed(self, ssrc: int, timestamp: int, payload: bytes) -> str | None:
        if len(payload) < 4 or payload[0] >= len(EVENT_DIGITS):
            return None
        key = (ssrc, timestamp, payload[0])
        if key in self._seen:
            return None
        self._seen[key] = None
        if len(self._seen) > _REMEMBERED_KEYS:
            self._seen.popitem(last=False)
        return EVENT_DIGITS[payload[0]]
