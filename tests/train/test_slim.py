from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.train.__main__ import main as cli
from engine.train.teacher import load_base


def test_slim_keeps_the_ema_weights_and_metadata_only(base_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "slim" / "checkpoint.pt"
    cli(["slim", "--run", str(base_run), "--out", str(out)])
    full = torch.load(base_run / "checkpoint.pt", weights_only=False)
    slim = torch.load(out, weights_only=False)
    assert slim["slim"] is True and not {"model", "optimizer", "torch_rng"} & set(slim)
    for k, v in full["ema"].items():
        torch.testing.assert_close(slim["ema"][k], v)
    assert slim["step"] == full["step"] and slim["train_config"] == full["train_config"]
    assert out.stat().st_size < 0.5 * (base_run / "checkpoint.pt").stat().st_size
    # what export, judging and distillation read: the teacher loads from it
    teacher = load_base(out.parent)
    assert teacher.step == full["step"]


def test_a_slim_checkpoint_refuses_resume_and_says_use_init(base_run, base_codec, tmp_path
                                                            ) -> None:
    run = tmp_path / "run"
    cli(["slim", "--run", str(base_run), "--out", str(run / "checkpoint.pt")])
    with pytest.raises(SystemExit, match="cannot be resumed.*--init"):
        cli(["base", "--cache", str(base_run / "latents"), "--codec",
             str(base_codec), "--out", str(run), "--preset", "micro",
             "--resume"])


def test_slim_of_a_dir_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no checkpoint.pt"):
        cli(["slim", "--run", str(tmp_path), "--out", str(tmp_path / "x.pt")])
