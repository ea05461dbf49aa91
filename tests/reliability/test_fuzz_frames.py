"""Property-based fuzzing of the Python client's binary frame parser (clients.listen): any
bytes, and frames with a plausible header and any fields or body length, either decode
into exactly what the header says or raise ProtocolViolation, its documented error; and
the contiguity checker takes any sequence of frames and skips without raising."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clients.listen import HEADER, Continuity, ProtocolViolation, decode_frame

FUZZ = settings(max_examples=300, deadline=None, database=None)
WIDTH = {1: 4, 2: 2}


def check(data: bytes) -> None:
    for samples in (True, False):
        try:
            frame = decode_frame(data, samples=samples)
        except ProtocolViolation as error:
            assert str(error)
            continue
        assert data[:4] == b"PRST" and frame.fmt in WIDTH and frame.channels >= 1
        assert len(data) == HEADER.size + frame.frames * frame.channels * WIDTH[frame.fmt]
        if samples:
            assert frame.pcm.shape == (frame.channels, frame.frames)
            assert frame.pcm.dtype == np.float32


@FUZZ
@given(st.binary(max_size=256))
@example(b"")
@example(b"PRST")
@example(HEADER.pack(b"PRST", 1, 1, 1, 0, 0, 0, 0))
def test_any_bytes_decode_or_raise_protocol_violation(data: bytes) -> None:
    check(data)


@st.composite
def near_frames(draw) -> bytes:
    magic = draw(st.sampled_from([b"PRST", b"PRST", b"PRSX", b"\x00\x00\x00\x00"]))
    version = draw(st.sampled_from([1, 1, 1, 0, 2, 255]))
    channels = draw(st.integers(0, 255))
    fmt = draw(st.integers(0, 4))
    reserved = draw(st.sampled_from([0, 0, 0, 1, 255]))
    seq = draw(st.integers(0, 2**32 - 1))
    sample = draw(st.integers(0, 2**64 - 1))
    frames = draw(st.integers(0, 64) | st.integers(0, 2**32 - 1))
    body = WIDTH.get(fmt, 4) * channels * frames if frames <= 64 else draw(st.integers(0, 64))
    body += draw(st.sampled_from([0, 0, 0, -1, 1, 3]))
    noise = draw(st.binary(min_size=max(0, body), max_size=max(0, body)))
    return HEADER.pack(magic, version, channels, fmt, reserved, seq, sample, frames) + noise


@FUZZ
@given(near_frames())
def test_frames_with_a_plausible_header_decode_or_raise_protocol_violation(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.lists(st.one_of(
    st.tuples(st.just("audio"), st.integers(0, 2**32 - 1), st.integers(0, 2**40),
              st.integers(0, 4096)),
    st.tuples(st.just("skip"), st.none() | st.integers(0, 2**40) | st.text(max_size=5),
              st.none() | st.integers(0, 2**40) | st.floats(), st.just(0))), max_size=30))
def test_the_contiguity_check_takes_any_sequence_without_raising(events) -> None:
    c = Continuity()
    for kind, a, b, n in events:
        if kind == "audio":
            pcm = np.zeros((1, n), dtype=np.float32)
            data = HEADER.pack(b"PRST", 1, 1, 1, 0, a, b, n) + pcm.tobytes()
            c.audio(decode_frame(data))
        else:
            c.skip({"type": "skip", "from_sample": a, "to_sample": b})
    assert c.blocks == sum(1 for e in events if e[0] == "audio")
    assert all(isinstance(v, str) for v in c.violations)
