"""Prompt pages through a running IVR: a text synthesized by the project's TTS comes back as
telephone audio; an upload that is not audio is refused in Chinese and nothing is written."""

from __future__ import annotations

import io
import re
import wave

from ivr.config import PROJECT_ROOT
from tests.e2e.server import IvrProcess
from tests.web.console_client import ConsoleClient


def test_a_new_text_is_synthesized_off_the_reactor_and_played_back(base_url: str) -> None:
    client = ConsoleClient(base_url)
    client.login("boss")
    page = client.get("/admin/prompts?node=main")
    assert page.status == 200 and "您好，欢迎致电12333" in page.text
    reply = client.post("/admin/prompts/preview", json_body={"text": "您好，请按1。"})
    assert reply.status == 200 and reply.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(reply.body)) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)
        assert audio.getnframes() > 4000  # some speech, not silence
    bad = client.post("/admin/prompts/preview", json_body={"text": "{{ 1 + 1 }}"})
    assert bad.status == 400 and "readout" in bad.json()["error"]


def test_an_upload_that_is_not_audio_is_refused_and_nothing_is_written(
    console_server: IvrProcess, base_url: str
) -> None:
    client = ConsoleClient(base_url)
    client.login("boss")
    page = client.get("/admin/prompts")
    clip = re.search(r'data-clip="([0-9a-f]{16})"', page.text)
    assert clip
    studio = PROJECT_ROOT / "prompts" / "studio"
    before = sorted(studio.glob("*.wav")) if studio.exists() else []
    reply = client.post_files(
        "/admin/prompts/studio", {"clip": clip.group(1)}, {"recording": b"not audio at all" * 100}
    )
    assert reply.status == 400
    assert "不是可识别的音频文件" in reply.json()["error"]
    assert (sorted(studio.glob("*.wav")) if studio.exists() else []) == before
