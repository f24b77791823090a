"""Offer/answer per dialog: early and delayed offers, re-INVITEs, hold, o= versions.

Cases follow RFC 3264 (§6 answers, §8 modifying the session, §8.4 hold) and RFC 6337 (§3.1
offer in the 2xx, answer in the ACK; §5.1 unchanged offers keep their version; §5.3 hold).
"""

import pytest

from ivr.sip.offer_answer import NoAnswer, NotAcceptable, OfferAnswer, OfferPending, Phase
from ivr.sip.sdp import negotiate


def sdp(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def offer(
    *, port: int = 6000, codecs: str = "0 8 101", host: str = "127.0.0.1", extra: tuple = ()
) -> bytes:
    return sdp(
        "v=0",
        "o=phone 1 1 IN IP4 127.0.0.1",
        "s=-",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {codecs}",
        "a=rtpmap:101 telephone-event/8000",
        *extra,
    )


def origin(description: bytes) -> tuple[int, int]:
    """(session id, version) of an SDP's o= line."""
    line = next(x for x in description.decode().splitlines() if x.startswith("o="))
    _, session_id, version, *_ = line.split()
    return int(session_id), int(version)


def attribute(description: bytes, name: str) -> bool:
    return f"a={name}" in description.decode().splitlines()


@pytest.fixture
def dialog() -> OfferAnswer:
    return OfferAnswer("127.0.0.1", 20000)


def established(dialog: OfferAnswer, body: bytes | None = None) -> bytes:
    return dialog.invite(offer() if body is None else body)


# --- the first INVITE -------------------------------------------------------------------------


def test_early_offer_is_answered_in_the_200_and_agreed_at_once(dialog: OfferAnswer) -> None:
    answer = dialog.invite(offer(codecs="8 0 101"))
    assert dialog.phase is Phase.STABLE
    assert dialog.choice is not None and dialog.choice.codec == "PCMA"
    assert "m=audio 20000 RTP/AVP 8 101" in answer.decode()
    assert origin(answer) == (20000, 1)
    assert dialog.ack(b"") is None  # the ACK adds nothing to an early offer


def test_offer_we_cannot_serve_is_refused_and_nothing_is_agreed(dialog: OfferAnswer) -> None:
    with pytest.raises(NotAcceptable):
        dialog.invite(offer(codecs="18 101", extra=("a=rtpmap:18 G729/8000",)))
    assert dialog.choice is None


def test_delayed_offer_our_offer_in_the_200_the_answer_in_the_ack(dialog: OfferAnswer) -> None:
    ours = dialog.invite(b"")
    assert dialog.phase is Phase.OFFER_SENT and dialog.choice is None
    assert "m=audio 20000 RTP/AVP 0 8 101" in ours.decode()
    assert attribute(ours, "sendrecv") and origin(ours) == (20000, 1)
    settled = dialog.ack(offer(codecs="8 101"))
    assert settled is not None and settled.codec == "PCMA" and settled.remote_port == 6000
    assert dialog.phase is Phase.STABLE and dialog.choice == settled


@pytest.mark.parametrize(
    "ack_body",
    [b"", b"garbage", offer(codecs="18", extra=("a=rtpmap:18 G729/8000",))],
    ids=["no-body", "garbage", "no-offered-codec"],
)
def test_delayed_offer_without_a_usable_answer_means_bye(
    dialog: OfferAnswer, ack_body: bytes
) -> None:
    dialog.invite(b"")
    with pytest.raises(NoAnswer):
        dialog.ack(ack_body)


def test_a_second_initial_invite_is_a_programming_error(dialog: OfferAnswer) -> None:
    established(dialog)
    with pytest.raises(RuntimeError):
        dialog.invite(offer())


# --- re-INVITE with an offer ------------------------------------------------------------------


def test_identical_reoffer_gets_the_same_answer_and_version(dialog: OfferAnswer) -> None:
    first = established(dialog)
    again = dialog.reinvite(offer())
    assert again == first and origin(again) == (20000, 1)  # RFC 6337 §5.1


def test_new_remote_address_is_followed_and_our_answer_keeps_its_version(
    dialog: OfferAnswer,
) -> None:
    established(dialog)
    answer = dialog.reinvite(offer(port=7000, host="127.0.0.2"))
    assert dialog.choice is not None
    assert (dialog.choice.remote_host, dialog.choice.remote_port) == ("127.0.0.2", 7000)
    assert origin(answer) == (20000, 1)  # our side did not change


@pytest.mark.parametrize(
    ("hold", "ours"),
    [
        (("a=sendonly",), "recvonly"),  # RFC 3264 §8.4
        (("a=inactive",), "inactive"),
        (("c=IN IP4 0.0.0.0",), "recvonly"),  # RFC 2543 hold: it may still send, we may not
    ],
    ids=["sendonly", "inactive", "c=0.0.0.0"],
)
def test_hold_and_resume_flip_our_direction_and_bump_the_version_each_time(
    dialog: OfferAnswer, hold: tuple[str, ...], ours: str
) -> None:
    established(dialog)
    held = dialog.reinvite(offer(extra=hold))
    assert dialog.choice is not None and not dialog.choice.sending
    assert attribute(held, ours) and origin(held) == (20000, 2)
    resumed = dialog.reinvite(offer())
    assert dialog.choice.sending and attribute(resumed, "sendrecv")
    assert origin(resumed) == (20000, 3)


def test_connection_level_hold_address_applies_to_the_media() -> None:
    dialog = OfferAnswer("127.0.0.1", 20000)
    established(dialog)
    held = dialog.reinvite(offer(host="0.0.0.0"))
    assert attribute(held, "recvonly") and origin(held)[1] == 2
    assert dialog.choice is not None and not dialog.choice.sending


def test_codec_change_is_refused_with_488_and_the_session_stays(dialog: OfferAnswer) -> None:
    first = established(dialog, offer(codecs="0 101"))
    before = dialog.choice
    with pytest.raises(NotAcceptable, match="codec change"):
        dialog.reinvite(offer(codecs="8 101"))
    assert dialog.choice == before
    assert dialog.reinvite(offer(codecs="0 101")) == first  # nothing was bumped meanwhile


def test_reoffer_we_cannot_serve_is_refused_and_the_session_stays(dialog: OfferAnswer) -> None:
    established(dialog)
    before = dialog.choice
    with pytest.raises(NotAcceptable):
        dialog.reinvite(b"v=0\r\nm=video 5000 RTP/AVP 96\r\n")
    assert dialog.choice == before and dialog.phase is Phase.STABLE


def test_reoffer_keeping_the_codec_first_among_others_is_accepted(dialog: OfferAnswer) -> None:
    established(dialog, offer(codecs="0 101"))
    answer = dialog.reinvite(offer(codecs="0 8 101"))
    assert "RTP/AVP 0 101" in answer.decode()


def test_declined_streams_keep_their_place_in_later_answers(dialog: OfferAnswer) -> None:
    with_video = offer(extra=("m=video 5002 RTP/AVP 96", "a=rtpmap:96 H264/90000"))
    answer = dialog.invite(with_video)
    assert "m=video 0 RTP/AVP 96" in answer.decode()
    refresh = dialog.reinvite(b"")
    lines = refresh.decode().splitlines()
    assert [x.split()[0] for x in lines if x.startswith("m=")] == ["m=audio", "m=video"]
    assert "m=video 0 RTP/AVP 96" in lines  # RFC 3264 §8: never fewer m= lines


# --- re-INVITE without an offer (a session refresh) -------------------------------------------


def test_refresh_offers_the_session_as_it_stands_with_the_same_version(
    dialog: OfferAnswer,
) -> None:
    first = established(dialog, offer(codecs="0 101"))
    ours = dialog.reinvite(b"")
    assert ours == first and dialog.phase is Phase.OFFER_SENT
    settled = dialog.ack(offer(codecs="0 101"))
    assert settled is not None and dialog.phase is Phase.STABLE


def test_refresh_after_a_delayed_offer_narrows_to_the_codec_in_use(dialog: OfferAnswer) -> None:
    dialog.invite(b"")
    dialog.ack(offer(codecs="8 101"))
    ours = dialog.reinvite(b"")
    assert "m=audio 20000 RTP/AVP 8 101" in ours.decode()
    assert origin(ours) == (20000, 2)  # our description changed (one codec instead of two)


def test_refresh_while_held_offers_sendrecv_and_the_holder_answer_keeps_hold(
    dialog: OfferAnswer,
) -> None:
    established(dialog)
    dialog.reinvite(offer(extra=("a=sendonly",)))  # the caller holds: we answered recvonly
    ours = dialog.reinvite(b"")
    assert attribute(ours, "sendrecv") and origin(ours)[1] == 3  # RFC 6337 §5.3
    settled = dialog.ack(offer(extra=("a=sendonly",)))  # still holding
    assert settled is not None and not settled.sending


def test_refresh_answered_with_a_new_address_moves_the_media(dialog: OfferAnswer) -> None:
    established(dialog)
    dialog.reinvite(b"")
    settled = dialog.ack(offer(port=7002))
    assert settled is not None and settled.remote_port == 7002


def test_refresh_answered_with_another_codec_or_nothing_keeps_the_session(
    dialog: OfferAnswer,
) -> None:
    established(dialog, offer(codecs="0 101"))
    before = dialog.choice
    dialog.reinvite(b"")
    assert dialog.ack(offer(codecs="8 101")) is None
    assert dialog.choice == before and dialog.phase is Phase.STABLE
    dialog.reinvite(b"")
    assert dialog.ack(b"") is None and dialog.choice == before


def test_an_offer_while_ours_waits_for_its_answer_is_glare(dialog: OfferAnswer) -> None:
    established(dialog)
    dialog.reinvite(b"")
    with pytest.raises(OfferPending):
        dialog.reinvite(offer())


def test_our_descriptions_parse_back_to_the_agreed_media(dialog: OfferAnswer) -> None:
    answer = established(dialog, offer(codecs="0 101", extra=("a=sendonly",)))
    mirrored = negotiate(answer)  # the caller reading our answer
    assert mirrored.codec == "PCMU" and mirrored.remote_port == 20000
    assert mirrored.direction == "sendonly"  # we said recvonly: from its side it may send


def test_an_address_of_the_other_ip_family_is_not_acceptable(dialog: OfferAnswer) -> None:
    with pytest.raises(NotAcceptable):
        dialog.invite(offer(host="::1"))
    six = OfferAnswer("::1", 20000, family=6)
    assert "c=IN IP6 ::1" in six.invite(offer(host="::1")).decode()


def test_a_public_ivr_sends_no_media_to_loopback_or_well_known_ports() -> None:
    public = OfferAnswer("203.0.113.10", 20000)
    for host, port in (("127.0.0.1", 6379), ("127.9.9.9", 6000), ("198.51.100.7", 22)):
        with pytest.raises(NotAcceptable):
            public.invite(offer(host=host, port=port))
    assert public.phase is Phase.IDLE and public.choice is None
    answer = public.invite(offer(host="198.51.100.7", port=6000))
    assert "c=IN IP4 203.0.113.10" in answer.decode()
    assert public.choice is not None and public.choice.remote_host == "198.51.100.7"


def test_an_ivr_on_loopback_talks_to_loopback_phones(dialog: OfferAnswer) -> None:
    established(dialog, offer(host="127.0.0.1", port=6000))
    assert dialog.choice is not None and dialog.choice.remote_host == "127.0.0.1"
    with pytest.raises(NotAcceptable):  # a well-known port, even on loopback
        dialog.reinvite(offer(host="127.0.0.1", port=1023))
    assert dialog.choice.remote_port == 6000
