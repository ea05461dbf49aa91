"""engine.bench presto-s end to end on real micro exports (base + Presto-S + Presto-LS)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.bench.__main__ import main as cli
from engine.bench.presto_s import mean_pairwise, targets
from tests.train import presto_s_support


def test_mean_pairwise_distance_measures_spread() -> None:
    assert mean_pairwise(np.zeros((4, 3))) == 0.0
    assert mean_pairwise(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert math.isnan(mean_pairwise(np.zeros((1, 3))))


def test_targets_follow_the_issue() -> None:
    base = {"method": "base", "budget": 1.0, "steps": 32, "ms_per_clip": 1000.0,
            "fd_logmel": 2.0, "tempo_acc": 0.5}

    def row(steps: int, ms: float, fd: float, acc: float) -> dict:
        return {"method": "s", "budget": 1.0, "steps": steps, "ms_per_clip": ms,
                "fd_logmel": fd, "tempo_acc": acc}

    good = targets([base, row(1, 20, 2.4, 0.4), row(4, 80, 2.2, 0.5), row(8, 160, 2.1, 0.6)])["s"]
    assert good["speed_ok"] and good["fd_ok"] and good["adherence_ok"]
    assert good["more_steps_not_worse"] and good["speedup_4"] == pytest.approx(12.5)
    bad = targets([base, row(4, 200, 2.5, 0.25), row(8, 400, 3.0, 0.5)])["s"]
    assert not (bad["speed_ok"] or bad["fd_ok"] or bad["adherence_ok"])
    assert not bad["more_steps_not_worse"]


def test_targets_use_the_classifier_yardstick_when_every_row_has_it() -> None:
    base = {"method": "base", "budget": 1.0, "steps": 32, "ms_per_clip": 1000.0,
            "fd_logmel": 2.0, "tempo_acc": 0.5, "fd_classifier": 100.0, "family_acc": 0.3}
    # log-mel FD and tempo say fail; the classifier says pass: the classifier decides
    row = {"method": "s", "budget": 1.0, "steps": 4, "ms_per_clip": 50.0, "fd_logmel": 9.0,
           "tempo_acc": 0.1, "fd_classifier": 110.0, "family_acc": 0.35}
    check = targets([base, row])["s"]
    assert check["fd_ok"] and check["adherence_ok"] and check["fd_ratio_4"] == pytest.approx(1.1)
    without = {k: v for k, v in row.items() if k not in ("fd_classifier", "family_acc")}
    check = targets([base, without])["s"]  # one row without it: log-mel and tempo decide
    assert not check["fd_ok"] and not check["adherence_ok"]


def test_bench_compares_base_and_every_step_count_through_the_runtime(tmp_path_factory,
                                                                       tmp_path) -> None:
    models = presto_s_support.exported_models(tmp_path_factory)
    runs = [presto_s_support.presto_s_run(tmp_path_factory),
            presto_s_support.presto_ls_run(tmp_path_factory)]
    stamps = {p: (models["dir"] / p.name / "source.json").stat().st_mtime_ns for p in runs}
    cli(["presto-s", "--base", str(presto_s_support.teacher_run(tmp_path_factory)),
         "--presto-s", *map(str, runs), "--models", str(models["dir"]),
         "--text", str(models["text"]), "--codec", str(models["codec"]),
         "--budgets", "1.0", "0.6", "--base-steps", "4", "--clips", "2", "--seconds", "1.0",
         "--diversity-seeds", "3", "--threads", "1", "--out", str(tmp_path)])
    for p in runs:  # current exports are reused, not redone
        assert (models["dir"] / p.name / "source.json").stat().st_mtime_ns == stamps[p]
    result = json.loads((tmp_path / "presto_s.json").read_text())
    assert (tmp_path / "presto_s.png").stat().st_size > 0
    s_name, ls_name = runs[0].name, runs[1].name
    got = {(r["method"], r["budget"], r["steps"]) for r in result["rows"]}
    assert got == {("base", 1.0, 4)} | {(s_name, 1.0, n) for n in (1, 2, 4, 8)} | {
        (ls_name, b, n) for b in (1.0, 0.6) for n in (1, 2, 4, 8)}
    for r in result["rows"]:
        assert r["ms_per_clip"] > 0 and np.isfinite(r["fd_logmel"]) and r["fd_latent"] >= 0
        # the tone corpus has no instrument families: adherence is undefined, FD is not
        assert np.isfinite(r["fd_classifier"]) and math.isnan(r["family_acc"])
        assert r["diversity_logmel"] > 0
        if r["method"] == "base":  # DPM-Solver++(2M): one evaluation per step, CFG batch of 2
            assert r["evals_per_clip"] == 4 and r["items_per_clip"] == 8
        else:
            assert r["evals_per_clip"] == r["steps"] == r["items_per_clip"]
        full = r["budget"] == 1.0
        assert (r["blocks_per_eval"] == 4) == full  # the LS run drops blocks below budget 1
    assert set(result["targets"]) == {s_name, ls_name}
    assert {"speedup_4", "fd_ratio_4", "more_steps_not_worse"} <= set(result["targets"][s_name])
    table = (tmp_path / "presto_s.md").read_text()
    assert "Targets (issue 6)" in table and f"| {s_name} | 1 | 4 |" in table
    assert result["config"]["held_out"] == 2 and result["config"]["engine"].startswith(
        "onnxruntime")


def test_bench_refuses_runs_that_are_not_presto_s_with_a_message(tmp_path_factory,
                                                                  tmp_path) -> None:
    teacher = presto_s_support.teacher_run(tmp_path_factory)
    with pytest.raises(SystemExit, match="not a Presto-S run"):
        cli(["presto-s", "--base", str(teacher), "--presto-s", str(teacher), "--out",
             str(tmp_path)])
    with pytest.raises(SystemExit, match="no checkpoint.pt"):
        cli(["presto-s", "--base", str(teacher), "--presto-s", str(tmp_path / "missing"),
             "--out", str(tmp_path)])
