"""Build the prompt recordings: synthesize what is missing or stale, keep what is fresh.

Text to speech runs only here, at build time; the IVR plays the committed WAVs. The path:

1. Arabic numerals in the text become Mandarin words with the readout rules (12333 -> 幺二三三三,
   8:30 -> 八点三十分, 2026年 -> 二零二六年, 7天 -> 七天), as a human announcer would say them.
2. pypinyin turns the characters into tone-numbered pinyin (Style.TONE3, neutral tone 5, tone
   sandhi applied: 你好 -> ni2 hao3, 一个 -> yi2 ge4, except that 一 as a last digit or before a
   date or clock word keeps yi1: 十一点, 一月); punctuation becomes a comma or full-stop pause.
   Debian's espeak-ng `cmn` voice reads Chinese characters badly (it speaks the tone digits in
   English); its `cmn-latn-pinyin` voice reads this pinyin correctly.
3. espeak-ng speaks it; pydub trims the leading and trailing silence (clips are joined
   back to back in readouts), low-passes below the telephone band edge, resamples to 8 kHz mono
   16-bit and normalizes the peak.

Each synthesized file is `<root>/tts/<text hash>.wav`; `<root>/tts/manifest.json` records the text
and the synthesis recipe of each, so a changed voice or speed makes a file stale and a reader of
the repository can see what every hash says. A studio recording (`<root>/studio/<name>.wav`) is
never synthesized over; the build only converts it to 8 kHz mono 16-bit when it is not.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent; only WAV is read and written here.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.effects import low_pass_filter, normalize
    from pydub.silence import detect_leading_silence

from ivr.media import readout
from ivr.media.prompt_catalog import Clip, PromptCatalog

SAMPLE_RATE = 8000
BAND_EDGE_HZ = 3400
EDGE_SILENCE_MS = 30
"""Silence kept at each end of a clip so joined clips do not clip each other's consonants."""

COMMA_PUNCTUATION = set("，、；：,;:—…")
STOP_PUNCTUATION = set("。！？.!?\n")
NUMERAL_CHARACTERS = set("零一二两三四五六七八九十百千万亿")
YI_KEEPS_FIRST_TONE_BEFORE = set("零一二三四五六七八九点号日月年")
"""一 before these (a digit, a clock or date word) is a numeral read yi1, not sandhi yi2/yi4."""


class TtsError(RuntimeError):
    """espeak-ng is missing or failed; the message says which text."""


@dataclass(frozen=True)
class TtsSettings:
    """The `prompts.tts` config section."""

    voice: str = "cmn-latn-pinyin"
    speed: int = (
        150  # espeak-ng words (syllables) per minute; its default 175 rushes elderly callers
    )
    pause_ms: int = 250  # a clip of punctuation only, e.g. the "。" after a readout

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TtsSettings:
        tts = section.get("tts") or {}
        return cls(
            voice=str(tts.get("voice", cls.voice)),
            speed=int(tts.get("speed", cls.speed)),
            pause_ms=int(tts.get("pause_ms", cls.pause_ms)),
        )

    @property
    def recipe(self) -> str:
        return f"espeak-ng -v {self.voice} -s {self.speed}; pause {self.pause_ms} ms"


@dataclass
class BuildReport:
    synthesized: list[Path] = field(default_factory=list)
    fresh: list[Path] = field(default_factory=list)
    studio: list[Path] = field(default_factory=list)
    converted: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


_NUMERALS = re.compile(
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})"  # 8:30
    r"|(?P<year>\d{4})(?=年)"  # 2026年
    r"|(?P<phone>\d{5,})"  # 12333, 95588: digit by digit
    r"|(?P<number>\d+)"  # 7天, 365天, 按1
)


def spoken_text(text: str, style: readout.ReadoutStyle = readout.DEFAULT_STYLE) -> str:
    """`text` with its Arabic numerals written as the Mandarin words they are read as."""
    text = re.sub(r"(?<=\d)\s*[-~～]\s*(?=\d)", "至", text)  # 8:30-11:30 -> 8:30至11:30

    def words(match: re.Match[str]) -> str:
        if match["hour"]:
            spoken = readout.time(f"{match['hour']}:{match['minute']}", with_period=False)
        elif match["year"]:
            spoken = readout.digits(match["year"], readout.ReadoutStyle(one_as_yao=False))
        elif match["phone"]:
            spoken = readout.digits(match["phone"], style)
        else:
            spoken = readout.number(match["number"])
        return "".join(spoken)

    return _NUMERALS.sub(words, text)


def to_pinyin(text: str, style: readout.ReadoutStyle = readout.DEFAULT_STYLE) -> str:
    """Tone-numbered pinyin for espeak-ng's `cmn-latn-pinyin` voice; punctuation as pauses."""
    tokens: list[str] = []
    for run in re.split(r"([\u4e00-\u9fff]+)", spoken_text(text, style)):
        if re.fullmatch(r"[\u4e00-\u9fff]+", run):
            tokens.extend(_han_pinyin(run))
        else:
            tokens.extend(_non_chinese(run))
    return re.sub(r"\s+([,.])", r"\1", " ".join(tokens)).strip(" ,")


def _han_pinyin(run: str) -> list[str]:
    """One syllable per character, sandhi applied, numeral 一 restored to its first tone."""
    syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True)
    for index, char in enumerate(run):
        after = run[index + 1 : index + 2]
        if char == "一" and (
            (index and run[index - 1] in NUMERAL_CHARACTERS)
            or (after and after in YI_KEEPS_FIRST_TONE_BEFORE)
        ):
            syllables[index] = "yi1"
    return syllables


def _non_chinese(run: str) -> list[str]:
    """Punctuation becomes a pause; Latin letters are kept (spelled as pinyin); the rest drops."""
    tokens = []
    for char in run:
        if char in STOP_PUNCTUATION:
            tokens.append(".")
        elif char in COMMA_PUNCTUATION:
            tokens.append(",")
        elif char.isascii() and char.isalpha():
            tokens.append(char.lower())
    return tokens


def is_silent(text: str) -> bool:
    """Only punctuation or spaces: the clip is a pause, not speech."""
    return not any(char.isalnum() for char in text)


def synthesize(text: str, settings: TtsSettings = TtsSettings()) -> AudioSegment:
    """Mandarin `text` as telephone audio (8 kHz mono 16-bit)."""
    if is_silent(text):
        return AudioSegment.silent(settings.pause_ms, frame_rate=SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix="ivr-tts-") as scratch:
        raw = Path(scratch) / "speech.wav"
        command = ["espeak-ng", "-v", settings.voice, "-s", str(settings.speed), "-w", str(raw)]
        try:
            subprocess.run([*command, to_pinyin(text)], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise TtsError(f"espeak-ng failed on {text!r}: {error}") from None
        speech = AudioSegment.from_wav(raw)
    return to_telephone(_trim(speech))


def to_telephone(audio: AudioSegment) -> AudioSegment:
    """Mono, band-limited, 8 kHz, 16-bit, peak normalized to -3 dBFS."""
    audio = audio.set_channels(1).set_sample_width(2)
    if audio.frame_rate != SAMPLE_RATE:
        audio = low_pass_filter(audio, BAND_EDGE_HZ).set_frame_rate(SAMPLE_RATE)
    return normalize(audio, headroom=3.0)


def _trim(audio: AudioSegment) -> AudioSegment:
    start = max(detect_leading_silence(audio) - EDGE_SILENCE_MS, 0)
    end = max(detect_leading_silence(audio.reverse()) - EDGE_SILENCE_MS, 0)
    trimmed = audio[start : len(audio) - end]
    return trimmed if len(trimmed) > 0 else audio


def build(
    catalog: PromptCatalog,
    settings: TtsSettings = TtsSettings(),
    *,
    force: bool = False,
    prune: bool = False,
    progress: Callable[[str], None] = print,
) -> BuildReport:
    """Make every recording of `catalog` exist at 8 kHz mono; one progress line per recording.

    `force` resynthesizes fresh files too; `prune` removes synthesized files no clip uses.
    """
    tts_dir = catalog.root / "tts"
    tts_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = tts_dir / "manifest.json"
    old_manifest = _read_manifest(manifest_path)
    manifest: dict[str, dict[str, str]] = {}
    report = BuildReport()
    targets: dict[Path, Clip] = {}
    for clip in catalog.clips():
        targets.setdefault(catalog.recording(clip), clip)

    for index, (path, clip) in enumerate(targets.items(), start=1):
        if path.parent != tts_dir:
            action = _check_studio(path, report)
        else:
            entry = {"text": clip.text, "recipe": settings.recipe}
            manifest[path.stem] = entry
            if not force and path.exists() and old_manifest.get(path.stem) == entry:
                report.fresh.append(path)
                continue
            _write_wav(synthesize(clip.text, settings), path)
            report.synthesized.append(path)
            action = "synthesized"
        progress(f"[{index}/{len(targets)}] {clip.name}: {action} ({path.name})")

    if prune:
        for orphan in sorted(tts_dir.glob("*.wav")):
            if orphan not in targets:
                orphan.unlink()
                report.removed.append(orphan)
                progress(f"removed unused {orphan.name}")
    else:
        manifest = {**old_manifest, **manifest}
    manifest_path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    progress(
        f"{len(targets)} recordings: {len(report.synthesized)} synthesized, "
        f"{len(report.fresh)} fresh, {len(report.studio)} studio "
        f"({len(report.converted)} converted), {len(report.removed)} removed"
    )
    return report


def _check_studio(path: Path, report: BuildReport) -> str:
    report.studio.append(path)
    audio = AudioSegment.from_wav(path)
    if (audio.frame_rate, audio.channels, audio.sample_width) == (SAMPLE_RATE, 1, 2):
        return "studio recording"
    _write_wav(to_telephone(audio), path)
    report.converted.append(path)
    return "studio recording converted to 8 kHz mono"


def _write_wav(audio: AudioSegment, path: Path) -> None:
    """Write via a temporary name so a crash never leaves a half-written recording."""
    partial = path.with_suffix(".partial")
    audio.export(partial, format="wav")
    partial.replace(path)


def _read_manifest(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))
