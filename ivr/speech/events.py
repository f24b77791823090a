"""What a call's listener reports, delivered on the reactor thread through `on_event`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntentHeard:
    """The caller said one of an intent's phrases; `text` is what the grammar decoder heard."""

    intent: str
    text: str
    confidence: float


@dataclass(frozen=True)
class Transcript:
    """Free decoding of one utterance, for the agent's screen; may come after its IntentHeard."""

    text: str


SpeechEvent = IntentHeard | Transcript
