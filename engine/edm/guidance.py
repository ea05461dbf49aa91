"""Denoiser wrappers: classifier-free guidance and pasting known (context) frames.

Both take and return `denoise(x, sigma) -> x0` callables, so they compose with
any sampler in `engine.edm.samplers`. No torch import: numpy or torch arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Denoiser = Callable[[Any, float], Any]


def classifier_free_guidance(cond: Denoiser, uncond: Denoiser, guidance: float) -> Denoiser:
    """Classifier-free guidance (Ho & Salimans 2022) in x0 space.

    D_w(x, sigma) = D_u + w * (D_c - D_u). w = 1 is the conditional model alone
    (and costs one evaluation); w = 0 the unconditional; w > 1 pushes toward the prompt.
    `uncond` is the same network fed the empty-prompt embedding (see engine.text).
    """
    w = float(guidance)
    if w == 1.0:
        return cond

    def guided(x: Any, sigma: float) -> Any:
        d_uncond = uncond(x, sigma)
        return d_uncond + (cond(x, sigma) - d_uncond) * w

    return guided


def paste_known(denoise: Denoiser, known: Any, mask: Any) -> Denoiser:
    """Replace the x0 estimate by the known latent frames where mask == 1.

    Continuation: the network is told the known frames through its input, but
    its estimate there is only close to them; pasting keeps the sampler's
    trajectory exactly on the context. known: (B, C, T); mask: (B, 1, T) in {0, 1}.
    """

    def pasted(x: Any, sigma: float) -> Any:
        return denoise(x, sigma) * (1.0 - mask) + known * mask

    return pasted
