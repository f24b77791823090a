"""A loss journey over a lossy, jittery media path: 10 % of RTP datagrams lost each way and
20-70 ms of delay (50 ms of jitter, so packets also arrive out of order). The journey completes,
the loss is committed, and each key the caller pressed is counted exactly once.

`tc netem` in a namespace would be the natural tool; this machine's kernel has no `sch_netem`,
so the drill puts a user-space relay (`impaired_relay.py`) on the media path instead. The
caller is sipp replaying one RTP stream (RFC 4733 events between G.711 silence) made by the
shared `gen_rtp_pcap.py`: unlike a softphone it keeps sending to the address the SDP names
instead of switching to where the IVR's packets come from, so its media stays on the relay.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import select

from ivr.store.models import LossReport
from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.server import PCAP_TOOL, ROOT, SIP_CLIENTS, free_port, open_store, start_ivr
from tests.e2e.test_journeys import CONFIRM_TIME, WU_XIA, keyed
from tests.faults.impaired_relay import FRONT, ImpairedRelay

RTP_PORTS = 10
PAUSE = ","  # gen_rtp_pcap.py: half a second of silence
# 信息查询 1, 社保卡查询 1, 挂失 2 (each after a moment of its menu), the ID number with * for X
# and #, the read-back heard out in full, then 1 to confirm.
KEYS = (
    "1" + PAUSE * 3 + "1" + PAUSE * 3 + "2" + PAUSE * 3
    + keyed(WU_XIA.id_number)
    + PAUSE * math.ceil((CONFIRM_TIME + 1.5) * 2)
    + "1"
)  # fmt: skip
KEYS_PRESSED = sum(1 for key in KEYS if key != PAUSE)


def caller_stream(path: Path) -> float:
    """Write the caller's RTP stream; its length in seconds."""
    done = subprocess.run(
        [sys.executable, str(PCAP_TOOL), "--digits", KEYS, "--lead-ms", "1500", "-o", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(done.stdout.split(", ")[1].split()[0])


def test_a_loss_journey_completes_over_a_lossy_jittery_path(tmp_path: Path) -> None:
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings["sip"]["public_host"] = FRONT  # SDP and Contact point at the relay
    config = tmp_path / "ivr.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update(IVR_DATA_DIR=str(tmp_path / "var"), IVR_CONFIG=str(config))
    subprocess.run(
        [sys.executable, "-m", "ivr", "db", "seed-demo"],
        cwd=ROOT, env=env, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    stream = tmp_path / "caller.pcap"
    length = caller_stream(stream)
    low = random.randrange(46000, 60000, 2)
    server = start_ivr(
        tmp_path / "var",
        extra_env={"IVR_CONFIG": str(config), "IVR_RTP_PORTS": f"{low}-{low + RTP_PORTS - 1}"},
    )
    rtp = list(range(low, low + RTP_PORTS))
    relay = ImpairedRelay(ports=[server.sip_port, *rtp], impaired=set(rtp))
    relay.start()
    try:
        since = len(server.log())
        listen_ms = int(length * 1000) + 25_000  # the stream, then the loss confirmed
        sipp = subprocess.run(
            ["sipp", f"{FRONT}:{server.sip_port}",
             "-sf", str(SIP_CLIENTS / "sipp" / "uac_dtmf_pcap.xml"), "-key", "dtmf_pcap",
             str(stream), "-set", "pre_ms", "500", "-set", "post_ms", str(listen_ms),
             "-s", "12333", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port()),
             "-m", "1", "-nostdin", "-timeout", "150s"],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        ref = answered_after(server, since)["ref"]
        lines = call_lines(server, ref)
    finally:
        relay.stop()
        server.stop()
    print(f"media path: {relay.dropped} datagrams lost, {relay.passed} passed")
    assert sipp.returncode == 0, sipp.stdout[-3000:] + sipp.stderr[-2000:]
    assert relay.dropped > 0.05 * (relay.dropped + relay.passed), "the path was not lossy"
    assert len(events(lines, "key")) == KEYS_PRESSED, events(lines, "key")
    assert events(lines, "action") == ["temporary_loss -> reported"]
    assert "loss_done" in events(lines, "play")
    db = open_store(server)
    with db.reading() as session:
        committed = list(session.scalars(select(LossReport).where(LossReport.call_ref == ref)))
    db.dispose()
    assert len(committed) == 1
