"""Audio reconstruction distances in numpy (no torch), shared by benchmarks.

The codec's training losses (engine.codec.losses) measured on whole clips: log-mel L1
and multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged
over resolutions). Framing here is the causal one of engine.codec.spectral.
"""

from __future__ import annotations

import numpy as np

from engine.codec import spectral

RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))


def log_mel_l1(
    pred: np.ndarray, target: np.ndarray, sample_rate: int, n_fft: int, hop: int, n_mels: int
) -> float:
    """pred, target (C, N) -> mean |log-mel difference| (log floor 1e-5)."""
    a = spectral.log_mel(pred[None], sample_rate, n_fft, hop, n_mels)
    b = spectral.log_mel(target[None], sample_rate, n_fft, hop, n_mels)
    return float(np.abs(a - b).mean())


def mrstft_distance(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """pred, target (C, N) -> {"sc", "logmag", "total"} averaged over resolutions."""
    sc = logmag = 0.0
    for n_fft, hop in RESOLUTIONS:
        p = np.maximum(np.abs(spectral.stft(pred, n_fft, hop)), 1e-5)
        t = np.maximum(np.abs(spectral.stft(target, n_fft, hop)), 1e-5)
        sc += float(np.linalg.norm(p - t) / max(np.linalg.norm(t), 1e-5))
        logmag += float(np.abs(np.log(p) - np.log(t)).mean())
    n = len(RESOLUTIONS)
    return {"sc": sc / n, "logmag": logmag / n, "total": (sc + logmag) / n}
