"""ODE samplers for the EDM probability-flow ODE, as pure functions with one signature.

    x0 = sample_x(denoise, x, sigmas)

`denoise(x, sigma) -> x0 estimate` with `sigma` a Python float; `x` starts as
noise already scaled by sigmas[0]; `sigmas` is a decreasing schedule ending in
0 (see `karras_sigmas`). Only `+`, `-`, `*`, `/` by Python floats are applied to
`x`, so the same code runs over numpy arrays (serving, no torch) and torch
tensors (training). The schedule is read into Python floats once up front: no
per-step device sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Array = TypeVar("Array")  # numpy.ndarray or torch.Tensor: anything with arithmetic
Denoiser = Callable[[Any, float], Any]
Callback = Callable[[int, float, Any], None]  # (step index, sigma, denoised)


def _floats(sigmas: Sequence[float]) -> list[float]:
    s = [float(v) for v in sigmas]
    if len(s) < 2:
        raise ValueError(f"a schedule needs at least 2 noise levels, got {len(s)}")
    if any(b >= a for a, b in zip(s, s[1:], strict=False)):
        raise ValueError("sigmas must be strictly decreasing")
    if s[-1] < 0.0:
        raise ValueError("sigmas must be non-negative")
    return s


def sample_euler(
    denoise: Denoiser, x: Array, sigmas: Sequence[float], callback: Callback | None = None
) -> Array:
    """Euler steps on dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al. 2022, eq. 4).

    One network evaluation per step; first order.
    """
    s = _floats(sigmas)
    for i in range(len(s) - 1):
        denoised = denoise(x, s[i])
        if callback is not None:
            callback(i, s[i], denoised)
        d = (x - denoised) / s[i]  # ODE slope at sigma_i
        x = x + d * (s[i + 1] - s[i])
    return x


def sample_heun(
    denoise: Denoiser, x: Array, sigmas: Sequence[float], callback: Callback | None = None
) -> Array:
    """Heun's 2nd-order method (Karras et al. 2022, algorithm 1, deterministic).

    Two network evaluations per step except the last (to sigma = 0), which is Euler.
    """
    s = _floats(sigmas)
    for i in range(len(s) - 1):
        denoised = denoise(x, s[i])
        if callback is not None:
            callback(i, s[i], denoised)
        d = (x - denoised) / s[i]
        dt = s[i + 1] - s[i]
        x_euler = x + d * dt
        if s[i + 1] == 0.0:
            x = x_euler
            continue
        # Correct with the slope at the Euler end point: trapezoid rule.
        d_next = (x_euler - denoise(x_euler, s[i + 1])) / s[i + 1]
        x = x + (d + d_next) * (0.5 * dt)
    return x


def sample_dpmpp_2m(
    denoise: Denoiser, x: Array, sigmas: Sequence[float], callback: Callback | None = None
) -> Array:
    """DPM-Solver++(2M) (Lu et al. 2022), multistep 2nd order in lambda = -log(sigma).

    One network evaluation per step; the previous step's x0 estimate gives the
    second-order correction, so the first step and the step to sigma = 0 are 1st order.
    """
    s = _floats(sigmas)
    old_denoised = None
    h_last = 0.0
    for i in range(len(s) - 1):
        denoised = denoise(x, s[i])
        if callback is not None:
            callback(i, s[i], denoised)
        if s[i + 1] == 0.0:
            x = denoised  # the exact solution's limit: exp(-h) -> 0
            break
        h = math.log(s[i]) - math.log(s[i + 1])  # lambda_{i+1} - lambda_i > 0
        if old_denoised is None:
            d = denoised
        else:
            r = h_last / h
            d = denoised * (1.0 + 1.0 / (2.0 * r)) - old_denoised * (1.0 / (2.0 * r))
        x = x * (s[i + 1] / s[i]) - d * math.expm1(-h)
        old_denoised, h_last = denoised, h
    return x


SAMPLERS: dict[str, Callable[..., Any]] = {
    "euler": sample_euler,
    "heun": sample_heun,
    "dpmpp_2m": sample_dpmpp_2m,
}
