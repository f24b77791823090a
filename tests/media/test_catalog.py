"""Prompt catalog: templates split into recorded chunks and readouts, errors that name the line."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from ivr.config import load_config
from ivr.media.prompt_audio import PromptAudio
from ivr.media.prompt_catalog import (
    Clip,
    PromptCatalog,
    PromptError,
    PromptSettings,
    Readout,
    fold_whitespace,
    parse_prompt,
    text_hash,
)
from ivr.media.readout import ReadoutStyle
from ivr.rtp.g711 import codec_named

ID = "11010519491231002X"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> PromptCatalog:
    files = [
        write(
            tmp_path / "system.yaml",
            "readback: 您输入的身份证号码是{{ id_number | id_number }}。"
            "确认请按1，重新输入请按2。\n"
            "bye: 感谢您的来电，再见。\n",
        ),
        write(
            tmp_path / "menu.prompts.yaml",
            "root: |\n  欢迎致电12333。\n  查询请按1。\n"
            "hours: 人工服务时间为{{ open | time }}至{{ close | time }}。\n"
            "again: 感谢您的来电，再见。\n",
        ),
    ]
    return PromptCatalog.load(files, root=tmp_path / "prompts")


def test_template_splits_into_literal_chunks_and_readouts() -> None:
    prompt = parse_prompt("readback", "您输入的号码是{{ n | digits }}，确认请按1。")
    first, second = Clip("readback.1", "您输入的号码是"), Clip("readback.2", "，确认请按1。")
    assert prompt.clips == (first, second)
    assert prompt.variables == {"n"}
    assert prompt.recipe({"n": "12"}) == [first, Readout("n", "digits", "12"), second]


def test_conditional_text_plays_the_branch_the_variables_pick() -> None:
    template = (
        "您的社保卡{%- if status == 'normal' %}正常。{%- elif status == 'lost' %}已挂失"
        "{%- if until %}，有效期到{{ until | date }}{% endif %}。{%- endif %}再见。"
    )
    catalog = PromptCatalog({"status": parse_prompt("status", template)})
    assert [clip.text for clip in catalog.prompt("status").clips] == [
        "您的社保卡",
        "正常。",
        "已挂失",
        "，有效期到",
        "。",
        "再见。",
    ]
    assert catalog.text("status", {"status": "normal"}) == "您的社保卡正常。再见。"
    assert catalog.text("status", {"status": "lost"}) == "您的社保卡已挂失。再见。"
    assert catalog.text("status", {"status": "lost", "until": "2026-11-30"}) == (
        "您的社保卡已挂失，有效期到二零二六年十一月三十日。再见。"
    )
    assert len(catalog.segments("status", {"status": "normal"})) == 3


def test_prompt_without_readouts_is_one_clip_named_by_its_id_with_whitespace_folded(
    catalog: PromptCatalog,
) -> None:
    assert catalog.prompt("root").clips == (Clip("root", "欢迎致电12333。查询请按1。"),)
    assert fold_whitespace(" 请按 PIN 键\n 确认。 ") == "请按PIN键确认。"
    assert fold_whitespace("press  the\nPIN key") == "press the PIN key"


def test_ids_lists_prompts_of_every_file(catalog: PromptCatalog) -> None:
    assert catalog.ids() == ["again", "bye", "hours", "readback", "root"]


def test_segments_are_chunk_recordings_around_one_clip_per_readout_word(
    catalog: PromptCatalog, tmp_path: Path
) -> None:
    tts = tmp_path / "prompts" / "tts"
    segments = catalog.segments("hours", {"open": "08:30", "close": "17:00"})
    words = ["上午", "八", "点", "三", "十", "分", "下午", "五", "点"]
    assert segments == [
        tts / f"{text_hash('人工服务时间为')}.wav",
        *[tts / f"{text_hash(word)}.wav" for word in words[:6]],
        tts / f"{text_hash('至')}.wav",
        *[tts / f"{text_hash(word)}.wav" for word in words[6:]],
        tts / f"{text_hash('。')}.wav",
    ]


def test_prompts_with_the_same_text_share_one_recording(catalog: PromptCatalog) -> None:
    assert catalog.segments("bye") == catalog.segments("again")


def test_text_is_the_mandarin_heard_with_the_id_number_masked(catalog: PromptCatalog) -> None:
    text = catalog.text("readback", {"id_number": ID})
    assert text == "您输入的身份证号码是1101**********002X。确认请按1，重新输入请按2。"
    assert catalog.text("hours", {"open": "08:30", "close": "17:00"}) == (
        "人工服务时间为上午八点三十分至下午五点。"
    )


def test_digits_that_look_like_an_id_number_are_masked_in_text() -> None:
    catalog = PromptCatalog({"p": parse_prompt("p", "号码{{ n | digits }}")})
    assert catalog.text("p", {"n": ID}) == "号码1101**********002X"
    assert catalog.text("p", {"n": "12333"}) == "号码幺二三三三"


def test_readout_style_sets_the_x_word(tmp_path: Path) -> None:
    prompt = parse_prompt("p", "{{ n | digits }}")
    catalog = PromptCatalog({"p": prompt}, tmp_path, ReadoutStyle(x_word="艾克斯"))
    assert catalog.segments("p", {"n": "2X"})[-1].name == f"{text_hash('艾克斯')}.wav"


def test_unknown_prompt_and_missing_variable_are_clear_errors(catalog: PromptCatalog) -> None:
    with pytest.raises(PromptError, match="unknown prompt 'nope'"):
        catalog.segments("nope")
    with pytest.raises(PromptError, match="needs variable 'id_number'"):
        catalog.text("readback", {})


def test_unreadable_value_names_the_variable_but_never_echoes_it(catalog: PromptCatalog) -> None:
    with pytest.raises(PromptError, match="'id_number' \\| id_number") as raised:
        catalog.segments("readback", {"id_number": "1101051949123"})
    assert "1101051949123" not in str(raised.value)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("号码{{ n }}", "one readout filter"),
        ("号码{{ n | upper }}", "one readout filter"),
        ("号码{{ n | digits(1) }}", "one readout filter"),
        ("号码{{ a.b | digits }}", "one readout filter"),
        ("号码{{ n | digits ", "unexpected end of template"),
        ("   ", "has nothing to say"),
        ("{% if n is nosuch %}是{% endif %}", "unknown filter or test nosuch"),
        ("{% if n | nosuch %}是{% endif %}", "unknown filter or test nosuch"),
        ("{{ n | digits | date }}", "one readout filter"),
    ],
)
def test_bad_templates_are_refused_with_file_and_line(
    tmp_path: Path, template: str, problem: str
) -> None:
    path = write(tmp_path / "p.yaml", f"good: 好\nbad: '{template}'\n")
    with pytest.raises(PromptError, match=problem) as raised:
        PromptCatalog.load([path])
    assert str(raised.value).startswith(f"{path}:2: prompt 'bad'")


def test_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "x: 一\n")
    second = write(tmp_path / "b.yaml", "y: 二\nx: 三\n")
    with pytest.raises(
        PromptError, match=f"{second}:2: prompt 'x' is already defined at {first}:1"
    ):
        PromptCatalog.load([first, second])


def test_a_prompt_file_must_map_ids_to_texts(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="expected a mapping"):
        PromptCatalog.load([write(tmp_path / "a.yaml", "- 一\n")])
    with pytest.raises(PromptError, match=r"a.yaml:2: prompt 'x' must map one id to one text"):
        PromptCatalog.load([write(tmp_path / "a.yaml", "w: 好\nx: [1, 2]\n")])


def test_studio_recording_wins_for_prompts_chunks_and_readout_words(tmp_path: Path) -> None:
    studio = tmp_path / "studio"
    for name in ("bye", "readback.1", "readout.叉"):
        write(studio / f"{name}.wav", "")
    catalog = PromptCatalog(
        {
            "bye": parse_prompt("bye", "再见。"),
            "readback": parse_prompt("readback", "您输入的是{{ n | digits }}。"),
        },
        tmp_path,
    )
    assert catalog.segments("bye") == [studio / "bye.wav"]
    readback = catalog.segments("readback", {"n": "2X"})
    assert readback[0] == studio / "readback.1.wav"
    assert readback[2] == studio / "readout.叉.wav"
    assert readback[1] == tmp_path / "tts" / f"{text_hash('二')}.wav"


def test_clips_list_every_literal_chunk_and_every_readout_word_once(
    catalog: PromptCatalog,
) -> None:
    clips = catalog.clips()
    names = [clip.name for clip in clips]
    assert {"bye", "again", "readback.1", "readback.2", "hours.3"} <= set(names)
    assert {"readout.幺", "readout.叉", "readout.两", "readout.下午", "readout.pause"} <= set(names)
    assert len(set(names)) == len(names)


def test_settings_from_config_expand_globs_relative_to_the_project(tmp_path: Path) -> None:
    config_path = write(
        tmp_path / "ivr.yaml",
        "prompts:\n  files: [prompts/catalog.yaml, config/menus/*.prompts.yaml]\n"
        f"  dir: {tmp_path}\n  readout: {{one_as_yao: false, x_word: 艾克斯}}\n",
    )
    settings = PromptSettings.from_config(load_config(config_path, environ={}))
    assert settings.root == tmp_path
    assert settings.style == ReadoutStyle(one_as_yao=False, x_word="艾克斯")
    paths = settings.paths()
    assert paths[0].parts[-2:] == ("prompts", "catalog.yaml")
    assert all(path.name.endswith(".prompts.yaml") for path in paths[1:])


def test_every_shipped_prompt_has_a_committed_8khz_mono_recording() -> None:
    """The catalog and every menu's prompt file, as the server loads them, play without TTS."""
    catalog = PromptCatalog.from_settings(PromptSettings())
    assert catalog.missing_recordings() == []
    for clip in catalog.clips():
        with wave.open(str(catalog.recording(clip))) as recording:
            assert (recording.getframerate(), recording.getnchannels()) == (8000, 1), clip
            assert recording.getsampwidth() == 2 and recording.getnframes() > 0, clip


def test_an_id_read_back_plays_from_the_clips_encoded_at_load() -> None:
    """Every segment is a whole number of 20 ms payloads, each clip audible."""
    audio = PromptAudio.load(PromptSettings())
    catalog = audio.catalog
    readback = next(i for i in catalog.ids() if "id_number" in catalog.prompt(i).variables)
    clips = catalog.clips_for(readback, {"id_number": ID})
    frames = [audio.encoded[clip, "PCMU"] for clip in clips]
    assert len(clips) >= 18 and all(frames) and not audio.missing
    assert {len(payload) for clip in frames for payload in clip} == {160}
    assert sum(map(len, frames)) * 0.02 > 18 * 0.15  # 18 characters, each audible
    played = audio.frames(readback, {"id_number": ID}, codec_named("PCMU"))
    assert played == tuple(payload for clip in frames for payload in clip)


def test_a_template_that_fails_while_rendering_is_a_prompt_error() -> None:
    catalog = PromptCatalog({"p": parse_prompt("p", "{% if tries > 3 %}多{% endif %}次")})
    assert catalog.text("p", {"tries": 5}) == "多次"
    with pytest.raises(PromptError, match="prompt 'p' cannot be rendered"):
        catalog.segments("p", {"tries": "five"})
