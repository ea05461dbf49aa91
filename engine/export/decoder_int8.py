"""Static int8 codec decoder for the CPU provider: decoder.onnx -> decoder_int8.onnx.

    python -m engine.export decoder-int8 --codec exported/codec --cache LATENTS \
        [--crops 32] [--frames 344] [--seed 0]

The decoder runs on every hop of the live stream and once per generated clip, and on
the CPU most of its time is float32 MatMul (the ConvNeXt pointwise layers and the two
1025-bin heads). Quantizing those MatMuls to int8 (weights per output channel, activations
per tensor) with activation ranges calibrated once on real latents lets onnxruntime run
them as u8 x s8 integer GEMMs (VNNI where the CPU has it).

Static (calibrated) scales, not dynamic ones: every quantized value depends only on its
own inputs, so decoding chunk by chunk with look-back still reproduces the whole-clip
decode exactly, as with the float decoder. Calibration latents are windows of the
train split of a latent cache (what the diffusion models learned to produce), turned
back into raw latents with the codec's statistics; the error is then measured on
windows of the valid split and recorded in the codec manifest with the file's hash.

The float decoder stays: the CUDA provider and anyone asking for it use decoder.onnx
(``CodecRuntime(..., decoder="float")``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from engine.codec.runtime import INT8_DECODER, CodecRuntime
from engine.manifest import load_manifest, save_manifest, sha256

QUANTIZED_OPS = ["MatMul", "Gemm"]
# Mean |log-magnitude| error over STFT bins within 60 dB of each frame's peak, int8 vs
# float, on held-out latents. The codec's own reconstruction error is about 0.6 nats.
MAX_LOG_MAG_ERROR = 0.1


def cache_windows(
    cache_dir: Path, split: str, crops: int, frames: int, seed: int
) -> list[np.ndarray]:
    """Random normalised latent windows (1, D, frames) from a latent cache's split."""
    from engine.train.latent_cache import open_latent_cache

    if not (Path(cache_dir) / "index.json").is_file():
        raise ValueError(f"{cache_dir} is not a latent cache (no index.json): pass the one "
                         "the diffusion models trained on (engine.train base --cache)")
    cache = open_latent_cache(Path(cache_dir))
    ids = cache.splits[split]
    ids = ids[cache.frames[ids] >= frames]
    if ids.size == 0:
        raise ValueError(f"{cache_dir}: no {split} clip has {frames} latent frames; "
                         "ask for fewer --frames")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(crops):
        clip = int(rng.choice(ids))
        start = int(rng.integers(0, cache.frames[clip] - frames + 1))
        out.append(cache.window(clip, start, frames)[None])
    return out


def log_mag_error(reference: tuple[np.ndarray, np.ndarray],
                  other: tuple[np.ndarray, np.ndarray], floor_db: float = 60.0) -> float:
    """Mean |log|X| - log|Y|| over bins within floor_db of their frame's peak in X.

    reference, other: (real, imag), each (B, C, T, F).
    """
    ref = np.hypot(*reference)
    oth = np.hypot(*other)
    peak = ref.max(axis=-1, keepdims=True)
    audible = ref >= peak * 10 ** (-floor_db / 20)
    err = np.abs(np.log(ref + 1e-7) - np.log(oth + 1e-7))
    return float(err[audible].mean())


def quantize_decoder(codec_dir: Path, calibration: list[np.ndarray],
                     held_out: list[np.ndarray], provenance: dict | None = None,
                     max_error: float | None = None) -> dict:
    """Write codec_dir/decoder_int8.onnx and record it in the codec manifest.

    calibration, held_out: normalised latents, each (1, D, L). provenance: extra fields
    for the manifest entry (where the latents came from). Returns the manifest entry
    (calibration size, held-out error, float and int8 decode times). Refuses (ValueError,
    nothing written) when the held-out error exceeds max_error (None: MAX_LOG_MAG_ERROR).
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    codec_dir = Path(codec_dir)
    if not calibration or not held_out:
        raise ValueError("expected at least one calibration and one held-out latent")
    floats = CodecRuntime(codec_dir, device="cpu", threads=1, decoder="float")
    raw_calibration = [floats.denormalize(x).astype(np.float32) for x in calibration]
    for x in raw_calibration:
        floats.check_latent(x)

    class Feed(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(raw_calibration)

        def get_next(self) -> dict | None:
            x = next(self.items, None)
            return None if x is None else {"latent": x}

    target = codec_dir / INT8_DECODER
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "decoder_prepared.onnx"
        quantized = Path(tmp) / INT8_DECODER
        quant_pre_process(str(codec_dir / "decoder.onnx"), str(prepared))
        quantize_static(
            str(prepared), str(quantized), Feed(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=QUANTIZED_OPS,
        )
        ints = floats.with_decoder_file(quantized, "int8")
        errors = []
        for x in held_out:
            raw = floats.denormalize(x).astype(np.float32)
            errors.append(log_mag_error(floats.spectra(raw), ints.spectra(raw)))
        error = float(np.mean(errors))
        limit = MAX_LOG_MAG_ERROR if max_error is None else max_error
        if error > limit:
            raise ValueError(f"int8 decoder's held-out log-magnitude error {error:.3f} exceeds "
                             f"{limit}: not written (calibrate on more latents?)")
        timing = _decode_ms(floats, ints, frames=689)
        quantized.replace(target)

    manifest = load_manifest(codec_dir, kind="codec")
    entry = {
        "file": INT8_DECODER,
        "quantized_ops": QUANTIZED_OPS,
        "scheme": "static QDQ: weights int8 per output channel, activations uint8 per tensor "
                  "(MinMax over the calibration latents)",
        "calibration_windows": len(calibration),
        "calibration_frames": int(sum(x.shape[-1] for x in calibration)),
        "held_out_windows": len(held_out),
        "held_out_log_mag_error": error,
        "log_mag_error_limit": limit,
        "decode_32s_ms_one_thread": timing,
        "made_unix": int(time.time()),
        **(provenance or {}),
    }
    manifest["decoder_int8"] = entry
    manifest["files"][INT8_DECODER] = {"sha256": sha256(target), "bytes": target.stat().st_size}
    save_manifest(codec_dir, manifest)
    return entry


def _decode_ms(floats: CodecRuntime, ints: CodecRuntime, frames: int,
               runs: int = 5) -> dict[str, float]:
    """Median ms to decode `frames` latent frames (about 32 s) to audio, float vs int8."""
    from engine.bench.codec import time_decode

    latent = np.random.default_rng(0).standard_normal((1, floats.cfg.latent_dim, frames))
    latent = floats.denormalize(latent.astype(np.float32)).astype(np.float32)
    return {name: round(time_decode(runtime, latent, runs) * 1e3, 1)
            for name, runtime in (("float", floats), ("int8", ints))}


def main(codec_dir: Path, cache_dir: Path, crops: int, frames: int, seed: int) -> dict:
    load_manifest(codec_dir, kind="codec")  # a bad codec dir is named before any work
    calibration = cache_windows(cache_dir, "train", crops, frames, seed)
    held_out = cache_windows(cache_dir, "valid", max(4, crops // 4), frames, seed + 1)
    entry = quantize_decoder(codec_dir, calibration, held_out, provenance={
        "command": f"python -m engine.export decoder-int8 --codec {codec_dir} --cache CACHE "
                   f"--crops {crops} --frames {frames} --seed {seed}",
        "calibration_split": "train", "held_out_split": "valid"})
    print(f"wrote {Path(codec_dir) / INT8_DECODER}: held-out log-magnitude error "
          f"{entry['held_out_log_mag_error']:.4f} (limit {MAX_LOG_MAG_ERROR}); 32 s decode "
          f"{entry['decode_32s_ms_one_thread']['float']} ms float -> "
          f"{entry['decode_32s_ms_one_thread']['int8']} ms int8 (one thread)")
    return entry
