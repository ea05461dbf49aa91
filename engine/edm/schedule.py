"""Noise-level schedules for sampling. Pure numpy: usable on the serving path."""

from __future__ import annotations

import numpy as np


def karras_sigmas(
    n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> np.ndarray:
    """Karras et al. 2022, eq. 5: n noise levels from sigma_max down to sigma_min, then 0.

    Spacing is uniform in sigma**(1/rho), which puts more steps at low noise
    where detail is decided. Returns float64 of shape (n + 1,), strictly
    decreasing, ending with an exact 0 so that the last step lands on x0.
    """
    if n < 1:
        raise ValueError(f"need at least 1 step, got n={n}")
    if not 0.0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if n == 1:
        return np.array([sigma_max, 0.0])
    ramp = np.linspace(0.0, 1.0, n)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return np.append(sigmas, 0.0)


def distilled_sigmas(
    n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> np.ndarray:
    """The n noise levels a few-step (distilled) generator is called at, then 0.

    A few-step generator maps any level straight to x0, so a call at sigma_min
    (where x is already x0 to within 0.002) is wasted: karras_sigmas(n) would spend
    one of only n steps there. These are the first n levels of karras_sigmas(n + 1):
    the same rho-7 spacing from sigma_max, never reaching sigma_min. Shape (n + 1,),
    float64, strictly decreasing, ending with 0.
    """
    levels = karras_sigmas(n + 1, sigma_min, sigma_max, rho)[:n]
    return np.append(levels, 0.0)
