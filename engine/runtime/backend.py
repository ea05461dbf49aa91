"""The one interface a DiT backend implements to serve: a denoiser call. No torch.

    x0 = denoiser(x, sigma, text_emb, budget, known, mask, n_blocks=k)   # (B, C, T)

Everything that samples (engine.runtime.window.sample_window, the live engine's
governor, generate, the benches) reaches the network only through this call, so
another backend sits behind `ServedModel.denoiser` by implementing it: onnxruntime's
per-block graphs (engine.model.runner.SplitDenoiser, the served one, IO binding on CUDA)
do; the speed bench's PyTorch rows and tests/runtime/test_backend.py run the PyTorch
checkpoint behind it.

Shapes (float32): x, known (B, C, T) latents (normalised); sigma (B,) noise levels;
text_emb (B, 384) prompt embeddings; budget (B,) layer budgets in [0, 1]; mask (B, 1, T)
1 where `known` holds context. n_blocks: the transformer blocks to run (the layer
schedule's k; None = all of them). `depth` is the number of blocks the network has.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Denoiser(Protocol):
    depth: int

    def __call__(self, x: np.ndarray, sigma: np.ndarray, text_emb: np.ndarray,
                 budget: np.ndarray, known: np.ndarray, mask: np.ndarray,
                 n_blocks: int | None = None) -> np.ndarray:
        """x0 (B, C, T) float32: the network's denoised estimate."""
        ...
