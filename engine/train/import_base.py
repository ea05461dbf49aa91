"""A base-model training run rebuilt from an exported model directory.

The Presto trainers distil from a base *run* (RUN/checkpoint.pt, engine.train.teacher).
Checkpoints stay out of git, so on a fresh machine the only copy of the teacher is
the shipped ONNX export (exported/base). Its per-block graphs keep every weight
under its PyTorch name, so the network can be read back exactly:

    python -m engine.train import-base --model exported/base --out RUN

writes RUN/checkpoint.pt (model = EMA = the exported weights) and RUN/config.json,
after checking that the rebuilt PyTorch network reproduces the ONNX graphs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from engine.edm.precond import EDMPrecond
from engine.export.model import check_parity
from engine.manifest import ManifestError, load_manifest
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from engine.model.layer_schedule import LayerSchedule
from engine.train.base_config import get_preset
from engine.train.checkpoint import save_atomic, write_json_atomic


def _initializers(path: Path) -> dict[str, np.ndarray]:
    graph = onnx.load(str(path), load_external_data=True).graph
    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def exported_state_dict(model_dir: Path, cfg: DiTConfig) -> dict[str, torch.Tensor]:
    """The DiT state dict held by embed.onnx, block_<i>.onnx, final.onnx and null_text.npy.

    Raises ValueError naming any parameter that is missing or has the wrong shape.
    """
    found: dict[str, np.ndarray] = {}
    for name, value in _initializers(model_dir / "embed.onnx").items():
        if name.startswith("dit."):
            found[name[len("dit."):]] = value
    for i in range(cfg.depth):
        for name, value in _initializers(model_dir / f"block_{i}.onnx").items():
            if name.startswith("block."):
                found[f"blocks.{i}.{name[len('block.'):]}"] = value
    for name, value in _initializers(model_dir / "final.onnx").items():
        if name.startswith("dit.final."):
            found[name[len("dit."):]] = value
    found["null_text"] = np.load(model_dir / "null_text.npy").reshape(cfg.text_dim)

    expected = DiT(cfg).state_dict()
    missing = [k for k in expected if k not in found]
    if missing:
        raise ValueError(f"{model_dir}: the export holds no weights for {missing[:5]} "
                         f"({len(missing)} in all); re-export it with `python -m engine.export`")
    wrong = [k for k, v in expected.items() if tuple(found[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        raise ValueError(f"{model_dir}: {k} has shape {tuple(found[k].shape)}, "
                         f"the config says {tuple(expected[k].shape)}")
    return {k: torch.from_numpy(np.array(found[k], dtype=np.float32)) for k in expected}


def import_base(model_dir: Path, out: Path, preset: str = "tiny", tolerance: float = 1e-3
                ) -> Path:
    """Write out/checkpoint.pt, a base run holding the exported model's weights. Returns it."""
    model_dir = Path(model_dir)
    try:
        manifest = load_manifest(model_dir, kind="model")
    except ManifestError as err:
        raise SystemExit(f"import-base: {err}") from None
    if manifest.get("training_kind", "base") != "base":
        raise SystemExit(f"{model_dir} is a {manifest['training_kind']} model, not a base model")
    dit = DiTConfig(**manifest["dit"])
    cfg = replace(get_preset(preset), dit=dit, sigma_data=float(manifest["sigma_data"]),
                  window_frames=int(manifest["window_frames"]))
    model = EDMPrecond(DiT(dit), cfg.sigma_data)
    try:
        model.net.load_state_dict(exported_state_dict(model_dir, dit))
    except ValueError as err:
        raise SystemExit(str(err)) from None
    model.eval()
    error = check_parity(model, model_dir, LayerSchedule(**manifest["layer_schedule"]))
    if error > tolerance:
        raise SystemExit(f"{model_dir}: rebuilt network differs from its ONNX graphs by "
                         f"{error:.2e} (> {tolerance}); the export and the code disagree")
    training = manifest.get("training", {})
    codec_dir = (model_dir / manifest["codec"]["dir"]).resolve()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        raise SystemExit(f"{ckpt} exists: choose another --out")
    weights = model.net.state_dict()
    meta = {
        "data": training.get("data"),
        "codec": str(codec_dir),
        "codec_stats": manifest["codec"]["latent_stats_sha256"],
        "cache": None,
        "preset": preset,
        "imported_from": str(model_dir.resolve()),
    }
    save_atomic(
        {
            "train_config": cfg.to_dict(),
            "model": weights,
            "ema": weights,
            "step": int(training.get("steps", 0)),
            "wall_s": float(training.get("wall_s", 0.0)),
            "sigma_data": cfg.sigma_data,
            "world_size": 1,
            **meta,
        },
        ckpt,
    )
    write_json_atomic({"train": cfg.to_dict(), "onnx_parity": error, **meta}, out / "config.json")
    print(json.dumps({"run": str(out), "step": int(training.get("steps", 0)),
                      "onnx_parity": error}))
    return ckpt
