"""A real SIP phone for end-to-end tests: PJSIP's pjsua2 (PyPI `pjsua2-python`), run as a process.

Built on the project's shared `sip-clients/pjsua2_caller.py`, with a timed script instead of one
DTMF burst, so a test can walk a menu: each step runs at `at` seconds after the call is confirmed.

    python scripted_caller.py --target sip:12333@127.0.0.1:5060 --record heard.wav \
        --steps '[{"at": 2, "dtmf": "1"}, {"at": 4, "dtmf": "12#", "method": "info"},
                  {"at": 6, "play": "speech.wav"}, {"at": 9, "hangup": true}]'

Step kinds: `dtmf` (method rfc2833 | info | both: the same press sent both ways), `play` (a WAV
into the call), `hangup`. The call ends at the last step, or earlier when the IVR hangs up.
stdout is a JSON report; exit 0 when the call connected and ended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import wave
from typing import Any

import pjsua2 as pj
from loopback_pjsua import TrackedCall, account_config, start_endpoint


class Phone:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        kind = pj.PJSIP_TRANSPORT_TCP if args.tcp else pj.PJSIP_TRANSPORT_UDP
        self.endpoint, transport_id = start_endpoint("pjsua2-ivr-e2e", kind)
        wanted = "PCMA/8000" if args.codec == "pcma" else "PCMU/8000"
        for codec in self.endpoint.codecEnum2():
            priority = 255 if codec.codecId.startswith(wanted) else 0
            self.endpoint.codecSetPriority(codec.codecId, priority)
        self.account = pj.Account()
        self.account.create(account_config(f"sip:{args.from_user}@127.0.0.1", transport_id))
        self.recorder: pj.AudioMediaRecorder | None = None
        self.players: list[pj.AudioMediaPlayer] = []
        self.log: list[str] = []
        self.t0 = time.monotonic()

    def note(self, text: str) -> None:
        self.log.append(f"{time.monotonic() - self.t0:7.3f} {text}")

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.endpoint.libHandleEvents(10)

    def send_dtmf(self, call: TrackedCall, digits: str, method: str) -> None:
        for digit in digits:
            if method in ("rfc2833", "both"):
                call.dialDtmf(digit)
            if method in ("info", "both"):
                param = pj.CallSendDtmfParam()
                param.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                param.digits = digit
                param.duration = 160
                call.sendDtmf(param)
            self.pump(self.args.digit_gap)
        self.note(f"sent DTMF {digits!r} via {method}")

    def run(self, steps: list[dict[str, Any]]) -> dict[str, Any]:
        call = TrackedCall(self.account)
        call.makeCall(self.args.target, pj.CallOpParam(True))
        self.note(f"INVITE {self.args.target}")
        deadline = time.monotonic() + self.args.timeout
        pending = sorted(steps, key=lambda step: step["at"])
        hung_up = False
        while not call.disconnected and time.monotonic() < deadline:
            self.endpoint.libHandleEvents(10)
            if call.confirmed_at is None or call.audio is None:
                continue
            if self.recorder is None and self.args.record:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.args.record)
                call.audio.startTransmit(self.recorder)
            since = time.monotonic() - call.confirmed_at
            while pending and since >= pending[0]["at"]:
                step = pending.pop(0)
                if "dtmf" in step:
                    self.send_dtmf(call, step["dtmf"], step.get("method", "rfc2833"))
                elif "play" in step:
                    player = pj.AudioMediaPlayer()
                    player.createPlayer(step["play"], pj.PJMEDIA_FILE_NO_LOOP)
                    player.startTransmit(call.audio)
                    self.players.append(player)
                    self.note(f"playing {step['play']}")
                elif step.get("hangup"):
                    call.hangup(pj.CallOpParam(True))
                    hung_up = True
                    self.note("hanging up")
        if not call.disconnected:
            self.note("timeout: forcing hang-up")
            call.hangup(pj.CallOpParam(True))
            self.pump(1.0)
        self.pump(0.3)
        self.recorder = None  # closes the WAV
        self.players = []
        report = {
            "connected": call.confirmed_at is not None,
            "ended": call.disconnected,
            "far_end_hung_up": call.disconnected and not hung_up,
            "last_status": call.last_status,
        }
        del call
        return report

    def close(self) -> None:
        self.pump(0.2)
        self.endpoint.libDestroy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--steps", default="[]", help="JSON list of timed steps")
    parser.add_argument("--record", help="WAV of what the caller hears")
    parser.add_argument("--codec", choices=["pcmu", "pcma"], default="pcmu")
    parser.add_argument("--tcp", action="store_true", help="SIP over TCP")
    parser.add_argument("--digit-gap", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--from-user", default="caller", help="the user part of From")
    args = parser.parse_args()
    # pjlib prints on stdout whenever it likes (start-up, an RTP port already taken by another
    # phone): keep stdout for the report alone by pointing fd 1 at stderr for the whole run.
    report_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    phone = Phone(args)
    try:
        report = phone.run(json.loads(args.steps))
    finally:
        phone.close()
    if args.record and os.path.exists(args.record):
        with wave.open(args.record) as recording:
            report["recording_seconds"] = recording.getnframes() / recording.getframerate()
    report["log"] = phone.log
    print(json.dumps(report), file=report_out, flush=True)
    return 0 if report["connected"] and report["ended"] else 1


if __name__ == "__main__":
    sys.exit(main())
