"""Prompt glide: unit embeddings all the way along the great circle, landing in `hops` hops."""

from __future__ import annotations

import numpy as np

from engine.stream.prompt_glide import PromptGlide, slerp


def unit(seed: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def angle(u: np.ndarray, v: np.ndarray) -> float:
    """The angle between u and v, accurate near 0 whatever their float32 norms (arccos of a
    float32 dot product is off by ~5e-4 there)."""
    u, v = (x.astype(np.float64) / np.linalg.norm(x.astype(np.float64)) for x in (u, v))
    return float(2 * np.arctan2(np.linalg.norm(u - v), np.linalg.norm(u + v)))


def test_slerp_ends_at_both_vectors_and_stays_on_the_sphere() -> None:
    a, b = unit(0), unit(1)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-6)
    mids = [slerp(a, b, t) for t in np.linspace(0, 1, 9)]
    np.testing.assert_allclose([np.linalg.norm(m) for m in mids], 1.0, atol=1e-5)
    angles = [angle(a, m) for m in mids]
    np.testing.assert_allclose(np.diff(angles), angles[-1] / 8, atol=1e-4)  # constant speed
    np.testing.assert_allclose(slerp(a, a, 0.5), a, atol=1e-6)  # parallel: no NaN


def test_a_glide_reaches_the_target_after_its_hops_and_only_moves_on_advance() -> None:
    a, b = unit(0), unit(1)
    glide = PromptGlide(a, hops=3)
    assert not glide.gliding
    np.testing.assert_array_equal(glide.peek(), a)
    glide.retarget(b)
    first = glide.peek()
    np.testing.assert_array_equal(first, glide.peek())  # a redone hop sees the same step
    assert a @ b < a @ first < 1.0 and glide.hops_left == 3
    glide.advance()
    glide.advance()
    assert glide.gliding and glide.hops_left == 1
    glide.advance()
    assert not glide.gliding
    np.testing.assert_allclose(glide.peek(), b, atol=1e-6)


def test_retargeting_mid_glide_starts_from_where_the_stream_is() -> None:
    a, b, c = unit(0), unit(1), unit(2)
    glide = PromptGlide(a, hops=2)
    glide.retarget(b)
    glide.advance()  # halfway to b
    here = glide.current
    glide.retarget(c)
    step = glide.peek()
    assert np.arccos(np.clip(here @ step, -1, 1)) < np.arccos(np.clip(here @ c, -1, 1))
    glide.retarget(a, cut=True)
    np.testing.assert_allclose(glide.peek(), a, atol=1e-6)
