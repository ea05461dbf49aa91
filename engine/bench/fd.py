"""Frechet distance between Gaussian fits of embeddings, and the embeddings we can compute here.

    FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

(the FID/FAD formula, Heusel et al. 2017 / Kilgour et al. 2019). The matrix square
root is taken through symmetric eigendecompositions, which stay real and stable for
the rank-deficient covariances that a few dozen clips give.

The embedding is the yardstick, and this machine has no pretrained audio
embedding network (VGGish, CLAP, ...) offline. Two simple ones stand in for now:

- `logmel_embedding`: per clip, the mean and the standard deviation over time of
  each band of a 64-band log-mel spectrogram of the mono mix at 22.05 kHz (128
  numbers). It sees timbre, register, loudness and how much they move; it is
  blind to order in time (melody, rhythm) and to anything a mel band averages out.
- `latent_embedding`: the same statistics of the codec's normalised latent frames
  (2 x latent channels numbers): cheap, needs no decoding, but it measures in the
  codec's own space (a codec that ignores something cannot see it).

Both are unbiased only with many clips per set: with fewer clips than dimensions
the covariances are singular and FD carries a sample-size bias, so compare FD only
between sets of the same size (the bench does). A learned embedding can replace
these later without touching `frechet_distance`.
"""

from __future__ import annotations

import numpy as np

LOGMEL_SR = 22050
LOGMEL_BANDS = 64
HIGH_BANDS = 24  # of the 64 log-mel bands: the top ones, where a dull generator loses level


def gaussian_fit(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """emb (N, E) -> mean (E,), covariance (E, E) (unbiased; zeros for N = 1)."""
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] < 1:
        raise ValueError(f"embeddings must be (clips, dims) with clips >= 1, got {emb.shape}")
    mu = emb.mean(axis=0)
    if emb.shape[0] == 1:
        return mu, np.zeros((emb.shape[1], emb.shape[1]))
    return mu, np.cov(emb, rowvar=False).reshape(emb.shape[1], emb.shape[1])


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues -> 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
    """Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b); >= 0, 0 for equal fits."""
    root_a = _sqrt_psd(cov_a)
    cross = _sqrt_psd(root_a @ cov_b @ root_a)  # same trace as sqrtm(S_a S_b)
    diff = mu_a - mu_b
    fd = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(cross))
    return max(fd, 0.0)


def frechet_distance_of(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """FD between the Gaussian fits of two embedding sets (N_a, E) and (N_b, E)."""
    return frechet_distance(*gaussian_fit(emb_a), *gaussian_fit(emb_b))


def logmel_embedding(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """audio (C, N) -> (128,) float64: mean and std over time of 64 log-mel bands."""
    import librosa

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)  # (N,)
    if sample_rate != LOGMEL_SR:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=LOGMEL_SR)
    mel = librosa.feature.melspectrogram(y=mono, sr=LOGMEL_SR, n_fft=2048, hop_length=512,
                                         n_mels=LOGMEL_BANDS)  # (64, frames)
    logmel = np.log(mel + 1e-5)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)]).astype(np.float64)


def latent_embedding(latent: np.ndarray) -> np.ndarray:
    """latent (D, T) normalised codec frames -> (2D,): mean and std over time per channel."""
    z = np.asarray(latent, dtype=np.float64)
    return np.concatenate([z.mean(axis=1), z.std(axis=1)])


def level_offsets(mel: np.ndarray, real_mel: np.ndarray) -> dict[str, float]:
    """{"lmean", "lhigh"}: mean log-mel level of generated clips minus the real clips', over
    all bands and over the top HIGH_BANDS. mel, real_mel: (N, 128) logmel_embedding rows
    (band means, then band stds); N may differ."""
    level, real = mel[:, :LOGMEL_BANDS], real_mel[:, :LOGMEL_BANDS]
    high = slice(LOGMEL_BANDS - HIGH_BANDS, LOGMEL_BANDS)
    return {"lmean": round(float(level.mean() - real.mean()), 3),
            "lhigh": round(float(level[:, high].mean() - real[:, high].mean()), 3)}
