"""Spectral transforms in numpy: the serving path's mel analysis and inverse STFT.

Framing convention (shared with ``spectral_torch``): the signal is left-padded with
``n_fft - hop`` zeros and framed without centering, so N samples (N a multiple of hop)
give exactly N / hop frames and frame t ends at sample (t + 1) * hop. Frames are causal:
they see no future audio. Overlap-adding frames 0..t completes every sample before
(t + 1) * hop - (n_fft - hop); the last n_fft - hop samples wait for later frames.

A custom inverse STFT exists because (a) serving must not import torch, (b) the
streaming decoder needs overlap-add with carried state, which library iSTFTs hide.
"""

from __future__ import annotations

import numpy as np


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (as torch.hann_window / scipy 'hann', sym=False)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3.0)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3.0)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Slaney-normalised triangular filters, (n_mels, n_fft/2+1); equals librosa.filters.mel."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts)  # (n_mels + 2,)
    widths = np.diff(hz_pts)  # (n_mels + 1,)
    ramps = hz_pts[:, None] - fft_freqs[None, :]  # (n_mels + 2, F)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    fb = np.maximum(0.0, np.minimum(lower, upper))  # (n_mels, F)
    fb *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]  # Slaney area normalisation
    return fb.astype(np.float32)


def stft(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Causal STFT. audio (..., N) -> complex64 (..., n_fft/2+1, N // hop)."""
    pad = [(0, 0)] * (audio.ndim - 1) + [(n_fft - hop, 0)]
    x = np.pad(audio.astype(np.float32, copy=False), pad)
    n_frames = (x.shape[-1] - n_fft) // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]
    frames = frames[..., :n_frames, :] * hann(n_fft)  # (..., T, n_fft)
    spec = np.fft.rfft(frames, axis=-1).astype(np.complex64)  # (..., T, F)
    return np.swapaxes(spec, -1, -2)  # (..., F, T)


def log_mel(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    log_floor: float = 1e-5,
) -> np.ndarray:
    """Log magnitude mel spectrogram. audio (B, C, N) -> (B, C*n_mels, N // hop) float32."""
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    mag = np.abs(stft(audio, n_fft, hop))  # (B, C, F, T)
    mel = np.einsum("mf,bcft->bcmt", fb, mag)  # (B, C, n_mels, T)
    b, c, m, t = mel.shape
    return np.log(np.maximum(mel, log_floor)).reshape(b, c * m, t).astype(np.float32)


def overlap_add(
    frames: np.ndarray, hop: int, carry: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Overlap-add windowed frames onto a carried tail.

    frames (..., T, n_fft), carry (..., n_fft - hop) or None.
    Returns (complete (..., T * hop), new carry (..., n_fft - hop)).
    """
    *lead, n_t, n_fft = frames.shape
    out = np.zeros((*lead, (n_t - 1) * hop + n_fft), dtype=np.float32)
    if carry is not None:
        out[..., : n_fft - hop] += carry
    # Vectorised OLA: split each frame into n_fft/hop hop-sized pieces and sum the
    # diagonals; piece k of frame t lands at block t + k.
    r = n_fft // hop
    pieces = frames.reshape(*lead, n_t, r, hop)
    for k in range(r):
        out[..., k * hop : k * hop + n_t * hop] += pieces[..., :, k, :].reshape(*lead, n_t * hop)
    return out[..., : n_t * hop], out[..., n_t * hop :]


def window_envelope(n_fft: int, hop: int) -> float:
    """Steady-state sum of squared windows (constant for Hann at hop = n_fft / 4)."""
    w2 = hann(n_fft) ** 2
    return float(w2.reshape(-1, hop).sum(axis=0).mean())


def tail_envelope(n_fft: int, hop: int) -> np.ndarray:
    """Window-square sum over the last n_fft - hop samples when no later frames come."""
    w2 = hann(n_fft) ** 2
    env = np.zeros(n_fft - hop, dtype=np.float64)
    for k in range(1, n_fft // hop):
        env[: n_fft - k * hop] += w2[k * hop :]
    return env.astype(np.float32)


def frames_from_complex(real: np.ndarray, imag: np.ndarray, n_fft: int) -> np.ndarray:
    """Frame-major spectra (..., T, F) -> windowed time frames (..., T, n_fft) float32."""
    spec = np.empty(real.shape, dtype=np.complex64)
    spec.real, spec.imag = real, imag
    frames = np.fft.irfft(spec, n=n_fft, axis=-1)  # (..., T, n_fft)
    frames *= hann(n_fft)
    return frames.astype(np.float32, copy=False)


def finish(done: np.ndarray, tail: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Normalise overlap-added output of a whole clip: (..., T*hop), (..., n_fft-hop).

    The first n_fft - hop samples of ``done`` belong to the left padding and are dropped;
    interior samples are divided by the constant window-square envelope, the tail that no
    later frame completes by the partial envelope (floored, so the last few samples are
    only approximate).
    """
    body = done[..., n_fft - hop :] / window_envelope(n_fft, hop)
    return np.concatenate([body, finish_tail(tail, n_fft, hop)], axis=-1).astype(np.float32)


def finish_tail(tail: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return (tail / np.maximum(tail_envelope(n_fft, hop), 1e-3)).astype(np.float32)


def istft_frames(real: np.ndarray, imag: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Inverse causal STFT of frame-major spectra (..., T, F) -> audio (..., T * hop)."""
    done, tail = overlap_add(frames_from_complex(real, imag, n_fft), hop)
    return finish(done, tail, n_fft, hop)


def istft(log_mag: np.ndarray, phase: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Inverse causal STFT of (..., F, T) log-magnitude and phase -> audio (..., T * hop)."""
    mag = np.exp(np.swapaxes(log_mag, -1, -2))
    ph = np.swapaxes(phase, -1, -2)
    return istft_frames(mag * np.cos(ph), mag * np.sin(ph), n_fft, hop)
