"""Samplers against a problem with a closed-form answer.

For data x0 ~ N(mu, s^2) (each element independent) the ideal denoiser is
D(x, sigma) = mu + s^2 / (s^2 + sigma^2) * (x - mu), and the probability-flow
ODE maps x(sigma_max) = mu + sqrt(s^2 + sigma_max^2) z to x(0) = mu + s z.
"""

import numpy as np
import pytest
import torch

from engine.edm import SAMPLERS, karras_sigmas, sample_dpmpp_2m, sample_euler, sample_heun

MU, S = 0.7, 0.5
SIGMA_MAX = 80.0


def gaussian_denoiser(x, sigma):
    return MU + (x - MU) * (S**2 / (S**2 + sigma**2))


def start_and_answer(shape=(4, 3, 16), seed=0):
    z = np.random.default_rng(seed).standard_normal(shape)
    return MU + np.sqrt(S**2 + SIGMA_MAX**2) * z, MU + S * z


def sample_error(sampler, steps, as_torch=False):
    x, exact = start_and_answer()
    if as_torch:
        x = torch.from_numpy(x)
    sigmas = karras_sigmas(steps, 0.002, SIGMA_MAX)
    out = sampler(gaussian_denoiser, x, sigmas)
    out = out.numpy() if as_torch else out
    return float(np.abs(out - exact).max())


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_each_sampler_reaches_the_exact_ode_solution(name):
    # from x(80) of scale 80 down to x(0) of scale 0.5
    assert sample_error(SAMPLERS[name], 64) < (0.06 if name == "euler" else 0.006)


def test_euler_is_first_order_and_heun_and_dpmpp_2m_second_order():
    # Doubling the steps divides the error by about 2**order.
    assert sample_error(sample_euler, 32) / sample_error(sample_euler, 64) == pytest.approx(
        2.0, rel=0.1)
    for sampler in (sample_heun, sample_dpmpp_2m):
        assert sample_error(sampler, 32) / sample_error(sampler, 64) == pytest.approx(
            4.0, rel=0.25)


def test_second_order_samplers_beat_euler_at_the_same_step_count():
    euler = sample_error(sample_euler, 32)
    assert sample_error(sample_heun, 32) < euler / 4
    assert sample_error(sample_dpmpp_2m, 32) < euler / 4


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_give_the_same_answer_on_numpy_and_torch(name):
    x, _ = start_and_answer()
    sigmas = karras_sigmas(10, 0.002, SIGMA_MAX)
    out_np = SAMPLERS[name](gaussian_denoiser, x, sigmas)
    out_torch = SAMPLERS[name](gaussian_denoiser, torch.from_numpy(x), sigmas)
    assert isinstance(out_np, np.ndarray) and isinstance(out_torch, torch.Tensor)
    np.testing.assert_allclose(out_torch.numpy(), out_np, rtol=1e-12, atol=1e-12)


def test_samplers_accept_a_torch_schedule_and_keep_float32():
    x, _ = start_and_answer()
    x = torch.from_numpy(x).float()
    sigmas = torch.from_numpy(karras_sigmas(8, 0.002, SIGMA_MAX))
    assert sample_dpmpp_2m(gaussian_denoiser, x, sigmas).dtype == torch.float32


def test_sampler_evaluation_counts_and_callback():
    calls = []

    def counting(x, sigma):
        calls.append(sigma)
        return gaussian_denoiser(x, sigma)

    x, _ = start_and_answer()
    sigmas = karras_sigmas(5, 0.002, SIGMA_MAX)
    seen = []
    sample_euler(counting, x, sigmas, callback=lambda i, s, d: seen.append(i))
    assert len(calls) == 5 and seen == [0, 1, 2, 3, 4]
    calls.clear()
    sample_heun(counting, x, sigmas)
    assert len(calls) == 2 * 5 - 1  # the last step, to sigma = 0, is Euler
    calls.clear()
    sample_dpmpp_2m(counting, x, sigmas)
    assert len(calls) == 5
    assert all(isinstance(s, float) for s in calls)


@pytest.mark.parametrize("sigmas", [[1.0], [1.0, 2.0, 0.0], [1.0, -0.5]])
def test_samplers_reject_bad_schedules(sigmas):
    with pytest.raises(ValueError):
        sample_euler(gaussian_denoiser, np.zeros(3), sigmas)
