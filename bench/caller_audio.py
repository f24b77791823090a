"""The yardstick caller's RTP: audio from the answer to the hang-up, keys by RFC 4733.

Every real phone streams 50 packets a second for the whole call, so the bench's caller does too,
in one of two forms (bench/bench_sipp.py `--caller`):
  - pcap: one pcap per kind of caller, the audio with the keys in it, replayed by sipp's
    `play_pcap_audio` (a thread per call);
  - stream: the audio as raw PCMU for sipp's `rtp_stream` (a few threads for all calls), and a
    short pcap of the keys with the audio between them, played while the stream pauses.
Either way one source, as a phone: the IVR's RTP latching sees one stream.

  - talker: a room's noise floor (pink noise, about -50 dBFS) under Korean phrases (espeak-ng,
    the language of the speech model the tests run) of 1-3 s with 1-3 s pauses between them;
  - listener: the noise floor only (a caller in a quiet room, listening to the prompts).
At `keys_at` seconds the keys go as RFC 4733 events (100 ms each, 100 ms apart, end packet three
times); while a key is held the phone sends the event instead of audio, as phones do.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ivr.rtp.g711 import FRAME_SAMPLES, PCMU  # noqa: E402
from tests.speech.signals import RATE, pink_noise, say  # noqa: E402

PHRASES = ("오늘 날씨가 정말 좋네요", "주소를 바꾸고 싶습니다", "감사합니다 안녕히 계세요")
NOISE_RMS = 100.0  # about -50 dBFS
SPEECH_RMS = 3000.0  # about -21 dBFS
EVENT_PT = 101
EVENT_CODES = {key: code for code, key in enumerate("0123456789*#ABCD")}
TONE_FRAMES = 5  # 100 ms per key
GAP_FRAMES = 5


def _pcap_writer() -> type:
    """gen_rtp_pcap.PcapWriter from the project's shared SIP clients (Ethernet/IPv4/UDP pcap)."""
    path = ROOT.parent / "shared" / "sip-clients" / "gen_rtp_pcap.py"
    spec = importlib.util.spec_from_file_location("gen_rtp_pcap", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PcapWriter


def caller_audio(kind: str, seconds: float, seed: int) -> np.ndarray:
    """`seconds` of a talker's or a listener's side of a call, int16 at 8 kHz."""
    audio = pink_noise(seconds, NOISE_RMS, seed=seed).astype(np.float64)
    if kind == "talker":
        rng = np.random.default_rng(seed)
        at = rng.uniform(0.5, 1.5)
        while at < seconds:
            phrase = say(PHRASES[int(rng.integers(len(PHRASES)))]).astype(np.float64)
            phrase *= SPEECH_RMS / (phrase.std() + 1e-9)
            start = int(at * RATE)
            end = min(len(audio), start + len(phrase))
            audio[start:end] += phrase[: end - start]
            at += len(phrase) / RATE + rng.uniform(1.0, 3.0)
    elif kind != "listener":
        raise ValueError(f"no caller kind {kind!r}")
    return np.clip(audio, -32768, 32767).astype(np.int16)


def keys_seconds(keys: str) -> float:
    """How long `keys` take to send: from the first event packet to the last key's end."""
    return ((len(keys) - 1) * (TONE_FRAMES + GAP_FRAMES) + TONE_FRAMES) * 0.020 if keys else 0.0


def write_caller_stream(path: Path, audio: np.ndarray) -> Path:
    """`audio` as raw PCMU, whole 20 ms frames: sipp's `rtp_stream` sends 160 bytes a packet from
    it with RTP headers of its own."""
    frames = -(-len(audio) // FRAME_SAMPLES)
    pcm = np.zeros(frames * FRAME_SAMPLES, dtype=np.int16)
    pcm[: len(audio)] = audio
    path.write_bytes(PCMU.encode(pcm))
    return path


def write_caller_pcap(
    path: Path, audio: np.ndarray, keys: str, keys_at: float, ssrc: int = 0x1233_3001
) -> Path:
    """The call's RTP as a pcap: PCMU frames of `audio`, RFC 4733 `keys` from `keys_at` s."""
    writer = _pcap_writer()(str(path))
    frames = [audio[i : i + FRAME_SAMPLES] for i in range(0, len(audio), FRAME_SAMPLES)]
    key_frames: dict[int, tuple[int, int]] = {}  # frame index -> (event code, frame in tone)
    first = round(keys_at / 0.020)
    for n, key in enumerate(keys):
        for k in range(TONE_FRAMES):
            key_frames[first + n * (TONE_FRAMES + GAP_FRAMES) + k] = (EVENT_CODES[key], k)
    sequence, t = 1000, 1.0
    tone_start = 0
    for index, frame in enumerate(frames):
        timestamp = 8000 + index * FRAME_SAMPLES
        if index in key_frames:
            code, k = key_frames[index]
            if k == 0:
                tone_start = timestamp
            end = k == TONE_FRAMES - 1
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, (k + 1) * FRAME_SAMPLES)
            for _ in range(3 if end else 1):
                header = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | EVENT_PT,
                                     sequence & 0xFFFF, tone_start, ssrc)  # fmt: skip
                writer.write(t, header + payload)
                sequence += 1
        else:
            pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            pcm[: len(frame)] = frame
            header = struct.pack("!BBHII", 0x80, PCMU.payload_type, sequence & 0xFFFF,
                                 timestamp & 0xFFFFFFFF, ssrc)  # fmt: skip
            writer.write(t, header + PCMU.encode(pcm))
            sequence += 1
        t += 0.020
    writer.close()
    return path
