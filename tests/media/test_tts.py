"""The prompt build: numerals to words, pinyin for espeak-ng, cache by text, studio wins.

The build runs espeak-ng for real (a short prompt plus the readout vocabulary, once per module).
"""

from __future__ import annotations

import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ivr.media.prompt_catalog import PromptCatalog, parse_prompt
from ivr.media.prompts_cli import main
from ivr.media.tts import BuildReport, TtsSettings, build, spoken_text, synthesize, to_pinyin

GREETING = "您好，欢迎致电12333。"  # 10 syllables after 12333 becomes 幺二三三三


def catalog_at(root: Path, greeting: str = GREETING) -> PromptCatalog:
    return PromptCatalog(
        {
            "welcome": parse_prompt("welcome", greeting),
            "readback": parse_prompt("readback", "号码是{{ n | digits }}。"),
        },
        root,
    )


@dataclass
class Built:
    root: Path
    report: BuildReport
    progress: list[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("built")
    progress: list[str] = []
    return Built(root, build(catalog_at(root), progress=progress.append), progress)


@pytest.fixture
def root(built: Built, tmp_path: Path) -> Path:
    """A private copy of the built prompts directory."""
    return Path(shutil.copytree(built.root, tmp_path / "prompts"))


def mtimes(root: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in (root / "tts").glob("*.wav")}


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("欢迎致电12333。", "欢迎致电幺二三三三。"),
        ("夏季8:30-11:30", "夏季八点三十分至十一点三十分"),
        ("2026年起，7天后", "二零二六年起，七天后"),
        ("全年365天，请按1。", "全年三百六十五天，请按一。"),
    ],
)
def test_numerals_in_prompt_text_become_the_words_an_announcer_says(text: str, spoken: str) -> None:
    assert spoken_text(text) == spoken


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        (
            "确认请按1，重新输入请按2。",
            "que4 ren4 qing3 an4 yi1, chong2 xin1 shu1 ru4 qing3 an4 er4.",
        ),
        ("绿色的", "lv4 se4 de5"),
        ("一个不对", "yi2 ge4 bu2 dui4"),
        ("十一点，一月一日", "shi2 yi1 dian3, yi1 yue4 yi1 ri4"),
        ("“银行”（卡）", "yin2 hang2 ka3"),
    ],
)
def test_pinyin_has_tone_numbers_sandhi_and_punctuation_pauses(text: str, pinyin: str) -> None:
    assert to_pinyin(text) == pinyin


def test_synthesized_greeting_sounds_like_speech_of_its_length() -> None:
    """Ear proxy: 8 kHz mono 16-bit, a plausible 0.15-0.6 s per syllable, and not silence."""
    audio = synthesize(GREETING)
    assert (audio.frame_rate, audio.channels, audio.sample_width) == (8000, 1, 2)
    assert 10 * 0.15 <= audio.duration_seconds <= 10 * 0.6
    samples = np.array(audio.get_array_of_samples(), dtype=np.float64)
    assert np.sqrt(np.mean(samples**2)) > 1000  # speech peak-normalized to -3 dBFS
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    voiced = np.sqrt(np.mean(frames**2, axis=1)) > 300
    assert voiced.mean() > 0.5


def test_punctuation_only_clip_is_a_short_pause() -> None:
    pause = synthesize("。", TtsSettings(pause_ms=250))
    assert pause.duration_seconds == pytest.approx(0.25)
    assert pause.max == 0


def test_build_makes_every_clip_and_reports_progress(built: Built) -> None:
    catalog = catalog_at(built.root)
    total = len(catalog.clips())
    assert catalog.missing_recordings() == []
    assert len(built.report.synthesized) == total
    assert built.progress[0].startswith(f"[1/{total}] welcome: synthesized")
    assert any(line.startswith(f"[{total}/{total}] readout.") for line in built.progress)
    with wave.open(str(catalog.segments("welcome")[0])) as recording:
        assert (recording.getframerate(), recording.getnchannels()) == (8000, 1)


def test_second_build_skips_fresh_recordings(root: Path) -> None:
    before = mtimes(root)
    report = build(catalog_at(root), progress=lambda line: None)
    assert report.synthesized == []
    assert len(report.fresh) == len(before)
    assert mtimes(root) == before


def test_changed_text_is_synthesized_and_the_stale_file_removed_when_pruning(root: Path) -> None:
    old = catalog_at(root).segments("welcome")[0]
    catalog = catalog_at(root, "您好，这里是12333。")
    report = build(catalog, progress=lambda line: None)
    assert report.synthesized == catalog.segments("welcome")
    assert report.removed == [] and old.exists()  # another configuration may still use it
    report = build(catalog, prune=True, progress=lambda line: None)
    assert report.synthesized == [] and report.removed == [old] and not old.exists()


def test_a_new_voice_recipe_makes_every_file_stale(root: Path) -> None:
    report = build(catalog_at(root), TtsSettings(speed=170), progress=lambda line: None)
    assert report.fresh == [] and len(report.synthesized) == len(catalog_at(root).clips())


def test_studio_recording_wins_and_is_converted_to_8khz_mono(root: Path) -> None:
    studio = root / "studio" / "welcome.wav"
    studio.parent.mkdir()
    with wave.open(str(studio), "wb") as recording:  # a studio's 44.1 kHz stereo take
        recording.setparams((2, 2, 44100, 0, "NONE", "not compressed"))
        recording.writeframes(np.zeros(44100 * 2, dtype=np.int16).tobytes())
    lines: list[str] = []
    catalog = catalog_at(root)
    report = build(catalog, progress=lines.append)
    assert catalog.segments("welcome") == [studio]
    assert report.studio == [studio] and report.converted == [studio]
    assert report.synthesized == []
    assert any("welcome: studio recording converted" in line for line in lines)
    with wave.open(str(studio)) as recording:
        assert (recording.getframerate(), recording.getnchannels()) == (8000, 1)
    assert build(catalog, progress=lambda line: None).converted == []


def test_prompts_cli_check_reports_missing_recordings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text("hello: 您好。\n", encoding="utf-8")
    config = tmp_path / "ivr.yaml"
    config.write_text(f"prompts:\n  files: [{tmp_path}/p.yaml]\n  dir: {tmp_path}\n")
    assert main(["--config", str(config), "check"]) == 1
    assert "missing recording: hello: 您好。" in capsys.readouterr().out
    assert main(["--config", str(config), "build"]) == 0
    assert main(["--config", str(config), "check"]) == 0
