"""Presto-L layer schedule: how many DiT blocks run at a noise level for a budget.

Presto-L (Novack et al. 2025) drops more layers where denoising is easy, at high
noise, and keeps them where detail is decided, at low noise. Our schedule:

    u(sigma)    = clip((ln sigma - ln sigma_min) / (ln sigma_max - ln sigma_min), 0, 1)
    keep(s, b)  = clip(b + tilt * (1 - b) * (1/2 - u(s)), 0, 1)
    k(s, b)     = min_blocks + floor(keep(s, b) * (depth - min_blocks) + 1/2)

u is the position of sigma in log-sigma space between the sampling schedule's
ends (0 at sigma_min, 1 at sigma_max): Karras schedules and the log-normal
training distribution are both shaped in log sigma, so this is the axis on which
"high noise" and "low noise" mean the same thing for any step count. keep is the
fraction of the droppable blocks that run: b at the middle of the range, up to
tilt * (1 - b) / 2 more at sigma_min and as much less at sigma_max, so over noise
levels spread evenly in log sigma the average kept fraction is about b (exactly b
while no clip binds). A Karras rho-7 schedule puts most of its steps at low noise,
so there the average is above b: `expected_block_fraction` gives it exactly.

Properties (tested in tests/model/test_layer_schedule.py):
- b = 1 runs all blocks at every sigma (the (1 - b) factor removes the tilt);
- k never falls below min_blocks (>= 2: the first block plus the always-run
  last block of the reroute, or the first two blocks of plain early exit);
- monotone: k does not increase with sigma (d keep / du = -tilt (1 - b) <= 0)
  and does not decrease with b (d keep / db = 1 - tilt (1/2 - u) >= 1 - tilt/2 > 0
  for tilt < 2), and floor keeps both orders.

Which blocks run for a k is `route(depth, k, exit_mode)`: "reroute" (Presto-L:
blocks 0..k-2, then the last block, then the final layer), "early_exit" (the
ASE-style baseline: blocks 0..k-1, then straight to the final layer) or "ranked"
(the last block always runs; the depth - k blocks dropped are the first ones of a
measured drop order for the noise band sigma is in: the blocks whose removal changes
the full network's output least there, engine.train.block_order). All run k blocks,
so one schedule prices them all. No torch import: the serving runtime and the
deadline governor use this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

EXIT_MODES = ("reroute", "early_exit", "ranked")
# ranked routes: ((sigma_edge, order), ...), edges descending and the last 0.0: a noise
# level sigma belongs to the first band with sigma >= edge; order lists blocks 0..depth-2,
# the first dropped first.
DropOrder = tuple[tuple[float, tuple[int, ...]], ...]


def check_drop_order(depth: int, drop_order: object) -> DropOrder:
    """drop_order (e.g. lists read from JSON) as a DropOrder; ValueError naming the fault."""
    try:
        bands = tuple((float(edge), tuple(int(i) for i in order)) for edge, order in drop_order)
    except (TypeError, ValueError) as e:
        raise ValueError(f"drop_order must be [[sigma_edge, [block, ...]], ...], got "
                         f"{drop_order!r}") from e
    if not bands:
        raise ValueError("a ranked route needs a drop_order (engine.train block-order)")
    edges = [edge for edge, _ in bands]
    if edges != sorted(edges, reverse=True) or len(set(edges)) != len(edges) or edges[-1] != 0:
        raise ValueError(f"drop_order sigma edges must fall strictly and end at 0, got {edges}")
    for edge, order in bands:
        if sorted(order) != list(range(depth - 1)):
            raise ValueError(f"drop_order band sigma >= {edge:g}: {list(order)} is not an order "
                             f"of blocks 0..{depth - 2} (the last block always runs)")
    return bands


def band_order(drop_order: DropOrder, sigma: float) -> tuple[int, ...]:
    """The drop order of the band that noise level sigma falls in."""
    for edge, order in drop_order:
        if sigma >= edge:
            return order
    return drop_order[-1][1]


def route(depth: int, n_blocks: int | None, exit_mode: str = "reroute",
          sigma: float | None = None, drop_order: DropOrder = ()) -> list[int]:
    """Block indices run for layer count k = n_blocks (None = all) under exit_mode.

    reroute: [0, .., k-2, depth-1] (the last block always runs: it and the final
    layer see hidden states of the statistics they were trained on).
    early_exit: [0, .., k-1] (the ASE baseline: leave after block k-1).
    ranked: every block but the first depth - k of sigma's band in drop_order, in
    network order (the last block is never dropped); needs sigma when k < depth.
    """
    k = depth if n_blocks is None else int(n_blocks)
    if not 1 <= k <= depth:
        raise ValueError(f"n_blocks must be in [1, {depth}], got {n_blocks}")
    if exit_mode == "reroute":
        return [*range(k - 1), depth - 1]
    if exit_mode == "early_exit":
        return list(range(k))
    if exit_mode == "ranked":
        if k == depth:
            return list(range(depth))
        if sigma is None:
            raise ValueError("a ranked route depends on the noise level: pass sigma")
        dropped = set(band_order(drop_order, float(sigma))[: depth - k])
        return [i for i in range(depth) if i not in dropped]
    raise ValueError(f"unknown exit_mode {exit_mode!r}; choose one of {EXIT_MODES}")


@dataclass(frozen=True)
class LayerSchedule:
    depth: int  # blocks in the network
    min_blocks: int = 2  # fewest blocks ever run (first block + last block)
    tilt: float = 1.0  # 0: k depends on b only; toward 2: ever more blocks moved to low noise
    sigma_min: float = 0.002  # u = 0 here and below (the sampling schedule's ends)
    sigma_max: float = 80.0  # u = 1 here and above

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        if not 1 <= self.min_blocks <= self.depth:
            raise ValueError(f"min_blocks must be in [1, depth={self.depth}], got "
                             f"{self.min_blocks}")
        if not 0.0 <= self.tilt < 2.0:
            raise ValueError(f"tilt must be in [0, 2) for k to grow with the budget, got "
                             f"{self.tilt}")
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError("need 0 < sigma_min < sigma_max")

    @classmethod
    def for_depth(cls, depth: int, **overrides: object) -> LayerSchedule:
        """The default schedule for a network of `depth` blocks (min_blocks capped at depth)."""
        kw: dict = {"min_blocks": min(2, depth), **overrides}
        return cls(depth=depth, **kw)

    def to_dict(self) -> dict:
        return asdict(self)

    def noise_position(self, sigma: float | np.ndarray) -> np.ndarray:
        """u in [0, 1]: where sigma lies between sigma_min and sigma_max in log space."""
        s = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-30)
        lo, hi = math.log(self.sigma_min), math.log(self.sigma_max)
        return np.clip((np.log(s) - lo) / (hi - lo), 0.0, 1.0)

    def keep_fraction(self, sigma: float | np.ndarray, budget: float | np.ndarray) -> np.ndarray:
        """Fraction of the droppable blocks (depth - min_blocks) that run, in [0, 1]."""
        b = np.clip(np.asarray(budget, dtype=np.float64), 0.0, 1.0)
        u = self.noise_position(sigma)
        return np.clip(b + self.tilt * (1.0 - b) * (0.5 - u), 0.0, 1.0)

    def blocks(self, sigma: float | np.ndarray, budget: float | np.ndarray) -> np.ndarray:
        """k(sigma, b): int64 block counts, broadcast over sigma and budget arrays."""
        spare = self.depth - self.min_blocks
        keep = self.keep_fraction(sigma, budget)
        return (self.min_blocks + np.floor(keep * spare + 0.5)).astype(np.int64)

    def n_blocks(self, sigma: float, budget: float) -> int:
        """k(sigma, b) for one noise level and budget, as a Python int."""
        return int(self.blocks(float(sigma), float(budget)))


def evaluated_sigmas(sigmas: Sequence[float], sampler: str = "euler") -> list[float]:
    """The noise levels at which a sampler calls the network over a schedule ending in 0.

    euler and dpmpp_2m: every sigma but the final 0. heun: each step's sigma_i plus
    its correction at sigma_{i+1}, except for the last step (to 0), which is Euler.
    """
    s = [float(v) for v in sigmas]
    first = s[:-1]
    if sampler in ("euler", "dpmpp_2m", "dpmpp2m"):
        return first
    if sampler == "heun":
        return first + [v for v in s[1:] if v > 0.0]
    raise ValueError(f"unknown sampler {sampler!r}")


def expected_block_fraction(schedule: LayerSchedule, budget: float,
                            sigmas: Sequence[float]) -> float:
    """Average fraction of the depth run per network evaluation at these noise levels.

    sigmas: the noise levels the network is called at (a schedule's positive
    entries, or `evaluated_sigmas(schedule, sampler)`); zeros are ignored. The
    compute of embed and final layer is not counted. 1.0 at budget 1.
    """
    s = np.asarray([v for v in sigmas if v > 0.0], dtype=np.float64)
    if s.size == 0:
        raise ValueError("no positive noise levels to average over")
    return float(schedule.blocks(s, budget).mean() / schedule.depth)


def budget_for_fraction(schedule: LayerSchedule, fraction: float, sigmas: Sequence[float],
                        tol: float = 1e-4) -> float:
    """The largest budget whose expected block fraction does not exceed `fraction`
    (bisection: the fraction is a non-decreasing step function of the budget).
    0.0 when even budget 0 costs more; 1.0 when fraction >= 1."""
    if fraction >= 1.0:
        return 1.0
    if expected_block_fraction(schedule, 0.0, sigmas) > fraction:
        return 0.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if expected_block_fraction(schedule, mid, sigmas) <= fraction:
            lo = mid
        else:
            hi = mid
    return lo
