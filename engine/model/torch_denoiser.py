"""A training run's PyTorch checkpoint behind the serving interface (engine.runtime.backend).

    denoiser = TorchDenoiser(RUN)                 # EMA weights of RUN/checkpoint.pt
    model = dataclasses.replace(ServedModel.load("exported/base"), denoiser=denoiser)
    result = sample_window(model, plan, emb, known, n_known)   # now sampled in PyTorch

For comparing backends on identical work and for checking an export against the
network it came from; the serving install has no torch and never imports this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class TorchDenoiser:
    def __init__(self, run_dir: Path | str, threads: int | None = None) -> None:
        import torch

        from engine.export.model import load_run

        if threads:
            torch.set_num_threads(threads)
        self.model, self.info, _ = load_run(Path(run_dir))
        self.depth = self.model.net.cfg.depth

    def __call__(self, x: np.ndarray, sigma: np.ndarray, text_emb: np.ndarray,
                 budget: np.ndarray, known: np.ndarray, mask: np.ndarray,
                 n_blocks: int | None = None) -> np.ndarray:
        """x0 (B, C, T) float32 for x, known (B, C, T), sigma, budget (B,), text_emb (B, 384),
        mask (B, 1, T); n_blocks as the layer schedule chose (None: every block)."""
        import torch

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        with torch.inference_mode():
            out = self.model(tensor(x), tensor(sigma), text_emb=tensor(text_emb),
                             budget=tensor(budget), known=tensor(known), mask=tensor(mask),
                             n_blocks=n_blocks)
        return out.numpy().astype(np.float32, copy=False)
