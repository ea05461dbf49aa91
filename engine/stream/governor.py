"""The deadline governor: steps, sigmas and layer budget for each hop, from measured costs.

    gov = Governor(model, cfg, geometry)
    gov.calibrate()                                   # time a few network evaluations
    choice = gov.choose(fill_s=1.2, running=True, ceiling=1.0, guidance=3.0)
    result = sample_window(model, choice.plan, ...)   # then:
    gov.observe(choice, result.evaluations, decode_s, total_s)

Cost model. One network evaluation over the window with k blocks at batch B (2 with
guidance) costs c_B(k) = scale * (a_B + b_B * k): a_B (embed, final layer, overheads)
and b_B (one block) are measured once at start-up at the smallest and the largest k;
`scale` (EMA of measured / predicted over every hop) follows what the machine is
actually doing (other processes, thermal, listeners). Predictions use a cautious scale:
the larger of mean + 2 mean absolute deviations and the worst of the last 8 hops. A hop
costs the sum over the plan's evaluations (sigmas from the Karras schedule, k from the
model's layer schedule) plus decode and bookkeeping (cautious EMAs too).

Deadline (seconds of wall time the next hop may take):
- target: target_load * hop seconds (0.5: the hop takes at most half its audio time, 2x
  headroom), scaled by how full the PCM ring is relative to the lead the engine keeps
  (x0.5 when it runs low, up to x1.5 when ahead: more steps and budget when ahead);
- hard: while the stream clock runs, the ring must not run dry: fill - reserve, where
  reserve is what the clock takes at once (one block).
The choice is the richest plan that fits: most steps first, then the highest budget
among the performer's ceiling and the budgets the model was trained at below it. If
nothing fits, the fewest steps with the budget lowered below those (EMERGENCY_BUDGETS:
fewer blocks, worse audio, but audio in time: an underrun is silence), reason "budget
lowered"; if even that does not fit, the cheapest plan, reason "over deadline".
With adaptive=False the choice is always max_steps at the ceiling (reason "fixed"): the
same seed and controls then give the same audio whatever the machine is doing.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field

import numpy as np

from engine.model.layer_schedule import LayerSchedule
from engine.runtime.window import WindowPlan, plan_window
from engine.stream.config import StreamConfig, StreamGeometry

DISTILLED_STEPS = (8, 4, 2, 1)  # a Presto-S generator works at any step count: powers of 2
EMERGENCY_BUDGETS = (0.75, 0.5, 0.25, 0.0)  # tried below the usual budgets when nothing fits


@dataclass(frozen=True)
class Choice:
    plan: WindowPlan
    blocks: tuple[int, ...]  # k per network evaluation, in order
    predicted_seconds: float  # cautious prediction of the whole hop
    deadline_seconds: float
    fill_seconds: float  # PCM ring fill when chosen
    reason: str  # "fits" | "over deadline" | "clock halted"

    @property
    def steps(self) -> int:
        return self.plan.steps

    @property
    def budget(self) -> float:
        return self.plan.budget

    def report(self) -> dict:
        """What the state messages and logs say about this choice."""
        return {
            "steps": self.plan.steps, "mode": self.plan.mode, "sampler": self.plan.sampler,
            "budget": round(self.plan.budget, 4), "guidance": self.plan.guidance,
            "sigmas": [float(f"{s:.4g}") for s in self.plan.sigmas],
            "evaluations": len(self.blocks),
            "blocks_per_evaluation": round(sum(self.blocks) / max(1, len(self.blocks)), 2),
            "predicted_seconds": round(self.predicted_seconds, 4),
            "deadline_seconds": round(self.deadline_seconds, 4),
            "fill_seconds": round(self.fill_seconds, 3), "reason": self.reason,
        }

    def describe(self) -> str:
        p = self.plan
        sampler = p.sampler if p.mode == "diffusion" else "distilled"
        kmean = sum(self.blocks) / max(1, len(self.blocks))
        return (f"{p.steps} steps {sampler}, budget {p.budget:.2f} ({kmean:.1f} blocks/eval), "
                f"predicted {self.predicted_seconds:.3f} s of {self.deadline_seconds:.3f} s "
                f"({self.reason})")


@dataclass
class _Ema:
    """A running mean and mean absolute deviation; `cautious` also covers the worst of the
    last `recent` values (a machine shared with other work is slow in bursts)."""

    alpha: float
    mean: float
    dev: float = 0.0
    recent: int = 8
    last: collections.deque = field(default_factory=collections.deque)

    def update(self, x: float) -> None:
        self.dev += self.alpha * (abs(x - self.mean) - self.dev)
        self.mean += self.alpha * (x - self.mean)
        self.last.append(x)
        while len(self.last) > self.recent:
            self.last.popleft()

    @property
    def cautious(self) -> float:
        return max(self.mean + 2.0 * self.dev, max(self.last, default=0.0))


@dataclass
class CostModel:
    per_eval: dict[int, tuple[float, float]] = field(default_factory=dict)  # B -> (a, b) s
    scale: _Ema = field(default_factory=lambda: _Ema(0.25, 1.0))
    decode: _Ema = field(default_factory=lambda: _Ema(0.25, 0.0))  # s per hop
    overhead: _Ema = field(default_factory=lambda: _Ema(0.25, 0.0))  # s per hop

    def units(self, batch: int, blocks: tuple[int, ...]) -> float:
        """Calibrated seconds of the evaluations, before scaling."""
        a, b = self.per_eval[batch]
        return a * len(blocks) + b * sum(blocks)

    def predict(self, batch: int, blocks: tuple[int, ...]) -> float:
        return (self.scale.cautious * self.units(batch, blocks) + self.decode.cautious
                + max(0.0, self.overhead.cautious))


class Governor:
    def __init__(self, model, cfg: StreamConfig, geometry: StreamGeometry,
                 schedule: LayerSchedule | None = None) -> None:
        self.model = model
        self.schedule = schedule or model.schedule  # k(sigma, budget) used for pricing plans
        self.cfg = cfg
        self.geo = geometry
        d = model.defaults
        self.mode = cfg.mode or d.mode
        self.max_steps = min(cfg.max_steps or d.steps, d.max_steps)
        self.min_steps = min(cfg.min_steps, self.max_steps)
        self.cost = CostModel()
        self._plans: dict[tuple, tuple[WindowPlan, tuple[int, ...]]] = {}
        self.last: Choice | None = None

    # --- plans ------------------------------------------------------------------------
    def step_options(self) -> list[int]:
        """Step counts to try, most first."""
        if self.mode == "distilled":
            opts = [s for s in DISTILLED_STEPS if self.min_steps <= s <= self.max_steps]
            return opts or [self.min_steps]
        return list(range(self.max_steps, self.min_steps - 1, -1))

    def budget_options(self, ceiling: float) -> list[float]:
        """The ceiling, then the model's trained budgets below it, highest first."""
        below = [b for b in self.model.defaults.budgets if b < ceiling - 1e-9]
        return [ceiling, *sorted(set(below), reverse=True)]

    def plan(self, steps: int, budget: float, guidance: float
             ) -> tuple[WindowPlan, tuple[int, ...]]:
        key = (steps, round(budget, 6), guidance)
        if key not in self._plans:
            plan = plan_window(self.model, steps=steps, budget=budget, guidance=guidance,
                               mode=self.mode, sampler=self.cfg.sampler)
            n_blocks = self.schedule.n_blocks
            blocks = tuple(int(n_blocks(s, budget)) for s in plan.evaluations())
            if len(self._plans) > 4096:
                self._plans.clear()
            self._plans[key] = (plan, blocks)
        return self._plans[key]

    def predict(self, steps: int, budget: float, guidance: float) -> float:
        plan, blocks = self.plan(steps, budget, guidance)
        return self.cost.predict(plan.batch(), blocks)

    # --- calibration and observation -----------------------------------------------------
    def calibrate(self, repeats: int = 3) -> dict:
        """Time evaluations over the full window at the fewest and most blocks, per batch."""
        m, w = self.model, self.geo.window_frames
        depth, kmin = m.dit.depth, max(1, m.schedule.min_blocks)
        batches = (1,) if self.mode == "distilled" else (1, 2)
        out = {}
        for batch in batches:
            x = np.zeros((batch, m.latent_channels, w), dtype=np.float32)
            args = (x, np.full((batch,), 1.0, np.float32), m.text.null_embedding(batch),
                    np.ones((batch,), np.float32), x, np.zeros((batch, 1, w), np.float32))
            times = {}
            for k in sorted({kmin, depth}):
                m.denoiser(*args, n_blocks=k)  # warm-up
                runs = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    m.denoiser(*args, n_blocks=k)
                    runs.append(time.perf_counter() - t0)
                times[k] = float(np.median(runs))
            if depth > kmin:
                b = max(0.0, (times[depth] - times[kmin]) / (depth - kmin))
                a = max(0.0, times[kmin] - b * kmin)
            else:
                a, b = 0.0, times[depth] / depth
            self.cost.per_eval[batch] = (a, b)
            out[batch] = {"a": a, "b": b}
        codec = m.codec
        latent = np.zeros((1, m.latent_channels, self.geo.hop_frames), dtype=np.float32)
        state = codec.init_state(1)
        _, state = codec.decode_step(latent, state)
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            codec.decode_step(latent, state)
            runs.append(time.perf_counter() - t0)
        self.cost.decode.mean = float(np.median(runs))
        out["decode"] = self.cost.decode.mean
        return out

    def observe(self, choice: Choice, evaluations: list[tuple[float, int, float]],
                decode_seconds: float, total_seconds: float) -> None:
        """Fold one finished hop's measured times into the cost model."""
        batch = choice.plan.batch()
        blocks = tuple(k for _, k, _ in evaluations)
        spent = sum(t for _, _, t in evaluations)
        units = self.cost.units(batch, blocks) if blocks else 0.0
        if units > 0:
            self.cost.scale.update(spent / units)
        self.cost.decode.update(decode_seconds)
        self.cost.overhead.update(max(0.0, total_seconds - spent - decode_seconds))

    # --- the choice ------------------------------------------------------------------------
    def steady_seconds(self, ceiling: float, guidance: float) -> float:
        """Predicted cost of the plan chosen with the full target deadline (the usual hop)."""
        target = self.cfg.target_load * self.geo.hop_seconds
        return self._richest(target, ceiling, guidance, emergency=True)[1]

    def lead_seconds(self, ceiling: float, guidance: float, reserve: float = 0.0) -> float:
        """Audio the engine keeps queued before starting a hop: the hop's predicted cost,
        the margin and the reserve (what the clock takes in one read)."""
        return self.cfg.margin_seconds + reserve + self.steady_seconds(ceiling, guidance)

    def _richest(self, deadline: float, ceiling: float, guidance: float, emergency: bool = False
                 ) -> tuple[tuple[int, float] | None, float]:
        for steps in self.step_options():
            for budget in self.budget_options(ceiling):
                cost = self.predict(steps, budget, guidance)
                if cost <= deadline:
                    return (steps, budget), cost
        fewest = self.step_options()[-1]
        if emergency:
            for budget in self.emergency_budgets(ceiling):
                cost = self.predict(fewest, budget, guidance)
                if cost <= deadline:
                    return (fewest, budget), cost
        cheapest = (fewest, self.emergency_budgets(ceiling)[-1] if emergency
                    else self.budget_options(ceiling)[-1])
        return None, self.predict(*cheapest, guidance)

    def emergency_budgets(self, ceiling: float) -> list[float]:
        low = self.budget_options(ceiling)[-1]
        return [b for b in EMERGENCY_BUDGETS if b < low - 1e-9] or [low]

    def choose(self, fill_seconds: float, running: bool, ceiling: float, guidance: float,
               reserve: float = 0.0, hard_only: bool = False) -> Choice:
        """The plan for the next hop. running: the stream clock drains the ring; reserve:
        seconds the clock takes in one read. hard_only: a redone hop (control restart) may
        use all the time up to the hard limit."""
        target = self.cfg.target_load * self.geo.hop_seconds
        if not running:
            deadline, halted = target, True
        else:
            halted = False
            lead = self.lead_seconds(ceiling, guidance, reserve)
            ahead = min(1.5, max(0.5, fill_seconds / max(lead, 1e-6)))
            hard = fill_seconds - reserve
            # a redone or rewound hop keeps the margin as slack, as the lead does
            deadline = hard - self.cfg.margin_seconds if hard_only else min(target * ahead, hard)
        picked, cost = self._richest(deadline, ceiling, guidance, emergency=not halted)
        if not self.cfg.adaptive:  # a fixed schedule: the same audio whatever the timing
            picked = (self.step_options()[0], ceiling)
            cost = self.predict(*picked, guidance)
            halted, deadline = True, max(deadline, cost)
        if picked is None:
            steps, budget = self.step_options()[-1], self.emergency_budgets(ceiling)[-1]
            reason = "over deadline"
        else:
            (steps, budget) = picked
            lowered = budget < self.budget_options(ceiling)[-1] - 1e-9
            reason = ("fixed" if not self.cfg.adaptive else "clock halted" if halted
                      else "budget lowered" if lowered else "fits")
        plan, blocks = self.plan(steps, budget, guidance)
        choice = Choice(plan=plan, blocks=blocks, predicted_seconds=cost,
                        deadline_seconds=max(0.0, deadline), fill_seconds=fill_seconds,
                        reason=reason)
        self.last = choice
        return choice

    def can_redo(self, fill_seconds: float, running: bool, ceiling: float,
                 guidance: float, reserve: float = 0.0) -> bool:
        """Whether a hop started now still gets restart_min_fraction of the usual steps."""
        if not running:
            return True
        usual = self._richest(self.cfg.target_load * self.geo.hop_seconds, ceiling, guidance)[0]
        usual_steps = usual[0] if usual else self.min_steps
        need = max(self.min_steps, math.ceil(usual_steps * self.cfg.restart_min_fraction))
        if self.mode == "distilled":
            need = min((s for s in self.step_options() if s >= need), default=self.min_steps)
        cost = self.predict(need, self.budget_options(ceiling)[-1], guidance)
        return cost <= fill_seconds - reserve - self.cfg.margin_seconds
