"""Presto-S / Presto-LS trainer at micro scale: logs, checkpoints, exact resume, the noise
distributions, the DMD gradient, the discriminator, few-step sampling, continuation, export."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.edm import distilled_sigmas, karras_sigmas
from engine.edm.precond import EDMPrecond
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from engine.model.layer_schedule import LayerSchedule
from engine.train.__main__ import main as cli
from engine.train.presto_l import load_teacher
from engine.train.presto_s import PrestoSRun, main
from engine.train.presto_s_config import NoiseDist, PrestoSConfig, ablation, get_preset
from engine.train.presto_s_parts import (
    DiscriminatorHead,
    dmd_loss,
    grid_levels,
    guided_teacher,
    level_label,
    make_level_aware,
    sample_paths,
    sample_sigmas,
    token_weights,
)
from engine.train.presto_s_steps import (
    Batch,
    Networks,
    draw_budgets,
    fake_update,
    few_step_sample,
    generator_inputs,
    generator_update,
)
from tests.train import presto_s_support


@pytest.fixture(scope="session")
def teacher(tmp_path_factory) -> Path:
    return presto_s_support.teacher_run(tmp_path_factory)


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Path:
    return presto_s_support.presto_s_run(tmp_path_factory)


@pytest.fixture(scope="session")
def ls_run(tmp_path_factory) -> Path:
    return presto_s_support.presto_ls_run(tmp_path_factory)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def micro_cfg(**changes: object) -> PrestoSConfig:
    return replace(get_preset("micro").with_teacher(-0.5, 1.2), **changes)


def networks(teacher_dir: Path, gan: bool = True) -> Networks:
    teacher, _ = load_teacher(teacher_dir)
    gen = copy.deepcopy(teacher).requires_grad_(True)
    fake = copy.deepcopy(teacher).requires_grad_(True)
    torch.manual_seed(0)
    head = DiscriminatorHead(teacher.net.cfg.width, 8) if gan else None
    return Networks(gen, teacher, fake, head, LayerSchedule.for_depth(teacher.net.cfg.depth))


def batch(channels: int, frames: int = 12, b: int = 2, prefix: int = 0) -> Batch:
    g = torch.Generator().manual_seed(7)
    mask = torch.zeros(b, 1, frames)
    mask[0, :, :prefix] = 1.0
    return Batch(torch.randn(b, channels, frames, generator=g),
                 torch.nn.functional.normalize(torch.randn(b, 384, generator=g), dim=-1), mask)


def sigma_recorder(model: EDMPrecond) -> list[float]:
    """Noise levels the network is run at (its noise embedding sees log(sigma) / 4)."""
    seen: list[float] = []
    model.net.noise_embed.register_forward_pre_hook(
        lambda _, args: seen.extend(torch.exp(4 * args[0]).tolist()))
    return seen


def test_run_writes_checkpoint_logs_plots_and_fd(run: Path) -> None:
    for name in ("checkpoint.pt", "losses.jsonl", "losses.png", "fd.jsonl", "fd.png",
                 "config.json", "train_state.json"):
        assert (run / name).exists(), name
    log = rows(run / "losses.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3]
    for r in log:
        assert all(math.isfinite(r[k]) for k in ("dmd", "fake", "disc", "gen_gan", "grad_gen"))
    fd = rows(run / "fd.jsonl")
    assert [r["step"] for r in fd] == [0, 2, 3]
    assert all(set(r) >= {"fd_1", "fd_2", "fd_4", "fd_8"} for r in fd)
    # the real codec and the quality classifier measure decoded samples along training too
    assert all(set(r) >= {"cfd_1", "cfd_2", "cfd_4", "cfd_8", "lfd_1", "lfd_4"} for r in fd)
    assert all(math.isfinite(r[k]) and r[k] >= 0 for r in fd for k in r if k[:3] in ("cfd", "lfd"))
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3 and state["kind"] == "presto-s" and "schedule" not in state
    assert set(state) >= {"train_config", "ema", "sigma_data", "codec_stats", "fake", "head",
                          "optimizer", "optimizer_fake", "torch_rng"}
    assert math.isfinite(state["reference_fd"]["fd"]) and math.isfinite(
        state["reference_fd"]["cfd"])
    cfg = PrestoSConfig.from_dict(state["presto_s"])
    assert cfg.noise_dmd.kind == "lognormal" and cfg.noise_dmd.p_mean is not None
    assert json.loads((run / "config.json").read_text())["device"] == "cpu"


def test_checkpoint_is_a_base_model_whose_generator_left_the_teacher(run, teacher) -> None:
    from engine.train.teacher import load_base

    loaded = load_base(run)
    assert loaded.step == 3 and loaded.cfg.window_frames == 24  # the teacher's serving window
    base, _ = load_teacher(teacher)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    for key in ("model", "fake"):
        assert any(not torch.equal(state[key][k], v) for k, v in base.net.state_dict().items())


def test_snapshots_hold_the_ema_generator_along_training_and_export(run, tmp_path_factory
                                                                    ) -> None:
    from engine.export.model import load_run

    snaps = sorted(p.name for p in (run / "snapshots").iterdir())
    assert snaps == ["step-000002", "step-000003"]  # every 2 updates (micro) and the last
    final = torch.load(run / "checkpoint.pt", weights_only=False)
    last = torch.load(run / "snapshots" / "step-000003" / "checkpoint.pt", weights_only=False)
    assert last["step"] == 3 and "optimizer" not in last and "fake" not in last
    assert all(torch.equal(v, final["ema"][k]) for k, v in last["ema"].items())
    earlier = torch.load(run / "snapshots" / "step-000002" / "checkpoint.pt", weights_only=False)
    assert any(not torch.equal(v, last["ema"][k]) for k, v in earlier["ema"].items())
    model, info, _ = load_run(run / "snapshots" / "step-000002")  # what engine.export reads
    assert info["steps"] == 2 and model.net.cfg == load_run(run)[0].net.cfg


def test_resume_after_a_crash_reaches_the_state_of_an_uninterrupted_run(
    run, teacher, tmp_path, monkeypatch
) -> None:
    from engine.train import presto_s, presto_s_config

    every_step = replace(get_preset("micro"), ckpt_minutes=0.0)  # a checkpoint after each update
    monkeypatch.setitem(presto_s_config.PRESETS, "micro", every_step)
    real_update, calls = presto_s.generator_update, []

    def crash_on_third_update(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_update(*args, **kwargs)

    monkeypatch.setattr(presto_s, "generator_update", crash_on_third_update)
    with pytest.raises(KeyboardInterrupt):
        main(PrestoSRun(teacher, tmp_path, "micro", threads=1))
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 2
    with pytest.raises(SystemExit, match="--resume"):
        main(PrestoSRun(teacher, tmp_path, "micro", threads=1))
    monkeypatch.setattr(presto_s, "generator_update", real_update)
    main(PrestoSRun(teacher, tmp_path, "micro", resume=True, threads=1))
    assert [r["step"] for r in rows(tmp_path / "losses.jsonl")] == [1, 2, 3]
    assert [r["step"] for r in rows(tmp_path / "fd.jsonl")] == [0, 2, 3]
    resumed = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    straight = torch.load(run / "checkpoint.pt", weights_only=False)
    for key in ("model", "ema", "fake", "head"):
        for name, value in straight[key].items():
            torch.testing.assert_close(resumed[key][name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["lognormal", "schedule", "karras", "grid"])
def test_each_noise_distribution_draws_its_own_levels(kind: str) -> None:
    dist = NoiseDist(kind=kind, p_mean=-0.5, p_std=1.2)
    gen = torch.Generator().manual_seed(0)
    s = sample_sigmas(dist, 4000, gen).double()
    assert s.shape == (4000,) and bool((s > 0).all())
    levels = np.concatenate([distilled_sigmas(n)[:-1] for n in (1, 2, 4, 8)])

    def on(values: np.ndarray, allowed: np.ndarray) -> bool:  # float32 draws of float64 levels
        return bool((np.abs(values[:, None] / allowed[None] - 1).min(axis=1) < 1e-6).all())

    if kind == "lognormal":
        assert float(s.log().mean()) == pytest.approx(-0.5, abs=0.06)
        assert float(s.log().std()) == pytest.approx(1.2, abs=0.06)
    elif kind == "schedule":  # only levels of the 1/2/4/8-step schedules; sigma_max most often
        assert on(s.numpy(), levels)
        assert float(s.min()) > 0.01  # never sigma_min, where a distilled call is wasted
        assert float((s == 80.0).double().mean()) == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 8) / 4,
                                                                    abs=0.03)
    elif kind == "karras":  # sigma^(1/7) uniform between the schedule's ends
        u = s ** (1 / 7)
        assert float(u.min()) >= 0.002 ** (1 / 7) - 1e-6 and float(u.max()) <= 80 ** (1 / 7)
        assert float(u.mean()) == pytest.approx((0.002 ** (1 / 7) + 80 ** (1 / 7)) / 2, rel=0.02)
    else:  # a fixed grid of log-normal quantiles
        assert on(s.numpy(), grid_levels(dist))
        assert len(set(s.tolist())) > 500
    others = {k for k in ("lognormal", "schedule", "karras", "grid") if k != kind}
    for other in others:  # a different switch gives a different sample
        t = sample_sigmas(NoiseDist(kind=other, p_mean=-0.5, p_std=1.2), 4000,
                          torch.Generator().manual_seed(0)).double()
        assert not torch.allclose(s, t)


def test_generator_paths_walk_the_schedule_from_sigma_max() -> None:
    paths = sample_paths(NoiseDist(kind="schedule", steps=(4,)), 200,
                         torch.Generator().manual_seed(1))
    levels = tuple(float(v) for v in distilled_sigmas(4)[:-1])
    assert {len(p) for p in paths} == {1, 2, 3, 4}
    assert all(p == levels[: len(p)] for p in paths)
    for p in sample_paths(NoiseDist(kind="lognormal", p_mean=-0.5, p_std=1.2), 50,
                          torch.Generator().manual_seed(2)):
        assert p[0] == 80.0 and (len(p) == 2 or p[-1] >= 80.0)


def test_every_noise_distribution_reaches_the_network_it_is_for(teacher) -> None:
    """Set each distribution to one distinct level and watch which network runs at it."""

    def level(sigma: float) -> NoiseDist:  # a 1-level grid: always exp(p_mean)
        return NoiseDist(kind="grid", levels=1, p_mean=math.log(sigma), p_std=1.0)

    cfg = micro_cfg(noise_gen=level(0.31), noise_dmd=level(0.52), noise_fake=level(0.73),
                    noise_gan=level(0.94), gen_input="real", guidance=2.0)
    nets = networks(teacher)
    seen = {name: sigma_recorder(getattr(nets, name)) for name in ("generator", "teacher", "fake")}
    b = batch(nets.teacher.net.cfg.latent_channels)
    opt = torch.optim.AdamW([*nets.fake.parameters(), *nets.head.parameters()], 1e-4)
    fake_update(nets, opt, b, cfg, 1.0, torch.Generator().manual_seed(0))
    generator_update(nets, torch.optim.AdamW(nets.generator.parameters(), 1e-4), b, cfg,
                     torch.Generator().manual_seed(0))
    rounded = {k: set(np.round(v, 4)) for k, v in seen.items()}
    assert rounded["generator"] == {0.31}
    assert rounded["teacher"] == {0.52}
    assert rounded["fake"] == {0.73, 0.94, 0.52}  # its loss, the critic, the DMD fake score


def test_anchored_inputs_regress_to_the_teacher_and_others_follow_dmd(teacher) -> None:
    """Below anchor_sigma the generator's own teacher is asked at the generator's input."""
    def level(sigma: float) -> NoiseDist:
        return NoiseDist(kind="grid", levels=1, p_mean=math.log(sigma), p_std=1.0)

    for anchor, teacher_levels in ((0.0, {0.52}), (0.4, {0.31, 0.52})):
        cfg = micro_cfg(noise_gen=level(0.31), noise_dmd=level(0.52), gen_input="real",
                        guidance=2.0, gan=False, anchor_sigma=anchor)
        nets = networks(teacher, gan=False)
        seen = sigma_recorder(nets.teacher)
        parts = generator_update(nets, torch.optim.AdamW(nets.generator.parameters(), 1e-4),
                                 batch(nets.teacher.net.cfg.latent_channels), cfg,
                                 torch.Generator().manual_seed(0))
        assert set(np.round(seen, 4)) == teacher_levels
        assert parts["anchored"] == (1.0 if anchor else 0.0) and math.isfinite(parts["dmd"])


def test_ablations_switch_the_distributions_the_paper_compares() -> None:
    cfg = get_preset("tiny")
    assert cfg.noise_gen.kind == "schedule" and cfg.noise_gen.steps == (1, 2, 4, 8)
    assert {cfg.noise_dmd.kind, cfg.noise_fake.kind, cfg.noise_gan.kind} == {"lognormal"}
    gen_train = ablation(cfg, "gen-train")
    assert gen_train.noise_gen.kind == "lognormal" and gen_train.noise_dmd == cfg.noise_dmd
    discrete = ablation(cfg, "discrete")
    assert discrete.noise_gen.steps == (4,) and discrete.noise_dmd.kind == "grid"
    assert discrete.ablation == "discrete"
    with pytest.raises(ValueError, match="ablation"):
        ablation(cfg, "both")


def random_inputs(model: EDMPrecond, seed: int, rows: int = 3, frames: int = 16
                  ) -> tuple[torch.Tensor, ...]:
    """Noisy latents x (B, C, T), unit-norm caption embeddings (B, 384), and no context:
    known (B, C, T) and mask (B, 1, T) all zero."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, model.net.cfg.latent_channels, frames, generator=g)
    text = torch.nn.functional.normalize(torch.randn(rows, 384, generator=g), dim=-1)
    return x, text, torch.zeros_like(x), torch.zeros(rows, 1, frames)


def test_guidance_interval_leaves_low_noise_rows_unguided(teacher) -> None:
    model, _ = load_teacher(teacher)
    x, text, known, mask = random_inputs(model, seed=3)
    sigma = torch.tensor([0.05, 0.5, 5.0])
    with torch.no_grad():
        cond = guided_teacher(model, x, sigma, text, known, mask, 1.0)
        guided = guided_teacher(model, x, sigma, text, known, mask, 3.0)
        interval = guided_teacher(model, x, sigma, text, known, mask, 3.0, guidance_sigma_min=0.4)
    torch.testing.assert_close(interval[0], cond[0])  # below the interval: conditional only
    torch.testing.assert_close(interval[1:], guided[1:])  # inside: guided as before
    assert not torch.allclose(guided[0], cond[0])  # guidance does change that row otherwise
    with pytest.raises(ValueError, match="guidance"):
        PrestoSConfig(guidance_sigma_min=-1.0)


def test_level_labels_run_from_0_at_sigma_min_to_1_at_sigma_max_in_log_sigma() -> None:
    labels = level_label(torch.tensor([0.002, 0.4, 80.0, 200.0, 1e-4]), 0.002, 80.0)
    assert labels[0].item() == pytest.approx(0.0, abs=1e-6)
    assert labels[2].item() == pytest.approx(1.0) and labels[3] == 1.0 and labels[4] == 0.0
    mid = math.sqrt(0.002 * 80.0)  # the geometric middle
    assert level_label(torch.tensor([mid]), 0.002, 80.0).item() == pytest.approx(0.5)
    assert 0.0 < labels[1] < 1.0


def test_a_level_aware_fake_starts_as_the_teacher_for_every_label_and_can_learn_them(
        teacher) -> None:
    model, _ = load_teacher(teacher)
    fake = copy.deepcopy(model).requires_grad_(True)  # the trainer's fake score is trained
    make_level_aware(fake)
    x, text, known, mask = random_inputs(model, seed=5)
    sigma = torch.tensor([0.1, 1.0, 10.0])
    with torch.no_grad():
        want = model(x, sigma, text_emb=text, budget=torch.ones(3), known=known, mask=mask)
        for label in (0.0, 0.37, 1.0):
            got = fake(x, sigma, text_emb=text, budget=torch.full((3,), label), known=known,
                       mask=mask)
            torch.testing.assert_close(got, want)
    # the label's path is trainable: a loss that depends on it gives the last layer a gradient
    out = fake(x, sigma, text_emb=text, budget=torch.tensor([0.0, 0.5, 1.0]), known=known,
               mask=mask)
    out.pow(2).mean().backward()
    assert fake.net.budget_embed.mlp[-1].weight.grad.abs().sum() > 0


def test_dmd_gradient_is_zero_when_fake_equals_real_and_points_from_fake_to_real() -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 4, 6, generator=g).requires_grad_(True)
    real, fake = torch.randn(2, 4, 6, generator=g), torch.randn(2, 4, 6, generator=g)
    mask = torch.zeros(2, 1, 6)
    mask[1, :, :2] = 1.0
    loss, _ = dmd_loss(x0, real, real, mask)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(x0.grad) == 0
    x0.grad = None
    dmd_loss(x0, real, fake, mask)[0].backward()
    unknown = 1.0 - mask
    scale = ((x0 - real).abs() * unknown).sum(dim=(1, 2)) / unknown.expand_as(x0).sum(dim=(1, 2))
    expected = (fake - real) / scale[:, None, None] * unknown / unknown.expand_as(x0).sum()
    torch.testing.assert_close(x0.grad, expected.detach())
    assert torch.count_nonzero(x0.grad[1, :, :2]) == 0  # no gradient on known context frames


def test_batch_normalised_dmd_keeps_the_samples_relative_sizes() -> None:
    g = torch.Generator().manual_seed(1)
    real = torch.randn(2, 4, 6, generator=g)
    x0 = (real + torch.cat([torch.full((1, 4, 6), 0.1), torch.full((1, 4, 6), 1.0)])
          ).requires_grad_(True)  # sample 0 is 10x closer to the real score's estimate
    fake = real + 0.5 * (x0.detach() - real)  # a direction proportional to each discrepancy
    mask = torch.zeros(2, 1, 6)
    dmd_loss(x0, real, fake, mask, "sample")[0].backward()
    per_sample = x0.grad.abs().mean(dim=(1, 2))
    torch.testing.assert_close(per_sample[0], per_sample[1])  # DMD2: both O(1)
    x0.grad = None
    dmd_loss(x0, real, fake, mask, "batch")[0].backward()
    per_sample = x0.grad.abs().mean(dim=(1, 2))
    torch.testing.assert_close(per_sample[1] / per_sample[0], torch.tensor(10.0))
    with pytest.raises(ValueError, match="norm"):
        dmd_loss(x0, real, fake, mask, "layer")


def test_discriminator_trains_and_its_loss_alone_moves_the_generator(teacher) -> None:
    """Guidance 1 and fake = teacher make the DMD gradient exactly zero: any generator
    change then comes from the LSGAN loss, and none without the discriminator."""
    cfg = micro_cfg(guidance=1.0, gen_input="real", gan_gen_weight=1.0)
    b = batch(32, prefix=4)
    moved = {}
    for gan in (True, False):
        nets = networks(teacher, gan)
        before = copy.deepcopy(nets.generator.state_dict())
        if gan:
            head_before = copy.deepcopy(nets.head.state_dict())
            opt = torch.optim.AdamW([*nets.fake.parameters(), *nets.head.parameters()], 1e-3,
                                    weight_decay=0.0)
            parts = fake_update(nets, opt, b, cfg, 1.0, torch.Generator().manual_seed(0))
            assert all(math.isfinite(parts[k]) for k in ("disc", "d_real", "d_fake"))
            assert all(p.grad is not None and p.grad.abs().sum() > 0
                       for p in nets.head.parameters())
            assert any(not torch.equal(v, nets.head.state_dict()[k])
                       for k, v in head_before.items())
            nets.fake.load_state_dict(nets.teacher.state_dict())  # fake == real again
        opt = torch.optim.AdamW(nets.generator.parameters(), 1e-3, weight_decay=0.0)
        parts = generator_update(nets, opt, b, cfg, torch.Generator().manual_seed(1))
        assert parts["dmd"] == 0.0
        moved[gan] = any(not torch.equal(v, nets.generator.state_dict()[k])
                         for k, v in before.items())
    assert moved == {True: True, False: False}


def test_token_weights_leave_out_fully_known_tokens() -> None:
    mask = torch.zeros(1, 1, 7)
    mask[..., :3] = 1.0  # frames 0-2 known: token 0 (frames 0, 1) fully known, token 1 half
    torch.testing.assert_close(token_weights(mask, 2), torch.tensor([[0.0, 1.0, 1.0, 1.0]]))


def test_backward_simulation_runs_the_generator_down_each_path(teacher) -> None:
    nets = networks(teacher, gan=False)
    seen = sigma_recorder(nets.generator)
    b = batch(32)
    levels = tuple(float(v) for v in karras_sigmas(4)[:-1])
    paths = [levels[:1], levels[:3]]
    x, sigma = generator_inputs(nets.generator, b, paths, torch.ones(2), nets.schedule,
                                "backward", torch.Generator().manual_seed(0))
    assert sigma.tolist() == pytest.approx([levels[0], levels[2]])
    assert sorted(np.round(seen, 4)) == sorted(np.round([levels[0], levels[1]], 4))
    assert float(x[0].std()) > 40  # the first step's input is pure noise at sigma_max
    real, _ = generator_inputs(nets.generator, b, paths, torch.ones(2), nets.schedule, "real",
                               torch.Generator().manual_seed(0))
    assert not torch.allclose(real[1], x[1])


def test_one_checkpoint_samples_at_1_2_4_8_steps_and_keeps_a_known_prefix(run) -> None:
    from engine.train.teacher import load_base

    g = load_base(run).model
    seen = sigma_recorder(g)
    c, t, n_known = 32, 20, 8
    gen = torch.Generator().manual_seed(0)
    noise, text = torch.randn(1, c, t, generator=gen), torch.randn(1, 384, generator=gen)
    known = torch.randn(1, c, t, generator=gen)
    mask = torch.zeros(1, 1, t)
    mask[..., :n_known] = 1.0
    outs = {}
    for n in (1, 2, 4, 8):
        seen.clear()
        x = few_step_sample(g, noise, karras_sigmas(n).tolist(), text, known, mask,
                            torch.Generator().manual_seed(1))
        assert len(seen) == n and seen[0] == pytest.approx(80.0)
        assert torch.isfinite(x).all()
        torch.testing.assert_close(x[..., :n_known], known[..., :n_known], rtol=0, atol=0)
        outs[n] = x
    assert not torch.allclose(outs[1], outs[8])
    other = known.clone()
    other[..., :n_known] += 1.0  # another context: the continuation follows it
    y = few_step_sample(g, noise, karras_sigmas(4).tolist(), text, other, mask,
                        torch.Generator().manual_seed(1))
    assert not torch.allclose(y[..., n_known:], outs[4][..., n_known:])


def test_presto_ls_starts_from_presto_l_and_keeps_its_schedule(ls_run, tmp_path_factory
                                                               ) -> None:
    from engine.train.teacher import load_base
    from tests.train import presto_l_support

    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    state = torch.load(ls_run / "checkpoint.pt", weights_only=False)
    presto_l = torch.load(runs["presto-l"] / "checkpoint.pt", weights_only=False)
    assert state["kind"] == "presto-ls" and state["schedule"] == presto_l["schedule"]
    assert state["presto_l_run"] == str(runs["presto-l"].resolve())
    assert load_base(ls_run).cfg.dit.exit_mode == "reroute"
    assert set(rows(ls_run / "fd.jsonl")[-1]) >= {"fd_4", "fd_4_b0.6"}
    budgets = draw_budgets(get_preset("micro"), 1000, True, torch.Generator().manual_seed(0))
    assert float(budgets.min()) >= 0.6 and float((budgets == 1.0).double().mean()) > 0.15
    assert bool((draw_budgets(get_preset("micro"), 8, False,
                              torch.Generator()) == 1.0).all())


def test_presto_ls_refuses_a_run_that_is_not_presto_l(teacher, tmp_path) -> None:
    with pytest.raises(SystemExit, match="layer schedule"):
        main(PrestoSRun(teacher, tmp_path / "ls", "micro", presto_l=teacher, threads=1))
    with pytest.raises(SystemExit, match="not found"):
        main(PrestoSRun(teacher, tmp_path / "ls2", "micro", presto_l=tmp_path, threads=1))


def test_presto_ls_from_presto_s_starts_as_s_plus_the_presto_l_change(run, tmp_path_factory,
                                                                       tmp_path) -> None:
    from engine.train.presto_s import from_presto_s
    from tests.train import presto_l_support

    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    teacher_net, meta = load_teacher(runs["base"])
    s_state = torch.load(run / "checkpoint.pt", weights_only=False)
    l_ema = torch.load(runs["presto-l"] / "checkpoint.pt", weights_only=False)["ema"]
    ls = PrestoSRun(runs["base"], tmp_path / "ls", "micro", threads=1,
                    presto_l=runs["presto-l"], from_presto_s=run)
    gen, fake, head, info = from_presto_s(ls, teacher_net, meta, l_ema)
    for name, t in teacher_net.net.state_dict().items():
        torch.testing.assert_close(gen[name], s_state["ema"][name] + l_ema[name] - t)
    assert all(torch.equal(fake[k], v) for k, v in s_state["fake"].items())
    assert head is not None and info["presto_s_step"] == s_state["step"]
    cli(["presto-ls", "--presto-l", str(runs["presto-l"]), "--from-presto-s", str(run),
         "--teacher", str(runs["base"]), "--out", str(tmp_path / "cli"), "--preset", "micro",
         "--steps", "1", "--threads", "1", "--no-audio-fd"])
    state = torch.load(tmp_path / "cli" / "checkpoint.pt", weights_only=False)
    assert state["kind"] == "presto-ls" and state["presto_s_run"] == str(run.resolve())
    assert state["presto_l_run"] == str(runs["presto-l"].resolve()) and state["step"] == 1


def test_a_presto_ls_run_from_presto_s_resumes_without_the_presto_s_run(run, tmp_path,
                                                                          tmp_path_factory
                                                                          ) -> None:
    import shutil

    from tests.train import presto_l_support

    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    start = tmp_path / "s"
    shutil.copytree(run, start)
    args = ["presto-ls", "--presto-l", str(runs["presto-l"]), "--from-presto-s", str(start),
            "--teacher", str(runs["base"]), "--out", str(tmp_path / "ls"), "--preset", "micro",
            "--threads", "1", "--no-audio-fd"]
    cli([*args, "--steps", "1"])
    shutil.rmtree(start)  # gone, as on another machine: the checkpoint has all it needs
    cli([*args, "--steps", "2", "--resume"])
    state = torch.load(tmp_path / "ls" / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2 and state["presto_s_run"] == str(start.resolve())


def test_presto_ls_from_presto_s_refuses_a_snapshot_or_a_missing_presto_l(
        run, teacher, tmp_path, tmp_path_factory) -> None:
    from tests.train import presto_l_support

    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    snapshot = sorted((run / "snapshots").iterdir())[-1]
    with pytest.raises(SystemExit, match="no fake score"):
        main(PrestoSRun(teacher, tmp_path / "a", "micro", threads=1, presto_l=runs["presto-l"],
                        from_presto_s=snapshot))
    with pytest.raises(SystemExit, match="pass --presto-l"):
        main(PrestoSRun(teacher, tmp_path / "b", "micro", threads=1, from_presto_s=run))


def test_a_budget_aware_fake_and_critic_see_each_samples_budget(tmp_path_factory, tmp_path,
                                                                monkeypatch) -> None:
    from engine.train import presto_s_steps
    from tests.train import presto_l_support

    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    real_critic, critic_labels = presto_s_steps.critic, []

    def recording_critic(*args, **kwargs):
        critic_labels.append(args[6] if len(args) > 6 else kwargs.get("label"))
        return real_critic(*args, **kwargs)

    monkeypatch.setattr(presto_s_steps, "critic", recording_critic)
    cli(["presto-ls", "--presto-l", str(runs["presto-l"]), "--teacher", str(runs["base"]),
         "--out", str(tmp_path / "ls"), "--preset", "micro", "--steps", "2", "--threads", "1",
         "--no-audio-fd", "--fake-by-budget", "--batch", "8"])
    state = torch.load(tmp_path / "ls" / "checkpoint.pt", weights_only=False)
    assert PrestoSConfig.from_dict(state["presto_s"]).fake_by_budget
    # the fake score's budget embedding left its constant start: the budgets were used
    assert state["fake"]["budget_embed.mlp.2.weight"].abs().sum() > 0
    # every critic call got a label per row: generator budgets in [b_min, 1], some below 1,
    # and the real rows of a discriminator step paired with the same budgets
    labels = [label for label in critic_labels if label is not None]
    assert labels and all(float(label.min()) >= 0.6 for label in labels)
    assert any(float(label.min()) < 1.0 for label in labels)
    pairs = [label for label in labels if len(label) == 16]
    assert pairs and all(torch.equal(p[:8], p[8:]) for p in pairs)


def test_budget_aware_fake_is_refused_for_presto_s_and_with_the_level_aware_one(teacher,
                                                                               tmp_path) -> None:
    with pytest.raises(SystemExit, match="Presto-LS"):
        main(PrestoSRun(teacher, tmp_path / "s", "micro", threads=1, fake_by_budget=True))
    with pytest.raises(ValueError, match="choose one"):
        micro_cfg(fake_by_level=True, fake_by_budget=True)


def test_cli_runs_an_ablation(teacher, tmp_path) -> None:
    cli(["presto-s", "--teacher", str(teacher), "--out", str(tmp_path), "--preset", "micro",
         "--steps", "1", "--ablation", "discrete", "--threads", "1",
         "--lr-gen", "2e-5", "--lr-fake", "6e-5", "--fake-updates", "3", "--batch", "1",
         "--fake-by-level", "--no-gan", "--dmd-norm", "sample", "--window-frames", "12",
         "--fd-frames", "16", "--gan-gen-weight", "0.02"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    cfg = PrestoSConfig.from_dict(state["presto_s"])
    assert state["step"] == 1 and cfg.ablation == "discrete"
    assert (cfg.lr_gen, cfg.lr_fake, cfg.fake_updates, cfg.batch) == (2e-5, 6e-5, 3, 1)
    assert cfg.fake_by_level and not cfg.gan and state.get("head") is None
    assert cfg.dmd_norm == "sample"
    assert (cfg.window_frames, cfg.probe_frames) == (12, 16)  # crops and probe set apart
    assert cfg.gan_gen_weight == 0.02
    # the fake score's budget embedding left its constant start: the labels were used
    last = state["fake"]["budget_embed.mlp.2.weight"]
    assert last.abs().sum() > 0
    assert cfg.noise_gen.steps == (4,) and cfg.noise_gan.kind == "grid"


def test_cli_specialises_the_generator_to_a_step_count(teacher, tmp_path) -> None:
    cli(["presto-s", "--teacher", str(teacher), "--out", str(tmp_path), "--preset", "micro",
         "--steps", "1", "--threads", "1", "--gen-steps", "2", "--fd-steps", "2", "4"])
    cfg = PrestoSConfig.from_dict(torch.load(tmp_path / "checkpoint.pt",
                                             weights_only=False)["presto_s"])
    assert cfg.noise_gen.kind == "schedule" and cfg.noise_gen.steps == (2,)
    assert cfg.fd_steps == (2, 4)
    paths = sample_paths(cfg.noise_gen, 64, torch.Generator().manual_seed(0))
    two_step = tuple(float(v) for v in distilled_sigmas(2)[:-1])  # every input a 2-step level
    assert {p for p in paths} == {two_step[:1], two_step}


def test_step_requests_that_cannot_work_are_refused(teacher, tmp_path) -> None:
    with pytest.raises(SystemExit, match="inference schedule"):
        main(PrestoSRun(teacher, tmp_path / "a", "micro", threads=1, ablation="gen-train",
                        gen_steps=(2,)))
    with pytest.raises(SystemExit, match="step counts >= 1"):
        main(PrestoSRun(teacher, tmp_path / "b", "micro", threads=1, gen_steps=(0,)))
    with pytest.raises(SystemExit, match="--fd-steps"):
        main(PrestoSRun(teacher, tmp_path / "c", "micro", threads=1, fd_steps=()))


def test_config_round_trips_and_rejects_bad_values() -> None:
    cfg = ablation(get_preset("tiny"), "discrete").with_teacher(-0.5, 1.2)
    assert PrestoSConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="noise kind"):
        NoiseDist(kind="uniform")
    with pytest.raises(ValueError, match="gen_input"):
        PrestoSConfig(gen_input="teacher")
    with pytest.raises(ValueError, match="disc_block"):
        PrestoSConfig(disc_block=0.0)
    with pytest.raises(ValueError, match="fd_frames"):
        PrestoSConfig(fd_frames=1)
    assert PrestoSConfig(window_frames=344).probe_frames == 344  # by default, the crop's
    assert PrestoSConfig(window_frames=344, fd_frames=172).probe_frames == 172
    with pytest.raises(ValueError, match="preset"):
        get_preset("huge")


def test_a_generator_with_another_width_is_refused(teacher, tmp_path) -> None:
    """Presto-LS from a Presto-L run of another teacher fails with a clear message."""
    state = torch.load(teacher / "checkpoint.pt", weights_only=False)
    cfg = state["train_config"]
    cfg["dit"] = {**cfg["dit"], "width": 64, "heads": 2}
    net = DiT(DiTConfig(**cfg["dit"]))
    state.update(train_config=cfg, ema=net.state_dict(), schedule={"depth": 4})
    other = tmp_path / "other"
    other.mkdir()
    torch.save(state, other / "checkpoint.pt")
    with pytest.raises(SystemExit, match="Presto-LS needs"):
        main(PrestoSRun(teacher, tmp_path / "out", "micro", presto_l=other, threads=1))


@pytest.mark.parametrize("which", ["presto-s", "presto-ls"])
def test_an_exported_run_samples_in_the_runtime_distilled_mode(which, tmp_path_factory) -> None:
    from engine.runtime.model import ServedModel
    from engine.runtime.window import plan_window, sample_window

    run_dir = (presto_s_support.presto_s_run if which == "presto-s"
               else presto_s_support.presto_ls_run)(tmp_path_factory)
    served = ServedModel.load(presto_s_support.exported_models(tmp_path_factory)[which],
                              threads=1)
    assert served.defaults.mode == "distilled" and served.defaults.steps == 4
    assert served.manifest["training_kind"] == which
    frames, n_known = 24, 9
    known = np.random.default_rng(0).standard_normal((32, frames)).astype(np.float32)
    emb = served.text.embed(["a slow chorale for strings"])[0]
    outs = {}
    for steps in (1, 2, 4, 8):
        result = sample_window(served, plan_window(served, steps=steps), emb, known, n_known,
                               seed=3)
        assert len(result.evaluations) == steps and np.all(np.isfinite(result.latent))
        np.testing.assert_array_equal(result.latent[:, :n_known], known[:, :n_known])
        outs[steps] = result.latent
    assert not np.allclose(outs[1], outs[4])
    low = 0.6 if which == "presto-ls" else 1.0  # Presto-S is trained at budget 1 only
    ks = [k for _, k, _ in sample_window(served, plan_window(served, steps=4, budget=low), emb,
                                         known, n_known).evaluations]
    if which == "presto-ls":  # its layer schedule travels with it: fewer blocks at high noise
        assert ks[0] < served.dit.depth and served.schedule.to_dict() == torch.load(
            run_dir / "checkpoint.pt", weights_only=False)["schedule"]
    else:
        assert ks == [served.dit.depth] * 4
    # The same generator in PyTorch gives the same window (up to float tolerance).
    from engine.train.teacher import load_base

    g = load_base(run_dir).model
    rng = np.random.default_rng(3)  # sample_window's draws, in its order
    mask = torch.zeros(1, 1, frames)
    mask[..., :n_known] = 1.0
    sigmas = plan_window(served, steps=2).sigmas
    noise = torch.from_numpy(rng.standard_normal((1, 32, frames), dtype=np.float32))
    x = noise * sigmas[0]
    budget = served.defaults.budget
    schedule = served.schedule
    batch = Batch(torch.from_numpy(known)[None] * mask, torch.from_numpy(emb)[None], mask)
    from engine.train.presto_s_steps import generator_x0

    for i in range(2):
        x0 = generator_x0(g, x, torch.full((1,), sigmas[i]), batch, torch.full((1,), budget),
                          schedule).detach()
        x = x0 if sigmas[i + 1] == 0 else x0 + sigmas[i + 1] * torch.from_numpy(
            rng.standard_normal((1, 32, frames), dtype=np.float32))
    np.testing.assert_allclose(outs[2], x[0].numpy(), atol=1e-3)


def test_a_missing_teacher_or_cache_is_a_clear_error(teacher, tmp_path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        main(PrestoSRun(tmp_path / "no_teacher", tmp_path / "a", "micro", threads=1))
    with pytest.raises(SystemExit, match="--cache"):
        main(PrestoSRun(teacher, tmp_path / "b", "micro", cache=tmp_path, threads=1))
    if not torch.cuda.is_available():  # no GPU here: asking for one says so, and what to use
        with pytest.raises(SystemExit, match="--device cpu or auto"):
            main(PrestoSRun(teacher, tmp_path / "c", "micro", threads=1, device="cuda"))


def test_snapshot_judge_measures_every_snapshot_and_picks_one(run, tmp_path_factory,
                                                                tmp_path) -> None:
    from engine.train.presto_s_snapshots import SnapshotJudge, pick
    from engine.train.presto_s_snapshots import main as judge
    from tests.codec import support as codec_support

    codec = codec_support.exported_model(tmp_path_factory)
    result = judge(SnapshotJudge(run, codec=codec))
    assert [r["step"] for r in result["rows"]] == [2, 3]
    assert result["pick"] in (2, 3)
    for r in result["rows"]:
        assert all(math.isfinite(r[f"{k}_{n}"]) for k in ("fd", "cfd", "lfd", "lmean", "lhigh")
                   for n in (1, 4))
    assert [json.loads(line)["step"] for line in (run / "snapshots.jsonl").open()] == [2, 3]
    assert (run / "snapshots.png").stat().st_size > 0
    cached = (run / "snapshots_reference.json").stat().st_mtime_ns
    judge(SnapshotJudge(run, codec=codec))  # the teacher's reference is measured once
    assert (run / "snapshots_reference.json").stat().st_mtime_ns == cached
    rows = [{"step": 1, "cfd_4": 10.0, "lfd_4": 300.0}, {"step": 2, "cfd_4": 20.0, "lfd_4": 100.0}]
    assert pick(rows, {"cfd": 10.0, "lfd": 100.0}, 4)["step"] == 2  # 1 + 3 against 2 + 1
    with pytest.raises(SystemExit, match="no snapshots"):
        judge(SnapshotJudge(tmp_path, codec=codec))
