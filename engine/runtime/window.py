"""Sample one latent window with a served model: the unit of work of every hop. No torch.

    plan = plan_window(model, steps=4, budget=0.6)          # sigmas + layers per evaluation
    result = sample_window(model, plan, text_emb, known, n_known, seed=7)
    result.latent                                            # (C, T) normalised latent

Two modes (the model's manifest says which it is meant for; a caller may ask for either):
- "diffusion": an EDM ODE sampler (Heun, Euler, DPM-Solver++(2M)) over a Karras
  schedule with classifier-free guidance, the conditional and empty-prompt passes
  batched together;
- "distilled" (Presto-S): x = sigma_0 * noise; for each step x0 = G(x, sigma_i),
  then x = x0 + sigma_{i+1} * fresh noise. The generator is conditioned on
  continuous sigma, so any step count and any sigmas work from one network.

In both, the first `n_known` frames are context: given to the network through its
known/mask inputs and pasted into every x0 estimate, so they come out unchanged.
Context guidance (`context_guidance` w > 0, continuation windows only) adds a pass
without the context and extrapolates away from it, as classifier-free guidance does
from the empty prompt: x0 = guided + w (D(text, context) - D(text, no context)).
`context_min_sigma` S gives the network the known/mask inputs only at sigma >= S: below it
the context reaches the network only through the pasted frames of x (S above sigma_max is
plain replacement, the network never told which frames are known).
Each evaluation runs k(sigma, budget) blocks (Presto-L reroute; engine.model.layer_schedule).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from engine.edm.samplers import SAMPLERS
from engine.edm.schedule import distilled_sigmas, karras_sigmas
from engine.model.layer_schedule import evaluated_sigmas
from engine.runtime.model import ServedModel


@dataclass(frozen=True)
class WindowPlan:
    mode: str  # "diffusion" | "distilled"
    sigmas: tuple[float, ...]  # decreasing, ending in 0; len = steps + 1
    budget: float  # layer budget in [0, 1]
    guidance: float  # diffusion mode only; 1 = no guidance (half the work)
    sampler: str  # diffusion mode: heun | euler | dpmpp_2m
    context_guidance: float = 0.0  # w of the no-context pass (continuations); 0: off
    context_min_sigma: float = 0.0  # known/mask inputs only at sigma >= this (continuations)

    @property
    def steps(self) -> int:
        return len(self.sigmas) - 1

    def evaluations(self) -> list[float]:
        """The sigmas at which the network runs, in order."""
        if self.mode == "distilled":
            return list(self.sigmas[:-1])
        return evaluated_sigmas(self.sigmas, "heun" if self.sampler == "heun" else "euler")

    def batch(self) -> int:
        """Items per network evaluation of a continuation window: the conditional pass, the
        empty prompt's with guidance, the no-context pass with context guidance (a window
        with no context skips that one)."""
        cfg = self.mode == "diffusion" and self.guidance != 1.0
        return 1 + int(cfg) + int(self.context_guidance > 0.0)


@dataclass
class WindowResult:
    latent: np.ndarray  # (C, T) float32, normalised latent space
    evaluations: list[tuple[float, int, float]] = field(default_factory=list)  # sigma, k, s
    seconds: float = 0.0

    @property
    def blocks_run(self) -> int:
        return sum(k for _, k, _ in self.evaluations)


def plan_window(model: ServedModel, steps: int | None = None, budget: float | None = None,
                guidance: float | None = None, mode: str | None = None,
                sampler: str | None = None, sigmas: tuple[float, ...] | None = None,
                context_guidance: float = 0.0, context_min_sigma: float = 0.0) -> WindowPlan:
    """A plan from the model's defaults with any field overridden; ValueError if out of range."""
    d = model.defaults
    mode = mode or d.mode
    steps = d.steps if steps is None else int(steps)
    if not 1 <= steps <= d.max_steps:
        raise ValueError(f"steps must be in [1, {d.max_steps}], got {steps}")
    budget = d.budget if budget is None else float(budget)
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"budget must be in [0, 1], got {budget}")
    guidance = d.guidance if guidance is None else float(guidance)
    if not 0.0 <= guidance <= 20.0:
        raise ValueError(f"guidance must be in [0, 20], got {guidance}")
    sampler = sampler or d.sampler
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {sorted(SAMPLERS)}")
    if sigmas is None:
        schedule = distilled_sigmas if mode == "distilled" else karras_sigmas
        sigmas = tuple(float(s) for s in schedule(steps, d.sigma_min, d.sigma_max, d.rho))
    elif len(sigmas) != steps + 1 or sigmas[-1] != 0.0:
        raise ValueError("sigmas must hold steps + 1 decreasing values ending in 0")
    if not 0.0 <= context_guidance <= 10.0:
        raise ValueError(f"context guidance must be in [0, 10], got {context_guidance}")
    if context_min_sigma < 0.0:
        raise ValueError(f"context_min_sigma must be >= 0, got {context_min_sigma}")
    if mode == "distilled":
        guidance = 1.0
    return WindowPlan(mode=mode, sigmas=tuple(sigmas), budget=budget, guidance=guidance,
                      sampler=sampler, context_guidance=float(context_guidance),
                      context_min_sigma=float(context_min_sigma))


def sample_window(model: ServedModel, plan: WindowPlan, text_emb: np.ndarray,
                  known: np.ndarray, n_known: int, seed: int | np.random.Generator = 0
                  ) -> WindowResult:
    """Generate frames n_known.. of a window; frames before n_known are kept as given.

    text_emb: (384,) prompt embedding (or a blend); known: (C, T) normalised latent
    whose first n_known frames are context (the rest is ignored); returns (C, T).
    """
    c, t = known.shape
    if c != model.latent_channels:
        raise ValueError(f"known must have {model.latent_channels} channels (C, T), got {c}")
    if not 0 <= n_known < t:
        raise ValueError(f"n_known must be in [0, {t}), got {n_known}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cfg = plan.mode == "diffusion" and plan.guidance != 1.0
    free = plan.context_guidance > 0.0 and n_known > 0  # a pass without the context
    mask = np.zeros((1, 1, t), dtype=np.float32)
    mask[..., :n_known] = 1.0
    known = (known * mask[0]).astype(np.float32)[None]  # (1, C, T)
    prompt = np.asarray(text_emb, dtype=np.float32).reshape(1, -1)  # (1, 384)
    # Rows: the prompt with the context; the empty prompt with it (cfg); the prompt without.
    text = np.concatenate([prompt] + [model.text.null_embedding(1)] * cfg + [prompt] * free)
    batch = len(text)
    known_b = np.repeat(known, batch, axis=0)  # (batch, C, T)
    mask_b = np.repeat(mask, batch, axis=0)  # (batch, 1, T)
    if free:
        known_b[-1], mask_b[-1] = 0.0, 0.0
    budget_b = np.full((batch,), plan.budget, dtype=np.float32)
    # Below context_min_sigma the network is not told the context (only windows that have one
    # and ask for it pay for the zero inputs).
    blind = ((np.zeros_like(known_b), np.zeros_like(mask_b))
             if plan.context_min_sigma > 0.0 and n_known > 0 else (known_b, mask_b))
    result = WindowResult(latent=known[0])
    t_start = time.perf_counter()

    def denoise(x: np.ndarray, sigma: float) -> np.ndarray:  # (1, C, T) -> (1, C, T)
        k = model.schedule.n_blocks(sigma, plan.budget)
        t0 = time.perf_counter()
        xb = np.repeat(x.astype(np.float32), batch, axis=0)
        sig = np.full((batch,), sigma, dtype=np.float32)
        known_in, mask_in = (known_b, mask_b) if sigma >= plan.context_min_sigma else blind
        out = model.denoiser(xb, sig, text, budget_b, known_in, mask_in, n_blocks=k)
        x0 = out[:1]
        if cfg:  # classifier-free guidance in x0 space
            x0 = out[1:2] + (out[:1] - out[1:2]) * plan.guidance
        if free:  # context guidance: away from what the prompt alone would give
            x0 = x0 + (out[:1] - out[-1:]) * plan.context_guidance
        result.evaluations.append((sigma, k, time.perf_counter() - t0))
        return x0 * (1.0 - mask) + known * mask  # context pasted in

    s = plan.sigmas
    x = rng.standard_normal((1, c, t), dtype=np.float32) * s[0]
    if plan.mode == "distilled":
        for i in range(plan.steps):
            x0 = denoise(x, s[i])
            x = x0 if s[i + 1] == 0.0 else x0 + s[i + 1] * rng.standard_normal(
                x0.shape, dtype=np.float32)
    else:
        x = SAMPLERS[plan.sampler](denoise, x, s)
    latent = (x[0] * (1.0 - mask[0]) + known[0] * mask[0]).astype(np.float32)
    if not np.all(np.isfinite(latent)):
        raise FloatingPointError("the sampler produced non-finite latents")
    result.latent = latent
    result.seconds = time.perf_counter() - t_start
    return result
