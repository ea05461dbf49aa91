"""The trained base model in PyTorch: load a run's EMA weights, denoise with guidance.

    base = load_base(run_dir)                             # BaseModel(model, cfg, codec_path, step)
    denoise = make_denoiser(base.model, text, known, mask, guidance=3.0)
    x0 = denoise(x, sigma)                                # (1, C, T)

What the Presto trainers distil from and what the PyTorch side of the speed bench
runs. Serving uses the exported graphs (engine.runtime), never this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.edm import classifier_free_guidance, paste_known
from engine.edm.precond import EDMPrecond
from engine.model.dit import DiT
from engine.train.base_config import BaseTrainConfig


@dataclass
class BaseModel:
    model: EDMPrecond
    cfg: BaseTrainConfig
    codec_path: Path
    step: int


def load_base(run_dir: Path, ema: bool = True) -> BaseModel:
    """The base model of a training run (EMA weights by default), in eval mode."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: train a base model with "
            "`python -m engine.train base ...` or pass --model RUN"
        )
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    model = EDMPrecond(DiT(cfg.dit), state["sigma_data"])
    model.net.load_state_dict(state["ema" if ema else "model"])
    return BaseModel(model.eval(), cfg, Path(state["codec"]), int(state["step"]))


def make_denoiser(
    model: EDMPrecond,
    text: torch.Tensor,
    known: torch.Tensor,
    mask: torch.Tensor,
    guidance: float,
    budget: float = 1.0,
):
    """denoise(x (1, C, T), sigma float) -> x0 with CFG and the known frames pasted in.

    text: (1, 384); known: (1, C, T); mask: (1, 1, T). With guidance != 1 the
    conditional and null-prompt passes run as one batch of 2.
    """
    null = model.net.null_text.detach()[None]  # (1, 384)

    def run(x: torch.Tensor, sigma: float, emb: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        return model(
            x,
            torch.full((b,), sigma),
            text_emb=emb,
            budget=torch.full((b,), budget),
            known=known.expand(b, -1, -1),
            mask=mask.expand(b, -1, -1),
        )

    def cond(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return run(x, sigma, text)

    if guidance == 1.0:
        return paste_known(cond, known, mask)
    both = torch.cat([text, null])  # (2, 384)
    last: dict = {}  # the previous call's (x, sigma) -> (cond, uncond) pair

    def pair(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        # Holding x keeps its identity unique: a freed tensor's id could be reused.
        if last.get("x") is not x or last.get("sigma") != sigma:
            d = run(torch.cat([x, x]), sigma, both)  # (2, C, T)
            last.update(x=x, sigma=sigma, value=(d[:1], d[1:]))
        return last["value"]

    guided = classifier_free_guidance(
        lambda x, s: pair(x, s)[0], lambda x, s: pair(x, s)[1], guidance
    )
    return paste_known(guided, known, mask)


def latent_cache_dir(teacher_run: Path, meta: dict, override: Path | None) -> Path:
    """The latent cache a distillation run reads: --cache, else the one the teacher trained on.

    A teacher rebuilt by `engine.train import-base` records none (its cache was on
    another machine): then --cache is required, and the message says so.
    """
    if override is not None:
        return Path(override)
    if not meta.get("cache"):
        raise SystemExit(f"the teacher run {teacher_run} records no latent cache: pass --cache "
                         "DIR (build one with `python -m engine.train base ... --cache-only`)")
    return Path(meta["cache"])
