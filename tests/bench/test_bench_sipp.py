"""bench/bench_sipp.py's measurements on captures built here, and the yardstick menu it drives."""

import importlib.util
import struct
import subprocess
import sys
import wave
from pathlib import Path

import pytest
import yaml

from ivr.media.prompt_catalog import text_hash
from ivr.menus.cli import prompt_ids
from ivr.menus.validate import check_menu_text

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location("bench_sipp", ROOT / "bench" / "bench_sipp.py")
assert _spec and _spec.loader
bench = sys.modules["bench_sipp"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def udp_over_ethernet(source_port: int, destination_port: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))  # fmt: skip
    return b"\x00" * 12 + b"\x08\x00" + ip + udp


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for when, frame in packets:
            seconds = int(when)
            f.write(struct.pack("<IIII", seconds, round((when - seconds) * 1e6), len(frame),
                                len(frame)))  # fmt: skip
            f.write(frame)
    return path


def rtp(ssrc: int, sequence: int, timestamp: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, sequence, timestamp, ssrc) + b"\xff" * 160


def stream(port: int, ssrc: int, start: float, arrivals: list[float]) -> list[tuple[float, bytes]]:
    return [
        (start + at, udp_over_ethernet(port, 40000, rtp(ssrc, n, 1000 + 160 * n)))
        for n, at in enumerate(arrivals)
    ]


def test_a_steady_stream_has_no_interval_error_and_no_drift(tmp_path):
    packets = stream(61000, 7, 100.0, [n * 0.020 for n in range(200)])
    result = bench.pacing(bench.rtp_streams(write_pcap(tmp_path / "a.pcap", packets)))
    assert result.streams == 1 and result.packets == 198  # first and last left out
    assert result.p99_ms == pytest.approx(0, abs=0.01)
    assert result.drift_ms == pytest.approx(0, abs=0.01)
    assert result.short_pct == 0


def test_a_stall_shows_as_interval_error_but_not_as_drift(tmp_path):
    arrivals = [n * 0.020 for n in range(200)]
    arrivals[100:103] = [2.045, 2.0451, 2.0452]  # 45 ms late, then a burst catching up
    packets = stream(61000, 7, 100.0, arrivals)
    result = bench.pacing(bench.rtp_streams(write_pcap(tmp_path / "b.pcap", packets)))
    assert result.max_ms == pytest.approx(45 + 20 - 20, abs=0.01)  # 65 ms gap, 20 ms due
    assert result.drift_ms == pytest.approx(0, abs=0.01)


def test_a_clock_that_runs_slow_shows_as_drift_and_streams_are_kept_apart(tmp_path):
    slow = stream(61000, 7, 100.0, [n * 0.0201 for n in range(500)])  # 0.5% slow
    steady = stream(61000, 8, 100.0, [n * 0.020 for n in range(500)])  # same port, new SSRC
    packets = sorted(slow + steady)
    result = bench.pacing(bench.rtp_streams(write_pcap(tmp_path / "c.pcap", packets)))
    assert result.streams == 2
    # the slow stream's: 0.1 ms a packet, from the first to the last window's least lateness
    lags = 498 - 1 - bench.DRIFT_WINDOW
    assert result.drift_ms == pytest.approx(0.1 * lags, abs=0.01)


def test_invite_to_200_is_timed_from_the_first_invite_to_the_first_200_of_each_call(tmp_path):
    def sip(first_line: str, call_id: str, cseq: str) -> bytes:
        text = f"{first_line}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        return udp_over_ethernet(5060, 5070, text.encode())

    packets = [
        (10.000, sip("INVITE sip:ivr@127.0.0.1 SIP/2.0", "a", "1 INVITE")),
        (10.500, sip("INVITE sip:ivr@127.0.0.1 SIP/2.0", "a", "1 INVITE")),  # retransmission
        (10.501, sip("SIP/2.0 100 Trying", "a", "1 INVITE")),
        (10.502, sip("SIP/2.0 200 OK", "a", "1 INVITE")),
        (11.000, sip("INVITE sip:ivr@127.0.0.1 SIP/2.0", "b", "1 INVITE")),
        (11.002, sip("SIP/2.0 200 OK", "b", "1 INVITE")),
        (11.003, sip("SIP/2.0 200 OK", "b", "1 INVITE")),  # 200 retransmitted
        (12.000, sip("SIP/2.0 200 OK", "a", "2 BYE")),
        (12.100, sip("INVITE sip:ivr@127.0.0.1 SIP/2.0", "c", "1 INVITE")),  # never answered
    ]
    latencies = bench.invite_latencies(write_pcap(tmp_path / "sip.pcap", packets))
    assert sorted(latencies) == pytest.approx([0.002, 0.502], abs=1e-6)


def test_the_yardstick_menu_is_valid_and_its_prompts_last_about_8_seconds():
    menu = ROOT / "bench" / "menus" / "yardstick.yaml"
    known = prompt_ids(menu.with_name("yardstick.prompts.yaml"))
    tree, problems = check_menu_text(menu.read_text(), str(menu), known_prompts=known)
    assert tree is not None and problems == []
    check = subprocess.run(
        [sys.executable, "-m", "ivr", "prompts", "--config", "bench/ivr-bench.yaml", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "0 without a recording" in check.stdout
    texts = yaml.safe_load(menu.with_name("yardstick.prompts.yaml").read_text())
    for prompt in ("yardstick.greeting", "yardstick.closing"):
        path = ROOT / "prompts" / "tts" / f"{text_hash(texts[prompt])}.wav"
        with wave.open(str(path)) as recording:
            assert 7 <= recording.getnframes() / recording.getframerate() <= 9


def test_with_a_port_only_invites_to_it_count_not_the_ivrs_own_invites_from_it(tmp_path):
    def sip(source: int, destination: int, first_line: str, call_id: str) -> bytes:
        text = f"{first_line}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        return udp_over_ethernet(source, destination, text.encode())

    packets = [
        (10.000, sip(5070, 5060, "INVITE sip:ivr@127.0.0.1 SIP/2.0", "caller")),
        (10.003, sip(5060, 5070, "SIP/2.0 200 OK", "caller")),
        (11.000, sip(5060, 5090, "INVITE sip:agent@127.0.0.1 SIP/2.0", "agent-leg")),
        (12.000, sip(5090, 5060, "SIP/2.0 200 OK", "agent-leg")),  # rang for a second
    ]
    path = write_pcap(tmp_path / "sip.pcap", packets)
    assert sorted(bench.invite_latencies(path)) == pytest.approx([0.003, 1.0], abs=1e-6)
    assert list(bench.invite_latencies(path, 5060)) == pytest.approx([0.003], abs=1e-6)


def test_levels_are_shared_by_every_configuration_or_given_for_each():
    assert bench.levels_by_config("200,400", ["keys", "speech"]) == {
        "keys": [200, 400],
        "speech": [200, 400],
    }
    assert bench.levels_by_config("keys:200,800/speech:400", ["keys", "speech", "bridge"]) == {
        "keys": [200, 800],
        "speech": [400],
        "bridge": [],
    }


def test_callers_packets_are_counted_per_ivr_port_a_long_pause_starting_a_new_stream(tmp_path):
    def to_ivr(port: int, start: float, count: int, skip: int = -1) -> list[tuple[float, bytes]]:
        return [
            (start + n * 0.020, udp_over_ethernet(10000, port, rtp(7, n, 160 * n)))
            for n in range(count)
            if n != skip
        ]

    packets = sorted(
        to_ivr(20000, 100.0, 500)  # a whole stream, 10 s
        + to_ivr(20000, 115.0, 100, skip=50)  # the port's next call, one packet lost: 1%
        + to_ivr(20002, 100.0, 100)[:-1]  # a stream ends at its last packet: none missing
        + [(120.0, udp_over_ethernet(10000, 20004, b"not rtp"))]
    )
    counted = bench.inbound(write_pcap(tmp_path / "in.pcap", packets))
    assert counted.streams == 3
    assert counted.packets == 500 + 99 + 99
    assert counted.expected == 500 + 100 + 99
    assert counted.short_streams == 0  # 1 missing of 100 is not more than 1%
    more = to_ivr(20000, 100.0, 100, skip=20)
    more = [p for n, p in enumerate(more) if n != 30]  # two missing of 100: short
    assert bench.inbound(write_pcap(tmp_path / "short.pcap", more)).short_streams == 1


def test_the_streamed_caller_gets_its_audio_raw_and_its_keys_with_the_audio_between_them(tmp_path):
    arguments = bench.caller_media(tmp_path, "123#", "stream", 30)
    keys = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert keys["-rtp_threadtasks"] == "30"
    options = [tuple(arguments[i : i + 3]) for i in range(len(arguments) - 2)]

    def key(name: str) -> str:
        return next(o[2] for o in options if o[:2] == ("-key", name))

    assert ("-set", "keys_at_ms", str(round(bench.KEYS_AT * 1000))) in options
    assert ("-set", "keys_ms", "700") in options  # 4 keys of 100 ms, 100 ms apart
    for kind in ("talker", "listener"):
        raw, loops, payload_type = key(f"{kind}_stream").split(",")
        assert (loops, payload_type) == ("-1", "0")  # PCMU, looped until the call ends
        assert Path(raw).stat().st_size == round(bench.CALLER_SECONDS * 8000)
        pcap = Path(key(f"{kind}_keys"))
        rtp_packets = [ip[28:] for _, ip in bench.read_pcap(pcap)]
        events = [p for p in rtp_packets if p[1] & 0x7F == 101]
        audio = [p for p in rtp_packets if p[1] & 0x7F == 0]
        assert [p[12] for p in events if p[13] & 0x80][::3] == [1, 2, 3, 11]  # ends: 1 2 3 #
        assert len(events) == 4 * (5 + 2)  # 5 packets a key, its end sent three times
        assert len(audio) == 35 - 4 * 5  # 20 ms frames between the keys are audio
    pcap_arguments = bench.caller_media(tmp_path, "0", "pcap", 30)
    assert "-rtp_threadtasks" not in pcap_arguments and "talker_pcap" in pcap_arguments


def test_the_ivrs_own_late_ticks_are_summed_over_its_nodes_from_metrics() -> None:
    """The bench's late-ticks column: /metrics read with the bench's token, every node summed."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    exposition = (
        "# TYPE ivr_media_frames_total counter\n"
        'ivr_media_frames_total{ivr_node="a"} 1000.0\n'
        'ivr_media_frames_total{ivr_node="b"} 1500.0\n'
        "# TYPE ivr_media_ticks_late_total counter\n"
        'ivr_media_ticks_late_total{ivr_node="a"} 3.0\n'
        'ivr_media_ticks_late_total{ivr_node="b"} 7.0\n'
    )

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers["Authorization"] == f"Bearer {bench.METRICS_TOKEN}"
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(exposition.encode() if ok else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert bench.media_pacing(server.server_address[1]) == (2500.0, 10.0)
    finally:
        server.shutdown()
    assert bench.late_share((2500.0, 10.0), (7500.0, 60.0)) == pytest.approx(1.0)
