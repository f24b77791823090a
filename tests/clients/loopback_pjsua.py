"""What the test phones share: a pjsua2 endpoint on 127.0.0.1 with a clocked null sound device,
an account that never rewrites addresses, and a call that tracks its state and audio.

All callbacks run in the phone's main thread (`threadCnt = 0`, polled with libHandleEvents);
`sndAutoCloseTime = -1` keeps the null device clocking between calls, or later calls send
almost no RTP.
"""

from __future__ import annotations

import time

import pjsua2 as pj


class TrackedCall(pj.Call):
    """A call that remembers when it was confirmed, whether it ended, and its audio port."""

    def __init__(self, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.confirmed_at: float | None = None
        self.disconnected = False
        self.last_status: int | None = None
        self.audio: pj.AudioMedia | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.last_status = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.audio = self.getAudioMedia(index)


def start_endpoint(user_agent: str, transport_kind: int, port: int = 0) -> tuple[pj.Endpoint, int]:
    """A started endpoint at 8 kHz with one SIP transport on 127.0.0.1; (endpoint, transport id)."""
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.userAgent = user_agent
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    config.medConfig.ecTailLen = 0
    config.medConfig.sndAutoCloseTime = -1
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    transport.port = port
    transport_id = endpoint.transportCreate(transport_kind, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    return endpoint, transport_id


def account_config(id_uri: str, transport_id: int) -> pj.AccountConfig:
    """No registration, no ICE, no NAT rewriting: media and signalling stay on 127.0.0.1."""
    account = pj.AccountConfig()
    account.idUri = id_uri
    account.sipConfig.transportId = transport_id
    account.natConfig.iceEnabled = False
    account.natConfig.sdpNatRewriteUse = 0
    account.natConfig.contactRewriteUse = 0
    account.natConfig.viaRewriteUse = 0
    account.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    return account
