"""Latent ring and PCM ring: positions, wrap-around, underruns and overruns counted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.stream.latent_ring import LatentRing
from engine.stream.pcm_ring import PcmRing


def ramp(start: int, n: int, channels: int = 1) -> np.ndarray:
    """(C, n) audio whose values are their own sample indices (and channel offsets)."""
    return (np.arange(start, start + n, dtype=np.float32)[None]
            + 1000 * np.arange(channels, dtype=np.float32)[:, None])


def test_latent_ring_keeps_the_newest_frames_in_order() -> None:
    ring = LatentRing(channels=2, frames=6)
    ring.append(np.tile(np.arange(4, dtype=np.float32), (2, 1)))
    assert len(ring) == 4 and ring.last(4)[0].tolist() == [0, 1, 2, 3]
    ring.append(np.tile(np.arange(4, 7, dtype=np.float32), (2, 1)))
    assert len(ring) == 6 and ring.last(6)[1].tolist() == [1, 2, 3, 4, 5, 6]
    ring.append(np.tile(np.arange(10, 20, dtype=np.float32), (2, 1)))  # longer than the ring
    assert ring.last(3)[0].tolist() == [17, 18, 19] and ring.total == 17
    ring.clear()
    assert len(ring) == 0
    with pytest.raises(ValueError, match="holds 0"):
        ring.last(1)
    with pytest.raises(ValueError, match="latent frames"):
        ring.append(np.zeros((3, 2), np.float32))


def test_pcm_ring_reads_back_what_was_written_across_the_wrap() -> None:
    ring = PcmRing(channels=2, capacity=10)
    assert ring.write(ramp(0, 7, 2)) == 0
    start, out = ring.read(5)
    assert start == 0 and np.array_equal(out, ramp(0, 5, 2))
    assert ring.write(ramp(7, 6, 2)) == 7  # wraps
    start, out = ring.read(8)
    assert start == 5 and np.array_equal(out, ramp(5, 8, 2))
    assert ring.fill == 0 and ring.underruns == 0 and ring.overruns == 0


def test_an_underrun_is_counted_pads_silence_and_keeps_the_timeline() -> None:
    ring = PcmRing(channels=1, capacity=100, fade=4)
    ring.write(np.ones((1, 10), np.float32))
    start, out = ring.read(16)
    assert start == 0 and out.shape == (1, 16)
    assert ring.underruns == 1 and ring.underrun_samples == 6
    assert np.all(out[0, 10:] == 0) and np.all(out[0, :6] == 1)
    assert 0 < out[0, 9] < out[0, 6] < 1  # faded out into the silence
    assert ring.write_pos == 16 and ring.read_pos == 16  # the silence took samples 10..15
    assert ring.write(np.ones((1, 8), np.float32)) == 16
    _, back = ring.read(8)
    assert back[0, 0] < back[0, 3] < 1 and back[0, 7] == 1  # faded back in


def test_a_short_read_while_paused_counts_nothing() -> None:
    ring = PcmRing(channels=1, capacity=100)
    ring.write(np.ones((1, 5), np.float32))
    start, out = ring.read(16, short_ok=True)
    assert (start, out.shape[1], ring.underruns) == (0, 5, 0)
    assert ring.read(16, short_ok=True)[1].shape == (1, 0)


def test_an_overrun_drops_the_oldest_unsent_audio_and_is_counted() -> None:
    ring = PcmRing(channels=1, capacity=10)
    ring.write(ramp(0, 8))
    ring.write(ramp(8, 5))
    assert ring.overruns == 1 and ring.overrun_samples == 3
    start, out = ring.read(10)
    assert start == 3 and np.array_equal(out, ramp(3, 10))


def test_truncate_keeps_a_faded_tail_and_drops_the_rest() -> None:
    ring = PcmRing(channels=1, capacity=100)
    ring.write(np.ones((1, 50), np.float32))
    ring.read(10)
    assert ring.truncate(8) == 18
    _, out = ring.read(20, short_ok=True)
    assert out.shape == (1, 8) and out[0, 0] > out[0, 7] > 0
    assert ring.fill == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=40))
def test_without_under_or_overruns_the_ring_is_a_fifo(ops) -> None:
    ring = PcmRing(channels=2, capacity=64)
    written = read = 0
    for is_write, n in ops:
        if is_write:
            n = min(n, ring.free())
            if n:
                ring.write(ramp(written, n, 2))
                written += n
        else:
            n = min(n, ring.fill)
            if n:
                start, out = ring.read(n)
                assert start == read and np.array_equal(out, ramp(read, n, 2))
                read += n
    assert ring.underruns == ring.overruns == 0 and ring.fill == written - read
