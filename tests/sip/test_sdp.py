"""SDP offer/answer with the offers real phones and test clients send."""

import pytest

from ivr.sip.sdp import (
    MediaChoice,
    NoCommonCodec,
    build_answer,
    build_offer,
    negotiate,
    parse_answer,
)


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


# sipp's uac_play_dtmf.xml (shared/sip-clients): telephone-event on PT 96.
SIPP = sdp(
    "v=0",
    "o=sipp 1 1 IN IP4 127.0.0.1",
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    "m=audio 6000 RTP/AVP 0 8 96",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:96 telephone-event/8000",
    "a=fmtp:96 0-16",
    "a=ptime:20",
    "a=sendrecv",
)

# PJSIP 2.15 default codecs: wideband first, connection at media level, telephone-event per
# clock rate (120 at 16 kHz, 121 at 8 kHz).
PJSIP = sdp(
    "v=0",
    "o=- 3925386740 3925386740 IN IP4 127.0.0.1",
    "s=pjmedia",
    "b=AS:117",
    "t=0 0",
    "a=X-nat:0",
    "m=audio 4000 RTP/AVP 96 97 98 99 3 0 8 9 120 121",
    "c=IN IP4 127.0.0.1",
    "b=TIAS:96000",
    "a=rtcp:4001 IN IP4 127.0.0.1",
    "a=sendrecv",
    "a=rtpmap:96 speex/16000",
    "a=rtpmap:97 speex/8000",
    "a=rtpmap:98 speex/32000",
    "a=rtpmap:99 iLBC/8000",
    "a=fmtp:99 mode=30",
    "a=rtpmap:3 GSM/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:120 telephone-event/16000",
    "a=fmtp:120 0-16",
    "a=rtpmap:121 telephone-event/8000",
    "a=fmtp:121 0-16",
    "a=ssrc:1190225893 cname:7f2c3a1d5e6b4c8a",
)

# The pjsua2 caller of shared/sip-clients with --codec pcma --only: PT 120 at 8 kHz.
PJSUA_PCMA_ONLY = sdp(
    "v=0",
    "o=- 3925386741 3925386741 IN IP4 127.0.0.1",
    "s=pjmedia",
    "t=0 0",
    "m=audio 4002 RTP/AVP 8 120",
    "c=IN IP4 127.0.0.1",
    "a=sendrecv",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:120 telephone-event/8000",
    "a=fmtp:120 0-16",
)

# Linphone: opus first, static 0/8 and G.729 (18) without rtpmap, three telephone-events,
# plus a video stream.
LINPHONE = sdp(
    "v=0",
    "o=zhang 1937 2216 IN IP4 192.168.1.20",
    "s=Talk",
    "c=IN IP4 192.168.1.20",
    "t=0 0",
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
    "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 useinbandfec=1",
    "a=rtpmap:97 speex/16000",
    "a=rtpmap:98 speex/8000",
    "a=fmtp:18 annexb=yes",
    "a=rtpmap:101 telephone-event/48000",
    "a=rtpmap:99 telephone-event/16000",
    "a=rtpmap:100 telephone-event/8000",
    "a=rtcp-fb:* trr-int 1000",
    "m=video 9078 RTP/AVP 96 97",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:97 H264/90000",
)

# A desk phone preferring G.729, PCMA before PCMU.
G729_FIRST = sdp(
    "v=0",
    "o=yealink 20 20 IN IP4 10.0.0.7",
    "s=SDP data",
    "c=IN IP4 10.0.0.7",
    "t=0 0",
    "m=audio 11800 RTP/AVP 18 8 0 101",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
    "a=sendrecv",
)


def test_sipp_offer_keeps_its_telephone_event_96():
    choice = negotiate(SIPP)
    assert choice == MediaChoice("PCMU", 0, 96, "127.0.0.1", 6000, "sendrecv")


def test_pjsip_offer_picks_g711_and_the_8khz_telephone_event():
    choice = negotiate(PJSIP)
    assert (choice.codec, choice.payload_type, choice.telephone_event_pt) == ("PCMU", 0, 121)
    assert (choice.remote_host, choice.remote_port) == ("127.0.0.1", 4000)


def test_pjsua_pcma_only_offer_uses_pt_120():
    choice = negotiate(PJSUA_PCMA_ONLY)
    assert (choice.codec, choice.payload_type, choice.telephone_event_pt) == ("PCMA", 8, 120)


def test_linphone_opus_first_still_gets_static_pcmu_without_rtpmap():
    choice = negotiate(LINPHONE)
    assert (choice.codec, choice.payload_type, choice.telephone_event_pt) == ("PCMU", 0, 100)
    assert (choice.remote_host, choice.remote_port) == ("192.168.1.20", 7078)


def test_offerer_preference_wins_among_supported_codecs():
    assert negotiate(G729_FIRST).codec == "PCMA"


def test_supported_restricts_the_choice():
    assert negotiate(G729_FIRST, supported=("PCMU",)).payload_type == 0
    with pytest.raises(NoCommonCodec):
        negotiate(PJSUA_PCMA_ONLY, supported=("PCMU",))


def test_answer_has_only_the_chosen_codec_with_the_offers_numbers():
    answer = build_answer(negotiate(PJSIP), "192.0.2.10", 20000, session_id=77, version=1)
    lines = answer.decode().split("\r\n")
    assert answer.endswith(b"\r\n")
    assert "o=- 77 1 IN IP4 192.0.2.10" in lines
    assert "c=IN IP4 192.0.2.10" in lines
    assert "m=audio 20000 RTP/AVP 0 121" in lines
    assert "a=rtpmap:0 PCMU/8000" in lines
    assert "a=rtpmap:121 telephone-event/8000" in lines
    assert "a=ptime:20" in lines
    assert "a=sendrecv" in lines
    assert not any("speex" in line or "120" in line for line in lines)


def test_answer_declines_video_with_port_zero_in_the_same_position():
    answer = build_answer(negotiate(LINPHONE), "192.0.2.10", 20000, 5, 1).decode()
    media = [line for line in answer.split("\r\n") if line.startswith("m=")]
    assert media == ["m=audio 20000 RTP/AVP 0 100", "m=video 0 RTP/AVP 96 97"]


def test_declined_stream_before_the_audio_keeps_its_place():
    offer = sdp(
        "v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
        "m=video 5000 RTP/AVP 31", "m=audio 5002 RTP/AVP 8",
    )  # fmt: skip
    answer = build_answer(negotiate(offer), "10.0.0.2", 30000, 1, 1).decode()
    media = [line for line in answer.split("\r\n") if line.startswith("m=")]
    assert media == ["m=video 0 RTP/AVP 31", "m=audio 30000 RTP/AVP 8"]


def test_offer_without_telephone_event_gets_an_answer_without_it():
    offer = sdp("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 5000 RTP/AVP 8",
                "c=IN IP4 10.0.0.1")  # fmt: skip
    choice = negotiate(offer)
    assert choice.telephone_event_pt is None
    assert b"telephone-event" not in build_answer(choice, "10.0.0.2", 30000, 1, 1)


def test_media_level_connection_overrides_session_level():
    offer = SIPP.replace(b"a=ptime:20", b"c=IN IP4 198.51.100.9\r\na=ptime:20")
    assert negotiate(offer).remote_host == "198.51.100.9"


@pytest.mark.parametrize(
    "offer",
    [
        LINPHONE.replace(
            b"m=audio 7078 RTP/AVP 96 97 98 0 8 18", b"m=audio 7078 RTP/AVP 96 97 98 18"
        ),
        SIPP.replace(b"m=audio 6000", b"m=audio 0"),
        SIPP.replace(b"RTP/AVP", b"RTP/SAVP"),
        SIPP.replace(b"c=IN IP4 127.0.0.1\r\n", b""),
        SIPP.replace(b"PCMU/8000", b"PCMU/16000").replace(b"PCMA/8000", b"PCMA/16000"),
        b"",
        b"\xff\xfe garbage \x00",
        b"v=0\r\nm=audio\r\n",
    ],
    ids=["no-g711", "port-0", "srtp", "no-address", "wrong-clock", "empty", "binary", "short-m"],
)
def test_offers_we_cannot_serve_raise_no_common_codec(offer):
    with pytest.raises(NoCommonCodec):
        negotiate(offer)


def test_dynamic_payload_type_for_pcmu_is_honoured():
    offer = SIPP.replace(b"RTP/AVP 0 8 96", b"RTP/AVP 110 96").replace(
        b"rtpmap:0 PCMU", b"rtpmap:110 PCMU"
    )
    assert (negotiate(offer).codec, negotiate(offer).payload_type) == ("PCMU", 110)


# A pjsip re-INVITE pair: hold (sendonly), then resume (sendrecv), same session, new versions.
HOLD = PJSUA_PCMA_ONLY.replace(b"3925386741 3925386741", b"3925386741 3925386742").replace(
    b"a=sendrecv", b"a=sendonly"
)
RESUME = PJSUA_PCMA_ONLY.replace(b"3925386741 3925386741", b"3925386741 3925386743")


def test_hold_and_resume_reinvites_flip_our_direction_and_bump_the_version():
    first = build_answer(negotiate(PJSUA_PCMA_ONLY), "127.0.0.1", 20000, 9, 1)
    hold = negotiate(HOLD)
    assert hold.direction == "recvonly"
    assert not hold.sending
    on_hold = build_answer(hold, "127.0.0.1", 20000, 9, 2)
    resume = negotiate(RESUME)
    assert resume.direction == "sendrecv"
    assert resume.sending
    resumed = build_answer(resume, "127.0.0.1", 20000, 9, 3)
    assert b"o=- 9 1 IN IP4" in first and b"a=sendrecv" in first
    assert b"o=- 9 2 IN IP4" in on_hold and b"a=recvonly" in on_hold
    assert b"o=- 9 3 IN IP4" in resumed and b"a=sendrecv" in resumed


@pytest.mark.parametrize(
    ("change", "direction"),
    [
        ((b"a=sendrecv", b"a=inactive"), "inactive"),
        ((b"a=sendrecv", b"a=recvonly"), "sendonly"),
        ((b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0"), "recvonly"),
        ((b"a=sendrecv", b"a=recvonly\r\nc=IN IP4 0.0.0.0"), "inactive"),
    ],
    ids=["inactive", "recvonly", "rfc2543-hold", "rfc2543-hold-recvonly"],
)
def test_hold_variants(change, direction):
    assert negotiate(PJSUA_PCMA_ONLY.replace(*change)).direction == direction


def test_session_level_direction_applies_unless_the_media_overrides_it():
    session_level = SIPP.replace(b"a=sendrecv\r\n", b"").replace(b"t=0 0", b"t=0 0\r\na=sendonly")
    assert negotiate(session_level).direction == "recvonly"
    overridden = session_level.replace(b"a=ptime:20", b"a=ptime:20\r\na=sendrecv")
    assert negotiate(overridden).direction == "sendrecv"


def test_offer_and_answer_for_calls_the_ivr_places():
    offer = build_offer("192.0.2.10", 22000, session_id=5, version=1).decode()
    assert "m=audio 22000 RTP/AVP 0 8 101" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer
    assert "a=ptime:20" in offer
    # The agent's phone answers with PCMA only and its own address.
    answer = sdp(
        "v=0", "o=- 8 8 IN IP4 192.0.2.30", "s=-", "c=IN IP4 192.0.2.30", "t=0 0",
        "m=audio 40000 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "a=sendrecv",
    )  # fmt: skip
    assert parse_answer(answer) == MediaChoice("PCMA", 8, 101, "192.0.2.30", 40000, "sendrecv")


def test_our_answer_read_back_mirrors_the_direction():
    answer = build_answer(negotiate(HOLD), "192.0.2.10", 20000, 1, 2)
    back = parse_answer(answer)
    assert (back.codec, back.payload_type, back.telephone_event_pt) == ("PCMA", 8, 120)
    assert (back.remote_host, back.remote_port, back.direction) == ("192.0.2.10", 20000, "sendonly")


def test_ipv6_addresses():
    offer = SIPP.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP6 2001:db8::5")
    choice = negotiate(offer, family=6)
    assert choice.remote_host == "2001:db8::5"
    assert b"c=IN IP6 2001:db8::1" in build_answer(choice, "2001:db8::1", 20000, 1, 1)


@pytest.mark.parametrize(
    "address",
    ["rtp.example.com", "2001:db8::5", "224.0.0.1", "127.0.0.1:6379", "127.1", "", "999.1.1.1"],
    ids=["hostname", "ipv6-on-ipv4", "multicast", "with-port", "short-form", "empty", "bad"],
)
def test_a_connection_address_must_be_an_ip_literal_of_our_family(address):
    offer = SIPP.replace(b"c=IN IP4 127.0.0.1", f"c=IN IP4 {address}".encode())
    with pytest.raises(NoCommonCodec):
        negotiate(offer)


def test_an_ipv4_address_is_refused_on_an_ipv6_socket():
    with pytest.raises(NoCommonCodec):
        negotiate(SIPP, family=6)


def test_payload_types_beyond_seven_bits_are_never_chosen():
    offer = SIPP.replace(b"RTP/AVP 0 8 96", b"RTP/AVP 300 96").replace(
        b"rtpmap:0 PCMU", b"rtpmap:300 PCMU"
    )
    with pytest.raises(NoCommonCodec):
        negotiate(offer)
    events = SIPP.replace(b"0 8 96", b"0 8 228").replace(b"rtpmap:96 ", b"rtpmap:228 ")
    assert negotiate(events).telephone_event_pt is None


def test_an_oversized_description_is_not_read():
    padding = b"a=x-filler:" + b"y" * 200 + b"\r\n"
    big = SIPP + padding * 100
    assert len(big) > 16 * 1024
    with pytest.raises(NoCommonCodec):
        negotiate(big)
