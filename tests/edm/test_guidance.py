import numpy as np

from engine.edm import classifier_free_guidance, paste_known, sample_heun


def cond(x, sigma):
    return x * 0.5 + 1.0


def uncond(x, sigma):
    return x * 0.25 - 1.0


def test_guidance_one_is_the_conditional_denoiser_itself():
    assert classifier_free_guidance(cond, uncond, 1.0) is cond


def test_guidance_zero_is_the_unconditional_denoiser():
    x = np.linspace(-2, 2, 7)
    np.testing.assert_allclose(classifier_free_guidance(cond, uncond, 0.0)(x, 1.0), uncond(x, 1))


def test_guidance_extrapolates_from_unconditional_through_conditional():
    x = np.linspace(-2, 2, 7)
    w = 3.0
    expected = uncond(x, 1.0) + w * (cond(x, 1.0) - uncond(x, 1.0))
    np.testing.assert_allclose(classifier_free_guidance(cond, uncond, w)(x, 1.0), expected)


def test_paste_known_keeps_context_frames_exactly_through_sampling():
    rng = np.random.default_rng(0)
    known = rng.standard_normal((2, 4, 10))
    mask = (np.arange(10) < 6).astype(np.float64)[None, None].repeat(2, 0)  # (2, 1, 10)
    denoise = paste_known(lambda x, s: x * 0.0, known, mask)
    out = sample_heun(denoise, rng.standard_normal((2, 4, 10)) * 80, [80.0, 1.0, 0.0])
    np.testing.assert_allclose(out[..., :6], known[..., :6])
    np.testing.assert_allclose(out[..., 6:], 0.0)
