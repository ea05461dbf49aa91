"""An EMA-only copy of a run's checkpoint, for bringing a run back from a lent machine.

    python -m engine.train slim --run RUN --out FILE

A base run's checkpoint.pt holds the weights, their EMA, AdamW's two moments and RNG
state: four copies of the network. What export, judging and distillation read is the
EMA weights and the metadata (engine.train.teacher, engine.export.model), a quarter of
that, which fits a bounded download. The slim file is marked so that `--resume`
refuses it with a message (it has no optimiser to resume); `--init` starts a new run
from its weights. `--half` stores the weights as float16 (half the size again; loading
them into a float32 network casts them back, off by at most 1e-3 relative): a teacher
that must share a bounded upload with its data, or several snapshots brought back at once.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.train.checkpoint import save_atomic

DROPPED = ("model", "optimizer", "torch_rng")  # what only resuming needs


def halve(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point tensors as float16, the others as they are."""
    return {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}


def slim_checkpoint(run: Path, out: Path, half: bool = False) -> Path:
    """Write out (a checkpoint.pt without DROPPED, marked slim) from run/checkpoint.pt.

    ``run`` may also be a checkpoint file itself (a Presto-S snapshot, say)."""
    path = run if run.is_file() else run / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--run {run}: no checkpoint.pt there")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "ema" not in state:
        raise SystemExit(f"--run {run}: its checkpoint.pt holds no EMA weights")
    slim = {k: v for k, v in state.items() if k not in DROPPED}
    slim["slim"] = True
    if half:
        slim["ema"] = halve(slim["ema"])
        slim["half"] = True
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(slim, out)
    return out
