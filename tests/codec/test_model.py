from __future__ import annotations

import pytest
import torch

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import CodecConfig, get_preset
from engine.codec.decoder import Decoder

SMALL = CodecConfig(enc_width=32, enc_blocks=(1, 1, 1), dec_width=32, dec_blocks=3, dec_mult=2)


def randomised_decoder(cfg: CodecConfig = SMALL) -> Decoder:
    torch.manual_seed(0)
    dec = Decoder(cfg)
    with torch.no_grad():
        for p in dec.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return dec.eval()


def test_default_preset_keeps_64x_fewer_latent_numbers_than_samples() -> None:
    cfg, _ = get_preset("cpu")
    assert cfg.latent_dim == 32 and abs(cfg.latent_rate - 21.533) < 1e-3
    assert cfg.compression_ratio >= 64


@torch.no_grad()
def test_decoder_output_does_not_depend_on_later_latent_frames() -> None:
    dec = randomised_decoder()
    z = torch.randn(1, SMALL.latent_dim, 20)
    z2 = z.clone()
    z2[..., 12:] = torch.randn_like(z2[..., 12:])
    a, b = dec(z)[0], dec(z2)[0]  # (B, C, F, 4L)
    torch.testing.assert_close(a[..., : 12 * 4], b[..., : 12 * 4])
    assert (a[..., 12 * 4 :] - b[..., 12 * 4 :]).abs().max() > 1e-3


@torch.no_grad()
def test_decoding_with_receptive_field_lookback_reproduces_whole_clip_frames() -> None:
    dec = randomised_decoder()
    lb = SMALL.decoder_receptive_latent_frames
    z = torch.randn(2, SMALL.latent_dim, 40)
    whole = dec(z)[0]
    start = 25
    part = dec(z[..., start - lb :])[0][..., lb * 4 :]
    torch.testing.assert_close(part, whole[..., start * 4 :], atol=1e-5, rtol=0)
    # One frame too little look-back changes the result: the bound is tight.
    short = dec(z[..., start - lb + 1 :])[0][..., (lb - 1) * 4 :]
    assert (short - whole[..., start * 4 :]).abs().max() > 1e-6


@pytest.mark.parametrize("channels", [1, 2])
@torch.no_grad()
def test_autoencoder_shapes_follow_the_channel_count(channels: int) -> None:
    cfg = CodecConfig(**{**SMALL.to_dict(), "channels": channels, "enc_blocks": (1, 1, 1)})
    model = Autoencoder(cfg).eval()
    audio = 0.1 * torch.randn(3, channels, 5 * cfg.samples_per_latent)
    z = model.encode(audio)
    assert z.shape == (3, cfg.latent_dim, 5)
    assert model.decode(z).shape == audio.shape


def test_autoencoder_rejects_audio_of_the_wrong_shape() -> None:
    model = Autoencoder(SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\)"):
        model.encode(torch.zeros(1, 2, 4096))
    with pytest.raises(ValueError, match="multiple of 2048"):
        model.encode(torch.zeros(1, 1, 4000))


def test_loss_is_finite_and_backpropagates() -> None:
    cfg, tcfg = get_preset("test")
    model = Autoencoder(cfg)
    loss, parts = model.loss(0.1 * torch.randn(2, 1, 8 * 2048), tcfg)
    loss.backward()
    assert torch.isfinite(loss) and set(parts) >= {"mel_l1", "stft_sc", "stft_logmag"}
    assert all(p.grad is not None for p in model.decoder.parameters())
