"""How long a call may last and how long it may stay silent, decided on a clock passed in.

`media_timeout` counts from the last RTP packet the caller sent, or from the answer when none
came at all (a caller that never sends media, or one pressing `#` by INFO every few seconds,
is not a reason to keep a call and its port). A held call (the caller's re-INVITE said
sendonly/inactive) may be silent; `max_duration` ends every call, held or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr.config import ConfigError


@dataclass(frozen=True)
class CallLimits:
    max_duration: float = 3600.0  # seconds from the answer; an agent call included
    media_timeout: float = 60.0  # seconds without RTP from the caller

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> CallLimits:
        """`max_duration` and `media_timeout` of the config file's `call:` section."""
        try:
            limits = cls(
                max_duration=float(section.get("max_duration", cls.max_duration)),
                media_timeout=float(section.get("media_timeout", cls.media_timeout)),
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"call: {error}") from None
        if limits.max_duration <= 0 or limits.media_timeout <= 0:
            raise ConfigError("call: max_duration and media_timeout must be above 0")
        return limits

    def overdue(
        self, answered: float, last_media: float | None, held: bool, now: float
    ) -> str | None:
        """Why the call must end now (monotonic seconds), or None."""
        if now - answered >= self.max_duration:
            return f"call longer than {self.max_duration:.0f} s"
        silent_since = answered if last_media is None else max(answered, last_media)
        if not held and now - silent_since >= self.media_timeout:
            return f"no RTP for {self.media_timeout:.0f} s"
        return None
