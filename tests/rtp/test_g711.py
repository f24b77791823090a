import numpy as np
import pytest

from ivr.rtp import g711


def test_ulaw_decode_matches_reference_points():
    pcm = g711.ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00, 0xEF, 0x6F]))
    assert pcm.dtype == np.int16
    assert pcm.tolist() == [0, 0, 32124, -32124, 132, -132]


def test_alaw_decode_matches_reference_points():
    pcm = g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))
    assert pcm.tolist() == [8, -8, 32256, -32256]


@pytest.mark.parametrize("codec", [g711.PCMU, g711.PCMA])
def test_every_code_survives_decode_then_encode(codec):
    codes = bytes(range(256))
    again = codec.encode(codec.decode(codes))
    expected = bytearray(codes)
    if codec is g711.PCMU:
        expected[0x7F] = 0xFF  # µ-law has two zeros; the encoder writes the positive one
    assert again == bytes(expected)


@pytest.mark.parametrize("codec", [g711.PCMU, g711.PCMA])
def test_quantization_error_is_within_half_a_step_of_the_segment(codec):
    samples = np.arange(-32768, 32768, dtype=np.int16)
    decoded = codec.decode(codec.encode(samples)).astype(np.int32)
    error = np.abs(decoded - samples.astype(np.int32))
    # G.711 keeps ~4 bits of mantissa: error below 1/16 of the magnitude plus the smallest step
    assert np.all(error <= np.abs(samples.astype(np.int32)) / 16 + 16)
    assert np.all(np.diff(decoded) >= 0)  # monotonic: louder in, louder out


@pytest.mark.parametrize(("codec", "byte"), [(g711.PCMU, 0xFF), (g711.PCMA, 0xD5)])
def test_silence_frame_is_encoded_zero(codec, byte):
    assert codec.silence_frame == bytes([byte]) * 160
    assert codec.encode(np.zeros(160, dtype=np.int16)) == codec.silence_frame


def test_codec_named_accepts_sdp_spelling():
    assert g711.codec_named("pcma") is g711.PCMA
    with pytest.raises(KeyError):
        g711.codec_named("opus")
