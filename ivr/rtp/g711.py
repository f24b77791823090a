"""G.711 µ-law (PCMU) and A-law (PCMA) with numpy lookup tables.

Decoding indexes a 256-entry int16 table with the payload bytes; encoding indexes a 65536-entry
table with the uint16 view of the int16 samples. Both are one numpy fancy-index per frame, so a
160-sample frame costs a few microseconds. The tables are built once, at import, from the
segment rules of the ITU-T G.711 reference code (Sun Microsystems' g711.c).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

FRAME_SAMPLES: Final = 160  # 20 ms at 8 kHz
SAMPLE_RATE: Final = 8000

_ULAW_BIAS = 0x84  # in 16-bit units; 0x21 in the 14-bit units of the encoder


def _build_ulaw_decode() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_ulaw_encode() -> np.ndarray:
    value = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), 8159) + 0x21
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    code = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    )
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_decode() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    base = (code & 0x0F) << 4
    magnitude = np.where(segment == 0, base + 8, (base + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _build_alaw_encode() -> np.ndarray:
    sample = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32)
    value = sample >> 3
    mask = np.where(value >= 0, 0xD5, 0x55)
    value = np.where(value >= 0, value, -value - 1)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, value, side="left")
    shift = np.where(segment < 2, 1, segment)
    code = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((value >> shift) & 0x0F))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


_ULAW_DECODE: Final = _build_ulaw_decode()
_ULAW_ENCODE: Final = _build_ulaw_encode()
_ALAW_DECODE: Final = _build_alaw_decode()
_ALAW_ENCODE: Final = _build_alaw_encode()


def ulaw_decode(payload: bytes) -> np.ndarray:
    """µ-law bytes -> int16 samples."""
    return _ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def alaw_decode(payload: bytes) -> np.ndarray:
    """A-law bytes -> int16 samples."""
    return _ALAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples -> µ-law bytes."""
    return _ULAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


def alaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples -> A-law bytes."""
    return _ALAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


@dataclass(frozen=True, slots=True)
class Codec:
    """One G.711 variant: its SDP name, static payload type, coders and silence byte."""

    name: str
    payload_type: int
    silence_byte: int
    decode: Callable[[bytes], np.ndarray]
    encode: Callable[[np.ndarray], bytes]

    @property
    def silence_frame(self) -> bytes:
        """20 ms of digital silence (what we send while no prompt plays)."""
        return bytes([self.silence_byte]) * FRAME_SAMPLES


PCMU: Final = Codec("PCMU", 0, 0xFF, ulaw_decode, ulaw_encode)
PCMA: Final = Codec("PCMA", 8, 0xD5, alaw_decode, alaw_encode)
CODECS: Final[dict[str, Codec]] = {PCMU.name: PCMU, PCMA.name: PCMA}


def codec_named(name: str) -> Codec:
    """The codec for an SDP encoding name ("PCMU"/"PCMA", any case); KeyError if unknown."""
    return CODECS[name.upper()]
