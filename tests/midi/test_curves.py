import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.midi.curves import CURVES, apply_curve, invert_curve


@pytest.mark.parametrize("curve", CURVES)
def test_curves_map_the_ends_to_the_ends_and_rise(curve):
    assert apply_curve(curve, 0.0) == pytest.approx(0.0)
    assert apply_curve(curve, 1.0) == pytest.approx(1.0)
    ys = [apply_curve(curve, i / 100) for i in range(101)]
    assert all(b > a for a, b in zip(ys, ys[1:], strict=False))


def test_exp_is_fine_at_the_bottom_and_log_at_the_top():
    assert apply_curve("exp", 0.5) < 0.2 < 0.8 < apply_curve("log", 0.5)
    assert apply_curve("exp", 0.5, shape=1.0) > apply_curve("exp", 0.5, shape=6.0)


@given(st.sampled_from(CURVES), st.floats(0, 1), st.floats(0.5, 10))
def test_invert_is_the_inverse(curve, x, shape):
    y = apply_curve(curve, x, shape)
    assert math.isclose(invert_curve(curve, y, shape), x, abs_tol=1e-9)


def test_positions_outside_the_knob_are_clipped_and_unknown_curves_refused():
    assert apply_curve("linear", 1.5) == 1.0 and invert_curve("exp", -0.2) == 0.0
    with pytest.raises(ValueError, match="linear, exp, log"):
        apply_curve("cubic", 0.5)
