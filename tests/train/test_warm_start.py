"""`engine.train base --init RUN`: a run that starts from another run's weights."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.train.base import BaseRun, main
from engine.train.base_config import BaseTrainConfig
from engine.train.latent_cache import latent_stats_digest
from engine.train.teacher import load_base
from engine.train.warm_start import warm_start
from tests.train import base_support


def _cfg(run: Path) -> BaseTrainConfig:
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    return BaseTrainConfig.from_dict(state["train_config"])


def test_a_new_text_scale_keeps_the_function_and_scales_the_first_text_layer(base_run: Path
                                                                             ) -> None:
    cfg = _cfg(base_run)
    old = load_base(base_run).model
    codec_stats = torch.load(base_run / "checkpoint.pt", weights_only=False)["codec_stats"]
    new_cfg = replace(cfg, dit=replace(cfg.dit, text_scale=8.0), sigma_data=None)
    model, got_cfg, record = warm_start(base_run, new_cfg, codec_stats)
    assert got_cfg.sigma_data == cfg.sigma_data and record["text_scale_to"] == 8.0
    torch.manual_seed(0)
    c = cfg.dit.latent_channels
    x, text = torch.randn(2, c, 12), torch.randn(2, cfg.dit.text_dim) * 0.05
    cond = dict(text_emb=text, budget=torch.ones(2))
    with torch.no_grad():
        want = old(x, torch.tensor([0.5, 3.0]), **cond)
        got = model.eval()(x, torch.tensor([0.5, 3.0]), **cond)
    assert torch.allclose(got, want, atol=1e-5)
    ratio = model.net.text_embed[0].weight / old.net.text_embed[0].weight
    assert torch.allclose(ratio[old.net.text_embed[0].weight.abs() > 1e-6], torch.tensor(1 / 8))


def test_another_architecture_or_codec_is_refused(base_run: Path) -> None:
    cfg = _cfg(base_run)
    stats = torch.load(base_run / "checkpoint.pt", weights_only=False)["codec_stats"]
    with pytest.raises(SystemExit, match="more than text_scale"):
        warm_start(base_run, replace(cfg, dit=replace(cfg.dit, depth=3)), stats)
    with pytest.raises(SystemExit, match="another codec"):
        warm_start(base_run, cfg, "0" * 64)
    with pytest.raises(SystemExit, match="no checkpoint.pt"):
        warm_start(base_run / "nowhere", cfg, stats)


def test_training_from_init_starts_at_the_init_weights_and_records_them(
    base_run: Path, tmp_path_factory
) -> None:
    corpus, codec = base_support.corpus(tmp_path_factory), base_support.codec_run(tmp_path_factory)
    assert latent_stats_digest(codec)  # the same codec the init run used
    out = tmp_path_factory.mktemp("warm")
    main(BaseRun(corpus, codec, out, "micro", steps=1, cache=base_run / "latents", init=base_run))
    config = json.loads((out / "config.json").read_text())
    assert config["init"]["run"] == str(base_run.resolve())
    assert config["init"]["step"] == 3
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    init = torch.load(base_run / "checkpoint.pt", weights_only=False)
    assert state["sigma_data"] == init["sigma_data"]
    # One small step away from the init weights, far from a fresh initialisation.
    moved = max((state["model"][k] - init["ema"][k]).abs().max().item() for k in init["ema"])
    assert 0 < moved < 0.05
