"""Weighted prompt blends, mixed in embedding space. Pure numpy (serving path)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def normalise_weights(weights: Sequence[float]) -> np.ndarray:
    """Weights -> float64 array summing to 1. ValueError for empty, negative, non-finite, all 0."""
    if len(weights) == 0:
        raise ValueError("a prompt blend needs at least one (prompt, weight) pair, got none")
    w = np.asarray([float(v) for v in weights], dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"blend weights must be finite, got {w.tolist()}")
    if np.any(w < 0):
        raise ValueError(f"blend weights must be >= 0, got {w.tolist()}")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"blend weights must not all be zero, got {w.tolist()}")
    return w / total


def blend_embeddings(embeddings: np.ndarray, weights: Sequence[float],
                     renormalise: bool = True) -> np.ndarray:
    """(N, D) unit embeddings and N weights -> one (D,) float32 embedding.

    The weighted mean of unit vectors is shorter than 1 (the more the prompts
    disagree, the shorter); the DiT only ever saw unit-length sentence
    embeddings in training, so by default the mix is put back on the unit
    sphere. A mix that cancels out (norm ~ 0) is returned as is.
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(weights):
        raise ValueError(f"embeddings must be (len(weights)={len(weights)}, dim), "
                         f"got {embeddings.shape}")
    w = normalise_weights(weights)
    mixed = (w[:, None] * embeddings.astype(np.float64)).sum(axis=0)  # (D,)
    norm = float(np.linalg.norm(mixed))
    if renormalise and norm > 1e-6 and not math.isclose(norm, 1.0):
        mixed = mixed / norm
    return mixed.astype(np.float32)
