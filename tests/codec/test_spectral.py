from __future__ import annotations

import librosa
import numpy as np
import torch

from engine.codec import spectral
from engine.codec.spectral_torch import Spectral

SR, N_FFT, HOP = 44100, 2048, 512


def noise(shape, seed=0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def test_mel_filterbank_equals_librosa_slaney() -> None:
    ours = spectral.mel_filterbank(SR, N_FFT, 128)
    ref = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=128)
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_causal_stft_gives_one_frame_per_hop() -> None:
    x = noise((2, 3, 10 * HOP))
    assert spectral.stft(x, N_FFT, HOP).shape == (2, 3, N_FFT // 2 + 1, 10)


def test_istft_inverts_stft_except_the_last_partial_samples() -> None:
    x = noise((2, 1, 20 * HOP))
    s = spectral.stft(x, N_FFT, HOP)
    y = spectral.istft(np.log(np.abs(s) + 1e-20), np.angle(s), N_FFT, HOP)
    assert y.shape == x.shape
    body = slice(0, x.shape[-1] - (N_FFT - HOP))
    np.testing.assert_allclose(y[..., body], x[..., body], atol=1e-5)
    # The tail, completed by the partial envelope, is close except the last few samples.
    np.testing.assert_allclose(y[..., -1500:-400], x[..., -1500:-400], atol=1e-3)


def test_overlap_add_in_chunks_equals_whole() -> None:
    frames = noise((2, 30, N_FFT))
    whole, tail = spectral.overlap_add(frames, HOP)
    parts, carry = [], None
    for a, b in ((0, 7), (7, 8), (8, 30)):
        done, carry = spectral.overlap_add(frames[:, a:b], HOP, carry)
        parts.append(done)
    np.testing.assert_allclose(np.concatenate(parts, -1), whole, atol=1e-6)
    np.testing.assert_allclose(carry, tail, atol=1e-6)


def test_torch_and_numpy_spectral_agree() -> None:
    sp = Spectral(SR, N_FFT, HOP, 128)
    x = noise((2, 2, 16 * HOP))
    lm_np = spectral.log_mel(x, SR, N_FFT, HOP, 128)
    lm_t = sp.log_mel(torch.from_numpy(x)).numpy()
    assert lm_np.shape == lm_t.shape == (2, 2 * 128, 16)
    np.testing.assert_allclose(lm_np, lm_t, atol=1e-4)
    s = spectral.stft(x, N_FFT, HOP)
    log_mag, phase = np.log(np.abs(s) + 1e-20), np.angle(s)
    y_np = spectral.istft(log_mag, phase, N_FFT, HOP)
    y_t = sp.istft(torch.from_numpy(log_mag), torch.from_numpy(phase)).numpy()
    np.testing.assert_allclose(y_np, y_t, atol=1e-4)
