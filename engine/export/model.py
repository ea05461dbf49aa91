"""Export a trained DiT run (base, Presto-L, Presto-S, Presto-LS) to a served model directory.

    python -m engine.export model --run /root/presto-data/runs/base --out exported/base \
        [--text exported/text] [--codec exported/codec] [--name base] [--mode diffusion]

Writes embed.onnx, block_{i}.onnx, final.onnx (each weight once; the layer count is
chosen per call), dit_config.json, null_text.npy and manifest.json (kind "model":
DiT config, training window, sampling defaults, layer schedule, the text and codec
directories it pairs with, training provenance, PyTorch parity, file hashes). The
text encoder and codec are shared directories named relative to the model, so two
models ship one copy of each. Parity with PyTorch is checked at several window
lengths, batch sizes and budgets before the manifest is written.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.edm.precond import EDMPrecond
from engine.manifest import ManifestError, latent_stats_digest, load_manifest, write_manifest
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from engine.model.export import export_split, save_null_text
from engine.model.layer_schedule import LayerSchedule
from engine.model.runner import SplitDenoiser
from engine.train.base_config import BaseTrainConfig

PARITY_CASES = ((1, 43, 1.0), (2, 120, 1.0), (1, 689, 0.5), (2, 64, 0.25))  # B, T, budget
PARITY_TOL = 1e-3  # max abs error of x0 (unit-variance latents)


def load_run(run_dir: Path) -> tuple[EDMPrecond, dict, dict]:
    """EMA denoiser of a run's checkpoint.pt, its provenance and its layer schedule (or {})."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a base/Presto training run?")
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    dit_cfg = DiTConfig(**state.get("dit", cfg.dit.to_dict()))
    model = EDMPrecond(DiT(dit_cfg), state["sigma_data"])
    model.net.load_state_dict(state["ema"])
    info = {
        "run": str(Path(run_dir).resolve()),
        "steps": int(state["step"]),
        "wall_s": round(float(state["wall_s"]), 1),
        "window_frames": cfg.window_frames,
        "data": state.get("data"),
        "codec_stats": state.get("codec_stats"),
        "preset": state.get("preset"),
    }
    train_state = Path(run_dir) / "train_state.json"
    if train_state.exists():
        info["final"] = {k: v for k, v in json.loads(train_state.read_text()).items()
                         if k in ("final_loss", "final_val")}
    return model.eval(), info, state.get("schedule", {})


def check_parity(model: EDMPrecond, out: Path, schedule: LayerSchedule) -> float:
    """Max abs difference of x0 between PyTorch and the exported graphs over PARITY_CASES."""
    runner = SplitDenoiser(out, threads=2, exit_mode=model.net.cfg.exit_mode)
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    c = model.net.cfg.latent_channels
    for batch, frames, budget in PARITY_CASES:
        x = torch.randn(batch, c, frames, generator=gen) * 2.0
        sigma = torch.tensor([0.5, 7.0][:batch])
        text = torch.nn.functional.normalize(torch.randn(batch, 384, generator=gen), dim=-1)
        known = torch.randn(batch, c, frames, generator=gen)
        mask = torch.zeros(batch, 1, frames)
        mask[..., : frames // 2] = 1.0
        b = torch.full((batch,), budget)
        k = schedule.n_blocks(float(sigma[0]), budget)
        with torch.no_grad():
            ref = model(x, sigma, text_emb=text, budget=b, known=known * mask, mask=mask,
                        n_blocks=k).numpy()
        got = runner(x.numpy(), sigma.numpy(), text.numpy(), b.numpy(),
                     (known * mask).numpy(), mask.numpy(), n_blocks=k)
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def export_model(run: Path, out: Path, text: Path, codec: Path, name: str, mode: str,
                 sampling: dict, training_kind: str) -> dict:
    """Write the model directory `out`; returns its manifest."""
    warnings.simplefilter("ignore")  # the exporter's deprecation chatter
    t0 = time.perf_counter()
    text_manifest = load_manifest(text, kind="text")
    codec_manifest = load_manifest(codec, kind="codec")
    model, info, schedule_dict = load_run(run)
    stats_digest = latent_stats_digest(codec_manifest["latent_stats"])
    if info["codec_stats"] and info["codec_stats"] != stats_digest:
        raise ManifestError(f"{run} was trained on another codec's latents than {codec}: "
                            "export with the codec it was trained with (--codec)")
    depth = model.net.cfg.depth
    schedule = LayerSchedule(**schedule_dict) if schedule_dict else LayerSchedule.for_depth(depth)
    out.mkdir(parents=True, exist_ok=True)
    paths = export_split(model, out)
    paths.append(save_null_text(model, out))
    parity = check_parity(model, out, schedule)
    if parity > PARITY_TOL:
        raise RuntimeError(f"exported graphs differ from PyTorch by {parity:.2e} "
                           f"(> {PARITY_TOL}): not writing a manifest")
    fields = {
        "name": name,
        "training_kind": training_kind,
        "dit": model.net.cfg.to_dict(),
        "sigma_data": float(model.sigma_data),
        "window_frames": info["window_frames"],
        "latent_rate_hz": codec_manifest["latent_rate_hz"],
        "sample_rate": codec_manifest["sample_rate"],
        "channels": codec_manifest["channels"],
        "sampling": {"mode": mode, **sampling},
        "layer_schedule": schedule.to_dict(),
        "text": {"dir": os.path.relpath(text.resolve(), out.resolve()),
                 "model": text_manifest.get("model"),
                 "embedding_dim": text_manifest.get("embedding_dim", 384)},
        "codec": {"dir": os.path.relpath(codec.resolve(), out.resolve()),
                  "encoder_sha256": codec_manifest["files"]["encoder.onnx"]["sha256"],
                  "latent_stats_sha256": stats_digest},
        "training": info,
        "parity": {"max_abs_error": parity, "tolerance": PARITY_TOL,
                   "cases": [list(c) for c in PARITY_CASES]},
        "export_seconds": round(time.perf_counter() - t0, 1),
    }
    files = sorted(p.name for p in paths)
    return write_manifest(out, "model", files, **fields)


def main(run: Path, out: Path, text: Path, codec: Path, name: str | None, mode: str,
         steps: int, guidance: float, sampler: str, budget: float, kind: str,
         budgets: list[float] | None = None) -> None:
    trained = sorted({1.0, budget, *(budgets or [])})
    if not all(0.0 < b <= 1.0 for b in trained):
        raise SystemExit(f"budgets must be in (0, 1], got {trained}")
    sampling = {"steps": steps, "guidance": guidance, "sampler": sampler, "budget": budget,
                "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "max_steps": 64,
                "budgets": trained}
    manifest = export_model(run, out, text, codec, name or out.name, mode, sampling, kind)
    size = sum(e["bytes"] for e in manifest["files"].values())
    print(f"wrote {out}: {len(manifest['files'])} files, {size / 1e6:.1f} MB, parity "
          f"{manifest['parity']['max_abs_error']:.1e}, {manifest['export_seconds']} s")
