"""Serving-side codec: onnxruntime sessions + numpy spectral ops. No torch import.

    codec = CodecRuntime("exported/codec")
    latent = codec.encode(audio)                 # (B, C, N) -> (B, 32, ceil(N / 2048))
    audio = codec.decode(latent)                 # (B, 32, L) -> (B, C, L * 2048)

Streaming (explicit state, magenta-realtime style):

    state = codec.init_state(batch=1)
    for chunk in latent_chunks:                  # (B, 32, l) each
        pcm, state = codec.decode_step(chunk, state)
        play(pcm)                                # (B, C, samples), in order, no seams
    play(codec.flush(state))                     # last n_fft - hop samples

The decoder is causal, so decoding a chunk with ``lookback`` >= its receptive field
(recorded in the manifest) of previous latent frames reproduces the whole-clip STFT
frames; the overlap-add tail of each chunk is carried in the state until the next
chunk completes it. The concatenated stream equals ``decode`` of the whole latent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.codec import spectral
from engine.codec.config import CodecConfig
from engine.manifest import ManifestError, load_manifest

INT8_DECODER = "decoder_int8.onnx"  # optional: engine.export.decoder_int8 writes it
DECODERS = ("auto", "float", "int8")


@dataclass(frozen=True)
class DecoderState:
    lookback: np.ndarray  # (B, D, <= lookback) latent frames already decoded
    carry: np.ndarray  # (B, C, n_fft - hop) overlap-add tail, not yet complete
    skip: int  # samples still to drop from the front (the STFT's left padding)


def select_providers(device: str = "auto") -> list[str]:
    """CUDA only when a session on it really runs (the GPU package lists it regardless)."""
    if device == "cpu" or "CUDAExecutionProvider" not in ort.get_available_providers():
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


class CodecRuntime:
    """decoder: "float" (decoder.onnx), "int8" (decoder_int8.onnx, made for the CPU
    provider) or "auto": int8 when the directory has it and sessions run on the CPU."""

    def __init__(self, model_dir: str | Path, device: str = "auto", threads: int = 2,
                 decoder: str = "auto") -> None:
        self.model_dir = Path(model_dir)
        self.manifest = load_manifest(self.model_dir, kind="codec")
        self.cfg = CodecConfig.from_dict(self.manifest["config"])
        stats = self.manifest["latent_stats"]
        self.latent_mean = np.asarray(stats["mean"], dtype=np.float32)[None, :, None]
        self.latent_std = np.asarray(stats["std"], dtype=np.float32)[None, :, None]
        self.lookback = int(self.manifest["decoder_lookback_latent_frames"])
        self.threads = threads
        providers = select_providers(device)
        self.encoder = self._session_at(self.model_dir / "encoder.onnx", providers)
        self.providers = self.encoder.get_providers()
        self.decoder_precision = self._decoder_precision(decoder)
        name = INT8_DECODER if self.decoder_precision == "int8" else "decoder.onnx"
        self.decoder = self._session_at(self.model_dir / name, providers)

    def _decoder_precision(self, decoder: str) -> str:
        if decoder not in DECODERS:
            raise ValueError(f"decoder {decoder!r}: expected one of {', '.join(DECODERS)}")
        has_int8 = INT8_DECODER in self.manifest["files"]
        if decoder == "int8" and not has_int8:
            raise ManifestError(f"{self.model_dir} has no {INT8_DECODER}: make one with "
                                "python -m engine.export decoder-int8, or use decoder 'float'")
        if decoder == "auto":
            on_cpu = self.providers[0] == "CPUExecutionProvider"
            return "int8" if has_int8 and on_cpu else "float"
        return decoder

    def _session_at(self, path: Path, providers: list[str] | None = None) -> ort.InferenceSession:
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # onnxruntime falls back to the CPU provider when CUDA's libraries or device are
        # missing, logging errors on the way; silence those (fatal only) while probing.
        ort.set_default_logger_severity(4)
        try:
            return ort.InferenceSession(str(path), so,
                                        providers=providers or ["CPUExecutionProvider"])
        finally:
            ort.set_default_logger_severity(2)

    def with_decoder_file(self, path: Path, precision: str) -> CodecRuntime:
        """The same codec decoding through another decoder graph (e.g. a candidate int8
        file not yet in the manifest), on the CPU provider."""
        other = copy.copy(self)
        other.decoder = self._session_at(Path(path))
        other.decoder_precision = precision
        return other

    # --- input checks -------------------------------------------------------------------
    def _check(self, x: np.ndarray, what: str, dim: int, shape: str) -> None:
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            kind = getattr(x, "dtype", type(x).__name__)
            raise ValueError(f"expected {what} as a float32 numpy array {shape}, got {kind}")
        if x.ndim != 3 or x.shape[1] != dim:
            raise ValueError(f"expected {what} of shape {shape}, got {x.shape}")

    def check_audio(self, audio: np.ndarray) -> None:
        self._check(audio, "audio", self.cfg.channels, f"(batch, {self.cfg.channels}, samples)")

    def check_latent(self, latent: np.ndarray) -> None:
        d = self.cfg.latent_dim
        self._check(latent, "latent", d, f"(batch, {d}, frames)")

    # --- encode / decode ----------------------------------------------------------------
    def encode(self, audio: np.ndarray) -> np.ndarray:
        """audio (B, C, N) float32 -> raw latent (B, D, ceil(N / 2048)); zero-pads the end."""
        self.check_audio(audio)
        cfg = self.cfg
        n = audio.shape[-1]
        if n == 0:
            raise ValueError("expected at least one audio sample, got an empty array")
        pad = -n % cfg.samples_per_latent
        if pad:
            audio = np.pad(audio, ((0, 0), (0, 0), (0, pad)))
        mel = spectral.log_mel(
            audio,
            cfg.sample_rate,
            cfg.n_fft,
            cfg.hop,
            cfg.n_mels,
            cfg.f_min,
            cfg.f_max,
            cfg.log_floor,
        )  # (B, C*M, T)
        (latent,) = self.encoder.run(None, {"log_mel": mel})
        return latent

    def normalize(self, latent: np.ndarray) -> np.ndarray:
        """Raw latent -> zero-mean unit-std per channel (what the diffusion model sees)."""
        return (latent - self.latent_mean) / self.latent_std

    def denormalize(self, latent: np.ndarray) -> np.ndarray:
        return latent * self.latent_std + self.latent_mean

    def spectra(self, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """latent (B, D, L) -> real, imag STFT frames (B, C, 4L, F)."""
        self.check_latent(latent)
        real, imag = self.decoder.run(None, {"latent": latent})
        return real, imag

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """latent (B, D, L) -> audio (B, C, L * 2048)."""
        real, imag = self.spectra(latent)
        return spectral.istft_frames(real, imag, self.cfg.n_fft, self.cfg.hop)

    # --- streaming decode ---------------------------------------------------------------
    def init_state(self, batch: int = 1) -> DecoderState:
        cfg = self.cfg
        return DecoderState(
            lookback=np.zeros((batch, cfg.latent_dim, 0), dtype=np.float32),
            carry=np.zeros((batch, cfg.channels, cfg.n_fft - cfg.hop), dtype=np.float32),
            skip=cfg.n_fft - cfg.hop,
        )

    def decode_step(
        self, latent: np.ndarray, state: DecoderState
    ) -> tuple[np.ndarray, DecoderState]:
        """Decode new latent frames (B, D, l) after ``state``; returns completed audio.

        The first call returns l * 2048 - (n_fft - hop) samples, later calls l * 2048;
        ``flush`` returns the held-back n_fft - hop samples at the end of a stream.
        """
        self.check_latent(latent)
        if latent.shape[0] != state.carry.shape[0]:
            raise ValueError(f"batch {latent.shape[0]} != state batch {state.carry.shape[0]}")
        cfg, n_new = self.cfg, latent.shape[-1]
        if n_new == 0:
            return np.zeros((*state.carry.shape[:2], 0), dtype=np.float32), state
        window = np.concatenate([state.lookback, latent], axis=-1)  # (B, D, lb + l)
        real, imag = self.spectra(window)
        keep = n_new * cfg.downsample  # new STFT frames
        frames = spectral.frames_from_complex(real[..., -keep:, :], imag[..., -keep:, :], cfg.n_fft)
        done, carry = spectral.overlap_add(frames, cfg.hop, state.carry)
        done = done[..., state.skip :] / spectral.window_envelope(cfg.n_fft, cfg.hop)
        new_state = DecoderState(
            lookback=window[..., -self.lookback :] if self.lookback else window[..., :0],
            carry=carry,
            skip=max(0, state.skip - keep * cfg.hop),
        )
        return done.astype(np.float32, copy=False), new_state

    def flush(self, state: DecoderState) -> np.ndarray:
        """The last n_fft - hop samples of the stream (completed by the partial envelope)."""
        return spectral.finish_tail(state.carry, self.cfg.n_fft, self.cfg.hop)
