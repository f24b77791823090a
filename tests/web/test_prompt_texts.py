"""Saving a prompt's text in the console: the edit and the recording synthesized for it with the
project's TTS are stored in the database with who saved it, the prompt files stay as they are
(the base the edits lie over), the node plays the new text from its next call and the simulator
speaks it at once. The IVR runs on copies of the prompt files, to show they are not written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ivr.config import PROJECT_ROOT
from ivr.media.prompt_catalog import text_hash
from tests.e2e.conftest import stop_cleanly
from tests.e2e.server import IvrProcess, start_ivr
from tests.web.console_client import ConsoleClient, add_user, query, web_url

NEW_WELCOME = "您好，这里是社保测试热线。"


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prompt-copies")
    shutil.copytree(PROJECT_ROOT / "prompts", root / "prompts")
    (root / "menus").mkdir()
    shutil.copy(PROJECT_ROOT / "config/menus/12333.prompts.yaml", root / "menus")
    (root / "ivr.yaml").write_text(
        yaml.safe_dump({
            "prompts": {"files": [str(root / "prompts/catalog.yaml"),
                                  str(root / "menus/*.prompts.yaml")],
                        "dir": str(root / "prompts")},
            "menus": {"file": str(PROJECT_ROOT / "config/menus/12333.yaml")},
        }, allow_unicode=True),
        encoding="utf-8",
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def server(copies: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrProcess]:
    started = start_ivr(
        tmp_path_factory.mktemp("prompt-texts"), extra_env={"IVR_CONFIG": str(copies / "ivr.yaml")}
    )
    try:
        add_user(started, "boss", "supervisor", "王班长")
        yield started
    finally:
        stop_cleanly(started)


def test_a_saved_text_is_stored_with_its_recording_and_spoken_by_the_simulator(
    server: IvrProcess, copies: Path
) -> None:
    prompts_file = copies / "menus" / "12333.prompts.yaml"
    before = prompts_file.read_text("utf-8")
    welcome = yaml.safe_load(before)["welcome"]
    client = ConsoleClient(web_url(server))
    client.login("boss")
    assert welcome in client.get("/admin/prompts").text

    bad = client.post("/admin/prompts/text", json_body={"prompt": "welcome", "text": "{{ x }}"})
    assert bad.status == 400 and "readout" in bad.json()["error"]
    saved = client.post("/admin/prompts/text", json_body={"prompt": "welcome", "text": NEW_WELCOME})
    assert saved.status == 200, saved.text
    version = saved.json()["version"]

    assert prompts_file.read_text("utf-8") == before
    assert not (copies / "prompts" / "tts" / f"{text_hash(NEW_WELCOME)}.wav").exists()
    [(author, text, size)] = query(
        server,
        "SELECT c.author, c.text, length(r.wav) FROM prompt_change c "
        "JOIN prompt_recording r ON r.change_id = c.id",
    )
    assert (author, text) == ("boss", NEW_WELCOME) and size > 4000
    assert query(
        server, "SELECT username, target FROM change_log WHERE action = 'prompt.text'"
    ) == [("boss", "prompt welcome")]
    server.wait_for_log(rf"prompts reloaded \(edits version {version}\)", timeout=5)
    assert NEW_WELCOME in client.get("/admin/prompts").text
    clip = client.get(f"/admin/prompts/clip/{text_hash(NEW_WELCOME)}.wav")
    assert clip.status == 200 and len(clip.body) == size

    client.get("/admin/simulator")
    started = client.post("/admin/simulator/start", json_body={"fast": False}).json()
    assert started["playing"]["text"].startswith(NEW_WELCOME)
    assert client.get(started["playing"]["audio"]).status == 200
