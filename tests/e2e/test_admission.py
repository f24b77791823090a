"""A real IVR process under an INVITE flood: one source is held to its rate (503 + Retry-After,
no state), another source's call still gets through, and a call that never sends RTP is hung
up counted from its answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import stop_cleanly
from tests.e2e.server import ROOT, IvrProcess, start_ivr

SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def request(method: str, server: IvrProcess, sock: socket.socket, call_id: str, **fields) -> bytes:
    host, port = sock.getsockname()
    body = fields.get("body", "")
    lines = [
        f"{method} sip:12333@127.0.0.1:{server.sip_port} SIP/2.0",
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{fields.get('branch', call_id)};rport",
        f"From: <sip:13800138000@{host}>;tag=t-{call_id}",
        "To: <sip:12333@127.0.0.1>" + (f";tag={fields['to_tag']}" if "to_tag" in fields else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {fields.get('cseq', 1)} {method}",
        "Max-Forwards: 70",
        f"Contact: <sip:13800138000@{host}:{port}>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def responses(sock: socket.socket, seconds: float) -> list[bytes]:
    found, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            found.append(sock.recv(65535))
        except TimeoutError:
            break
    return found


def status(message: bytes) -> int:
    return int(message[8:11]) if message.startswith(b"SIP/2.0 ") else 0


def header(message: bytes, name: str) -> str:
    for line in message.split(b"\r\n"):
        if line.lower().startswith(name.lower().encode() + b":"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def source(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


@pytest.fixture(scope="module")
def ivr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrProcess]:
    data_dir = tmp_path_factory.mktemp("admission")
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings["speech"]["enabled"] = False
    settings["admission"] = {"max_calls": 40, "invites_per_second": 2, "invite_burst": 4}
    settings.setdefault("call", {})["media_timeout"] = 2
    config = data_dir / "ivr.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    server = start_ivr(data_dir, extra_env={"IVR_CONFIG": str(config)})
    yield server
    stop_cleanly(server)


def test_a_flooding_source_is_held_to_its_rate_while_another_gets_through(
    ivr: IvrProcess,
) -> None:
    with source("127.0.0.2") as flooder, source("127.0.0.3") as phone:
        sdp = SDP.format(host="127.0.0.2", rtp=40000)
        flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for n in range(300):  # ~1000 a second: the IVR's socket may drop some, as it may
            flooder.sendto(request("INVITE", ivr, flooder, f"flood-{n}", body=sdp),
                           ("127.0.0.1", ivr.sip_port))  # fmt: skip
            if n % 10 == 9:
                time.sleep(0.01)
        got = responses(flooder, 3.0)
        finals = {header(m, "Call-ID"): m for m in got if status(m) >= 200}
        busy = [m for m in finals.values() if status(m) == 503]
        answered = [m for m in finals.values() if status(m) == 200]
        assert len(busy) >= 150, f"{len(got)} responses"
        assert all(int(header(m, "Retry-After")) >= 1 for m in busy)
        assert 1 <= len(answered) <= 10
        # another source is not charged for the flood
        invite = request("INVITE", ivr, phone, "honest-1", body=SDP.format(host="127.0.0.3",
                                                                            rtp=40002))  # fmt: skip
        phone.sendto(invite, ("127.0.0.1", ivr.sip_port))
        assert 200 in [status(m) for m in responses(phone, 3.0)]


def test_a_call_that_never_sends_rtp_is_hung_up_counted_from_its_answer(ivr: IvrProcess) -> None:
    with source("127.0.0.4") as phone:
        invite = request("INVITE", ivr, phone, "silent-1", body=SDP.format(host="127.0.0.4",
                                                                            rtp=40004))  # fmt: skip
        phone.sendto(invite, ("127.0.0.1", ivr.sip_port))
        ok = next(m for m in responses(phone, 3.0) if status(m) == 200)
        to_tag = header(ok, "To").split("tag=")[1]
        phone.sendto(request("ACK", ivr, phone, "silent-1", branch="ack-1", to_tag=to_tag),
                     ("127.0.0.1", ivr.sip_port))  # fmt: skip
        answered = time.monotonic()
        bye = next((m for m in responses(phone, 15.0) if m.startswith(b"BYE ")), None)
        assert bye is not None, ivr.log()[-3000:]
        assert time.monotonic() - answered >= 2.0
    ivr.wait_for_log(r"no RTP for 2 s")
