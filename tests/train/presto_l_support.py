"""A micro Presto-L teacher: the base trainer's micro run (codec, latent cache, checkpoint
format) with its weights swapped for a random-weight 4-block DiT, so that layer dropping
has blocks to drop. Built once per test session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from engine.model.dit import DiT
from engine.train.base_config import BaseTrainConfig
from tests.train import base_support

_cache: dict[str, Path] = {}


def randomise(net: DiT, seed: int = 0, scale: float = 0.05) -> DiT:
    """Make the zero-initialised (adaLN-Zero) weights non-zero, so every path counts."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return net


def teacher_run(tmp_factory) -> Path:
    """RUN/checkpoint.pt in engine.train.base's format; cache = the micro base run's."""
    if "teacher" not in _cache:
        base = base_support.base_run(tmp_factory)
        state = torch.load(base / "checkpoint.pt", map_location="cpu", weights_only=False)
        cfg = BaseTrainConfig.from_dict(state["train_config"])
        cfg = replace(cfg, dit=replace(cfg.dit, depth=4))
        net = randomise(DiT(cfg.dit))
        out = tmp_factory.mktemp("presto_teacher")
        state.update(train_config=cfg.to_dict(), model=net.state_dict(), ema=net.state_dict())
        state.pop("optimizer")
        torch.save(state, out / "checkpoint.pt")
        _cache["teacher"] = out
    return _cache["teacher"]


def presto_l_runs(tmp_factory) -> dict[str, Path]:
    """Presto-L (reroute) and ASE (early exit) fine-tunes of the teacher, 3 micro steps each."""
    if "presto-l" not in _cache:
        from engine.train.presto_l import PrestoLRun, main

        teacher = teacher_run(tmp_factory)
        _cache["presto-l"] = main(PrestoLRun(teacher, tmp_factory.mktemp("presto_l"), "micro"))
        _cache["ase"] = main(PrestoLRun(teacher, tmp_factory.mktemp("ase"), "micro",
                                        baseline="ase"))
    return {"base": teacher_run(tmp_factory), "presto-l": _cache["presto-l"],
            "ase": _cache["ase"]}
