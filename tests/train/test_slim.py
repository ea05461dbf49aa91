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


def test_a_half_slim_teacher_is_within_float16_rounding_and_loads(base_run: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "half" / "checkpoint.pt"
    cli(["slim", "--run", str(base_run), "--out", str(out), "--half"])
    full = torch.load(base_run / "checkpoint.pt", weights_only=False)["ema"]
    half = torch.load(out, weights_only=False)
    assert half["half"] is True
    for k, v in full.items():
        assert half["ema"][k].dtype == (torch.float16 if v.is_floating_point() else v.dtype)
        torch.testing.assert_close(half["ema"][k].to(v.dtype), v, rtol=1e-3, atol=1e-4)
    teacher = load_base(out.parent)  # loads into the float32 network
    assert next(teacher.model.parameters()).dtype == torch.float32


def test_slim_takes_a_checkpoint_file_too(base_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "from_file.pt"
    cli(["slim", "--run", str(base_run / "checkpoint.pt"), "--out", str(out), "--half"])
    assert torch.load(out, weights_only=False)["slim"] is True
