"""Equal-power crossfades: the seam where the audio content changes abruptly.

    out, into = equal_power_ramps(1323)     # (n,) each; out**2 + into**2 == 1 everywhere
    seam = crossfade(old_tail, new_head)    # (C, n): old fading out, new fading in
    fade_in(pcm, 1323); fade_out(pcm, 1323) # in place, from / to silence

Consecutive hops need no crossfade (the streaming decoder is seam-exact); these are for
reset (old stream into a fresh one), resume after pause, a failed hop replaced by
silence, and the edges of an underrun. Equal power (sine/cosine ramps) keeps the
loudness of two uncorrelated signals constant through the seam, where a linear ramp
dips by 3 dB in the middle.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=16)
def equal_power_ramps(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in), each (n,) float32, with fade_out**2 + fade_in**2 = 1.

    Sampled at sample centres, so neither ramp reaches exactly 0 or 1 inside the seam
    and a seam of n samples sits symmetrically between the two signals.
    """
    if n < 0:
        raise ValueError(f"ramp length must be >= 0, got {n}")
    phase = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1) * (np.pi / 2)
    out, into = np.cos(phase).astype(np.float32), np.sin(phase).astype(np.float32)
    out.flags.writeable = into.flags.writeable = False  # cached: shared by every caller
    return out, into


def crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """(C, n) old audio fading out + (C, n) new audio fading in -> (C, n) seam."""
    if tail.shape != head.shape:
        raise ValueError(f"crossfade needs equal shapes, got {tail.shape} and {head.shape}")
    out, into = equal_power_ramps(tail.shape[-1])
    return (tail * out + head * into).astype(np.float32, copy=False)


def fade_in(pcm: np.ndarray, n: int) -> None:
    """Ramp the first min(n, len) samples of (C, N) pcm up from silence, in place."""
    n = min(n, pcm.shape[-1])
    if n > 0:
        pcm[..., :n] *= equal_power_ramps(n)[1]


def fade_out(pcm: np.ndarray, n: int) -> None:
    """Ramp the last min(n, len) samples of (C, N) pcm down to silence, in place."""
    n = min(n, pcm.shape[-1])
    if n > 0:
        pcm[..., pcm.shape[-1] - n:] *= equal_power_ramps(n)[0]
