"""Time one DiT forward: torch eager vs onnxruntime monolithic vs per-block graphs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.edm.precond import EDMPrecond
from engine.model.export import example_inputs
from engine.model.runner import MonolithicDenoiser, SplitDenoiser


def median_ms(fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2
              ) -> dict[str, float]:
    """Median wall time of each fn() in milliseconds.

    The variants run round-robin (one call of each per round) so that a change
    in the machine's load hits them all alike; the median drops outliers.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t) * 1e3) for name, t in times.items()}


def bench_all(denoiser: EDMPrecond, out_dir: Path, frames: int = 688, threads: int = 2,
              split: bool = True, repeats: int = 7) -> dict[str, float]:
    """Print and return ms per forward at batch 1 over `frames` latent frames.

    onnxruntime sessions use `threads` intra-op threads; torch runs at `threads`
    and at 1 (an oversubscribed machine punishes torch's OpenMP barriers hard).
    """
    torch.set_num_threads(threads)
    args = example_inputs(denoiser, batch=1, frames=frames)
    x, sigma, text, budget, known, mask = args
    arrays = [a.numpy() for a in args]
    depth = denoiser.net.cfg.depth

    def eager() -> torch.Tensor:
        with torch.no_grad():
            return denoiser(x, sigma, text_emb=text, budget=budget, known=known, mask=mask)

    def eager_one_thread() -> torch.Tensor:
        torch.set_num_threads(1)
        try:
            return eager()
        finally:
            torch.set_num_threads(threads)

    # No spinning thread pools in the round-robin: a pool that busy-waits after
    # its run steals the cores from whichever variant is timed next.
    mono = MonolithicDenoiser(Path(out_dir) / "denoiser.onnx", threads, spin=False)
    fns: dict[str, Callable[[], object]] = {f"torch eager, {threads} threads": eager,
                                            "torch eager, 1 thread": eager_one_thread,
                                            "ort monolithic": lambda: mono(*arrays)}
    if split:
        runner = SplitDenoiser(Path(out_dir) / "split", threads)
        k = max(1, depth // 2)
        fns["ort split, all blocks"] = lambda: runner(*arrays)
        fns[f"ort split, {k} blocks"] = lambda: runner(*arrays, n_blocks=k)
        fns["ort split, 1 block"] = lambda: runner(*arrays, n_blocks=1)
    results = median_ms(fns, repeats)
    spinning = MonolithicDenoiser(Path(out_dir) / "denoiser.onnx", threads, spin=True)
    results["ort monolithic, spinning"] = median_ms({"": lambda: spinning(*arrays)}, repeats)[""]
    ref = eager().numpy()
    results["max abs error, monolithic"] = float(np.abs(mono(*arrays) - ref).max())
    if split:
        results["max abs error, split"] = float(np.abs(runner(*arrays) - ref).max())
    tokens = -(-frames // denoiser.net.cfg.patch)
    for name, value in results.items():
        if name.startswith("max abs error"):
            print(f"{name:>26}: {value:.2e} vs torch")
        else:
            print(f"{name:>26}: {value:8.1f} ms per forward over {tokens} tokens")
    return results
