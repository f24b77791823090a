"""A prompt edited in one node's console is what a call to another node plays next (two IVR
processes sharing one database and one Redis, as behind Kamailio): a studio recording of the
welcome, uploaded through node A's console as a supervisor, reaches node B by the prompts nudge
within seconds, no restart; a call to node B hears it, as the phone recorded it."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from ivr.config import PROJECT_ROOT
from ivr.media.prompt_catalog import text_hash
from ivr.store.redis_state import REDISLITE_FILE
from tests.e2e.audio import read_wav
from tests.e2e.conftest import stop_cleanly
from tests.e2e.heard import heard_at
from tests.e2e.server import IvrProcess, call, start_ivr
from tests.web.console_client import ConsoleClient, add_user, web_url

WELCOME = yaml.safe_load((PROJECT_ROOT / "config/menus/12333.prompts.yaml").read_text("utf-8"))[
    "welcome"
]


@pytest.fixture(scope="module")
def nodes(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IvrProcess, IvrProcess]]:
    directory = tmp_path_factory.mktemp("prompt-nodes")
    database_url, redis_url = storage
    first = start_ivr(directory / "a", database_url=database_url, redis_url=redis_url)
    if database_url is None:  # the embedded defaults: the second node uses the first one's
        database_url = f"sqlite:///{first.data_dir / 'ivr.sqlite3'}"
    if redis_url is None:
        registry = json.loads((first.data_dir / f"{REDISLITE_FILE}.settings").read_text())
        redis_url = f"unix://{registry['unixsocket']}"
    second = start_ivr(directory / "b", database_url=database_url, redis_url=redis_url)
    add_user(first, "boss", "supervisor", "王班长")
    yield first, second
    stop_cleanly(second)
    stop_cleanly(first)


def studio_take() -> bytes:
    """A 'studio recording': a 1.2 s sweep at 16 kHz stereo, which the console converts."""
    t = np.arange(int(16000 * 1.2)) / 16000
    sweep = (9000 * np.sin(2 * np.pi * (400 * t + 700 * t * t))).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.repeat(sweep, 2).tobytes())
    return out.getvalue()


def test_a_recording_uploaded_on_node_a_is_what_a_call_to_node_b_hears_next(
    nodes: tuple[IvrProcess, IvrProcess], tmp_path: Path
) -> None:
    node_a, node_b = nodes
    console_a = ConsoleClient(web_url(node_a))
    console_a.login("boss")
    clip = text_hash(WELCOME)
    assert f'data-clip="{clip}"' in console_a.get("/admin/prompts").text
    uploaded = console_a.post_files(
        "/admin/prompts/studio", {"clip": clip}, {"recording": studio_take()}
    )
    assert uploaded.status == 200, uploaded.text
    version = uploaded.json()["version"]
    node_b.wait_for_log(rf"prompts reloaded \(edits version {version}\): \d+ clips, 1 encoded", 5)

    console_b = ConsoleClient(web_url(node_b))
    console_b.login("boss")
    stored = console_b.get(f"/admin/prompts/clip/{clip}.wav")  # as node B plays it: 8 kHz mono
    assert stored.status == 200
    take = tmp_path / "take.wav"
    take.write_bytes(stored.body)
    recording = tmp_path / "heard.wav"
    report = call(node_b, [{"at": 3.0, "hangup": True}], record=recording, timeout=15)
    assert report.get("error") is None, report
    assert heard_at(read_wav(recording), read_wav(take)) < 1.5  # the greeting, first thing
    assert "play welcome" in node_b.log()
