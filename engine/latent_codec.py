"""The codec as the diffusion model sees it: audio <-> normalised latent frames.

    codec = load_latent_codec("runs/codec")      # a training run (PyTorch) or an exported dir
    z = codec.encode(audio)                      # (C, N) float32 -> (D, N // 2048), ~N(0, 1)
    audio = codec.decode(z)                      # (D, L) -> (C, L * 2048)

Two back ends behind one small interface: a codec training run (RUN/checkpoint.pt
plus RUN/latent_stats.json, read with torch) and an exported model directory
(manifest.json with `latent_stats`, read with onnxruntime, no torch). Both
normalise with the per-channel mean and std recorded when the codec finished
training, so the diffusion model's data have unit variance per channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


class LatentCodec(Protocol):
    sample_rate: int
    channels: int
    latent_dim: int
    samples_per_latent: int
    source: str  # the run or model directory, for provenance

    def encode(self, audio: np.ndarray) -> np.ndarray: ...

    def decode(self, latent: np.ndarray) -> np.ndarray: ...


@dataclass
class _Stats:
    mean: np.ndarray  # (D, 1) float32
    std: np.ndarray  # (D, 1) float32

    @classmethod
    def from_dict(cls, stats: dict) -> _Stats:
        mean = np.asarray(stats["mean"], dtype=np.float32)[:, None]
        std = np.asarray(stats["std"], dtype=np.float32)[:, None]
        if np.any(std <= 0):
            raise ValueError("codec latent_stats has a non-positive std")
        return cls(mean, std)


def _whole_frames(audio: np.ndarray, n: int) -> np.ndarray:
    """(C, N) -> (C, N // n * n): the encoder takes whole latent frames only."""
    if audio.ndim != 2 or audio.shape[1] < n:
        raise ValueError(
            f"expected audio (channels, samples) of at least {n} samples, got shape {audio.shape}"
        )
    return np.ascontiguousarray(audio[:, : audio.shape[1] // n * n], dtype=np.float32)


class TorchLatentCodec:
    """A codec training run read with PyTorch (the trainer's own checkpoint)."""

    def __init__(self, run_dir: Path) -> None:
        import torch

        from engine.codec.autoencoder import Autoencoder
        from engine.codec.config import CodecConfig

        stats_path = run_dir / "latent_stats.json"
        if not stats_path.exists():
            raise FileNotFoundError(
                f"{stats_path} is missing: the codec trainer writes it when training finishes"
            )
        state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
        self.model = Autoencoder(CodecConfig.from_dict(state["config"])).eval()
        self.model.load_state_dict(state["model"])
        self.stats = _Stats.from_dict(json.loads(stats_path.read_text()))
        cfg = self.model.cfg
        self.sample_rate, self.channels = cfg.sample_rate, cfg.channels
        self.latent_dim, self.samples_per_latent = cfg.latent_dim, cfg.samples_per_latent
        self.source = str(run_dir.resolve())
        self._torch = torch

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """(C, N) float32 -> normalised latent (D, N // 2048) float32."""
        x = _whole_frames(audio, self.samples_per_latent)
        with self._torch.inference_mode():
            z = self.model.encode(self._torch.from_numpy(x)[None])[0].numpy()  # (D, L)
        return (z - self.stats.mean) / self.stats.std

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Normalised latent (D, L) -> audio (C, L * 2048) float32."""
        z = np.asarray(latent, dtype=np.float32) * self.stats.std + self.stats.mean
        with self._torch.inference_mode():
            return self.model.decode(self._torch.from_numpy(z)[None])[0].numpy()


class OnnxLatentCodec:
    """An exported codec directory (engine.export codec) read with onnxruntime."""

    def __init__(self, model_dir: Path, threads: int = 2) -> None:
        from engine.codec.runtime import CodecRuntime

        self.runtime = CodecRuntime(model_dir, device="cpu", threads=threads)
        cfg = self.runtime.cfg
        self.sample_rate, self.channels = cfg.sample_rate, cfg.channels
        self.latent_dim, self.samples_per_latent = cfg.latent_dim, cfg.samples_per_latent
        self.source = str(model_dir.resolve())

    def encode(self, audio: np.ndarray) -> np.ndarray:
        x = _whole_frames(audio, self.samples_per_latent)
        return self.runtime.normalize(self.runtime.encode(x[None]))[0]

    def decode(self, latent: np.ndarray) -> np.ndarray:
        z = np.ascontiguousarray(latent, dtype=np.float32)[None]
        return self.runtime.decode(self.runtime.denormalize(z).astype(np.float32))[0]


def load_latent_codec(path: Path | str, threads: int = 2) -> LatentCodec:
    """A codec run dir (checkpoint.pt) or an exported model dir (manifest.json)."""
    path = Path(path)
    if (path / "checkpoint.pt").exists():
        return TorchLatentCodec(path)
    if (path / "manifest.json").exists():
        return OnnxLatentCodec(path, threads)
    raise FileNotFoundError(
        f"{path} is neither a codec training run (checkpoint.pt) nor an "
        "exported codec directory (manifest.json)"
    )


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """(C, N) at rate_in -> (C, round(N * rate_out / rate_in)) by FFT (band-limited), numpy only.

    The spectrum is cut (or zero-extended) to the new Nyquist frequency: exact for
    band-limited periodic signals; the ends of a clip may ring slightly, which an
    offline continuation prompt tolerates. The serving install has no scipy.
    """
    n_in = x.shape[-1]
    n_out = max(1, int(round(n_in * rate_out / rate_in)))
    spectrum = np.fft.rfft(x.astype(np.float64), axis=-1)  # (C, n_in // 2 + 1)
    bins = n_out // 2 + 1
    if bins <= spectrum.shape[-1]:
        spectrum = spectrum[..., :bins]
    else:
        spectrum = np.pad(spectrum, ((0, 0), (0, bins - spectrum.shape[-1])))
    return (np.fft.irfft(spectrum, n=n_out, axis=-1) * (n_out / n_in)).astype(np.float32)


def read_audio(path: Path | str, sample_rate: int, channels: int) -> np.ndarray:
    """Any audio file soundfile reads -> float32 (channels, samples) at sample_rate.

    Other sample rates are resampled (FFT, numpy only); channel counts are mixed down or
    duplicated. ValueError with the file name for anything that is not audio.
    """
    import soundfile as sf  # here: training on a carried latent cache needs no audio I/O

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such audio file")
    try:
        x, sr = sf.read(path, dtype="float32", always_2d=True)  # (N, C_file)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"{path} is not an audio file soundfile can read ({error})") from None
    if x.shape[0] == 0:
        raise ValueError(f"{path} holds no audio samples")
    x = x.T  # (C_file, N)
    if x.shape[0] != channels:
        x = np.repeat(x.mean(axis=0, keepdims=True), channels, axis=0)
    if sr != sample_rate:
        x = resample(x, int(sr), int(sample_rate))
    return np.ascontiguousarray(x, dtype=np.float32)
