"""Export a trained codec run to a model directory: encoder.onnx, decoder.onnx, manifest.

Graphs (all float32, batch and length dynamic):
  encoder.onnx  log_mel (batch, channels*n_mels, frames), frames % 4 == 0
                -> latent (batch, latent_dim, frames / 4)            [raw, not normalised]
  decoder.onnx  latent (batch, latent_dim, L)
                -> real, imag (batch, channels, 4L, n_fft/2+1)      [frame-major STFT]
The log-mel front end and the inverse STFT run in numpy (engine.codec.spectral).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import CodecConfig
from engine.codec.decoder import DecoderForExport
from engine.manifest import write_manifest

PARITY_SHAPES = ((1, 1), (1, 7), (2, 33), (3, 100))  # (batch, latent frames)
PARITY_TOL = 1e-3  # max abs error on encoder latents and decoder real/imag


def load_run(run_dir: Path) -> tuple[Autoencoder, dict]:
    """Model from RUN/checkpoint.pt plus its training provenance."""
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = Autoencoder(CodecConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    model.eval()
    info = {"data": state.get("data"), "steps": state["step"], "wall_s": state["wall_s"]}
    train_state = run_dir / "train_state.json"
    if train_state.exists():
        info |= json.loads(train_state.read_text())
    return model, info


def _session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def export_graphs(model: Autoencoder, out_dir: Path) -> dict:
    """Write encoder.onnx and decoder.onnx; return parity errors vs PyTorch."""
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    batch, q = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("q", min=1)
    frames = torch.export.Dim("frames", min=1)
    mel = torch.randn(2, cfg.channels * cfg.n_mels, 4 * 16)
    torch.onnx.export(
        model.encoder,
        (mel,),
        out_dir / "encoder.onnx",
        dynamo=True,
        external_data=False,
        input_names=["log_mel"],
        output_names=["latent"],
        dynamic_shapes={"log_mel": {0: batch, 2: 4 * q}},
    )
    z = torch.randn(2, cfg.latent_dim, 16)
    torch.onnx.export(
        DecoderForExport(model.decoder).eval(),
        (z,),
        out_dir / "decoder.onnx",
        dynamo=True,
        external_data=False,
        input_names=["latent"],
        output_names=["real", "imag"],
        dynamic_shapes={"latent": {0: batch, 2: frames}},
    )
    return check_parity(model, out_dir)


@torch.no_grad()
def check_parity(model: Autoencoder, out_dir: Path) -> dict:
    """Max abs error ONNX vs PyTorch at several batch sizes and lengths."""
    cfg = model.cfg
    enc, dec = _session(out_dir / "encoder.onnx"), _session(out_dir / "decoder.onnx")
    wrapped = DecoderForExport(model.decoder)
    gen = torch.Generator().manual_seed(0)
    errors = {}
    for b, n in PARITY_SHAPES:
        audio = 0.1 * torch.randn(b, cfg.channels, n * cfg.samples_per_latent, generator=gen)
        mel = model.spectral.log_mel(audio)
        z_ref = model.encoder(mel)
        (z,) = enc.run(None, {"log_mel": mel.numpy()})
        re_ref, im_ref = wrapped(z_ref)
        re, im = dec.run(None, {"latent": z_ref.numpy()})
        errors[f"{b}x{n}"] = {
            "encoder": float(np.abs(z - z_ref.numpy()).max()),
            "decoder": float(
                max(np.abs(re - re_ref.numpy()).max(), np.abs(im - im_ref.numpy()).max())
            ),
        }
    worst = max(max(e.values()) for e in errors.values())
    if worst > PARITY_TOL:
        raise RuntimeError(f"ONNX parity error {worst:.2e} > {PARITY_TOL}: {errors}")
    return {"max_abs_error": worst, "tolerance": PARITY_TOL, "shapes": errors}


def main(run_dir: Path, out_dir: Path) -> Path:
    t0 = time.time()
    model, info = load_run(run_dir)
    cfg = model.cfg
    stats_path = run_dir / "latent_stats.json"
    if stats_path.exists():
        stats = json.loads(stats_path.read_text())
    else:  # a checkpoint of an unfinished run: measure on its audio cache, say so
        from engine.train.audio_cache import open_cache
        from engine.train.codec import latent_stats

        stats = latent_stats(model, open_cache(run_dir / "cache")) | {"provisional": True}
    parity = export_graphs(model, out_dir)
    n_params = {
        "encoder": sum(p.numel() for p in model.encoder.parameters()),
        "decoder": sum(p.numel() for p in model.decoder.parameters()),
    }
    manifest = write_manifest(
        out_dir,
        "codec",
        ["encoder.onnx", "decoder.onnx"],
        config=cfg.to_dict(),
        sample_rate=cfg.sample_rate,
        channels=cfg.channels,
        n_fft=cfg.n_fft,
        hop=cfg.hop,
        latent_dim=cfg.latent_dim,
        latent_rate_hz=cfg.latent_rate,
        samples_per_latent=cfg.samples_per_latent,
        compression_ratio=cfg.compression_ratio,
        decoder_lookback_latent_frames=cfg.decoder_receptive_latent_frames,
        latent_stats={
            "mean": stats["mean"],
            "std": stats["std"],
            "frames": stats["frames"],
            "provisional": stats.get("provisional", False),
        },
        io={
            "encoder": {
                "inputs": {"log_mel": ["batch", "channels*n_mels", "frames (multiple of 4)"]},
                "outputs": {"latent": ["batch", "latent_dim", "frames/4"]},
            },
            "decoder": {
                "inputs": {"latent": ["batch", "latent_dim", "L"]},
                "outputs": {
                    "real": ["batch", "channels", "4L", "n_fft/2+1"],
                    "imag": ["batch", "channels", "4L", "n_fft/2+1"],
                },
            },
            "notes": "log-mel: causal STFT (left pad n_fft-hop, periodic Hann), Slaney mel, "
            "natural log of magnitude floored at log_floor; latent is raw (normalise with "
            "latent_stats); decoder output goes through engine.codec.spectral's iSTFT.",
        },
        parameters=n_params,
        parity=parity,
        training=info,
        benchmark=None,
        exported_unix=int(time.time()),
    )
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(
        f"exported {out_dir} ({total / 1e6:.1f} MB) in {time.time() - t0:.0f} s, "
        f"ONNX vs torch max abs error {parity['max_abs_error']:.1e}"
    )
    return out_dir
