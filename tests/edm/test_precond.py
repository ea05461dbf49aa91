import pytest
import torch
from torch import nn

from engine.edm.loss import EDMLoss
from engine.edm.precond import EDMPrecond, edm_coefficients

SIGMAS = torch.tensor([0.002, 0.1, 0.5, 1.0, 10.0, 80.0], dtype=torch.float64)


@pytest.mark.parametrize("sigma_data", [0.5, 1.3])
def test_coefficients_satisfy_the_edm_identities(sigma_data):
    c_skip, c_out, c_in, c_noise = edm_coefficients(SIGMAS, sigma_data)
    torch.testing.assert_close(c_in**2 * (SIGMAS**2 + sigma_data**2), torch.ones_like(SIGMAS))
    torch.testing.assert_close(c_out**2, SIGMAS**2 * c_skip)  # c_out^2 = sigma^2 c_skip
    torch.testing.assert_close(c_skip + (c_out / sigma_data) ** 2, torch.ones_like(SIGMAS))
    torch.testing.assert_close(c_noise, SIGMAS.log() / 4)


def test_training_target_has_unit_variance_at_every_sigma():
    sigma_data = 0.5
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(200_000, generator=g, dtype=torch.float64) * sigma_data
    n = torch.randn(200_000, generator=g, dtype=torch.float64)
    for sigma in SIGMAS:
        c_skip, c_out, c_in, _ = edm_coefficients(sigma, sigma_data)
        x = x0 + sigma * n
        assert float((c_in * x).std()) == pytest.approx(1.0, rel=0.02)
        target = (x0 - c_skip * x) / c_out
        assert float(target.std()) == pytest.approx(1.0, rel=0.02)


class Recorder(nn.Module):
    def forward(self, x, c_noise, **cond):
        self.seen = (x, c_noise, cond)
        return torch.zeros_like(x)


def test_precond_scales_input_and_passes_conditioning_through():
    net = Recorder()
    d = EDMPrecond(net, sigma_data=0.5)
    x = torch.randn(2, 3, 5)
    sigma = torch.tensor([0.5, 2.0])
    out = d(x, sigma, text_emb="t", n_blocks=3)
    c_skip, _, c_in, c_noise = edm_coefficients(sigma, 0.5)
    torch.testing.assert_close(net.seen[0], x * c_in[:, None, None])
    torch.testing.assert_close(net.seen[1], c_noise)
    assert net.seen[2] == {"text_emb": "t", "n_blocks": 3}
    torch.testing.assert_close(out, x * c_skip[:, None, None])  # F = 0 -> D = c_skip x


def test_loss_is_zero_for_a_perfect_denoiser():
    x0 = torch.randn(3, 4, 8)
    assert float(EDMLoss()(lambda x, s: x0, x0)) == 0.0


def test_loss_applies_the_edm_weight():
    x0 = torch.zeros(2, 1, 4)
    sigma = torch.tensor([0.5, 0.5])
    loss = EDMLoss(sigma_data=0.5)(lambda x, s: x0 + 0.1, x0, sigma=sigma)
    weight = (0.25 + 0.25) / (0.25 * 0.25)
    assert float(loss) == pytest.approx(weight * 0.01, rel=1e-5)


def test_loss_ignores_known_frames():
    x0 = torch.randn(2, 4, 10)
    mask = torch.zeros(2, 1, 10)
    mask[..., :6] = 1.0

    def right_only_where_unknown(x, sigma):
        return x0 * (1 - mask) + 100.0 * mask

    assert float(EDMLoss()(right_only_where_unknown, x0, mask=mask)) == 0.0
    assert float(EDMLoss()(right_only_where_unknown, x0)) > 0.0


def test_loss_sigmas_are_log_normal():
    sigma = EDMLoss(p_mean=-1.2, p_std=1.2).sample_sigma(50_000, torch.Generator().manual_seed(1))
    assert float(sigma.log().mean()) == pytest.approx(-1.2, abs=0.03)
    assert float(sigma.log().std()) == pytest.approx(1.2, abs=0.03)


def test_loss_rejects_a_mask_of_the_wrong_shape():
    x0 = torch.randn(2, 4, 10)
    with pytest.raises(ValueError, match=r"\(2, 1, 10\)"):
        EDMLoss()(lambda x, s: x, x0, mask=torch.zeros(2, 10))
