"""In-band detector: tones through G.711 with noise are found once; speech finds nothing."""

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.rtp import g711
from ivr.rtp.inband_dtmf import COLUMN_HZ, KEYS, ROW_HZ, InbandDtmfBank

RATE = 8000


def tone(key: str, ms: float, rng: np.random.Generator, amplitude=6000.0, twist_db=0.0):
    index = KEYS.index(key)
    t = np.arange(int(RATE * ms / 1000)) / RATE
    low = amplitude * np.sin(2 * np.pi * ROW_HZ[index // 4] * t + rng.uniform(0, 2 * np.pi))
    high = (
        amplitude
        * 10 ** (twist_db / 20)
        * np.sin(2 * np.pi * COLUMN_HZ[index % 4] * t + rng.uniform(0, 2 * np.pi))
    )
    return low + high


def silence(ms: float) -> np.ndarray:
    return np.zeros(int(RATE * ms / 1000))


def through_pcmu(signal: np.ndarray, rng: np.random.Generator, snr_db: float | None = None):
    """Add white noise at `snr_db` below the signal's active power, then G.711-code it."""
    signal = np.asarray(signal, dtype=float)
    if snr_db is not None:
        active = signal[np.abs(signal) > 0]
        noise_power = np.mean(active**2) / 10 ** (snr_db / 10)
        signal = signal + rng.normal(0.0, np.sqrt(noise_power), len(signal))
    pcm = np.clip(signal, -32768, 32767).astype(np.int16)
    return g711.ulaw_decode(g711.ulaw_encode(pcm))


def detect(pcm: np.ndarray, packet_samples: int = 160) -> str:
    """Feed the audio as RTP would (one packet per tick) and collect the keys."""
    bank = InbandDtmfBank()
    found = []
    for start in range(0, len(pcm), packet_samples):
        bank.add("call", pcm[start : start + packet_samples])
        found += [key for call, key in bank.detect() if call == "call"]
    return "".join(found)


@pytest.mark.parametrize("snr_db", [30, 20, 12])
@pytest.mark.parametrize("tone_ms", [50, 70, 120])
def test_every_key_with_noise_is_detected_exactly_once(snr_db, tone_ms):
    rng = np.random.default_rng(snr_db * 1000 + tone_ms)
    for _trial in range(3):
        parts = [silence(rng.uniform(0, 20))]  # random alignment with the 20 ms frames
        for key in KEYS:
            parts += [tone(key, tone_ms, rng), silence(60)]
        assert detect(through_pcmu(np.concatenate(parts), rng, snr_db)) == KEYS


def test_quiet_tones_at_the_edge_of_the_twist_limits_are_detected():
    rng = np.random.default_rng(3)
    for twist_db in (-7.0, 3.0):
        pcm = through_pcmu(tone("6", 100, rng, amplitude=1000, twist_db=twist_db), rng, 20)
        assert detect(pcm) == "6"


def test_tones_beyond_the_twist_limits_are_rejected():
    rng = np.random.default_rng(4)
    for twist_db in (-11.0, 7.0):
        assert detect(through_pcmu(tone("6", 200, rng, twist_db=twist_db), rng)) == ""


def test_a_long_tone_is_one_press():
    rng = np.random.default_rng(5)
    assert detect(through_pcmu(tone("5", 3000, rng), rng, 15)) == "5"


def test_two_quick_presses_of_the_same_key_count_twice():
    rng = np.random.default_rng(6)
    signal = np.concatenate([tone("7", 60, rng), silence(45), tone("7", 60, rng)])
    assert detect(through_pcmu(signal, rng, 20)) == "77"


def test_a_tone_shorter_than_two_frames_is_not_a_press():
    rng = np.random.default_rng(7)
    assert detect(through_pcmu(tone("1", 20, rng), rng, 30)) == ""


def test_a_single_tone_is_not_a_key():
    t = np.arange(RATE) / RATE
    rng = np.random.default_rng(8)
    assert detect(through_pcmu(8000 * np.sin(2 * np.pi * 941 * t), rng, 30)) == ""


def test_packets_of_other_sizes_are_cut_into_frames():
    rng = np.random.default_rng(9)
    signal = np.concatenate([tone("0", 100, rng), silence(80), tone("#", 100, rng)])
    assert detect(through_pcmu(signal, rng, 25), packet_samples=240) == "0#"


def test_calls_in_one_batch_are_kept_apart():
    rng = np.random.default_rng(10)
    a = through_pcmu(np.concatenate([tone("1", 100, rng), silence(100)]), rng, 20)
    b = through_pcmu(np.concatenate([silence(100), tone("2", 100, rng)]), rng, 20)
    bank = InbandDtmfBank()
    found = []
    for start in range(0, len(a), 160):
        bank.add("a", a[start : start + 160])
        bank.add("b", b[start : start + 160])
        found += bank.detect()
    assert found == [("a", "1"), ("b", "2")]


def vowel(f0: float, formants: tuple[float, ...], ms: float) -> np.ndarray:
    """A crude voiced sound: harmonics of f0 weighted by formant resonances."""
    t = np.arange(int(RATE * ms / 1000)) / RATE
    out = np.zeros_like(t)
    for k in range(1, int(3800 / f0)):
        f = k * f0
        gain = sum(1.0 / (1.0 + ((f - fm) / 80.0) ** 2) for fm in formants)
        out += gain * np.sin(2 * np.pi * f * t)
    return 12000 * out / np.max(np.abs(out))


def test_vowels_with_formants_on_key_frequencies_and_noise_bursts_yield_no_digits():
    """Talk-off: voiced sounds whose F1/F2 sit on a row and a column tone (F3 at 2.5 kHz)."""
    rng = np.random.default_rng(11)
    parts = []
    for f0 in range(90, 300, 7):
        for row in ROW_HZ:
            for column in COLUMN_HZ:
                parts += [vowel(f0, (row, column, 2500), 150), silence(20)]
    for _ in range(20):
        parts += [rng.normal(0, 4000, int(RATE * 0.08)), silence(40)]
    assert detect(through_pcmu(np.concatenate(parts), rng, 35)) == ""


SPEECH = {
    "cmn-latn-pinyin": "ni3 hao3, huan1 ying2 zhi4 dian4 she4 hui4 bao3 zhang4 re4 xian4, "
    "qing3 an4 yi1 hao4 jian4 cha2 xun2 xin4 xi1, an4 ling2 zhuan3 ren2 gong1 fu2 wu4",
    "ko": "안녕하세요 사회보장 서비스 상담 전화입니다 일번을 누르시면 카드 조회로 연결됩니다",
}


@pytest.mark.parametrize("voice", sorted(SPEECH))
def test_synthesized_speech_yields_no_digits(voice, tmp_path: Path):
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, SPEECH[voice], "--stdout"], capture_output=True, check=True
    ).stdout
    out = tmp_path / "speech.wav"
    subprocess.run(
        ["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", str(out)],
        input=raw,
        check=True,
    )
    with wave.open(str(out)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert len(pcm) > RATE * 3
    rng = np.random.default_rng(12)
    for gain in (0.5, 1.0, 2.0):
        loud = np.clip(pcm * gain, -32768, 32767)
        assert detect(through_pcmu(loud, rng, 30)) == ""


def test_a_forgotten_call_reports_nothing_more():
    rng = np.random.default_rng(13)
    pcm = through_pcmu(tone("3", 100, rng), rng, 30)
    bank = InbandDtmfBank()
    for start in range(0, 480, 160):
        bank.add("gone", pcm[start : start + 160])
    bank.forget("gone")
    assert bank.detect() == []


def test_tones_below_the_energy_gate_are_ignored():
    rng = np.random.default_rng(14)
    assert detect(through_pcmu(tone("8", 200, rng, amplitude=150), rng)) == ""
    assert detect(through_pcmu(tone("8", 200, rng, amplitude=400), rng)) == "8"
