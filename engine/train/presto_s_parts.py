"""Presto-S building blocks: noise distributions, the DMD gradient, the discriminator head.

    sigma = sample_sigmas(cfg.noise_dmd, batch, gen)                 # (B,)
    paths = sample_paths(cfg.noise_gen, batch, gen)                  # B sigma paths
    loss, parts = dmd_loss(x0_g, real_x0, fake_x0, mask)             # DMD2's normalised gradient
    h = hidden_states(fake, x, sigma, text, known, mask, n_blocks)   # (B, L, D)
    d = head(h, token_weights(mask, patch))                          # (B,) LSGAN critic scores

Distribution matching (Yin et al. 2023 "DMD", 2024 "DMD2"): the gradient of the KL
divergence between the generator's distribution and the data's, at noise level
sigma, is the difference of the two score functions; in x0 space the direction is
(fake x0 estimate - real x0 estimate). DMD2 divides it per sample by the mean
|x0_g - real| (a scale that makes the step size independent of sigma and of how
far off the generator is), and turns it into a loss whose gradient is exactly that
direction: 0.5 * ||x0_g - stopgrad(x0_g - grad)||^2.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.edm.precond import EDMPrecond, edm_coefficients
from engine.edm.schedule import distilled_sigmas
from engine.train.presto_s_config import DMD_NORMS, NoiseDist


def sampling_sigmas(dist: NoiseDist, steps: int) -> list[float]:
    """The few-step sampling schedule (steps + 1 levels, ending in 0) that dist's range implies:
    distilled_sigmas(steps, dist.sigma_min, dist.sigma_max, dist.rho), as the runtime uses."""
    return [float(s) for s in distilled_sigmas(steps, dist.sigma_min, dist.sigma_max, dist.rho)]


def _schedules(dist: NoiseDist) -> list[np.ndarray]:
    """The non-zero levels of the sampling schedule for each n in dist.steps."""
    return [np.array(sampling_sigmas(dist, n)[:-1]) for n in dist.steps]


@lru_cache(maxsize=8)
def grid_levels(dist: NoiseDist) -> np.ndarray:
    """(levels,) fixed quantiles (i + 1/2) / levels of the log-normal, increasing."""
    z = np.array([NormalDist().inv_cdf((i + 0.5) / dist.levels) for i in range(dist.levels)])
    return np.exp(dist.p_mean + dist.p_std * z)


def sample_paths(dist: NoiseDist, n: int, gen: torch.Generator) -> list[tuple[float, ...]]:
    """n sampling paths: the noise levels a sampler visits up to (and including) the drawn one.

    The last entry of each path is the drawn sigma. For `schedule` the path is the
    schedule's own levels down to it (sigma_max first); for the other kinds it is
    (sigma_max, sigma) - one generator step from pure noise - or (sigma,) when sigma is
    at or above sigma_max. Backward simulation walks these paths.
    """
    if dist.kind == "schedule":
        schedules = _schedules(dist)
        which = torch.randint(len(schedules), (n,), generator=gen).tolist()
        pick = torch.rand(n, generator=gen).tolist()
        paths = []
        for w, u in zip(which, pick, strict=True):
            levels = schedules[w]
            j = min(int(u * len(levels)), len(levels) - 1)
            paths.append(tuple(float(s) for s in levels[: j + 1]))
        return paths
    sigma = sample_sigmas(dist, n, gen).tolist()
    return [(s,) if s >= dist.sigma_max else (dist.sigma_max, s) for s in sigma]


def sample_sigmas(dist: NoiseDist, n: int, gen: torch.Generator) -> torch.Tensor:
    """(n,) float32 noise levels drawn from dist."""
    if dist.kind == "lognormal":
        return (torch.randn(n, generator=gen) * dist.p_std + dist.p_mean).exp()
    if dist.kind == "karras":
        hi, lo = dist.sigma_max ** (1 / dist.rho), dist.sigma_min ** (1 / dist.rho)
        return (hi + torch.rand(n, generator=gen) * (lo - hi)) ** dist.rho
    if dist.kind == "grid":
        levels = torch.from_numpy(grid_levels(dist)).float()
        return levels[torch.randint(dist.levels, (n,), generator=gen)]
    if dist.kind == "schedule":
        return torch.tensor([p[-1] for p in sample_paths(dist, n, gen)], dtype=torch.float32)
    raise ValueError(f"unknown noise kind {dist.kind!r}")


def masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of err (B, C, T) over frames where mask (B, 1, T) is 0 (not given as context)."""
    unknown = (1.0 - mask).expand_as(err)  # (B, C, T)
    return (err * unknown).sum() / unknown.sum().clamp_min(1.0)


def dmd_loss(x0_g: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor,
             norm: str = "sample") -> tuple[torch.Tensor, dict[str, float]]:
    """DMD2 loss whose gradient in x0_g is the normalised (fake - real) direction.

    x0_g: (B, C, T) generator sample (with grad); real: teacher x0 estimate with CFG and
    fake: fake-score x0 estimate, both of x0_g noised at the same sigma (no grad);
    mask: (B, 1, T), 1 = known context frame (no gradient there). norm "sample" (DMD2):
    each sample's scale is its mean |x0_g - real| over unknown frames, so every sample's
    step is O(1) however small its discrepancy; "batch": one scale, the batch's mean of
    those, so samples keep their relative sizes. The gradient is 0 where fake == real.
    """
    if norm not in DMD_NORMS:
        raise ValueError(f"norm must be one of {DMD_NORMS}, got {norm!r}")
    unknown = (1.0 - mask).expand_as(x0_g)  # (B, C, T)
    with torch.no_grad():
        per_sample = unknown.sum(dim=(1, 2)).clamp_min(1.0)  # (B,)
        scale = ((x0_g - real).abs() * unknown).sum(dim=(1, 2)) / per_sample  # (B,)
        if norm == "batch":
            scale = scale.mean().expand_as(scale)  # (B,)
        grad = (fake - real) / scale.clamp_min(1e-8)[:, None, None] * unknown  # (B, C, T)
        grad = torch.nan_to_num(grad)
        target = x0_g - grad  # (B, C, T)
    loss = 0.5 * masked_mean((x0_g - target) ** 2, mask)
    return loss, {"dmd_grad": float(grad.pow(2).sum().div(unknown.sum().clamp_min(1.0)).sqrt())}


def lsgan_disc_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN (Mao et al. 2017), critic side: real -> 1, generated -> 0."""
    return ((d_real - 1.0) ** 2).mean() + (d_fake**2).mean()


def lsgan_gen_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, generator side: make the critic call its samples real (1)."""
    return ((d_fake - 1.0) ** 2).mean()


def guided_teacher(teacher: EDMPrecond, x: torch.Tensor, sigma: torch.Tensor,
                   text: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
                   guidance: float, guidance_sigma_min: float = 0.0) -> torch.Tensor:
    """The real score: teacher x0 estimate (B, C, T) with classifier-free guidance, full depth.

    The conditional and null-prompt passes run as one batch of 2B. x: (B, C, T);
    sigma: (B,); text: (B, 384); known: (B, C, T); mask: (B, 1, T). Rows with sigma below
    guidance_sigma_min get the conditional estimate alone (guidance 1): a guidance
    interval (Kynkaanniemi et al. 2024), since guidance at low noise only sharpens detail,
    and a few-step generator applies whatever push it learns once per step.
    """
    b = x.shape[0]
    ones = torch.ones(b, dtype=x.dtype, device=x.device)
    if guidance == 1.0:
        return teacher(x, sigma, text_emb=text, budget=ones, known=known, mask=mask)
    null = teacher.net.null_text.to(text.dtype)[None].expand(b, -1)  # (B, 384)
    d = teacher(torch.cat([x, x]), torch.cat([sigma, sigma]), text_emb=torch.cat([text, null]),
                budget=torch.cat([ones, ones]), known=torch.cat([known, known]),
                mask=torch.cat([mask, mask]))  # (2B, C, T)
    cond, uncond = d[:b], d[b:]
    w = torch.where(sigma >= guidance_sigma_min, guidance, 1.0).to(x.dtype)  # (B,)
    return uncond + w[:, None, None] * (cond - uncond)


def disc_depth(depth: int, fraction: float) -> int:
    """Blocks of the fake-score network before the discriminator reads its hidden states."""
    return min(depth, max(1, math.ceil(fraction * depth)))


def level_label(sigma_in: torch.Tensor, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """(B,) generator input levels -> (B,) labels in [0, 1], linear in log sigma: what a
    level-aware fake score receives in place of a layer budget."""
    lo, hi = math.log(sigma_min), math.log(sigma_max)
    return ((sigma_in.log() - lo) / (hi - lo)).clamp(0.0, 1.0)


@torch.no_grad()
def make_level_aware(fake: EDMPrecond) -> None:
    """Make the fake network's budget embeddings constant at their budget-1 value (the only
    budget its teacher was trained at), with a zero last layer that training can grow: at
    the start it answers exactly as the teacher for every level label."""
    net = fake.net
    one = torch.ones(1, device=net.null_text.device)
    for embedder in (net.budget_embed, net.final_budget_embed):
        value = embedder(one)[0]  # (D,)
        last = embedder.mlp[-1]
        last.weight.zero_()
        last.bias.copy_(value)


def hidden_states(model: EDMPrecond, x: torch.Tensor, sigma: torch.Tensor, text: torch.Tensor,
                  known: torch.Tensor, mask: torch.Tensor, n_blocks: int,
                  label: torch.Tensor | None = None) -> torch.Tensor:
    """Tokens (B, L, D) after the first n_blocks blocks of `model`.

    The fake-score network's intermediate features at noise level sigma (B,): what
    the discriminator head reads. x: (B, C, T) noisy latents (not yet scaled by c_in);
    label (B,): its budget input (None: 1, full budget).
    """
    net = model.net
    b = x.shape[0]
    _, _, c_in, c_noise = edm_coefficients(sigma.to(x.dtype), model.sigma_data)  # (B,)
    budget = (torch.ones(b, dtype=x.dtype, device=x.device) if label is None
              else label.to(x.dtype))  # (B,)
    h, c, _ = net.embed(x * c_in[:, None, None], c_noise, text, budget,
                        known, mask)  # (B, L, D), (B, D)
    cos, sin = net.rope(h)  # (L, Dh/2) each
    for i in range(n_blocks):
        h = net.blocks[i](h, c, cos, sin)  # (B, L, D)
    return h


def token_weights(mask: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, L) weight 1 for tokens with any unknown frame, 0 for fully known context tokens."""
    m = F.pad(mask[:, 0], (0, (-mask.shape[2]) % patch), value=1.0)  # (B, T')
    known = m.reshape(m.shape[0], -1, patch).amin(dim=2)  # (B, L): 1 if every frame is known
    return 1.0 - known


class DiscriminatorHead(nn.Module):
    """LSGAN critic over the fake-score network's hidden tokens: (B, L, D) -> (B,).

    Two convolutions along the token axis (kernel 3: local structure in time), then a
    mean over the tokens that are not given context, then a linear score. It is small
    on purpose: the fake-score trunk below it does the heavy lifting, as in DMD2.
    """

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Sequential(
            nn.Conv1d(width, hidden, kernel_size=3, padding=1), nn.SiLU(),
            nn.Conv1d(hidden, hidden, kernel_size=3, padding=1), nn.SiLU(),
        )
        self.out = nn.Linear(hidden, 1)

    def forward(self, h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """h: (B, L, D) tokens; weights: (B, L) pooling weights (token_weights). -> (B,)."""
        z = self.conv(self.norm(h).transpose(1, 2))  # (B, H, L)
        w = weights[:, None, :]  # (B, 1, L)
        pooled = (z * w).sum(dim=2) / w.sum(dim=2).clamp_min(1.0)  # (B, H)
        return self.out(pooled)[:, 0]  # (B,)
