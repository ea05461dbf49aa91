"""The classifier's input: log-mel spectrograms and fixed-length crops of them (numpy).

    mel = log_mel(audio, sample_rate)              # (C, N) -> (64, T) at 43.07 frames/s
    batch = clip_crops(mel, CROP_FRAMES)           # (K, 64, CROP_FRAMES) covering the clip
    x = normalise(batch, scale)                    # what the network sees

Mono mix at 22.05 kHz, 1024-point FFT, hop 512 (23.2 ms), 64 mel bands from 30 Hz
to 11.025 kHz, natural log with a floor of 1e-6. Each crop is shifted to zero mean
(one number per crop), so the classifier does not see the overall level (renders
span pp to ff, and a generator's output level is not what is being measured), and
divided by one scale measured on the train split.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 512
N_MELS = 64
F_MIN, F_MAX = 30.0, 11025.0
FLOOR = 1e-6
FRAME_RATE = SAMPLE_RATE / HOP  # 43.07 frames per second
CROP_SECONDS = 5.0
CROP_FRAMES = int(round(CROP_SECONDS * FRAME_RATE))  # 215
MIN_FRAMES = 32  # shorter inputs are padded (by repetition) to this many frames


def to_mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """audio (C, N) or (N,) at sample_rate -> (N',) float32 at SAMPLE_RATE."""
    import librosa

    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    if sample_rate != SAMPLE_RATE:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=SAMPLE_RATE,
                                res_type="soxr_mq")
    return np.ascontiguousarray(mono, dtype=np.float32)


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """audio (C, N) or (N,) -> (N_MELS, T) float32 natural-log mel power."""
    import librosa

    y = to_mono(audio, sample_rate)
    if y.size < N_FFT:
        y = np.pad(y, (0, N_FFT - y.size))
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                         n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX)
    return np.log(mel + FLOOR).astype(np.float32)


def clip_crops(mel: np.ndarray, crop: int = CROP_FRAMES) -> np.ndarray:
    """mel (M, T) -> (K, M, L): K = ceil(T / crop) evenly spaced crops that cover the clip
    (overlapping when T is not a multiple); L = crop, or T (at least MIN_FRAMES) if shorter."""
    m, t = mel.shape
    if t < MIN_FRAMES:
        mel = np.tile(mel, (1, math.ceil(MIN_FRAMES / max(t, 1))))[:, :MIN_FRAMES]
        t = MIN_FRAMES
    if t <= crop:
        return mel[None].copy()
    k = math.ceil(t / crop)
    starts = np.linspace(0, t - crop, k).round().astype(int)
    return np.stack([mel[:, s:s + crop] for s in starts])


def normalise(crops: np.ndarray, scale: float) -> np.ndarray:
    """crops (K, M, L) -> (K, 1, M, L) float32: each crop minus its mean, over `scale`."""
    x = np.asarray(crops, dtype=np.float32)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return (x / scale)[:, None].astype(np.float32)
