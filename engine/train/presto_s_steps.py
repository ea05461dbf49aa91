"""One Presto-S training round: fake-score (+ discriminator) updates, then a generator update.

    nets = Networks(generator, teacher, fake, head, schedule, layered)
    parts = fake_update(nets, opt_fake, batch, cfg, gen)       # denoising + LSGAN critic
    parts = generator_update(nets, opt_gen, batch, cfg, gen)   # DMD + LSGAN generator
    x = few_step_sample(generator, noise, sigmas, text, known, mask)   # item 1's sampler

The generator G is an EDM denoiser conditioned on continuous sigma: x0 = G(x, sigma).
Sampling with n steps: x = sigma_0 * noise; x0 = G(x, sigma_i); x = x0 + sigma_{i+1} *
fresh noise (engine.runtime.window runs the same loop over the exported graphs).
Known context frames (mask = 1) are network inputs and are pasted into every x0,
exactly as in sampling, so continuation is trained along with everything else.
All randomness comes from the caller's torch.Generator: a step is a pure function of
(weights, batch, generator), which makes resumed runs exact. That generator lives on the
CPU whatever device trains (`normal` draws there and moves the numbers to the batch's
device), so a run on a GPU draws the same noise as one on the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.edm.loss import EDMLoss
from engine.edm.precond import EDMPrecond
from engine.model.layer_schedule import LayerSchedule
from engine.train.presto_l import ragged_forward
from engine.train.presto_s_config import PrestoSConfig
from engine.train.presto_s_parts import (
    DiscriminatorHead,
    disc_depth,
    dmd_loss,
    guided_teacher,
    hidden_states,
    level_label,
    lsgan_disc_loss,
    lsgan_gen_loss,
    sample_paths,
    sample_sigmas,
    token_weights,
)


@dataclass
class Networks:
    generator: EDMPrecond  # trained: the few-step generator (Presto-L student for Presto-LS)
    teacher: EDMPrecond  # frozen, full depth: the real score
    fake: EDMPrecond  # trained online on the generator's samples: the fake score
    head: DiscriminatorHead | None  # LSGAN critic on the fake network's hidden states
    schedule: LayerSchedule  # the generator's k(sigma, b) (Presto-S: b = 1, all blocks)
    layered: bool = False  # Presto-LS: a budget in [b_min, 1] per generator call


@dataclass
class Batch:
    x0: torch.Tensor  # (B, C, T) real latents; also the known context where mask = 1
    text: torch.Tensor  # (B, 384) caption embeddings
    mask: torch.Tensor  # (B, 1, T) 1 = known context frame

    def rows(self, idx: torch.Tensor) -> Batch:
        return Batch(self.x0[idx], self.text[idx], self.mask[idx])

    def to(self, device: torch.device) -> Batch:
        return Batch(self.x0.to(device), self.text.to(device), self.mask.to(device))


def normal(shape: torch.Size, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Unit Gaussian noise of ``shape`` drawn by ``gen`` (on its device), placed on ``device``."""
    return torch.randn(shape, generator=gen).to(device)


def generator_x0(generator: EDMPrecond, x: torch.Tensor, sigma: torch.Tensor, batch: Batch,
                 budget: torch.Tensor, schedule: LayerSchedule) -> torch.Tensor:
    """G's x0 estimate (B, C, T) with the context pasted in; each row at k(sigma, budget)."""
    k = schedule.blocks(sigma.cpu().numpy(), budget.cpu().numpy())  # (B,) blocks per row
    d = ragged_forward(generator, x, sigma, k, batch.text, budget, batch.x0, batch.mask)
    return d * (1.0 - batch.mask) + batch.x0 * batch.mask  # (B, C, T)


def draw_budgets(cfg: PrestoSConfig, n: int, layered: bool, gen: torch.Generator
                 ) -> torch.Tensor:
    """(n,) layer budgets: 1 for Presto-S; U[b_min, 1] (p_full of them exactly 1) for -LS."""
    if not layered:
        return torch.ones(n)
    budget = cfg.b_min + (1.0 - cfg.b_min) * torch.rand(n, generator=gen)
    return torch.where(torch.rand(n, generator=gen) < cfg.p_full, 1.0, budget)


@torch.no_grad()
def generator_inputs(generator: EDMPrecond, batch: Batch, paths: Sequence[Sequence[float]],
                     budget: torch.Tensor, schedule: LayerSchedule, mode: str,
                     gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy inputs x (B, C, T) for the generator and their sigma (B,) (each path's last).

    mode "real": corpus latents noised at sigma. mode "backward": sampling itself, run
    without gradient from sigma_max along each row's path (x = path[0] * noise, then
    x0 = G(x, path[i]), x = x0 + path[i + 1] * noise), so the generator is trained on
    the inputs it will see when it samples, its own earlier mistakes included.
    """
    x0, dev = batch.x0, batch.x0.device
    sigma = torch.tensor([p[-1] for p in paths], dtype=x0.dtype, device=dev)  # (B,)
    if mode == "real":
        return x0 + normal(x0.shape, gen, dev) * sigma[:, None, None], sigma
    if mode != "backward":
        raise ValueError(f"unknown generator input mode {mode!r}")
    start = torch.tensor([p[0] for p in paths], dtype=x0.dtype, device=dev)  # (B,)
    x = normal(x0.shape, gen, dev) * start[:, None, None]  # (B, C, T)
    for i in range(max(len(p) for p in paths) - 1):
        rows = [r for r, p in enumerate(paths) if len(p) - 1 > i]  # rows not there yet
        idx = torch.tensor(rows, device=dev)
        now = torch.tensor([paths[r][i] for r in rows], dtype=x0.dtype, device=dev)  # (b,)
        nxt = torch.tensor([paths[r][i + 1] for r in rows], dtype=x0.dtype, device=dev)  # (b,)
        est = generator_x0(generator, x[idx], now, batch.rows(idx), budget[idx], schedule)
        x[idx] = est + normal(est.shape, gen, dev) * nxt[:, None, None]
    return x, sigma


@dataclass(frozen=True)
class GeneratorSample:
    x0: torch.Tensor  # (B, C, T) the generator's x0 estimate, context pasted in
    sigma_in: torch.Tensor  # (B,) the input level it was made from
    x_in: torch.Tensor  # (B, C, T) the noisy input itself
    budget: torch.Tensor  # (B,) the layer budget it ran at (1 for Presto-S)


def generator_sample(nets: Networks, batch: Batch, cfg: PrestoSConfig, gen: torch.Generator,
                     grad: bool) -> GeneratorSample:
    """A generator sample at inputs drawn from cfg.noise_gen (and budgets, for -LS)."""
    b = batch.x0.shape[0]
    paths = sample_paths(cfg.noise_gen, b, gen)
    budget = draw_budgets(cfg, b, nets.layered, gen).to(batch.x0.device)  # (B,)
    x, sigma = generator_inputs(nets.generator, batch, paths, budget, nets.schedule,
                                cfg.gen_input, gen)
    with torch.set_grad_enabled(grad):
        x0 = generator_x0(nets.generator, x, sigma, batch, budget, nets.schedule)
    return GeneratorSample(x0, sigma, x, budget)


def fake_budget(cfg: PrestoSConfig, sample: GeneratorSample) -> torch.Tensor:
    """(B,) what the fake score (and the critic) receives as its budget input: 1; with
    cfg.fake_by_level the label of the generator input level each sample was made from;
    with cfg.fake_by_budget the layer budget it was made at."""
    if cfg.fake_by_budget:
        return sample.budget
    if cfg.fake_by_level:
        return level_label(sample.sigma_in, cfg.noise_gen.sigma_min, cfg.noise_gen.sigma_max)
    return torch.ones_like(sample.sigma_in)


def critic(nets: Networks, x0: torch.Tensor, sigma: torch.Tensor, batch: Batch,
           cfg: PrestoSConfig, gen: torch.Generator, label: torch.Tensor | None = None
           ) -> torch.Tensor:
    """Discriminator scores (B,) of latents x0 (B, C, T) noised at sigma (B,); label (B,):
    the budget input of the fake network it reads (None: 1, or with cfg.fake_by_budget
    the budget that the latents' generator samples ran at, real rows paired alike)."""
    x = x0 + normal(x0.shape, gen, x0.device) * sigma[:, None, None]  # (B, C, T)
    n = disc_depth(nets.fake.net.cfg.depth, cfg.disc_block)
    label = label if cfg.fake_by_budget else None
    h = hidden_states(nets.fake, x, sigma, batch.text, batch.x0, batch.mask, n,
                      label)  # (B, L, D)
    return nets.head(h, token_weights(batch.mask, nets.fake.net.cfg.patch))


def fake_update(nets: Networks, opt: torch.optim.Optimizer, batch: Batch, cfg: PrestoSConfig,
                sigma_data: float, gen: torch.Generator) -> dict[str, float]:
    """One fake-score step: EDM denoising on fresh generator samples (+ the LSGAN critic)."""
    sample = generator_sample(nets, batch, cfg, gen, grad=False)
    x0_g = sample.x0  # (B, C, T)
    b = x0_g.shape[0]
    fake = nets.fake
    label = fake_budget(cfg, sample)  # (B,)

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return fake(x, sigma, text_emb=batch.text, budget=label, known=batch.x0,
                    mask=batch.mask)

    sigma = sample_sigmas(cfg.noise_fake, b, gen).to(x0_g.device)  # (B,)
    loss = EDMLoss(sigma_data=sigma_data)(denoise, x0_g, batch.mask, sigma=sigma, generator=gen)
    parts = {"fake": loss.item()}
    if nets.head is not None:
        s = sample_sigmas(cfg.noise_gan, b, gen).to(x0_g.device)  # (B,)
        both = Batch(torch.cat([batch.x0, batch.x0]), torch.cat([batch.text, batch.text]),
                     torch.cat([batch.mask, batch.mask]))
        d = critic(nets, torch.cat([batch.x0, x0_g]), torch.cat([s, s]), both, cfg, gen,
                   torch.cat([label, label]))
        d_loss = lsgan_disc_loss(d[:b], d[b:])
        loss = loss + cfg.gan_disc_weight * d_loss
        parts.update(disc=d_loss.item(), d_real=d[:b].mean().item(), d_fake=d[b:].mean().item())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for group in opt.param_groups for p in group["params"]]
    parts["grad_fake"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
    opt.step()
    return parts


def generator_update(nets: Networks, opt: torch.optim.Optimizer, batch: Batch,
                     cfg: PrestoSConfig, gen: torch.Generator) -> dict[str, float]:
    """One generator step: the DMD2 gradient (+ the LSGAN generator loss).

    Rows whose input sigma is below cfg.anchor_sigma (the last, nearly clean levels of the
    long schedules) are pulled towards the guided teacher's own x0 estimate at that input
    instead of the DMD direction, with the same per-sample normalisation: there one
    teacher step is already accurate, and DMD alone lets those rarely drawn levels drift.
    """
    sample = generator_sample(nets, batch, cfg, gen, grad=True)
    x0_g, sigma_in, x_in = sample.x0, sample.sigma_in, sample.x_in  # (B, C, T), (B,), (B, C, T)
    label = fake_budget(cfg, sample)  # (B,)
    b = x0_g.shape[0]
    sigma = sample_sigmas(cfg.noise_dmd, b, gen).to(x0_g.device)  # (B,)
    with torch.no_grad():
        x = x0_g.detach() + normal(x0_g.shape, gen, x0_g.device) * sigma[:, None, None]
        real = guided_teacher(nets.teacher, x, sigma, batch.text, batch.x0, batch.mask,
                              cfg.guidance, cfg.guidance_sigma_min)
        fake = nets.fake(x, sigma, text_emb=batch.text, budget=label, known=batch.x0,
                         mask=batch.mask)
        anchored = sigma_in < cfg.anchor_sigma  # (B,)
        if anchored.any():
            rows = anchored.nonzero()[:, 0]
            part = batch.rows(rows)
            real[rows] = guided_teacher(nets.teacher, x_in[rows], sigma_in[rows], part.text,
                                        part.x0, part.mask, cfg.guidance,
                                        cfg.guidance_sigma_min)
            fake[rows] = x0_g.detach()[rows]  # direction: from the teacher's estimate to G's
    loss, parts = dmd_loss(x0_g, real, fake, batch.mask, cfg.dmd_norm)
    parts["dmd"] = loss.item()
    parts["anchored"] = float(anchored.float().mean())
    if nets.head is not None:
        trained = [p for p in (*nets.fake.parameters(), *nets.head.parameters())]
        for p in trained:  # the critic is only a path for the generator's gradient here
            p.requires_grad_(False)
        try:
            s = sample_sigmas(cfg.noise_gan, b, gen).to(x0_g.device)  # (B,)
            g_loss = lsgan_gen_loss(critic(nets, x0_g, s, batch, cfg, gen, label))
        finally:
            for p in trained:
                p.requires_grad_(True)
        loss = loss + cfg.gan_gen_weight * g_loss
        parts["gen_gan"] = g_loss.item()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    parts["grad_gen"] = float(torch.nn.utils.clip_grad_norm_(nets.generator.parameters(),
                                                             cfg.grad_clip))
    opt.step()
    parts["sigma_in"] = float(sigma_in.log().mean().exp())  # geometric mean of input sigmas
    return parts


@torch.no_grad()
def few_step_sample(generator: EDMPrecond, noise: torch.Tensor, sigmas: Sequence[float],
                    text: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
                    gen: torch.Generator, budget: float = 1.0,
                    schedule: LayerSchedule | None = None) -> torch.Tensor:
    """Presto-S sampling (B, C, T): x = sigmas[0] * noise; x0 = G(x, s_i); renoise to s_{i+1}.

    noise: (B, C, T) unit Gaussian; sigmas: decreasing, ending in 0 (distilled_sigmas(n));
    text: (B, 384); known: (B, C, T) context, pasted where mask (B, 1, T) is 1.
    """
    depth = generator.net.cfg.depth
    schedule = schedule or LayerSchedule.for_depth(depth)
    batch = Batch(known, text, mask)
    b, dev = noise.shape[0], noise.device
    budgets = torch.full((b,), float(budget), device=dev)
    x = noise * float(sigmas[0])
    for i in range(len(sigmas) - 1):
        sigma = torch.full((b,), float(sigmas[i]), device=dev)
        x0 = generator_x0(generator, x, sigma, batch, budgets, schedule)  # (B, C, T)
        if sigmas[i + 1] == 0.0:
            return x0
        x = x0 + normal(x0.shape, gen, dev) * float(sigmas[i + 1])
    return x

