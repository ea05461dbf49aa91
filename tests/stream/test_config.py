"""Stream settings: the hop in whole latent frames, validated against the model's window."""

from __future__ import annotations

import pytest

from engine.stream.config import StreamConfig


def test_the_geometry_rounds_the_hop_to_frames(served) -> None:
    geo = StreamConfig(hop_seconds=0.2).geometry(served)
    assert geo.window_frames == served.window_frames == 24
    assert geo.hop_frames == 4 and geo.hop_samples == 4 * served.samples_per_latent
    assert geo.context_frames == 20 and geo.hop_seconds == pytest.approx(4 * 2048 / 44100)
    assert geo.ring_samples >= 2 * geo.hop_samples and geo.crossfade_samples == 1323


@pytest.mark.parametrize("hop", [0.01, 0.8, 2.0])
def test_a_hop_that_does_not_fit_the_window_is_refused_with_the_sizes(served, hop) -> None:
    with pytest.raises(ValueError, match=r"window is 24 frames \(1.11 s\)"):
        StreamConfig(hop_seconds=hop).geometry(served)


@pytest.mark.parametrize("kw, word", [
    ({"hop_seconds": 0}, "hop_seconds"), ({"target_load": 0}, "target_load"),
    ({"budget": 2}, "budget"), ({"glide_hops": 0}, "glide_hops"),
    ({"max_steps": 0}, "max_steps"), ({"variation": -1}, "variation"),
])
def test_bad_settings_are_refused(kw, word) -> None:
    with pytest.raises(ValueError, match=word):
        StreamConfig(**kw)
