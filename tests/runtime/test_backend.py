"""engine.runtime.backend: the served onnxruntime runner (plain and IO-bound) and the
PyTorch checkpoint both sit behind the one denoiser interface and sample the same window."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.model.runner import SplitDenoiser
from engine.model.torch_denoiser import TorchDenoiser
from engine.runtime.backend import Denoiser
from engine.runtime.window import plan_window, sample_window

ROOT = Path(__file__).resolve().parents[2]


def _inputs(served, batch: int = 2, frames: int = 20, seed: int = 0):  # noqa: ANN001, ANN202
    rng = np.random.default_rng(seed)
    c = served.latent_channels
    x = rng.standard_normal((batch, c, frames)).astype(np.float32)
    sigma = np.array([0.5, 7.0][:batch], dtype=np.float32)
    text = served.text.embed(["a slow chorale", "a fast reel"][:batch])
    budget = np.full((batch,), 0.5, dtype=np.float32)
    known = rng.standard_normal((batch, c, frames)).astype(np.float32)
    mask = np.zeros((batch, 1, frames), dtype=np.float32)
    mask[..., :8] = 1.0
    return x, sigma, text, budget, known, mask


def test_the_served_runner_implements_the_interface_with_io_binding_off_on_the_cpu(served):
    assert isinstance(served.denoiser, Denoiser)
    assert served.denoiser.io_binding is False and served.denoiser.device == "cpu"


@pytest.mark.parametrize("n_blocks", [None, 1, 2])
def test_io_binding_gives_exactly_the_plain_runs_x0(served, n_blocks) -> None:
    bound = SplitDenoiser(served.model_dir, threads=1, io_binding=True)
    args = _inputs(served)
    expected = served.denoiser(*args, n_blocks=n_blocks)
    got = bound(*args, n_blocks=n_blocks)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_the_pytorch_checkpoint_samples_the_same_window_behind_the_interface(served) -> None:
    torch_backend = TorchDenoiser(served.manifest["training"]["run"], threads=1)
    assert isinstance(torch_backend, Denoiser) and torch_backend.depth == served.dit.depth
    in_torch = dataclasses.replace(served, denoiser=torch_backend)
    rng = np.random.default_rng(1)
    known = rng.standard_normal((served.latent_channels, 24)).astype(np.float32)
    text = served.text.embed(["a lively folk tune on fiddle"])[0]
    plan = plan_window(served, steps=3, budget=0.5)
    onnx = sample_window(served, plan, text, known, 10, seed=2)
    torch_run = sample_window(in_torch, plan, text, known, 10, seed=2)
    assert [k for _, k, _ in onnx.evaluations] == [k for _, k, _ in torch_run.evaluations]
    np.testing.assert_allclose(torch_run.latent, onnx.latent, atol=2e-3)


def test_the_interface_module_does_not_import_torch() -> None:
    code = ("import sys, engine.runtime.backend, engine.model.runner; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
