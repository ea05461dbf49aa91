"""Protocol 1 framing and client-message checks, without sockets."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from engine.server import protocol as P


def test_the_audio_header_is_the_documented_24_bytes() -> None:
    assert P.HEADER.format == "<4sBBBBIQI" and P.HEADER.size == 24
    pcm = np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5)
    data = P.encode_audio(seq=7, start=2**40, pcm=pcm)
    assert data[:4] == b"PRST" and len(data) == 24 + 10 * 4
    assert struct.unpack_from("<4sBBBBIQI", data) == (b"PRST", 1, 2, 1, 0, 7, 2**40, 5)
    header, back = P.decode_audio(data)
    assert header.sample == 2**40 and header.frames == 5
    np.testing.assert_array_equal(back, pcm)
    # interleaved: frame 0 of both channels first
    assert np.frombuffer(data[24:32], "<f4").tolist() == [pcm[0, 0], pcm[1, 0]]


def test_s16le_is_clipped_and_scaled() -> None:
    pcm = np.array([[0.0, 0.5, -1.0, 2.0]], dtype=np.float32)
    data = P.encode_audio(1, 0, pcm, P.S16LE)
    assert P.decode_header(data).fmt == 2 and len(data) == 24 + 8
    assert np.frombuffer(data[24:], "<i2").tolist() == [0, 16384, -32767, 32767]
    with pytest.raises(ValueError, match="24-byte header"):
        P.decode_header(b"PRST")


@pytest.mark.parametrize("text, code", [
    ("{nope", "bad_json"),
    ("NaN", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"set": {}}', "bad_message"),
    ('{"type": 5}', "bad_message"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "ping", "extra": 1}', "unknown_field"),
    ('{"type": "ping", "id": [1]}', "bad_value"),
    ('{"type": "ping", "id": "' + "x" * 65 + '"}', "bad_value"),
    ('{"type": "auth"}', "bad_value"),
    ('{"type": "control", "set": {}, "token": 5}', "bad_value"),
    ("[" * 100000 + "]" * 100000, "bad_json"),
])
def test_malformed_client_messages_get_an_error_code(text, code) -> None:
    with pytest.raises(P.ProtocolError) as info:
        P.parse_client_text(text)
    assert info.value.code == code and len(str(info.value)) < 400


def test_good_client_messages_pass_with_their_id() -> None:
    msg = P.parse_client_text('{"type": "control", "id": 3, "set": {"budget": 0.5}}')
    assert msg["id"] == 3 and msg["set"] == {"budget": 0.5}
    assert P.parse_client_text('{"type": "auth", "token": "t"}')["token"] == "t"
    assert P.dump(P.finite_json({"x": float("inf"), "y": [1.5]})) == '{"x":null,"y":[1.5]}'
