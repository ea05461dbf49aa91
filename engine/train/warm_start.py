"""Start a base-model training run from another run's weights (`engine.train base --init RUN`).

The only difference allowed between the two networks is DiTConfig.text_scale, the
factor on the pooled text embedding. The first text layer's weights are divided by
the ratio of the new scale to the old one, so the warm-started network computes
exactly what the old one did; what changes is how fast the text path learns (the
reason text_scale exists: engine.model.config).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from engine.edm.precond import EDMPrecond
from engine.model.dit import DiT
from engine.train.base_config import BaseTrainConfig


def warm_start(init_run: Path, cfg: BaseTrainConfig, codec_stats: str
               ) -> tuple[EDMPrecond, BaseTrainConfig, dict]:
    """The network with init_run's EMA weights, cfg with init_run's sigma_data, provenance.

    Refuses (SystemExit naming the mismatch) a run of another architecture or one
    trained on another codec's latents.
    """
    path = Path(init_run) / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--init {init_run}: no checkpoint.pt there (a base run or one "
                         "rebuilt with `python -m engine.train import-base`)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    old = BaseTrainConfig.from_dict(state["train_config"]).dit
    new = cfg.dit
    if replace(old, text_scale=new.text_scale) != new:
        raise SystemExit(f"--init {init_run}: its network {old} differs from the preset's {new} "
                         "in more than text_scale")
    if state.get("codec_stats") not in (None, codec_stats):
        raise SystemExit(f"--init {init_run} was trained on another codec's latents")
    weights = dict(state["ema"])
    ratio = new.text_scale / old.text_scale
    weights["text_embed.0.weight"] = weights["text_embed.0.weight"] / ratio
    cfg = replace(cfg, sigma_data=float(state["sigma_data"]))
    model = EDMPrecond(DiT(new), cfg.sigma_data)
    model.net.load_state_dict(weights)
    return model, cfg, {"run": str(Path(init_run).resolve()), "step": int(state["step"]),
            "text_scale_from": old.text_scale, "text_scale_to": new.text_scale}
