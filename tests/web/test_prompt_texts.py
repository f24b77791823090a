"""Saving a prompt's text in the console: the prompt file changes in place and nowhere else, its
recording is built with the project's TTS, and the simulator speaks the new text at once. The
IVR runs on copies of the prompt files (the repository's are never written by tests)."""

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
from tests.web.console_client import ConsoleClient, add_user, web_url

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


def test_a_saved_text_is_written_in_place_built_and_spoken_by_the_simulator(
    server: IvrProcess, copies: Path
) -> None:
    repository_file = (PROJECT_ROOT / "config/menus/12333.prompts.yaml").read_text("utf-8")
    prompts_file = copies / "menus" / "12333.prompts.yaml"
    before = yaml.safe_load(prompts_file.read_text("utf-8"))
    client = ConsoleClient(web_url(server))
    client.login("boss")
    assert before["welcome"] in client.get("/admin/prompts").text

    bad = client.post("/admin/prompts/text", json_body={"prompt": "welcome", "text": "{{ x }}"})
    assert bad.status == 400 and "readout" in bad.json()["error"]
    saved = client.post("/admin/prompts/text", json_body={"prompt": "welcome", "text": NEW_WELCOME})
    assert saved.status == 200, saved.text

    after = yaml.safe_load(prompts_file.read_text("utf-8"))
    assert after == {**before, "welcome": NEW_WELCOME}
    assert (copies / "prompts" / "tts" / f"{text_hash(NEW_WELCOME)}.wav").stat().st_size > 4000
    assert (PROJECT_ROOT / "config/menus/12333.prompts.yaml").read_text("utf-8") == repository_file

    client.get("/admin/simulator")
    started = client.post("/admin/simulator/start", json_body={"fast": False}).json()
    assert started["playing"]["text"].startswith(NEW_WELCOME)
    assert client.get(started["playing"]["audio"]).status == 200
