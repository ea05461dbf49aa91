import numpy as np
import pytest

from engine.edm.schedule import distilled_sigmas, karras_sigmas


def test_karras_schedule_runs_from_sigma_max_to_sigma_min_then_zero():
    s = karras_sigmas(10, sigma_min=0.002, sigma_max=80.0)
    assert s.shape == (11,)
    assert s[0] == pytest.approx(80.0)
    assert s[-2] == pytest.approx(0.002)
    assert s[-1] == 0.0
    assert np.all(np.diff(s) < 0)


def test_karras_schedule_is_uniform_in_sigma_to_the_one_over_rho():
    s = karras_sigmas(6, 0.01, 10.0, rho=7.0)[:-1]
    steps = np.diff(s ** (1 / 7))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-10)


def test_karras_schedule_with_one_step_goes_straight_to_zero():
    np.testing.assert_array_equal(karras_sigmas(1, 0.002, 80.0), [80.0, 0.0])


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 5, "sigma_min": 0.0},
                                    {"n": 5, "sigma_min": 2.0, "sigma_max": 1.0}])
def test_karras_schedule_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        karras_sigmas(**kwargs)


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_distilled_sigmas_never_spend_a_step_at_sigma_min(n: int) -> None:
    s = distilled_sigmas(n)
    assert s.shape == (n + 1,) and s[0] == 80.0 and s[-1] == 0.0
    assert np.all(np.diff(s) < 0)
    assert s[n - 1] > 0.01  # the last call is a real denoising step, not the identity
    np.testing.assert_allclose(s[:n], karras_sigmas(n + 1)[:n])
