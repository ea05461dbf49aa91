"""import-base rebuilds the shipped teacher as a PyTorch base run, exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.train.__main__ import main as cli
from engine.train.teacher import load_base

SHIPPED = Path(__file__).resolve().parents[2] / "exported" / "base"


def test_the_shipped_base_model_comes_back_as_a_run_the_trainers_load(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cli(["import-base", "--model", str(SHIPPED), "--out", str(out)])
    base = load_base(out)
    assert base.step > 0 and base.cfg.dit.depth == 8
    assert base.codec_path == (SHIPPED.parent / "codec").resolve()
    null = np.load(SHIPPED / "null_text.npy").reshape(-1)
    assert torch.allclose(base.model.net.null_text, torch.from_numpy(null))
    # The parity check ran against the ONNX graphs and is recorded with the run.
    import json

    assert json.loads((out / "config.json").read_text())["onnx_parity"] < 1e-3


def test_a_model_dir_with_a_missing_block_is_refused_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "base"
    shutil.copytree(SHIPPED, broken)
    (broken / "block_3.onnx").unlink()
    with pytest.raises(SystemExit, match="block_3.onnx"):
        cli(["import-base", "--model", str(broken), "--out", str(tmp_path / "run")])


def test_an_existing_run_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"keep me")
    with pytest.raises(SystemExit, match="exists"):
        cli(["import-base", "--model", str(SHIPPED), "--out", str(out)])
    assert (out / "checkpoint.pt").read_bytes() == b"keep me"
