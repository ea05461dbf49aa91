"""An EMA-only copy of a run's checkpoint, for bringing a run back from a lent machine.

    python -m engine.train slim --run RUN --out FILE

A base run's checkpoint.pt holds the weights, their EMA, AdamW's two moments and RNG
state: four copies of the network. What export, judging and distillation read is the
EMA weights and the metadata (engine.train.teacher, engine.export.model), a quarter of
that, which fits a bounded download. The slim file is marked so that `--resume`
refuses it with a message (it has no optimiser to resume); `--init` starts a new run
from its weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.train.checkpoint import save_atomic

DROPPED = ("model", "optimizer", "torch_rng")  # what only resuming needs


def slim_checkpoint(run: Path, out: Path) -> Path:
    """Write out (a checkpoint.pt without DROPPED, marked slim) from run/checkpoint.pt."""
    path = run / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--run {run}: no checkpoint.pt there")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "ema" not in state:
        raise SystemExit(f"--run {run}: its checkpoint.pt holds no EMA weights")
    slim = {k: v for k, v in state.items() if k not in DROPPED}
    slim["slim"] = True
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(slim, out)
    return out
