"""Speech over real SIP calls: a caller who asks for a person reaches an agent's real phone.

The IVR runs with the real Vosk engine on PyPI's Korean model (tests/speech/speech_ko.yaml: no
Chinese model can be had here), so the pjsua phone speaks espeak-ng's Korean: 상담원 연결 for
转人工, 확인 for 查询. The agent's phone is a second pjsua endpoint (tests/clients/agent_phone.py)
registered nowhere, listening on the port `agents.target` names; it records what it hears, so
the bridge is proven by ear both ways. Agents' service hours are opened all day every day in
the test's copy of the menu, so the tests pass whenever they run.

One IVR serves the module's calls, one after the other (each needs the agent's port to itself).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from sqlalchemy import Row, Select, select

from ivr.actions.demo import DEMO_PEOPLE
from ivr.masking import mask_id_number
from ivr.store.db import Database
from ivr.store.models import CallRecord
from ivr.store.redis_state import REDISLITE_FILE
from tests.e2e.audio import read_wav
from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.conftest import stop_cleanly
from tests.e2e.heard import heard_at, heard_span, played_audio
from tests.e2e.server import ROOT, IvrProcess, call, free_port, open_store, start_ivr
from tests.e2e.speech_audio import korean_speech, white_noise

AGENT_PHONE = ROOT / "tests" / "clients" / "agent_phone.py"
SPEECH_CONFIG = ROOT / "tests" / "speech" / "speech_ko.yaml"
RING_TIMEOUT = 8.0
# espeak-ng's 조회 is not recognized by the Korean small model (nor 검색, 질문); 확인 is, exactly,
# alone or in a sentence (확인 해 주세요, 확인 부탁합니다): it stands for 查询 here.
QUERY_WORDS = ["확인"]
CALLER = DEMO_PEOPLE[0]
# The menu's service hours, edited as text (YAML 1.1 would read its confirm nodes' yes/no as
# booleans), and a calendar with no holiday: agents answer every day, all day.
OPEN_ALL_DAY = {
    r"^(  weekdays:).*?$": r"\1 [1, 2, 3, 4, 5, 6, 7]",
    r"^(  summer:).*?$": r'\1 ["00:00-23:59"]',
    r"^(  winter:).*?$": r'\1 ["00:00-23:59"]',
}


@dataclass(frozen=True)
class Speech:
    agent_request: Path  # 상담원 연결: "connect me to an agent"
    query: Path  # 확인: "check", the test model's 查询
    # ~6 s each: long enough that a jitter-buffer stretch or two, over two hops, still counts
    # as heard (tests/e2e/heard.py lets a tenth of the quarter seconds go unmatched)
    caller_after_bridge: Path  # what only the agent can hear
    agent_greeting: Path  # what only the caller can hear
    noise: Path


@dataclass(frozen=True)
class SpeechIvr:
    server: IvrProcess
    agent_port: int


def speech_config(directory: Path, agent_port: int) -> Path:
    """config/ivr.yaml with the Korean speech section, an agent phone, agents always open and
    callers' audio recorded."""
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    speech = yaml.safe_load(SPEECH_CONFIG.read_text(encoding="utf-8"))["speech"]
    speech["intents"] = {**speech["intents"], "query": QUERY_WORDS}
    menu = (ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")
    for pattern, always in OPEN_ALL_DAY.items():
        menu = re.sub(pattern, always, menu, count=1, flags=re.DOTALL | re.MULTILINE)
    menu_file = directory / "12333.yaml"
    menu_file.write_text(menu, encoding="utf-8")
    prompts = ROOT / "config" / "menus" / "12333.prompts.yaml"
    (directory / prompts.name).write_text(prompts.read_text(encoding="utf-8"), encoding="utf-8")
    no_holidays = directory / "holidays.yaml"
    no_holidays.write_text("holidays: []\nworking_weekends: []\n", encoding="utf-8")
    settings.update(
        call={**(settings.get("call") or {}), "record": True},
        calendar={"file": str(no_holidays)},
        speech={**settings["speech"], **speech},
        agents={"target": f"sip:agent@127.0.0.1:{agent_port}", "ring_timeout": RING_TIMEOUT},
        menus={**(settings.get("menus") or {}), "file": str(menu_file)},
    )
    path = directory / "ivr.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def speech_ivr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpeechIvr]:
    directory = tmp_path_factory.mktemp("speech-ivr")
    agent_port = free_port()
    config = speech_config(directory, agent_port)
    server = start_ivr(directory / "data", extra_env={"IVR_CONFIG": str(config)})
    server.wait_for_log(r"speech on")
    yield SpeechIvr(server, agent_port)
    stop_cleanly(server)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    directory = tmp_path_factory.mktemp("speech-audio")
    return Speech(
        agent_request=korean_speech(directory / "agent_request.wav", "상담원 연결"),
        query=korean_speech(directory / "query.wav", "확인"),
        caller_after_bridge=korean_speech(
            directory / "caller_after.wav",
            "안녕하세요 어제 시장에서 사회보장카드를 잃어버려서 분실 신고를 하려고 전화했습니다",
        ),
        agent_greeting=korean_speech(
            directory / "agent_greeting.wav",
            "네 상담원 김민지입니다 본인 확인을 위해 성함과 생년월일을 말씀해 주시겠어요",
        ),
        noise=white_noise(directory / "noise.wav", seconds=12.0),
    )


@contextmanager
def agent_phone(port: int, *args: str, timeout: float = 60.0) -> Iterator[dict[str, Any]]:
    """The agent's phone listening on `port` for the call's length; the dict it yields is filled
    with the phone's report when the block ends."""
    process = subprocess.Popen(
        [sys.executable, str(AGENT_PHONE), "--port", str(port), "--timeout", str(timeout), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "listening", process.stderr
    report: dict[str, Any] = {}
    try:
        yield report
    finally:
        out, err = process.communicate(timeout=timeout + 20)
    try:
        report.update(json.loads(out))
    except json.JSONDecodeError:
        raise AssertionError(
            f"agent phone failed ({process.returncode}): {out!r} {err[-2000:]!r}"
        ) from None


def say(at: float, wav: Path) -> dict[str, object]:
    return {"at": at, "play": str(wav)}


def test_caller_asking_for_an_agent_is_bridged_to_the_agents_phone_both_ways(
    speech_ivr: SpeechIvr, speech: Speech, tmp_path: Path
) -> None:
    server = speech_ivr.server
    since = len(server.log())
    caller_heard, agent_heard = tmp_path / "caller.wav", tmp_path / "agent.wav"
    # 2 社保卡业务 → 1 临时挂失: the ID number typed (so the agent's screen has a masked value),
    # then 상담원 연결 said over the read-back; the agent answers after ringing 1 s.
    steps = [
        {"at": 1.0, "dtmf": "2"},
        {"at": 2.5, "dtmf": "1"},
        {"at": 4.0, "dtmf": CALLER.id_number.replace("X", "*") + "#"},
        say(11.0, speech.agent_request),
        say(22.0, speech.caller_after_bridge),
        {"at": 31.0, "hangup": True},
    ]
    with agent_phone(
        speech_ivr.agent_port,
        "--record",
        str(agent_heard),
        "--play",
        str(speech.agent_greeting),
        "--answer-after",
        "1",
    ) as agent:
        report = call(server, steps, record=caller_heard)
    ref = answered_after(server, since)["ref"]
    lines = call_lines(server, ref)
    text = "\n".join(lines)

    assert report["connected"] and not report["far_end_hung_up"], report
    assert "heard intent agent" in text, text
    assert events(lines, "play")[-1] == "transfer_to_agent", text
    assert "agent answered: bridged" in text, text
    # the agent's phone got the INVITE, answered, and was sent BYE when the caller hung up
    assert [invite["x_ivr_call"] for invite in agent["invites"]] == [ref], agent
    assert agent["answered"] and agent["connected"], agent
    assert agent["far_end_hung_up"], agent
    assert "agent leg ended: BYE" in text and "ended: bye" in lines[-1], text
    # each heard the other once bridged: the caller after the transfer prompt had ended
    heard_at(read_wav(agent_heard), read_wav(speech.caller_after_bridge))
    caller_recording = read_wav(caller_heard)
    prompt_ended = heard_span(caller_recording, played_audio("transfer_to_agent"))[1]
    assert heard_at(caller_recording, read_wav(speech.agent_greeting)) > prompt_ended

    # what the agent's screen gets: the path and the ID number, masked
    context = json.loads(agent_context(server, ref))
    assert context["path"] == [
        "主菜单",
        "社保卡业务",
        "临时挂失·输入身份证号",
        "临时挂失·确认身份证号",
        "人工服务",
    ], context
    assert context["collected"] == {"id_number": mask_id_number(CALLER.id_number)}, context
    assert CALLER.id_number not in json.dumps(context), context
    assert call_record(server, lines) == ("transfer:answered", "bye")

    # call.record: the caller's side of the whole call, before and after the bridge
    (kept,) = (server.data_dir / "recordings").glob(f"*-{ref}.wav")
    recording = read_wav(kept)
    asked_at = heard_at(recording, read_wav(speech.agent_request))
    said_after_bridge = heard_at(recording, read_wav(speech.caller_after_bridge))
    assert said_after_bridge - asked_at == pytest.approx(22.0 - 11.0, abs=1.0)


def call_record(server: IvrProcess, lines: list[str]) -> tuple[str | None, str | None]:
    """(outcome, end reason) of the call's CDR, waited for: it is written after the call ended."""
    found = re.search(r"\[c\d+ ([^\]]+)\]", lines[0])
    assert found is not None, lines[0]
    database = open_store(server)
    query = select(CallRecord.outcome, CallRecord.end_reason).where(
        CallRecord.call_id.startswith(found.group(1))
    )
    try:
        deadline = time.monotonic() + 5.0
        while (row := read_one(database, query)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        database.dispose()
    assert row is not None, "no CDR written"
    return row.outcome, row.end_reason


def read_one(database: Database, query: Select[Any]) -> Row[Any] | None:
    with database.reading() as session:
        return session.execute(query).first()


def agent_context(server: IvrProcess, ref: str) -> str:
    """`ivr:agent-context:<ref>` from the IVR's embedded Redis: redislite registers its server's
    socket next to the database file; a plain client on it cannot stop the IVR's server."""
    registry = server.data_dir / f"{REDISLITE_FILE}.settings"
    socket = json.loads(registry.read_text(encoding="utf-8"))["unixsocket"]
    value = redis.Redis(unix_socket_path=socket).get(f"ivr:agent-context:{ref}")
    assert value is not None, f"no agent context for {ref}"
    return value.decode()


def test_agent_not_answering_in_time_gives_an_apology_and_the_menu_again(
    speech_ivr: SpeechIvr, speech: Speech, tmp_path: Path
) -> None:
    server = speech_ivr.server
    since = len(server.log())
    caller_heard = tmp_path / "caller.wav"
    steps = [say(1.0, speech.agent_request), {"at": 10.0 + RING_TIMEOUT + 14.0, "hangup": True}]
    with agent_phone(speech_ivr.agent_port, "--never-answer") as agent:
        report = call(server, steps, record=caller_heard)
    ref = answered_after(server, since)["ref"]
    lines = call_lines(server, ref)
    text = "\n".join(lines)

    assert report["connected"] and not report["far_end_hung_up"], report  # not dropped
    assert len(agent["invites"]) == 1 and not agent["answered"], agent
    assert agent["far_end_hung_up"], agent  # CANCEL when the ring timeout passed
    assert "agent did not answer in time" in text, text
    played = events(lines, "play")
    assert played[played.index("transfer_to_agent") + 1 :][:2] == ["agents_busy", "main_menu"]
    heard_at(read_wav(caller_heard), played_audio("agents_busy"))


def test_silence_and_noise_never_reach_an_agent(
    speech_ivr: SpeechIvr, speech: Speech, tmp_path: Path
) -> None:
    server = speech_ivr.server
    since = len(server.log())
    steps = [say(2.0, speech.noise), {"at": 15.0, "hangup": True}]
    with agent_phone(speech_ivr.agent_port, timeout=20.0) as agent:
        report = call(server, steps)
    ref = answered_after(server, since)["ref"]
    text = "\n".join(call_lines(server, ref))

    assert report["connected"], report
    assert agent["invites"] == [], agent
    assert "heard intent" not in text and "calling agent" not in text, text


def test_a_caller_saying_the_query_word_lands_in_the_query_menu(
    speech_ivr: SpeechIvr, speech: Speech, tmp_path: Path
) -> None:
    server = speech_ivr.server
    since = len(server.log())
    caller_heard = tmp_path / "caller.wav"
    steps = [say(1.0, speech.query), {"at": 9.0, "hangup": True}]
    report = call(server, steps, record=caller_heard)
    ref = answered_after(server, since)["ref"]
    lines = call_lines(server, ref)

    assert report["connected"], report
    assert "heard intent query" in "\n".join(lines), lines
    assert "query_menu" in events(lines, "play"), lines
    heard_at(read_wav(caller_heard), played_audio("query_menu")[: 8000 * 2])
