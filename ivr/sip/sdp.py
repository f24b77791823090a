"""SDP offer/answer (RFC 4566, RFC 3264) for an endpoint that speaks G.711 and RFC 4733.

The IVR sends and receives one audio stream: PCMU or PCMA at 8 kHz, 20 ms packets, plus
telephone-event when the peer offers it. Answers reuse the offer's own payload type numbers
(telephone-event arrives as 101, 120 or 96; PCMU/PCMA may come as static 0/8 without
rtpmap), keep the offerer's preference order among what we support, and carry one m= line
per offered m= line, declined ones with port 0 (RFC 3264 6).

`MediaChoice.direction` is the IVR's own direction: an offer `sendonly` (the caller put us
on hold) gives `recvonly`, `inactive` gives `inactive`, and the RFC 2543 hold address
`c=0.0.0.0` removes the offerer's receiving side.

What an offer may not make us do: the connection address must be an IP literal of the RTP
socket's family (no host name to resolve on the reactor, no IPv6 address for an IPv4 socket,
no multicast), a loopback address only when the IVR itself is on loopback (else an offer could
aim our RTP at a local service, e.g. 127.0.0.1:6379), the port must be outside the well-known
range 0-1023, payload type numbers outside 0-127 are ignored (RFC 3550 has 7 bits for them),
and a description over MAX_SDP_BYTES is not read at all. Each of these leaves the stream
unusable, which the caller hears as 488.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

CLOCK_RATE = 8000
PTIME_MS = 20
STATIC_PAYLOAD_TYPES = {0: "PCMU", 8: "PCMA"}  # RFC 3551 table 4
OFFER_TELEPHONE_EVENT_PT = 101
AUDIO_PROFILE = "RTP/AVP"
HOLD_ADDRESSES = ("0.0.0.0", "::")
MAX_SDP_BYTES = 16 * 1024  # a G.711 offer is a few hundred octets; the largest phones' ~4 KB
MAX_PAYLOAD_TYPE = 127
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# Our direction for the peer's; the peer's after it loses its receiving side (c=0.0.0.0).
MIRRORED = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
WITHOUT_RECEIVING = {
    "sendrecv": "sendonly",
    "sendonly": "sendonly",
    "recvonly": "inactive",
    "inactive": "inactive",
}


class NoCommonCodec(Exception):
    """No usable audio stream in the offer (no G.711, no address, garbage): answer 488."""


@dataclass(frozen=True)
class MediaChoice:
    codec: str  # "PCMU" | "PCMA"
    payload_type: int
    telephone_event_pt: int | None
    remote_host: str
    remote_port: int
    direction: str  # the IVR's own: "sendrecv" | "sendonly" | "recvonly" | "inactive"
    # m= lines of the offer we did not take, with their position: answered with port 0.
    declined: tuple[tuple[int, str], ...] = field(default=())

    @property
    def sending(self) -> bool:
        """Whether the IVR should send RTP (False while the caller holds the call)."""
        return self.direction in ("sendrecv", "sendonly")


@dataclass
class _Media:
    kind: str
    port: int
    proto: str
    formats: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    connection: str | None = None
    direction: str | None = None


@dataclass
class _Session:
    connection: str | None = None
    direction: str | None = None
    media: list[_Media] = field(default_factory=list)


_RTPMAP = re.compile(r"([0-9]{1,3})\s+([^/\s]+)/([0-9]{1,6})")
_NUMBER = re.compile(r"[0-9]{1,5}")


def _parse(text: bytes) -> _Session:
    session = _Session()
    if len(text) > MAX_SDP_BYTES:
        return session
    for line in text.decode("utf-8", errors="replace").splitlines():
        kind, equals, value = line.strip().partition("=")
        if not equals:
            continue
        current = session.media[-1] if session.media else None
        if kind == "m":
            session.media.append(_parse_media_line(value))
        elif kind == "c":
            parts = value.split()
            address = parts[2].split("/")[0] if len(parts) >= 3 else None
            if current is None:
                session.connection = address
            else:
                current.connection = address
        elif kind == "a" and value in DIRECTIONS:
            if current is None:
                session.direction = value
            else:
                current.direction = value
        elif kind == "a" and value.startswith("rtpmap:") and current is not None:
            rtpmap = _RTPMAP.match(value, len("rtpmap:"))
            if rtpmap:
                pt, name, rate = rtpmap.groups()
                if int(pt) <= MAX_PAYLOAD_TYPE:
                    current.rtpmap[int(pt)] = (name.upper(), int(rate))
    return session


def _parse_media_line(value: str) -> _Media:
    fields = value.split()
    if len(fields) < 3:
        return _Media(kind="", port=0, proto="", formats=[])
    kind, port, proto, *formats = fields
    port_number = port.split("/")[0]  # "49170/2": a port count we do not use
    return _Media(
        kind=kind,
        port=int(port_number) if _NUMBER.fullmatch(port_number) and int(port_number) < 65536 else 0,
        proto=proto,
        formats=[
            int(fmt) for fmt in formats if _NUMBER.fullmatch(fmt) and int(fmt) <= MAX_PAYLOAD_TYPE
        ],
    )


def _codec(media: _Media, pt: int) -> tuple[str, int] | None:
    if pt in media.rtpmap:
        return media.rtpmap[pt]
    return (STATIC_PAYLOAD_TYPES[pt], CLOCK_RATE) if pt in STATIC_PAYLOAD_TYPES else None


def _choose(media: _Media, supported: tuple[str, ...]) -> tuple[str, int, int | None] | None:
    """(codec, PT, telephone-event PT) in the offerer's preference order, or None."""
    if media.kind != "audio" or media.port == 0 or media.proto.upper() != AUDIO_PROFILE:
        return None
    wanted = {codec.upper() for codec in supported}
    voice: tuple[str, int] | None = None
    event_pt: int | None = None
    for pt in media.formats:
        codec = _codec(media, pt)
        if codec is None or codec[1] != CLOCK_RATE:
            continue
        if codec[0] in wanted and voice is None:
            voice = (codec[0], pt)
        elif codec[0] == "TELEPHONE-EVENT" and event_pt is None:
            event_pt = pt
    return None if voice is None else (*voice, event_pt)


def _media_line(media: _Media, port: int) -> str:
    formats = " ".join(str(pt) for pt in media.formats) or "0"
    return f"m={media.kind} {port} {media.proto} {formats}"


MIN_MEDIA_PORT = 1024  # below: well-known services, never a phone's RTP


def usable_address(host: str | None, family: int, loopback_ok: bool = True) -> bool:
    """Whether `host` is a unicast IP literal (or the hold address) of IP version `family`, and
    not a loopback address unless `loopback_ok`."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if address.is_loopback and not loopback_ok:
        return False
    return address.version == family and not address.is_multicast


def negotiate(
    offer: bytes,
    supported: tuple[str, ...] = ("PCMU", "PCMA"),
    family: int = 4,
    loopback_ok: bool = True,
) -> MediaChoice:
    """Pick the first offered audio stream we can serve, and how we answer it. `family` is the
    IP version of our RTP socket: a stream at an address of the other family is unusable; so is
    one at a loopback address unless `loopback_ok` (the IVR's own media address is loopback)."""
    session = _parse(offer)
    for index, media in enumerate(session.media):
        chosen = _choose(media, supported)
        host = media.connection or session.connection
        if (
            chosen is None
            or host is None
            or media.port < MIN_MEDIA_PORT
            or not usable_address(host, family, loopback_ok)
        ):
            continue
        offered = media.direction or session.direction or "sendrecv"
        if host in HOLD_ADDRESSES:
            offered = WITHOUT_RECEIVING[offered]
        codec, payload_type, event_pt = chosen
        return MediaChoice(
            codec=codec,
            payload_type=payload_type,
            telephone_event_pt=event_pt,
            remote_host=host,
            remote_port=media.port,
            direction=MIRRORED[offered],
            declined=tuple(
                (other, _media_line(m, 0))
                for other, m in enumerate(session.media)
                if other != index
            ),
        )
    raise NoCommonCodec(
        f"no audio stream with {'/'.join(supported)} at a usable IPv{family} address and port"
    )


def parse_answer(answer: bytes, family: int = 4) -> MediaChoice:
    """The media an answer to `build_offer` settles on (calls the IVR places)."""
    return negotiate(answer, family=family)


def _address(host: str) -> str:
    return f"IN IP6 {host}" if ":" in host else f"IN IP4 {host}"


def _description(
    local_host: str,
    session_id: int,
    version: int,
    audio: list[str],
    declined: tuple[tuple[int, str], ...] = (),
) -> bytes:
    media_lines: list[list[str]] = [audio]
    for index, line in sorted(declined):
        media_lines.insert(index, [line])
    lines = [
        "v=0",
        f"o=- {session_id} {version} {_address(local_host)}",
        "s=-",
        f"c={_address(local_host)}",
        "t=0 0",
        *(line for block in media_lines for line in block),
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _audio_lines(
    local_port: int, codecs: list[tuple[int, str]], event_pt: int | None, direction: str
) -> list[str]:
    formats = [pt for pt, _ in codecs] + ([event_pt] if event_pt is not None else [])
    lines = [f"m=audio {local_port} {AUDIO_PROFILE} {' '.join(map(str, formats))}"]
    lines += [f"a=rtpmap:{pt} {name}/{CLOCK_RATE}" for pt, name in codecs]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/{CLOCK_RATE}", f"a=fmtp:{event_pt} 0-16"]
    return [*lines, f"a=ptime:{PTIME_MS}", f"a={direction}"]


def build_answer(
    choice: MediaChoice, local_host: str, local_port: int, session_id: int, version: int
) -> bytes:
    """The answer for `choice`; `version` must grow with each new answer in the dialog."""
    audio = _audio_lines(
        local_port,
        [(choice.payload_type, choice.codec)],
        choice.telephone_event_pt,
        choice.direction,
    )
    return _description(local_host, session_id, version, audio, choice.declined)


def build_offer(local_host: str, local_port: int, session_id: int, version: int) -> bytes:
    """Our offer: PCMU, PCMA and telephone-event 101, 20 ms, sendrecv."""
    codecs = [(pt, name) for pt, name in sorted(STATIC_PAYLOAD_TYPES.items())]
    audio = _audio_lines(local_port, codecs, OFFER_TELEPHONE_EVENT_PT, "sendrecv")
    return _description(local_host, session_id, version, audio)
