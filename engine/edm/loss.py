"""EDM denoising loss (Karras et al. 2022, section 5 and table 1, "EDM" column)."""

from __future__ import annotations

from collections.abc import Callable

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B,C,T), sigma (B,)) -> x0


class EDMLoss:
    """Weighted denoising loss with log-normal training sigmas.

    ln(sigma) ~ N(p_mean, p_std^2); weight lambda(sigma) = (sigma^2 + sd^2) / (sigma * sd)^2
    makes the effective target of F unit-variance at every sigma. With a known-
    prefix mask (1 = known context frame) the loss is averaged over unknown
    frames only: the model is never graded on copying its context.
    """

    def __init__(self, p_mean: float = -1.2, p_std: float = 1.2, sigma_data: float = 0.5) -> None:
        self.p_mean, self.p_std, self.sigma_data = float(p_mean), float(p_std), float(sigma_data)

    def sample_sigma(self, batch: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
        """(batch,) training noise levels."""
        z = torch.randn(batch, generator=generator, device=_draw_device(generator, device))
        z = z.to(device)
        return (z * self.p_std + self.p_mean).exp()

    def __call__(self, denoise: Denoiser, x0: torch.Tensor, mask: torch.Tensor | None = None,
                 sigma: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Scalar loss. x0: (B, C, T) clean latents; mask: (B, 1, T), 1 = known frame.

        `denoise(x, sigma)` must already carry its conditioning (text, known
        frames, the same mask), e.g. through functools.partial.
        """
        if x0.ndim != 3:
            raise ValueError(f"x0 must be (batch, channels, frames), got shape {tuple(x0.shape)}")
        b = x0.shape[0]
        if sigma is None:
            sigma = self.sample_sigma(b, generator, x0.device)  # (B,)
        sigma = sigma.to(x0.dtype)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype,
                            device=_draw_device(generator, x0.device)).to(x0.device)
        sd2 = self.sigma_data**2
        weight = (sigma**2 + sd2) / (sigma * self.sigma_data) ** 2  # (B,)
        denoised = denoise(x0 + noise * sigma[:, None, None], sigma)  # (B, C, T)
        err = weight[:, None, None] * (denoised - x0) ** 2  # (B, C, T)
        if mask is None:
            return err.mean()
        if mask.shape != (b, 1, x0.shape[2]):
            raise ValueError(
                f"mask must be (batch, 1, frames) = {(b, 1, x0.shape[2])}, got {tuple(mask.shape)}"
            )
        unknown = (1.0 - mask.to(x0.dtype)).expand_as(err)  # (B, C, T)
        return (err * unknown).sum() / unknown.sum().clamp_min(1.0)


def _draw_device(generator: torch.Generator | None, device: torch.device | str
                 ) -> torch.device | str:
    """Where random numbers are drawn: on the generator's device when one is given (a CPU
    generator then draws the same numbers whatever device trains), else on ``device``."""
    return generator.device if generator is not None else device
