"""The latent ring: the last W latent frames of the stream, the context of every hop.

    ring = LatentRing(channels=32, frames=689)
    ring.append(window_latent)              # (32, 689) after the first window
    known = ring.last(689 - 43)             # (32, 646) context for the next hop
    ring.append(new_frames)                 # (32, 43)

One preallocated (C, W) array; appending shifts it left in place, so a hop costs one
memmove of W frames and no allocation. Frames are normalised latents (what the DiT sees).
"""

from __future__ import annotations

import numpy as np


class LatentRing:
    def __init__(self, channels: int, frames: int) -> None:
        if channels < 1 or frames < 1:
            raise ValueError(f"a latent ring needs channels, frames >= 1, got {channels}, {frames}")
        self.buf = np.zeros((channels, frames), dtype=np.float32)  # (C, W), newest at the end
        self.count = 0  # valid frames (at the end of buf), <= W
        self.total = 0  # frames appended since the last clear

    @property
    def capacity(self) -> int:
        return self.buf.shape[1]

    def __len__(self) -> int:
        return self.count

    def append(self, frames: np.ndarray) -> None:
        """Add (C, n) frames at the end; the oldest fall off once W are held."""
        c, n = frames.shape
        if c != self.buf.shape[0]:
            raise ValueError(f"expected ({self.buf.shape[0]}, n) latent frames, got {frames.shape}")
        w = self.capacity
        if n >= w:
            self.buf[:] = frames[:, n - w:]
        else:
            self.buf[:, : w - n] = self.buf[:, n:]  # shift left in place (overlap-safe copy)
            self.buf[:, w - n:] = frames
        self.count = min(w, self.count + n)
        self.total += n

    def last(self, n: int) -> np.ndarray:
        """A view of the newest n frames (C, n); ValueError if fewer are held."""
        if not 0 <= n <= self.count:
            raise ValueError(f"asked for the last {n} frames, the ring holds {self.count}")
        return self.buf[:, self.capacity - n:]

    def snapshot(self) -> tuple[np.ndarray, int, int]:
        return self.buf.copy(), self.count, self.total

    def restore(self, snap: tuple[np.ndarray, int, int]) -> None:
        buf, self.count, self.total = snap
        self.buf[:] = buf

    def clear(self) -> None:
        self.buf[:] = 0.0
        self.count = 0
        self.total = 0
