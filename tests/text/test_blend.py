import numpy as np
import pytest

from engine.text.blend import blend_embeddings, normalise_weights


def test_weights_are_normalised_to_sum_to_one():
    np.testing.assert_allclose(normalise_weights([1, 3]), [0.25, 0.75])
    np.testing.assert_allclose(normalise_weights([0, 2]), [0.0, 1.0])


@pytest.mark.parametrize(("weights", "message"), [
    ([], "at least one"), ([1.0, -0.1], ">= 0"), ([0.0, 0.0], "all be zero"),
    ([1.0, float("nan")], "finite"), ([float("inf")], "finite"),
])
def test_bad_weights_raise_value_errors_that_say_why(weights, message):
    with pytest.raises(ValueError, match=message):
        normalise_weights(weights)


def test_blend_is_renormalised_onto_the_unit_sphere_unless_asked_not_to():
    e = np.eye(3, dtype=np.float32)[:2]  # two orthogonal unit vectors
    np.testing.assert_allclose(blend_embeddings(e, [1, 1]), [2**-0.5, 2**-0.5, 0], atol=1e-7)
    np.testing.assert_allclose(blend_embeddings(e, [1, 1], renormalise=False), [0.5, 0.5, 0])


def test_a_blend_that_cancels_out_is_not_blown_up():
    e = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(blend_embeddings(e, [1, 1]), [0.0, 0.0])


def test_blend_checks_that_embeddings_and_weights_agree():
    with pytest.raises(ValueError, match=r"len\(weights\)=3"):
        blend_embeddings(np.zeros((2, 4)), [1, 1, 1])
