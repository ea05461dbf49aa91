"""Response curves: a control's position x in [0, 1] -> a fraction y in [0, 1] of its range.

    y = apply_curve("exp", 0.5)            # 0.119: fine control near the bottom of the range
    x = invert_curve("exp", y)             # 0.5: where a knob must sit to show value y

`linear`: y = x. `exp`: y = (e^(s x) - 1) / (e^s - 1), slow at first then fast (good for
guidance, where small values matter most). `log`: its inverse, fast at first then slow. The
shape s (default 4) sets how strongly the curve bends. Every curve is monotone and maps 0 -> 0
and 1 -> 1, and `invert_curve` is its exact inverse: pick-up and controller feedback need the
knob position that corresponds to a value.
"""

from __future__ import annotations

import math

CURVES = ("linear", "exp", "log")
DEFAULT_SHAPE = 4.0


def _exp(x: float, s: float) -> float:
    return math.expm1(s * x) / math.expm1(s)


def _log(y: float, s: float) -> float:
    return math.log1p(y * math.expm1(s)) / s


def apply_curve(curve: str, x: float, shape: float = DEFAULT_SHAPE) -> float:
    """Position x (clipped to [0, 1]) -> fraction of the range."""
    x = min(1.0, max(0.0, x))
    if curve == "linear":
        return x
    if curve == "exp":
        return _exp(x, shape)
    if curve == "log":
        return _log(x, shape)
    raise ValueError(f"curve must be one of {', '.join(CURVES)}, got {curve!r}")


def invert_curve(curve: str, y: float, shape: float = DEFAULT_SHAPE) -> float:
    """Fraction of the range (clipped to [0, 1]) -> the position that gives it."""
    y = min(1.0, max(0.0, y))
    if curve == "linear":
        return y
    if curve == "exp":
        return _log(y, shape)
    if curve == "log":
        return _exp(y, shape)
    raise ValueError(f"curve must be one of {', '.join(CURVES)}, got {curve!r}")
