"""Per-hop noise: reproducible from (seed, hop), with a `variation` knob between two takes.

    rng = hop_rng(seed=7, hop=12, variation=0.3)   # a numpy Generator for sample_window

Every hop draws its noise from a generator seeded by (seed, hop index since the last
reset), so the same seed, prompts and controls give the same stream. `variation` in
[0, 1] mixes each normal draw with a second, independent stream seeded by
(seed, hop, 1): x = cos(a) * n0 + sin(a) * n1 with a = variation * pi / 2. The mix has
unit variance at every setting (cos^2 + sin^2 = 1), so the sampler sees proper
Gaussian noise: 0 is the seed's own take, small values are near variations of it, 1 is
an unrelated take (the "variation seed" of image-diffusion front ends).
"""

from __future__ import annotations

import math

import numpy as np


class VariationRng(np.random.Generator):
    """A Generator whose standard_normal draws mix two seeded streams at a fixed angle."""

    def __init__(self, seed: int, hop: int, variation: float) -> None:
        super().__init__(np.random.PCG64(np.random.SeedSequence([seed, hop])))
        self._other = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, hop, 1])))
        angle = float(variation) * math.pi / 2
        self._a, self._b = math.cos(angle), math.sin(angle)

    def standard_normal(self, size=None, dtype=np.float64, out=None):  # noqa: D401 - numpy's
        own = super().standard_normal(size, dtype=dtype)
        if self._b == 0.0:
            mixed = own
        else:
            other = self._other.standard_normal(size, dtype=dtype)
            mixed = (self._a * own + self._b * other).astype(dtype, copy=False)
        if out is not None:
            out[...] = mixed
            return out
        return mixed


def hop_rng(seed: int, hop: int, variation: float = 0.0) -> np.random.Generator:
    """The noise source of hop `hop` (counted from the last reset) of a stream."""
    if not 0.0 <= variation <= 1.0:
        raise ValueError(f"variation must be in [0, 1], got {variation}")
    return VariationRng(int(seed), int(hop), variation)
