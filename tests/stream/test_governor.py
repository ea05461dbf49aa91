"""The deadline governor: the richest plan that fits, within the performer's ceiling."""

from __future__ import annotations

import pytest

from engine.model.layer_schedule import LayerSchedule
from engine.stream.config import StreamConfig
from engine.stream.governor import Governor


def governor(served, **kw) -> Governor:
    cfg = StreamConfig(hop_seconds=0.2, max_steps=12, **kw)
    gov = Governor(served, cfg, cfg.geometry(served))
    # A known cost model (what calibrate() measures): 10 ms + 5 ms per block at batch 2.
    gov.cost.per_eval = {1: (0.005, 0.0025), 2: (0.010, 0.005)}
    return gov


def test_calibration_measures_positive_costs_for_both_batches(served) -> None:
    cfg = StreamConfig(hop_seconds=0.2)
    gov = Governor(served, cfg, cfg.geometry(served))
    out = gov.calibrate(repeats=1)
    for batch in (1, 2):
        a, b = gov.cost.per_eval[batch]
        assert a >= 0 and b >= 0 and a + b > 0
    assert out["decode"] > 0


def test_more_time_buys_more_steps_and_the_choice_fits_its_deadline(served) -> None:
    gov = governor(served)
    steps = []
    for fill in (0.12, 0.15, 0.2, 0.3, 0.6):
        choice = gov.choose(fill, running=True, ceiling=1.0, guidance=2.0)
        steps.append(choice.steps)
        if choice.reason == "fits":
            assert choice.predicted_seconds <= choice.deadline_seconds
    assert steps == sorted(steps) and steps[0] < steps[-1]


def test_behind_schedule_it_takes_the_cheapest_plan_and_says_so(served) -> None:
    choice = governor(served).choose(0.0, running=True, ceiling=0.4, guidance=2.0)
    assert choice.reason == "over deadline" and choice.steps == 1 and choice.budget == 0.0


def test_when_one_step_does_not_fit_it_lowers_the_budget_rather_than_run_late(served) -> None:
    cfg = StreamConfig(hop_seconds=0.2, max_steps=12)
    # priced as the shipped depth-8 DiT (the micro model runs 2 blocks at any budget)
    gov = Governor(served, cfg, cfg.geometry(served), schedule=LayerSchedule(depth=8))
    gov.cost.per_eval = {1: (0.005, 0.0025), 2: (0.010, 0.005)}
    full = gov.predict(1, 1.0, 2.0)
    choice = gov.choose(full * 0.8, running=True, ceiling=1.0, guidance=2.0)
    assert choice.reason == "budget lowered" and choice.steps == 1 and choice.budget < 1.0
    assert choice.predicted_seconds <= choice.deadline_seconds < full
    assert max(choice.blocks) < 8
    assert gov.choose(5.0, running=True, ceiling=1.0, guidance=2.0).reason == "fits"


def test_the_budget_never_exceeds_the_ceiling_and_the_report_says_what_runs(served) -> None:
    gov = governor(served)
    for ceiling in (0.0, 0.3, 1.0):
        choice = gov.choose(0.3, running=True, ceiling=ceiling, guidance=2.0)
        assert choice.budget <= ceiling
        report = choice.report()
        assert report["steps"] == len(report["sigmas"]) - 1 and report["sigmas"][-1] == 0.0
        assert report["evaluations"] == len(choice.blocks) == choice.steps  # dpmpp_2m
        assert report["budget"] == ceiling and "predicted" in choice.describe()


def test_without_guidance_evaluations_are_cheaper_so_more_steps_fit(served) -> None:
    gov = governor(served)
    guided = gov.choose(0.2, running=True, ceiling=1.0, guidance=2.0)
    plain = gov.choose(0.2, running=True, ceiling=1.0, guidance=1.0)
    assert plain.plan.batch() == 1 and guided.plan.batch() == 2
    assert plain.steps > guided.steps


def test_observed_slowness_raises_the_predictions(served) -> None:
    gov = governor(served)
    choice = gov.choose(0.3, running=True, ceiling=1.0, guidance=2.0)
    before = gov.predict(choice.steps, 1.0, 2.0)
    slow = [(s, k, 3 * (0.010 + 0.005 * k)) for s, k in zip(choice.plan.evaluations(),
                                                           choice.blocks, strict=True)]
    for _ in range(5):
        gov.observe(choice, slow, decode_seconds=0.001, total_seconds=sum(t for *_, t in slow))
    assert gov.predict(choice.steps, 1.0, 2.0) > 2 * before
    assert gov.choose(0.3, running=True, ceiling=1.0, guidance=2.0).steps < choice.steps


def test_a_halted_clock_uses_the_target_load_and_a_redo_needs_time(served) -> None:
    gov = governor(served)
    choice = gov.choose(0.0, running=False, ceiling=1.0, guidance=2.0)
    assert choice.reason == "clock halted"
    assert choice.deadline_seconds == pytest.approx(0.5 * gov.geo.hop_seconds)
    assert gov.can_redo(0.0, running=False, ceiling=1.0, guidance=2.0)
    assert not gov.can_redo(0.0, running=True, ceiling=1.0, guidance=2.0)
    assert gov.can_redo(1.0, running=True, ceiling=1.0, guidance=2.0)


def test_a_distilled_generator_gets_power_of_two_step_counts(served) -> None:
    gov = governor(served, mode="distilled")
    assert gov.step_options() == [8, 4, 2, 1]
    choice = gov.choose(0.5, running=True, ceiling=1.0, guidance=2.0)
    assert choice.plan.mode == "distilled" and choice.plan.batch() == 1


def test_a_fixed_schedule_ignores_time(served) -> None:
    gov = governor(served, adaptive=False)
    for fill in (0.0, 5.0):
        choice = gov.choose(fill, running=True, ceiling=0.7, guidance=2.0)
        assert (choice.steps, choice.budget, choice.reason) == (12, 0.7, "fixed")


def test_a_redone_hop_may_use_the_time_left_but_keeps_the_margin(served) -> None:
    gov = governor(served)
    choice = gov.choose(1.0, running=True, ceiling=1.0, guidance=2.0, reserve=0.1,
                        hard_only=True)
    assert choice.deadline_seconds == pytest.approx(1.0 - 0.1 - gov.cfg.margin_seconds)
    assert choice.predicted_seconds <= choice.deadline_seconds
