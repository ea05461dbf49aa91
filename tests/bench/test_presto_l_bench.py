from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.bench.__main__ import main as cli
from engine.bench.adherence import tempo_adherence, tempo_error
from engine.bench.fd import (
    HIGH_BANDS,
    frechet_distance,
    frechet_distance_of,
    latent_embedding,
    level_offsets,
    logmel_embedding,
)
from engine.bench.presto_l import dit_flops, generate_clip, targets
from engine.edm import karras_sigmas
from engine.model.config import preset
from engine.model.layer_schedule import LayerSchedule
from tests.train import presto_l_support


def test_frechet_distance_of_equal_gaussians_is_zero_and_grows_with_the_gap():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 5))
    assert frechet_distance_of(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance_of(a, a + 1.0) == pytest.approx(5.0, rel=1e-6)  # |mu diff|^2


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mu, va, vb = np.zeros(3), np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = float(np.sum(va + vb - 2 * np.sqrt(va * vb)))
    assert frechet_distance(mu, np.diag(va), mu, np.diag(vb)) == pytest.approx(expected)


def test_frechet_distance_handles_fewer_clips_than_dimensions():
    rng = np.random.default_rng(1)
    fd = frechet_distance_of(rng.standard_normal((3, 40)), rng.standard_normal((4, 40)))
    assert np.isfinite(fd) and fd > 0


def test_level_offsets_say_how_much_quieter_and_duller_the_generated_audio_is() -> None:
    real = np.random.default_rng(0).normal(-8.0, 1.0, (6, 128))
    assert level_offsets(real, real) == {"lmean": 0.0, "lhigh": 0.0}
    dull = real[:4].copy()  # fewer clips, the top bands 2 nats down, the stds untouched
    dull[:, 64 - HIGH_BANDS:64] -= 2.0
    dull[:, 64:] += 5.0
    offsets = level_offsets(dull, real)
    expected_mean = float(dull[:, :64].mean() - real[:, :64].mean())
    assert offsets["lmean"] == pytest.approx(expected_mean, abs=1e-3) and offsets["lmean"] < 0
    expected_high = float(real[:4, 40:64].mean() - real[:, 40:64].mean()) - 2.0
    assert offsets["lhigh"] == pytest.approx(expected_high, abs=1e-3)


def test_embeddings_have_fixed_sizes_whatever_the_length():
    rng = np.random.default_rng(2)
    for n in (22050, 44100 * 2):
        assert logmel_embedding(rng.standard_normal((2, n)) * 0.1, 44100).shape == (128,)
    assert latent_embedding(rng.standard_normal((32, 50))).shape == (64,)


def test_tempo_adherence_forgives_octave_errors_only():
    assert tempo_error(120.0, 120.0) == 0.0
    assert tempo_error(240.0, 120.0) == 0.0 and tempo_error(60.0, 120.0) == 0.0
    assert tempo_error(90.0, 120.0) > 0.3
    result = tempo_adherence([121.0, 60.0, 90.0, 100.0], [120.0, 120.0, 120.0, 0.0])
    assert result["tempo_acc"] == pytest.approx(2 / 3)
    assert math.isnan(tempo_adherence([100.0], [0.0])["tempo_acc"])


def test_click_track_tempo_is_recovered():
    from engine.bench.adherence import estimate_tempo

    sr, bpm = 22050, 120.0
    rng = np.random.default_rng(0)
    audio = np.zeros((1, sr * 8), np.float32)
    for beat in np.arange(0, 8, 60.0 / bpm):  # a decaying noise burst on every beat
        i = int(beat * sr)
        audio[0, i : i + 2000] = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    assert tempo_error(estimate_tempo(audio, sr), bpm) < 0.05
    assert tempo_adherence([estimate_tempo(audio, sr)], [bpm])["tempo_acc"] == 1.0


def test_flops_grow_linearly_with_blocks():
    cfg = preset("tiny")
    per_block = dit_flops(cfg, 344, 2) - dit_flops(cfg, 344, 1)
    assert dit_flops(cfg, 344, 8) == pytest.approx(dit_flops(cfg, 344, 1) + 7 * per_block)
    assert 1e9 < dit_flops(cfg, 344, 8) < 1e11  # ~ 2 * params * tokens, plus attention
    assert dit_flops(cfg, 344, 8, batch=2) == pytest.approx(2 * dit_flops(cfg, 344, 8))


def test_bench_runs_end_to_end_and_writes_its_table(tmp_path_factory, tmp_path):
    runs = presto_l_support.presto_l_runs(tmp_path_factory)
    cache = json.loads((runs["presto-l"] / "config.json").read_text())["cache"]
    cli(["presto-l", "--base", str(runs["base"]), "--presto-l", str(runs["presto-l"]),
         "--ase", str(runs["ase"]), "--budgets", "1.0", "0.35", "--steps", "2", "--clips", "2",
         "--seconds", "1.0", "--engine", "torch", "--out", str(tmp_path), "--cache", cache])
    result = json.loads((tmp_path / "presto_l.json").read_text())
    table = (tmp_path / "presto_l.md").read_text()
    assert (tmp_path / "presto_l.png").stat().st_size > 0
    assert {(r["method"], r["budget"]) for r in result["rows"]} == {
        (m, b) for m in ("base", "presto-l", "ase") for b in (1.0, 0.35)}
    for r in result["rows"]:
        assert r["ms_per_clip"] > 0 and np.isfinite(r["fd_logmel"]) and r["fd_latent"] >= 0
        assert np.isfinite(r["lmean"]) and np.isfinite(r["lhigh"])  # level offsets
        assert r["evals_per_clip"] == 3  # heun, 2 steps: 2 + 1 evaluations
        assert np.isfinite(r["fd_classifier"]) and r["fd_classifier"] >= 0  # the yardstick's
        if r["budget"] == 1.0:
            assert r["block_fraction"] == 1.0
        else:
            assert r["block_fraction"] < 1.0
    full = {r["method"]: r for r in result["rows"] if r["budget"] == 1.0}
    assert full["base"]["gflops_per_clip"] == pytest.approx(full["ase"]["gflops_per_clip"])
    assert "| Presto-L |" in table and "ASE (early exit)" in table
    assert "Routes (exit modes): base (no fine-tune) reroute, Presto-L reroute, ASE (early " \
        "exit) early_exit." in table
    assert "level offset, all / top bands" in table
    assert "FD classifier" in table and np.isfinite(result["reference"]["fd_classifier"])
    assert result["config"]["held_out"] == 2
    steps = result["config"]["train_steps"]
    assert steps["presto-l"] > 0 and steps["ase"] > 0 and "Training steps:" in table


def _row(method: str, budget: float, ms: float, fd: float) -> dict:
    return {"method": method, "budget": budget, "ms_per_clip": ms, "fd_classifier": fd,
            "fd_logmel": 0.0}


def test_targets_are_judged_at_the_highest_budget_that_is_fast_enough():
    rows = [_row("base", 1.0, 1000, 110), _row("presto-l", 1.0, 1000, 111),
            _row("ase", 1.0, 1000, 111),
            _row("presto-l", 0.9, 850, 100), _row("ase", 0.9, 850, 90),  # 1.18x: too slow
            _row("presto-l", 0.75, 720, 109), _row("ase", 0.75, 720, 120),  # 1.39x
            _row("presto-l", 0.5, 560, 150), _row("ase", 0.5, 560, 140)]
    t = targets(rows)
    assert t["budget"] == 0.75 and t["fd"] == "fd_classifier"
    assert t["speedup"] == pytest.approx(1000 / 720)
    assert t["no_worse_than_base"] and t["better_than_ase"]
    rows[5]["fd_classifier"] = 125  # worse than the base and than ASE
    t = targets(rows)
    assert not t["no_worse_than_base"] and not t["better_than_ase"]
    assert targets([_row("presto-l", 0.75, 720, 109)]) is None  # no base row: nothing to judge


def test_a_cache_that_is_not_there_is_refused_with_what_to_pass(tmp_path_factory, tmp_path):
    runs = presto_l_support.presto_l_runs(tmp_path_factory)  # trained elsewhere, say
    with pytest.raises(SystemExit, match="no latent cache at .*pass --cache LATENTS --data"):
        cli(["presto-l", "--base", str(runs["base"]), "--presto-l", str(runs["presto-l"]),
             "--ase", str(runs["ase"]), "--budgets", "1.0", "--steps", "2", "--clips", "2",
             "--engine", "torch", "--out", str(tmp_path), "--cache", str(tmp_path / "gone")])


def test_held_out_clips_of_a_run_that_records_no_cache_ask_for_one() -> None:
    from engine.bench.presto_l import Model, held_out

    imported = Model(denoiser=None, cfg=None, meta={"step": 1})  # as import-base writes it
    with pytest.raises(SystemExit, match="--cache LATENTS --data CORPUS"):
        held_out(imported, None, 16, 2)


def test_a_budget_that_changes_with_noise_sets_both_the_blocks_and_the_budget_input() -> None:
    schedule = LayerSchedule.for_depth(8)
    sigmas = karras_sigmas(4)
    calls: list[tuple[float, float, int]] = []

    def net(x: np.ndarray, sigma: float, text: np.ndarray, budget: float, k: int) -> np.ndarray:
        calls.append((sigma, budget, k))
        return np.zeros_like(x)

    def budget_at(sigma: float) -> float:
        return 0.3 if sigma >= 1.0 else 1.0

    _, ks = generate_clip(net, np.zeros(384, np.float32), np.ones(384, np.float32), schedule,
                          0.75, sigmas, "euler", 3.0, (2, 6), seed=0, budget_at=budget_at)
    assert [k for _, _, k in calls] == ks and len(ks) == 4
    for sigma, budget, k in calls:
        assert budget == budget_at(sigma) and k == schedule.n_blocks(sigma, budget_at(sigma))
    assert ks[0] < 8 and ks[-1] == 8  # cheap while noisy, every block once the budget is 1
    calls.clear()
    generate_clip(net, np.zeros(384, np.float32), np.ones(384, np.float32), schedule, 0.75,
                  sigmas, "euler", 3.0, (2, 6), seed=0, budget_input=1.0)
    assert {b for _, b, _ in calls} == {1.0}  # a fixed budget input (the base model's)
    assert [k for _, _, k in calls] == [schedule.n_blocks(s, 0.75) for s, _, _ in calls]
