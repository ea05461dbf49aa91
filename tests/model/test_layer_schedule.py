import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.edm.schedule import karras_sigmas
from engine.model.layer_schedule import (
    LayerSchedule,
    budget_for_fraction,
    evaluated_sigmas,
    expected_block_fraction,
    route,
)

SCHEDULE = LayerSchedule(depth=8)
sigmas = st.floats(1e-4, 500.0, allow_nan=False)
budgets = st.floats(0.0, 1.0, allow_nan=False)
depths = st.integers(2, 24)


@settings(max_examples=200, deadline=None)
@given(depths, sigmas, sigmas, budgets, st.floats(0.0, 1.99))
def test_fewer_blocks_run_at_higher_noise(depth, s1, s2, b, tilt):
    sched = LayerSchedule(depth, tilt=tilt)
    lo, hi = min(s1, s2), max(s1, s2)
    assert sched.n_blocks(hi, b) <= sched.n_blocks(lo, b)


@settings(max_examples=200, deadline=None)
@given(depths, sigmas, budgets, budgets, st.floats(0.0, 1.99))
def test_more_blocks_run_at_a_higher_budget(depth, s, b1, b2, tilt):
    sched = LayerSchedule(depth, tilt=tilt)
    lo, hi = min(b1, b2), max(b1, b2)
    assert sched.n_blocks(s, lo) <= sched.n_blocks(s, hi)


@settings(max_examples=100, deadline=None)
@given(depths, sigmas, budgets)
def test_block_count_stays_between_the_minimum_and_the_depth(depth, s, b):
    k = LayerSchedule(depth).n_blocks(s, b)
    assert 2 <= k <= depth


@pytest.mark.parametrize("sigma", [1e-4, 0.002, 0.1, 1.0, 80.0, 1e3])
def test_budget_one_runs_every_block_at_every_noise_level(sigma):
    assert SCHEDULE.n_blocks(sigma, 1.0) == 8


def test_budget_zero_runs_the_minimum_at_high_noise_and_more_at_low_noise():
    assert SCHEDULE.n_blocks(80.0, 0.0) == 2
    assert SCHEDULE.n_blocks(0.002, 0.0) == 5  # keep 1/2 of the 6 spare blocks
    assert LayerSchedule(8, tilt=0.0).n_blocks(0.002, 0.0) == 2


def test_the_middle_of_the_log_sigma_range_keeps_the_budget_fraction():
    mid = float(np.sqrt(0.002 * 80.0))
    assert SCHEDULE.keep_fraction(mid, 0.5) == pytest.approx(0.5)
    assert SCHEDULE.n_blocks(mid, 0.5) == 5  # 2 + 0.5 * 6


def test_blocks_broadcast_over_arrays_of_sigmas_and_budgets():
    k = SCHEDULE.blocks(np.array([[0.01], [10.0]]), np.array([0.25, 0.5, 1.0]))
    assert k.shape == (2, 3) and k.dtype == np.int64
    assert (k[:, -1] == 8).all() and (k[1] <= k[0]).all()


def test_schedule_rejects_bad_parameters():
    with pytest.raises(ValueError, match="tilt"):
        LayerSchedule(8, tilt=2.0)
    with pytest.raises(ValueError, match="min_blocks"):
        LayerSchedule(4, min_blocks=5)
    with pytest.raises(ValueError, match="sigma_min"):
        LayerSchedule(4, sigma_min=1.0, sigma_max=0.5)
    assert LayerSchedule.for_depth(1).min_blocks == 1


def test_expected_fraction_is_one_at_full_budget_and_grows_with_the_budget():
    s = karras_sigmas(32)
    fractions = [expected_block_fraction(SCHEDULE, b, s) for b in (0.0, 0.35, 0.5, 0.75, 1.0)]
    assert fractions[-1] == 1.0
    assert all(a <= b for a, b in zip(fractions, fractions[1:], strict=False))
    assert fractions[0] >= 2 / 8
    # Karras rho 7 puts most steps at low noise, where more blocks run: above the budget.
    assert fractions[2] > 0.5


def test_expected_fraction_is_the_mean_block_count_over_the_evaluated_sigmas():
    s = karras_sigmas(8)
    ks = [SCHEDULE.n_blocks(v, 0.5) for v in s[:-1]]
    assert expected_block_fraction(SCHEDULE, 0.5, s) == pytest.approx(np.mean(ks) / 8)
    heun = evaluated_sigmas(s, "heun")
    assert len(heun) == 2 * 8 - 1 and len(evaluated_sigmas(s, "euler")) == 8
    with pytest.raises(ValueError, match="no positive"):
        expected_block_fraction(SCHEDULE, 0.5, [0.0])


def test_budget_for_fraction_inverts_the_expected_fraction():
    s = karras_sigmas(16)
    for target in (0.5, 0.7, 0.9):
        b = budget_for_fraction(SCHEDULE, target, s)
        assert expected_block_fraction(SCHEDULE, b, s) <= target
        assert expected_block_fraction(SCHEDULE, min(1.0, b + 0.01), s) > target - 0.13
    assert budget_for_fraction(SCHEDULE, 1.0, s) == 1.0
    assert budget_for_fraction(SCHEDULE, 0.1, s) == 0.0  # below the 2-block floor


@pytest.mark.parametrize("k", range(1, 6))
def test_reroute_and_early_exit_run_k_blocks_and_differ_below_full_depth(k):
    reroute, early = route(5, k, "reroute"), route(5, k, "early_exit")
    assert len(reroute) == len(early) == k
    assert reroute[-1] == 4 and early == list(range(k))
    assert (reroute == early) == (k == 5)


def test_route_rejects_unknown_modes_and_out_of_range_counts():
    with pytest.raises(ValueError, match="exit_mode"):
        route(4, 2, "skip")
    with pytest.raises(ValueError, match="n_blocks"):
        route(4, 0)
    assert route(4, None, "early_exit") == [0, 1, 2, 3]


def test_layer_schedule_imports_without_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, engine.model.layer_schedule; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False,
                          cwd=Path(__file__).parents[2]).returncode == 0
