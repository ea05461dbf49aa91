"""scripts/gpu_train_presto.sh end to end on the CPU (DEVICE=cpu): what travels to a lent GPU
(a packed latent cache, a float16 teacher) goes in, one tar in 15 MiB parts comes out, and
the Presto-L and ASE runs in it load as the bench and the exporter read them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import torch

from tests.train import presto_l_support

ROOT = Path(__file__).resolve().parents[2]


def train_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "engine.train", *args], cwd=ROOT, check=True,
                   capture_output=True)


def test_presto_l_and_ase_come_back_as_one_tar_of_slim_runs(tmp_path_factory, tmp_path):
    teacher = presto_l_support.teacher_run(tmp_path_factory)
    meta = torch.load(teacher / "checkpoint.pt", map_location="cpu", weights_only=False)
    train_cli("pack-cache", "--cache", str(meta["cache"]), "--out", str(tmp_path / "bundle"))
    train_cli("slim", "--run", str(teacher), "--out", str(tmp_path / "teacher.pt"), "--half")
    out = tmp_path / "out"
    env = {**os.environ, "DEVICE": "cpu", "PYTHON": sys.executable, "JOBS": "l ase",
           "THREADS": "1", "WORK": str(tmp_path / "work")}
    done = subprocess.run(["bash", "scripts/gpu_train_presto.sh", str(tmp_path / "bundle"),
                           str(tmp_path / "teacher.pt"), str(out), "0.1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "l exited with 0" in done.stdout and "ase exited with 0" in done.stdout
    parts = sorted(out.glob("bundle.tar.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(tmp_path / "back", filter="data")
    back = tmp_path / "back"
    assert (back / "gpu.txt").exists() and not (back / "s").exists()
    for name, exit_mode in (("l", "reroute"), ("ase", "early_exit")):
        state = torch.load(back / name / "checkpoint.pt", map_location="cpu", weights_only=False)
        assert state["slim"] and state["half"] and "optimizer" not in state
        assert state["presto_l"]["exit_mode"] == exit_mode and state["schedule"]
        assert state["presto_l"]["batch"] == 64  # the gpu preset
        assert all(v.dtype == torch.float16 for v in state["ema"].values()
                   if v.is_floating_point())
        assert (back / name / "valid.jsonl").read_text().strip()
        assert (back / name / "train.log").exists()
