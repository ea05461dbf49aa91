"""Smooth prompt changes: the text embedding travels to a new prompt over a few hops.

    glide = PromptGlide(start_embedding, hops=2)
    glide.retarget(new_embedding)        # a prompt change: the next hops move toward it
    emb = glide.peek()                   # (384,) the embedding the next hop uses
    glide.advance()                      # after the hop is written (a redone hop peeks again)

A cut (hops=1) conditions the very next hop on the new prompt; the hop still continues
the music in the latent ring, but the text condition jumps. Gliding moves it along the
great circle between the two unit embeddings (slerp), so every step is a unit vector
like those the DiT was trained on: a straight line between them would pass inside the
sphere, i.e. a weaker, vaguer condition, in the middle of the change. Step i of n uses
t = i / n, so the first hop after a change already moves and hop n lands on the target.
"""

from __future__ import annotations

import numpy as np


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between (D,) vectors a and b (unit length after), t in [0, 1].

    Falls back to a renormalised lerp when they are (anti)parallel.
    """
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na < 1e-8 or nb < 1e-8:
        mix = (1 - t) * a64 + t * b64
    else:
        ua, ub = a64 / na, b64 / nb
        omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
        if omega < 1e-4 or np.pi - omega < 1e-4:
            mix = (1 - t) * ua + t * ub
        else:
            mix = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    norm = np.linalg.norm(mix)
    return (mix / norm if norm > 1e-8 else mix).astype(np.float32)


class PromptGlide:
    def __init__(self, embedding: np.ndarray, hops: int = 2) -> None:
        if hops < 1:
            raise ValueError(f"a glide needs hops >= 1, got {hops}")
        self.hops = hops
        self.current = np.asarray(embedding, dtype=np.float32)  # last embedding written
        self.source = self.current
        self.target = self.current
        self.step = hops  # steps taken toward target; == hops: arrived

    @property
    def gliding(self) -> bool:
        return self.step < self.hops

    @property
    def hops_left(self) -> int:
        return self.hops - self.step

    def retarget(self, embedding: np.ndarray, cut: bool = False) -> None:
        """Head for a new embedding from where the stream is now (mid-glide included)."""
        self.source = self.current
        self.target = np.asarray(embedding, dtype=np.float32)
        self.step = self.hops - 1 if cut else 0

    def peek(self) -> np.ndarray:
        """(D,) the embedding of the next hop."""
        if not self.gliding:
            return self.target
        return slerp(self.source, self.target, (self.step + 1) / self.hops)

    def advance(self) -> None:
        """The next hop was written with peek(): move on."""
        self.current = self.peek()
        self.step = min(self.hops, self.step + 1)

    def snapshot(self) -> tuple:
        return self.current, self.source, self.target, self.step

    def restore(self, snap: tuple) -> None:
        self.current, self.source, self.target, self.step = snap
