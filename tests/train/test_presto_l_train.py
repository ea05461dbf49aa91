from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.edm.precond import EDMPrecond
from engine.model.dit import DiT
from engine.train.__main__ import main as cli
from engine.train.presto_l import (
    PrestoLRun,
    load_teacher,
    main,
    presto_l_loss,
    ragged_forward,
    student_configs,
)
from engine.train.presto_l_config import PrestoLConfig, get_preset
from tests.train import presto_l_support


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    return presto_l_support.presto_l_runs(tmp_path_factory)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def loss_inputs(channels: int, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x0 (B, C, 10), text (B, 384), mask (B, 1, 10) with a 4-frame known prefix on row 0."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(b, channels, 10, generator=g)
    text = torch.randn(b, 384, generator=g)
    mask = torch.zeros(b, 1, 10)
    mask[0, :, :4] = 1.0
    return x0, text, mask


def test_fine_tune_writes_checkpoint_logs_plots_and_config(runs):
    out = runs["presto-l"]
    for name in ("checkpoint.pt", "losses.jsonl", "losses.png", "valid.jsonl", "valid.png",
                 "config.json", "train_state.json"):
        assert (out / name).exists(), name
    log = rows(out / "losses.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and 2 <= r["blocks"] <= 4 for r in log)
    assert all(r["loss"] == pytest.approx(r["denoise"] + r["self_teacher"], abs=1e-4)
               for r in log)
    val = rows(out / "valid.jsonl")
    assert [r["step"] for r in val] == [0, 2, 3] and set(val[0]) >= {"val_b1", "val_b0.25"}


def test_checkpoint_is_in_the_base_format_with_the_exit_mode(runs):
    from engine.train.teacher import load_base

    for name, mode in (("presto-l", "reroute"), ("ase", "early_exit")):
        loaded = load_base(runs[name])
        assert loaded.cfg.dit.exit_mode == mode and loaded.step == 3
        state = torch.load(runs[name] / "checkpoint.pt", weights_only=False)
        assert state["presto_l"]["exit_mode"] == mode
        assert state["schedule"]["depth"] == 4 and state["cache"]


def test_student_starts_as_the_teacher_and_moves_away(runs):
    teacher, _ = load_teacher(runs["base"])
    state = torch.load(runs["presto-l"] / "checkpoint.pt", weights_only=False)
    moved = [not torch.equal(state["model"][k], v) for k, v in teacher.net.state_dict().items()]
    assert any(moved)


def test_self_teacher_loss_is_zero_at_full_budget_before_training(runs):
    teacher, meta = load_teacher(runs["base"])
    cfg = replace(get_preset("micro"), b_min=1.0)
    train = student_configs(meta, cfg, 1)
    student = load_teacher(runs["base"])[0].requires_grad_(True).train()
    x0, text, mask = loss_inputs(train.dit.latent_channels, 3)
    loss, parts = presto_l_loss(student, teacher, cfg.schedule(4), x0, text, mask, cfg, train,
                                torch.Generator().manual_seed(1))
    assert parts["blocks"] == 4.0 and parts["self_teacher"] == 0.0
    loss.backward()
    assert student.net.blocks[0].attn.qkv.weight.grad is not None


RANKED = ((10.0, (1, 0, 2)), (0.0, (2, 1, 0)))  # a drop order for the 4-block micro teacher


@pytest.mark.parametrize("exit_mode", ["reroute", "early_exit", "ranked"])
def test_ragged_forward_matches_running_each_sample_at_its_own_depth(runs, exit_mode):
    teacher, _ = load_teacher(runs["base"])
    order = RANKED if exit_mode == "ranked" else ()
    net = DiT(replace(teacher.net.cfg, exit_mode=exit_mode, drop_order=order))
    net.load_state_dict(teacher.net.state_dict())
    model = EDMPrecond(net, teacher.sigma_data).eval()
    g = torch.Generator().manual_seed(0)
    b, c, t = 5, net.cfg.latent_channels, 6
    x, sigma = torch.randn(b, c, t, generator=g), torch.rand(b, generator=g) + 0.1
    sigma[2] = 30.0  # a row in the ranked order's noisy band
    text, budget = torch.randn(b, 384, generator=g), torch.rand(b, generator=g)
    known, mask = torch.randn(b, c, t, generator=g), torch.zeros(b, 1, t)
    mask[1, :, :3] = 1.0
    k = np.array([4, 1, 3, 2, 3])
    with torch.no_grad():
        out = ragged_forward(model, x, sigma, k, text, budget, known, mask)
        for i in range(b):
            s = slice(i, i + 1)
            one = model(x[s], sigma[s], text_emb=text[s], budget=budget[s], known=known[s],
                        mask=mask[s], n_blocks=int(k[i]))
            torch.testing.assert_close(out[s], one, rtol=1e-5, atol=1e-6)


def test_resume_after_a_crash_reaches_the_weights_of_an_uninterrupted_run(
    runs, tmp_path, monkeypatch
):
    from engine.train import presto_l, presto_l_config

    every_step = replace(get_preset("micro"), ckpt_minutes=0.0)  # a checkpoint after each step
    monkeypatch.setitem(presto_l_config.PRESETS, "micro", every_step)
    real_loss, calls = presto_l.presto_l_loss, []

    def crash_on_third_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(presto_l, "presto_l_loss", crash_on_third_step)
    with pytest.raises(KeyboardInterrupt):
        main(PrestoLRun(runs["base"], tmp_path, "micro"))
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 2
    with pytest.raises(SystemExit, match="--resume"):
        main(PrestoLRun(runs["base"], tmp_path, "micro"))
    monkeypatch.setattr(presto_l, "presto_l_loss", real_loss)
    main(PrestoLRun(runs["base"], tmp_path, "micro", resume=True))
    assert [r["step"] for r in rows(tmp_path / "losses.jsonl")] == [1, 2, 3]
    resumed = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    straight = torch.load(runs["presto-l"] / "checkpoint.pt", weights_only=False)
    for key in ("model", "ema"):
        for name, value in straight[key].items():
            torch.testing.assert_close(resumed[key][name], value, rtol=1e-6, atol=1e-7)


def test_cli_trains_the_ase_baseline(runs, tmp_path):
    cli(["presto-l", "--teacher", str(runs["base"]), "--out", str(tmp_path), "--preset", "micro",
         "--steps", "1", "--baseline", "ase"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == 1 and state["train_config"]["dit"]["exit_mode"] == "early_exit"


def test_block_order_then_a_ranked_fine_tune_from_the_command_line(runs, tmp_path):
    order_file = tmp_path / "order.json"
    cli(["block-order", "--teacher", str(runs["base"]), "--out", str(order_file),
         "--clips", "2", "--frames", "8", "--edges", "5", "--sigmas", "20", "0.5"])
    found = json.loads(order_file.read_text())
    assert [edge for edge, _ in found["drop_order"]] == [5.0, 0.0]
    assert all(sorted(order) == [0, 1, 2] for _, order in found["drop_order"])  # 4 blocks
    assert len(found["errors_after_each_drop"][0]) == 3
    cli(["presto-l", "--teacher", str(runs["base"]), "--out", str(tmp_path / "run"),
         "--preset", "micro", "--steps", "1", "--drop-order", str(order_file)])
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    dit = state["train_config"]["dit"]
    assert state["step"] == 1 and dit["exit_mode"] == "ranked"
    assert [[e, list(o)] for e, o in dit["drop_order"]] == found["drop_order"]
    assert PrestoLConfig.from_dict(state["presto_l"]).exit_mode == "ranked"


def test_ranked_requests_that_cannot_work_are_refused(runs, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match="not a block-order file"):
        main(PrestoLRun(runs["base"], tmp_path / "a", "micro", steps=1, drop_order=bad))
    with pytest.raises(SystemExit, match="not the ASE baseline"):
        main(PrestoLRun(runs["base"], tmp_path / "b", "micro", steps=1, baseline="ase",
                        drop_order=bad))
    with pytest.raises(SystemExit, match="no --sigmas value falls in the band"):
        cli(["block-order", "--teacher", str(runs["base"]), "--out", str(tmp_path / "o.json"),
             "--edges", "5", "--sigmas", "0.5"])
    with pytest.raises(ValueError, match="drop_order goes with exit_mode 'ranked'"):
        PrestoLConfig(drop_order=RANKED)
    deeper = tmp_path / "deeper.json"  # an order for 8 blocks; the micro teacher has 4
    deeper.write_text(json.dumps({"drop_order": [[0.0, [0, 1, 2, 3, 4, 5, 6]]]}))
    with pytest.raises(SystemExit, match="not an order of blocks 0..2"):
        main(PrestoLRun(runs["base"], tmp_path / "c", "micro", steps=1, drop_order=deeper))


def test_config_round_trips_and_rejects_bad_values():
    cfg = get_preset("tiny")
    assert PrestoLConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="exit_mode"):
        PrestoLConfig(exit_mode="skip")
    with pytest.raises(ValueError, match="b_min"):
        PrestoLConfig(b_min=1.5)
    with pytest.raises(ValueError, match="preset"):
        get_preset("huge")
    with pytest.raises(ValueError, match="guidance"):
        PrestoLConfig(guided_teacher=1.0, guidance=0.5)
    with pytest.raises(ValueError, match="denoise >= 0"):
        PrestoLConfig(denoise=-0.1)
    with pytest.raises(ValueError, match="some loss must have a weight"):
        PrestoLConfig(denoise=0.0, self_teacher=0.0, guided_teacher=0.0)
    assert PrestoLConfig.from_dict({"steps": 5}).denoise == 1.0  # runs from before the option


def test_pure_distillation_leaves_full_budget_rows_nothing_to_learn(runs):
    teacher, meta = load_teacher(runs["base"])
    x0, text, mask = loss_inputs(student_configs(meta, get_preset("micro"), 1)
                                 .dit.latent_channels, 4)
    for denoise in (0.0, 1.0):
        cfg = replace(get_preset("micro"), b_min=1.0, guided_teacher=1.0, denoise=denoise)
        train = student_configs(meta, cfg, 1)
        student = load_teacher(runs["base"])[0].requires_grad_(True).train()
        loss, parts = presto_l_loss(student, teacher, cfg.schedule(4), x0, text, mask, cfg,
                                    train, torch.Generator().manual_seed(1))
        loss.backward()
        grad = sum(float(p.grad.abs().sum()) for p in student.parameters() if p.grad is not None)
        assert parts["denoise"] > 0.0  # logged either way: what the data would have said
        if denoise == 0.0:
            assert loss.item() == 0.0 and grad == 0.0
        else:
            assert loss.item() == pytest.approx(parts["denoise"]) and grad > 0.0


def test_guided_self_teacher_is_zero_before_training_and_trains_the_null_branch(runs):
    teacher, meta = load_teacher(runs["base"])
    cfg = replace(get_preset("micro"), b_min=1.0, guided_teacher=1.0, guidance=3.0)
    train = replace(student_configs(meta, cfg, 1), text_dropout=0.5)
    student = load_teacher(runs["base"])[0].requires_grad_(True).train()
    x0, text, mask = loss_inputs(train.dit.latent_channels, 4)
    g = torch.Generator().manual_seed(2)
    args = (cfg.schedule(4), x0, text, mask, cfg, train)
    _, parts = presto_l_loss(student, teacher, *args, torch.Generator().manual_seed(1))
    assert parts["guided"] == 0.0 and parts["self_teacher"] == 0.0
    with torch.no_grad():  # a null prompt that differs from the teacher's: only CFG sees it
        student.net.null_text.add_(torch.randn(student.net.null_text.shape, generator=g))
    loss, parts = presto_l_loss(student, teacher, *args, torch.Generator().manual_seed(1))
    assert parts["guided"] > 0.0
    loss.backward()
    assert student.net.null_text.grad.abs().sum() > 0


def test_guided_rows_whose_text_was_dropped_are_left_out(runs):
    teacher, meta = load_teacher(runs["base"])
    cfg = replace(get_preset("micro"), b_min=1.0, guided_teacher=1.0)
    train = replace(student_configs(meta, cfg, 1), text_dropout=1.0)  # every row dropped
    student = load_teacher(runs["base"])[0]
    with torch.no_grad():
        student.net.null_text.add_(1.0)
    x0, text, mask = torch.randn(2, train.dit.latent_channels, 8), torch.randn(2, 384), \
        torch.zeros(2, 1, 8)
    _, parts = presto_l_loss(student, teacher, cfg.schedule(4), x0, text, mask, cfg, train,
                             torch.Generator().manual_seed(0))
    assert parts["guided"] == 0.0 and parts["self_teacher"] > 0.0


def test_init_continues_a_presto_l_run_with_the_guided_term(runs, tmp_path):
    cli(["presto-l", "--teacher", str(runs["base"]), "--out", str(tmp_path / "guided"),
         "--preset", "micro", "--steps", "2", "--init", str(runs["presto-l"]),
         "--guided-teacher", "0.5", "--lr", "3e-5", "--denoise", "0.25"])
    # validated before its first step: the init's EMA, which the init's last row validated
    start = rows(tmp_path / "guided" / "valid.jsonl")[0]
    end_of_init = rows(runs["presto-l"] / "valid.jsonl")[-1]
    assert start["step"] == 0 and end_of_init["step"] == 3
    assert {k: v for k, v in start.items() if k.startswith("val_")} == pytest.approx(
        {k: v for k, v in end_of_init.items() if k.startswith("val_")}, abs=1e-5)
    state = torch.load(tmp_path / "guided" / "checkpoint.pt", weights_only=False)
    assert state["init"] == {"run": str(runs["presto-l"].resolve()), "step": 3}
    assert state["presto_l"]["guided_teacher"] == 0.5 and state["presto_l"]["lr"] == 3e-5
    assert state["presto_l"]["denoise"] == 0.25
    log = rows(tmp_path / "guided" / "losses.jsonl")
    assert all(r["loss"] == pytest.approx(0.25 * r["denoise"] + r["self_teacher"]
                                          + 0.5 * r["guided"], abs=1e-4) for r in log)


def test_init_refuses_another_exit_mode_or_a_run_that_is_not_presto_l(runs, tmp_path):
    with pytest.raises(SystemExit, match="exit mode early_exit"):
        main(PrestoLRun(runs["base"], tmp_path / "a", "micro", init=runs["ase"]))
    with pytest.raises(SystemExit, match="not a presto-l run"):
        main(PrestoLRun(runs["base"], tmp_path / "b", "micro", init=runs["base"]))
    with pytest.raises(SystemExit, match="no checkpoint.pt"):
        main(PrestoLRun(runs["base"], tmp_path / "c", "micro", init=tmp_path))
