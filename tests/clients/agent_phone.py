"""An agent's desk phone for end-to-end tests: PJSIP's pjsua2, listening, and registered with
digest authentication when `--registrar` is given.

It waits for the IVR's transfer INVITE on `--port`, rings (180), and answers after
`--answer-after` seconds (never with `--never-answer`). Once answered it records what it hears
and plays `--play` (the agent's greeting) into the first call; it stays until the far end hangs
up or `--timeout` passes. `--calls N` takes N calls one after the other; `--hangup-after S` ends
each answered call from the agent's side after S seconds of talk; `--refer-to URI` transfers it
there (REFER) after `--refer-after` seconds. SIGUSR1 tells it no more calls will come: it ends
as soon as it has no call (a test whose callers have all hung up need not wait for `--timeout`).

    python agent_phone.py --port 5070 --record agent_heard.wav --play hello.wav --timeout 60
    python agent_phone.py --port 5070 --registrar sip:127.0.0.1:5060 --user 1001 --password s

With `--registrar` the phone registers first (`listening` is printed once the registrar said
200, `registration failed` otherwise) and un-registers (Expires: 0) before it exits; the report
gets `registrations`: every registration status the phone saw, in order.

stdout: first the line `listening` once the port is bound, then, at the end, a JSON report:
the INVITEs received (with their X-IVR-Call header), whether the call was answered and how it
ended (`far_end_hung_up`: a BYE or CANCEL came from the IVR).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
import wave
from typing import Any

import pjsua2 as pj
from loopback_pjsua import TrackedCall, account_config, start_endpoint


class AgentAccount(pj.Account):
    """Takes every incoming call; the phone decides when (or whether) to answer it."""

    def __init__(self) -> None:
        super().__init__()
        self.incoming: list[tuple[TrackedCall, dict[str, Any]]] = []
        self.registrations: list[dict[str, Any]] = []

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.registrations.append({"code": prm.code, "expiration": prm.expiration})

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = TrackedCall(self, prm.callId)
        message = prm.rdata.wholeMsg
        header = re.search(r"^X-IVR-Call:\s*(\S+)", message, re.MULTILINE | re.IGNORECASE)
        invite = {
            "at": time.monotonic(),
            "from": prm.rdata.srcAddress,
            "x_ivr_call": header.group(1) if header else None,
        }
        ringing = pj.CallOpParam()
        ringing.statusCode = pj.PJSIP_SC_RINGING
        call.answer(ringing)
        self.incoming.append((call, invite))


class AgentPhone:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.endpoint, transport_id = start_endpoint(
            "pjsua2-agent-e2e", pj.PJSIP_TRANSPORT_UDP, args.port
        )
        self.account = AgentAccount()
        if args.registrar:
            config = account_config(f"sip:{args.user}@127.0.0.1", transport_id)
            config.regConfig.registrarUri = args.registrar
            config.regConfig.timeoutSec = args.expires
            config.regConfig.retryIntervalSec = 0  # a refusal is final: tests want to see it
            config.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", args.user, 0, args.password)
            )
            self.account.create(config)
        else:
            self.account.create(account_config(f"sip:agent@127.0.0.1:{args.port}", transport_id))
        self.recorder: pj.AudioMediaRecorder | None = None
        self.player: pj.AudioMediaPlayer | None = None
        self.t0 = time.monotonic()
        self.no_more_calls = False
        signal.signal(signal.SIGUSR1, lambda _signal, _frame: self._no_more_calls())
        self.log: list[str] = []

    def _no_more_calls(self) -> None:
        self.no_more_calls = True

    def note(self, text: str) -> None:
        self.log.append(f"{time.monotonic() - self.t0:7.3f} {text}")

    def run(self) -> dict[str, Any]:
        """Take up to `--calls` calls one after the other; the first call's fields stay at the
        top of the report, every call is in `calls`."""
        deadline = time.monotonic() + self.args.timeout
        calls: list[dict[str, Any]] = []
        active: tuple[TrackedCall, dict[str, Any], dict[str, Any]] | None = None
        while time.monotonic() < deadline:
            self.endpoint.libHandleEvents(10)
            if active is None:
                if len(calls) >= self.args.calls or len(self.account.incoming) <= len(calls):
                    if len(calls) >= self.args.calls or self.no_more_calls:
                        break
                    continue
                call, invite = self.account.incoming[len(calls)]
                self.note(f"INVITE from {invite['from']} (X-IVR-Call {invite['x_ivr_call']})")
                entry = {"x_ivr_call": invite["x_ivr_call"], "answered": False, "hung_up": False}
                calls.append(entry)
                active = (call, invite, entry)
            call, invite, entry = active
            now = time.monotonic()
            if call.disconnected:
                self.note(f"call ended ({call.last_status})")
                entry.update(self._ended(call, entry))
                self.recorder = self.player = None  # closes the WAV
                active = None
                continue
            ringing_for = now - invite["at"]
            if not (entry["answered"] or self.args.never_answer) and (
                ringing_for >= self.args.answer_after
            ):
                ok = pj.CallOpParam()
                ok.statusCode = pj.PJSIP_SC_OK
                call.answer(ok)
                entry["answered"] = True
                entry["answered_at"] = now
                self.note("answered")
            if entry["answered"] and call.audio is not None and not entry.get("media"):
                entry["media"] = True
                if len(calls) == 1:  # the first call is recorded and hears --play
                    self.start_media(call.audio)
            talk = now - entry.get("answered_at", now)
            if (
                self.args.refer_to
                and call.audio is not None
                and not entry.get("referred")
                and (talk >= self.args.refer_after)
            ):
                self.note(f"transfers the call to {self.args.refer_to}")
                call.xfer(self.args.refer_to, pj.CallOpParam(True))
                entry["referred"] = True
            if (
                self.args.hangup_after
                and call.audio is not None
                and not entry["hung_up"]
                and (talk >= self.args.hangup_after)
            ):
                self.note("agent hangs up")
                call.hangup(pj.CallOpParam(True))
                entry["hung_up"] = True
        if active is not None and not active[0].disconnected:
            self.note("timeout: hanging up")
            active[0].hangup(pj.CallOpParam(True))
            active[2]["hung_up"] = True
            self.pump(0.3)
            active[2].update(self._ended(active[0], active[2]))
        self.pump(0.3)
        self.recorder = None  # closes the WAV
        self.player = None
        for entry in calls:
            entry.pop("answered_at", None)
            entry.pop("media", None)
        first = calls[0] if calls else {}
        report = {
            "invites": [invite for _, invite in self.account.incoming],
            "answered": first.get("answered", False),
            "connected": first.get("connected", False),
            "ended": first.get("ended", False),
            "far_end_hung_up": first.get("far_end_hung_up", False),
            "last_status": first.get("last_status"),
            "calls": calls,
        }
        for invite in report["invites"]:
            invite["at"] = round(invite["at"] - self.t0, 3)
        return report

    @staticmethod
    def _ended(call: TrackedCall, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "connected": call.confirmed_at is not None,
            "ended": call.disconnected,
            "far_end_hung_up": call.disconnected and not entry["hung_up"],
            "last_status": call.last_status,
        }

    def start_media(self, audio: pj.AudioMedia) -> None:
        if self.args.record:
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(self.args.record)
            audio.startTransmit(self.recorder)
        if self.args.play:
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.args.play, pj.PJMEDIA_FILE_NO_LOOP)
            self.player.startTransmit(audio)
            self.note(f"playing {self.args.play}")

    def register(self) -> bool:
        """Wait for the registrar's final answer; True when it was 200."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.endpoint.libHandleEvents(10)
            if self.account.registrations:
                code = self.account.registrations[-1]["code"]
                self.note(f"registration: {code}")
                return bool(code == 200)
        return False

    def unregister(self) -> None:
        seen = len(self.account.registrations)
        self.account.setRegistration(False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(self.account.registrations) == seen:
            self.endpoint.libHandleEvents(10)

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.endpoint.libHandleEvents(10)

    def close(self) -> None:
        self.account.incoming.clear()
        self.pump(0.2)
        self.endpoint.libDestroy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="SIP port to listen on (UDP)")
    parser.add_argument("--answer-after", type=float, default=1.0, help="seconds of ringing")
    parser.add_argument("--never-answer", action="store_true", help="ring until cancelled")
    parser.add_argument("--record", help="WAV of what the agent hears")
    parser.add_argument("--play", help="WAV the agent says once answered")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--calls", type=int, default=1, help="calls to take one after another")
    parser.add_argument("--hangup-after", type=float, default=0, help="talk seconds, then BYE")
    parser.add_argument("--refer-to", help="blind-transfer each answered call there (REFER)")
    parser.add_argument("--refer-after", type=float, default=3.0, help="talk seconds before")
    parser.add_argument("--registrar", help="register there first, e.g. sip:127.0.0.1:5060")
    parser.add_argument("--user", default="agent", help="the agent's user name (and AOR user)")
    parser.add_argument("--password", default="", help="the agent's SIP password")
    parser.add_argument("--expires", type=int, default=300, help="registration interval (s)")
    args = parser.parse_args()
    # pjlib prints on stdout whenever it likes: keep stdout for our own lines (see
    # scripted_caller.py).
    report_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    phone = AgentPhone(args)
    if args.registrar and not phone.register():
        print("registration failed", file=report_out, flush=True)
        report: dict[str, Any] = {"invites": [], "answered": False}
    else:
        print("listening", file=report_out, flush=True)
        try:
            report = phone.run()
        finally:
            if args.registrar:
                phone.unregister()
    report["registrations"] = phone.account.registrations
    phone.close()
    if args.record and os.path.exists(args.record):
        with wave.open(args.record) as recording:
            report["recording_seconds"] = recording.getnframes() / recording.getframerate()
    report["log"] = phone.log
    print(json.dumps(report), file=report_out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
