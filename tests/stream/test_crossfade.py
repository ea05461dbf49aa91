"""Equal-power crossfade: the ramps' powers sum to one; uncorrelated signals keep their level."""

from __future__ import annotations

import numpy as np
import pytest

from engine.stream.crossfade import crossfade, equal_power_ramps, fade_in, fade_out


@pytest.mark.parametrize("n", [1, 2, 17, 1323])
def test_the_ramps_hold_equal_power_at_every_sample(n) -> None:
    out, into = equal_power_ramps(n)
    np.testing.assert_allclose(out**2 + into**2, 1.0, atol=1e-6)
    assert np.all(np.diff(into) >= 0) and np.all(np.diff(out) <= 0)
    np.testing.assert_allclose(out, into[::-1], atol=1e-6)  # symmetric about the middle


def test_a_crossfade_of_uncorrelated_noise_keeps_its_power_where_a_linear_one_dips() -> None:
    rng = np.random.default_rng(0)
    n, trials = 1000, 400
    a = rng.standard_normal((trials, n)).astype(np.float32)
    b = rng.standard_normal((trials, n)).astype(np.float32)
    seam = crossfade(a, b)
    middle = slice(n // 2 - 50, n // 2 + 50)
    assert abs(np.mean(seam[:, middle] ** 2) - 1.0) < 0.05
    t = np.linspace(0, 1, n, dtype=np.float32)
    linear = a * (1 - t) + b * t
    assert np.mean(linear[:, middle] ** 2) < 0.55  # -3 dB in the middle


def test_crossfade_goes_from_the_old_signal_to_the_new() -> None:
    seam = crossfade(np.ones((1, 100), np.float32), -np.ones((1, 100), np.float32))
    assert seam[0, 0] > 0.99 and seam[0, -1] < -0.99
    with pytest.raises(ValueError, match="equal shapes"):
        crossfade(np.ones((1, 3)), np.ones((1, 4)))


def test_fades_ramp_from_and_to_silence_in_place() -> None:
    x = np.ones((2, 10), np.float32)
    fade_in(x, 4)
    assert x[0, 0] < 0.2 and x[1, 3] < 1 and np.all(x[:, 4:] == 1)
    y = np.ones((1, 3), np.float32)
    fade_out(y, 10)  # longer than the signal: the whole signal
    assert y[0, 0] > y[0, 2] > 0
