import pytest
import torch

from engine.model.dit import DiT
from tests.model.conftest import SMALL, inputs, randomised


@pytest.mark.parametrize("frames", [1, 2, 7, 12])
def test_output_has_the_input_shape_for_odd_and_even_frame_counts(small_dit, frames):
    with torch.no_grad():
        out = small_dit(*inputs(frames=frames))
    assert out.shape == (2, SMALL.latent_channels, frames)


def test_adaln_zero_network_starts_at_zero_output():
    torch.manual_seed(0)
    with torch.no_grad():
        out = DiT(SMALL)(*inputs())
    assert torch.count_nonzero(out) == 0


def test_reroute_with_all_blocks_is_the_full_forward(small_dit):
    args = inputs()
    with torch.no_grad():
        full = small_dit(*args)
        torch.testing.assert_close(small_dit(*args, n_blocks=SMALL.depth), full, rtol=0, atol=0)


def test_reroute_runs_the_first_k_minus_1_blocks_then_the_last(small_dit):
    assert small_dit.route(1) == [2]
    assert small_dit.route(2) == [0, 2]
    assert small_dit.route(None) == [0, 1, 2]
    x, c_noise, text, budget, known, mask = inputs()
    with torch.no_grad():
        h, c, c_final = small_dit.embed(x, c_noise, text, budget, known, mask)
        cos, sin = small_dit.rope(h)
        h = small_dit.blocks[0](h, c, cos, sin)
        h = small_dit.blocks[2](h, c, cos, sin)
        manual = small_dit.head(h, c_final, x.shape[2])
        rerouted = small_dit(x, c_noise, text, budget, known, mask, n_blocks=2)
        full = small_dit(x, c_noise, text, budget, known, mask)
    torch.testing.assert_close(rerouted, manual)
    assert not torch.allclose(rerouted, full)


@pytest.mark.parametrize("k", [0, 4, -1])
def test_reroute_rejects_layer_counts_outside_one_to_depth(small_dit, k):
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        small_dit(*inputs(), n_blocks=k)


def test_known_frames_are_ignored_where_the_mask_is_zero(small_dit):
    x, c_noise, text, budget, known, mask = inputs()
    nothing = torch.zeros_like(mask)
    with torch.no_grad():
        a = small_dit(x, c_noise, text, budget, known, nothing)
        b = small_dit(x, c_noise, text, budget, known * 7.0, nothing)
        c = small_dit(x, c_noise, text, budget, known * 7.0, mask)
        d = small_dit(x, c_noise, text, budget)  # known and mask default to "none known"
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, d)
    assert not torch.allclose(a, c)


def test_batch_items_do_not_see_each_other(small_dit):
    args = inputs(batch=3)
    with torch.no_grad():
        together = small_dit(*args)
        alone = small_dit(*(a[1:2] for a in args))
    torch.testing.assert_close(together[1:2], alone, rtol=1e-5, atol=1e-5)


def test_every_conditioning_input_changes_the_output(small_dit):
    x, c_noise, text, budget, known, mask = inputs()
    with torch.no_grad():
        base = small_dit(x, c_noise, text, budget, known, mask)
        for changed in (
            small_dit(x, c_noise + 0.5, text, budget, known, mask),
            small_dit(x, c_noise, text.flip(0), budget, known, mask),
            small_dit(x, c_noise, text, 1.0 - budget, known, mask),
        ):
            assert not torch.allclose(changed, base)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: (a[0][0],) + a[1:], r"x must be \(batch, 8, frames\)"),
        (lambda a: (a[0][:, :5],) + a[1:], r"x must be \(batch, 8, frames\)"),
        (lambda a: a[:2] + (a[2][:, :100],) + a[3:], r"text_emb must have shape \(2, 384\)"),
        (lambda a: a[:3] + (a[3][:1],) + a[4:], r"budget must have shape \(2,\)"),
        (lambda a: a[:4] + (a[4][..., :5],) + a[5:], r"known must have shape \(2, 8, 11\)"),
        (lambda a: a[:5] + (a[5][:, 0],), r"mask must have shape \(2, 1, 11\)"),
    ],
)
def test_malformed_inputs_raise_value_errors_naming_the_expected_shape(small_dit, change,
                                                                        expected):
    with pytest.raises(ValueError, match=expected):
        small_dit(*change(inputs()))


def test_drop_text_swaps_rows_for_the_null_embedding(small_dit):
    text = torch.randn(64, SMALL.text_dim)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(small_dit.drop_text(text, 0.0, g), text)
    everything = small_dit.drop_text(text, 1.0, g)
    torch.testing.assert_close(everything, small_dit.null_text.detach().expand_as(text))
    some = small_dit.drop_text(text, 0.5, g)
    dropped = (some != text).any(dim=1).sum()
    assert 10 < int(dropped) < 54


def test_a_training_step_reaches_every_zero_initialised_parameter():
    from engine.edm.loss import EDMLoss
    from engine.edm.precond import EDMPrecond

    torch.manual_seed(0)
    net = DiT(SMALL)
    denoiser = EDMPrecond(net)
    x0 = torch.randn(2, SMALL.latent_channels, 10) * 0.5
    _, _, text, budget, known, mask = inputs(frames=10)
    loss = EDMLoss()(lambda x, s: denoiser(x, s, text_emb=text, budget=budget, known=x0,
                                           mask=mask), x0, mask=mask)
    loss.backward()
    assert torch.isfinite(loss)
    assert net.final.linear.weight.grad.abs().sum() > 0  # zero-init output layer learns first
    assert net.final.adaLN_modulation[-1].weight.grad is not None


def test_randomised_networks_are_reproducible():
    args = inputs()
    with torch.no_grad():
        torch.testing.assert_close(randomised()(*args), randomised()(*args))
