"""sample_window: context kept exactly, determinism, both modes, layer counts, bad plans."""

from __future__ import annotations

import numpy as np
import pytest

from engine.runtime.window import plan_window, sample_window


def window_inputs(served, frames: int = 24, n_known: int = 10):
    rng = np.random.default_rng(0)
    known = rng.standard_normal((served.latent_channels, frames)).astype(np.float32)
    text = served.text.embed(["a lively folk tune on fiddle"])[0]
    return text, known, n_known


@pytest.mark.parametrize("mode", ["diffusion", "distilled"])
def test_context_frames_come_out_unchanged_and_the_rest_is_generated(served, mode) -> None:
    text, known, n = window_inputs(served)
    plan = plan_window(served, steps=3, mode=mode)
    result = sample_window(served, plan, text, known, n, seed=3)
    assert result.latent.shape == known.shape and result.latent.dtype == np.float32
    np.testing.assert_array_equal(result.latent[:, :n], known[:, :n])
    assert np.all(np.isfinite(result.latent)) and not np.allclose(result.latent[:, n:], 0)


def test_the_same_seed_gives_the_same_window(served) -> None:
    text, known, n = window_inputs(served)
    plan = plan_window(served, steps=2)
    a = sample_window(served, plan, text, known, n, seed=5).latent
    b = sample_window(served, plan, text, known, n, seed=5).latent
    c = sample_window(served, plan, text, known, n, seed=6).latent
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_evaluation_counts_follow_the_sampler_and_guidance_batches_two(served) -> None:
    text, known, n = window_inputs(served)
    heun = plan_window(served, steps=4, sampler="heun")
    euler = plan_window(served, steps=4, sampler="euler", guidance=1.0)
    distilled = plan_window(served, steps=4, mode="distilled", guidance=5.0)
    assert len(sample_window(served, heun, text, known, n).evaluations) == 7  # 2 per step - 1
    assert len(sample_window(served, euler, text, known, n).evaluations) == 4
    assert heun.batch() == 2 and euler.batch() == 1
    assert distilled.guidance == 1.0 and distilled.batch() == 1  # guidance is distilled in
    assert len(heun.evaluations()) == 7


def test_the_budget_sets_the_blocks_run_at_each_noise_level(served) -> None:
    text, known, n = window_inputs(served)
    for budget in (0.0, 1.0):
        result = sample_window(served, plan_window(served, steps=3, budget=budget), text,
                               known, n)
        for sigma, k, _ in result.evaluations:
            assert k == served.schedule.n_blocks(sigma, budget)


def test_bad_plans_and_inputs_are_refused(served) -> None:
    text, known, n = window_inputs(served)
    with pytest.raises(ValueError, match="steps must be in"):
        plan_window(served, steps=0)
    with pytest.raises(ValueError, match="budget must be in"):
        plan_window(served, budget=-0.1)
    with pytest.raises(ValueError, match="unknown sampler"):
        plan_window(served, sampler="ddim")
    with pytest.raises(ValueError, match="sigmas must hold"):
        plan_window(served, steps=2, sigmas=(3.0, 1.0))
    plan = plan_window(served, steps=1)
    with pytest.raises(ValueError, match="channels"):
        sample_window(served, plan, text, known[:3], n)
    with pytest.raises(ValueError, match="n_known"):
        sample_window(served, plan, text, known, known.shape[1])


class RecordingModel:
    """The served model with every denoiser call's inputs and output kept."""

    def __init__(self, served) -> None:
        self.served, self.calls = served, []

    def __getattr__(self, name: str):
        return getattr(self.served, name)

    def denoiser(self, *args, **kwargs) -> np.ndarray:
        out = self.served.denoiser(*args, **kwargs)
        self.calls.append((args, out))
        return out


def test_context_guidance_extrapolates_away_from_a_pass_without_the_context(served) -> None:
    text, known, n = window_inputs(served)
    model = RecordingModel(served)
    plan = plan_window(served, steps=1, mode="distilled", context_guidance=2.0)
    assert plan.batch() == 2
    latent = sample_window(model, plan, text, known, n, seed=1).latent
    (x, _, texts, _, known_b, mask_b), out = model.calls[0][0][:6], model.calls[0][1]
    assert len(x) == 2 and np.array_equal(texts[0], texts[1])  # the prompt, twice
    assert mask_b[0, 0, :n].all() and not mask_b[1].any() and not known_b[1].any()
    expected = out[0] + 2.0 * (out[0] - out[1])  # one step to sigma 0: the latent is x0
    np.testing.assert_allclose(latent[:, n:], expected[:, n:], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(latent[:, :n], known[:, :n])


def test_context_guidance_adds_one_pass_to_guided_windows_and_none_without_context(
        served) -> None:
    text, known, n = window_inputs(served)
    plain = plan_window(served, steps=2)
    guided = plan_window(served, steps=2, context_guidance=1.5)
    assert plain.batch() == 2 and guided.batch() == 3
    model = RecordingModel(served)
    with_context = sample_window(model, guided, text, known, n, seed=4).latent
    assert {len(args[0]) for args, _ in model.calls} == {3}
    assert not np.allclose(with_context, sample_window(served, plain, text, known, n,
                                                       seed=4).latent)
    model.calls.clear()
    blind = sample_window(model, guided, text, known, 0, seed=4).latent  # nothing to guide by
    assert {len(args[0]) for args, _ in model.calls} == {2}
    np.testing.assert_array_equal(blind, sample_window(served, plain, text, known, 0,
                                                       seed=4).latent)
    with pytest.raises(ValueError, match="context guidance must be in"):
        plan_window(served, context_guidance=-1.0)


def test_context_inputs_stop_below_context_min_sigma(served) -> None:
    text, known, n = window_inputs(served)
    model = RecordingModel(served)
    plan = plan_window(served, steps=4, context_min_sigma=1.0)
    latent = sample_window(model, plan, text, known, n, seed=2).latent
    sigmas = [float(args[1][0]) for args, _ in model.calls]
    assert min(sigmas) < 1.0 <= max(sigmas)
    for args, _ in model.calls:
        sigma, known_b, mask_b = float(args[1][0]), args[4], args[5]
        given = sigma >= 1.0
        assert bool(mask_b[:, 0, :n].all()) is given and bool(known_b.any()) is given
        assert not mask_b[:, 0, n:].any()
    np.testing.assert_array_equal(latent[:, :n], known[:, :n])  # still pasted throughout
    always = sample_window(served, plan_window(served, steps=4), text, known, n, seed=2).latent
    assert not np.allclose(latent, always)
    with pytest.raises(ValueError, match="context_min_sigma must be >= 0"):
        plan_window(served, context_min_sigma=-0.5)
