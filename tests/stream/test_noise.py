"""Per-hop noise: reproducible, and the variation knob keeps unit variance between two takes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.stream.noise import hop_rng


def draw(seed: int, hop: int, variation: float) -> np.ndarray:
    return hop_rng(seed, hop, variation).standard_normal((4, 5000), dtype=np.float32)


def test_the_same_seed_and_hop_give_the_same_noise_and_others_differ() -> None:
    np.testing.assert_array_equal(draw(3, 7, 0.0), draw(3, 7, 0.0))
    assert not np.allclose(draw(3, 7, 0.0), draw(3, 8, 0.0))
    assert not np.allclose(draw(3, 7, 0.0), draw(4, 7, 0.0))


@pytest.mark.parametrize("variation", [0.0, 0.3, 0.5, 1.0])
def test_every_variation_is_unit_variance_noise(variation) -> None:
    x = draw(1, 2, variation)
    assert x.dtype == np.float32
    assert abs(x.std() - 1.0) < 0.03 and abs(x.mean()) < 0.03


def test_variation_moves_continuously_away_from_the_seeds_own_take() -> None:
    base = draw(1, 2, 0.0)
    corr = [np.corrcoef(base.ravel(), draw(1, 2, v).ravel())[0, 1] for v in (0.1, 0.5, 1.0)]
    assert corr[0] > 0.95 and 0.5 < corr[1] < 0.9 and abs(corr[2]) < 0.05


def test_variation_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="variation"):
        hop_rng(0, 0, 1.5)
