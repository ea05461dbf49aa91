"""A 1-D diffusion transformer over codec latent frames (Peebles & Xie 2023, "DiT").

Changes from the image DiT: 1-D patches of `patch` latent frames, rotary
positions computed in the graph (any window length, no position table),
conditioning = noise level + pooled text + layer budget (Presto-L, Novack et
al. 2025), context frames and their mask as extra input channels (continuation),
and `n_blocks` for Presto-L's reroute: blocks[0:k-1], then the last block.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.model.config import DiTConfig
from engine.model.layer_schedule import route


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x (B, L, D) scaled and shifted per batch item by (B, D) vectors."""
    return x * (1.0 + scale[:, None, :]) + shift[:, None, :]


def rope_tables(length: int, head_dim: int, base: float, like: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (L, head_dim // 2) for token positions 0..L-1, built in the graph."""
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(half, device=like.device, dtype=torch.float32) / half)
    pos = torch.arange(length, device=like.device, dtype=torch.float32)  # (L,)
    angles = pos[:, None] * inv_freq[None, :]  # (L, Dh/2)
    return angles.cos().to(like.dtype), angles.sin().to(like.dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate feature pairs (i, i + Dh/2) of x (B, H, L, Dh) by position-dependent angles."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, H, L, Dh/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, L, Dh)


class ScalarEmbedder(nn.Module):
    """A per-item scalar (noise level or budget) -> (B, D): sinusoids, then an MLP."""

    def __init__(self, width: int, freq_dim: int, scale: float = 1000.0) -> None:
        super().__init__()
        half = freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs * scale, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * half, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.to(self.freqs.dtype)[:, None] * self.freqs[None, :]  # (B, F/2)
        return self.mlp(torch.cat([args.cos(), args.sin()], dim=-1))  # (B, D)


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions on queries and keys."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # (B, L, D)
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads)  # (B, L, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, L, Dh) each
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # (B, H, L, Dh)
        o = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, Dh)
        return self.proj(o.transpose(1, 2).reshape(b, n, d))  # (B, L, D)


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero: shift, scale and a zero-initialised gate per branch."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width)
        )
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, h: torch.Tensor, c: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
                ) -> torch.Tensor:
        mods = self.adaLN_modulation(c).chunk(6, dim=-1)  # 6 x (B, D)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mods  # (B, D) each
        a = self.attn(modulate(self.norm1(h), shift_a, scale_a), cos, sin)  # (B, L, D)
        h = h + gate_a[:, None] * a  # (B, L, D)
        m = self.mlp(modulate(self.norm2(h), shift_m, scale_m))  # (B, L, D)
        return h + gate_m[:, None] * m  # (B, L, D)


class FinalLayer(nn.Module):
    """adaLN then a linear map from tokens back to `patch` latent frames each."""

    def __init__(self, width: int, out_per_token: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_per_token)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)  # (B, D) each
        return self.linear(modulate(self.norm(h), shift, scale))  # (B, L, patch * C)


class DiT(nn.Module):
    """F(x, c_noise, text, budget, known, mask) -> (B, C, T), the network inside EDMPrecond.

    The pieces `embed`, `blocks[i]` and `head` are public so that the ONNX
    export can cut the network into per-block graphs (engine.model.export).
    """

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.x_embed = nn.Conv1d(cfg.in_channels, d, kernel_size=cfg.patch, stride=cfg.patch)
        self.noise_embed = ScalarEmbedder(d, cfg.freq_dim)
        self.text_embed = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.budget_embed = ScalarEmbedder(d, cfg.freq_dim)
        self.final_budget_embed = ScalarEmbedder(d, cfg.freq_dim)  # the final adaLN's own view
        self.blocks = nn.ModuleList(
            DiTBlock(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)
        )
        self.final = FinalLayer(d, cfg.patch * cfg.latent_channels)
        # Classifier-free guidance: the embedding that stands for "no prompt". It
        # starts at zero (so a zero vector is the null prompt until trained) and is
        # learned through `drop_text`; the export writes it out for the runtime.
        self.null_text = nn.Parameter(torch.zeros(cfg.text_dim))
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def _xavier(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        self.apply(_xavier)
        w = self.x_embed.weight.data  # like a Linear over the flattened patch, as in DiT
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embed.bias)
        for emb in (self.noise_embed, self.budget_embed, self.final_budget_embed):
            nn.init.normal_(emb.mlp[0].weight, std=0.02)
            nn.init.normal_(emb.mlp[2].weight, std=0.02)
        nn.init.normal_(self.text_embed[0].weight, std=0.02)
        nn.init.normal_(self.text_embed[2].weight, std=0.02)
        # adaLN-Zero: every block starts as the identity, the output as zero.
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        nn.init.zeros_(self.null_text)

    def route(self, n_blocks: int | None = None, sigma: float | None = None) -> list[int]:
        """Block indices run for a layer count k under cfg.exit_mode (Presto-L reroute:
        0..k-2, then the last; early exit: 0..k-1; ranked: by sigma's band's drop order).
        See engine.model.layer_schedule."""
        return route(self.cfg.depth, n_blocks, self.cfg.exit_mode, sigma, self.cfg.drop_order)

    def run_blocks(self, h: torch.Tensor, c: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                   routes: list[list[int]]) -> torch.Tensor:
        """h (B, L, D) through the blocks, row r through routes[r] only (in network order):
        each block runs once, on the rows whose route has it."""
        for i, block in enumerate(self.blocks):
            rows = [r for r, blocks in enumerate(routes) if i in blocks]
            if len(rows) == len(routes):
                h = block(h, c, cos, sin)  # (B, L, D)
            elif rows:
                idx = torch.tensor(rows, device=h.device)
                h = h.index_copy(0, idx, block(h[idx], c[idx], cos, sin))  # (B, L, D)
        return h

    def drop_text(self, text_emb: torch.Tensor, p: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """For CFG training: each row of text_emb (B, 384) becomes null_text with probability p."""
        drop = torch.rand(text_emb.shape[0], generator=generator, device=text_emb.device) < p
        return torch.where(drop[:, None], self.null_text.to(text_emb.dtype)[None], text_emb)

    def check_inputs(self, x: torch.Tensor, c_noise: torch.Tensor, text_emb: torch.Tensor,
                     budget: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> None:
        """ValueError naming the expected shape for any malformed input."""
        c = self.cfg.latent_channels
        if x.ndim != 3 or x.shape[1] != c:
            raise ValueError(f"x must be (batch, {c}, frames), got shape {tuple(x.shape)}")
        b, t = x.shape[0], x.shape[2]
        expected = {
            "c_noise": ((b,), c_noise), "budget": ((b,), budget),
            "text_emb": ((b, self.cfg.text_dim), text_emb),
            "known": ((b, c, t), known), "mask": ((b, 1, t), mask),
        }
        for name, (shape, value) in expected.items():
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")

    def embed(self, x: torch.Tensor, c_noise: torch.Tensor, text_emb: torch.Tensor,
              budget: torch.Tensor, known: torch.Tensor, mask: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens h (B, L, D), block conditioning c (B, D), final-layer conditioning (B, D)."""
        t = x.shape[2]  # T
        h = torch.cat([x, known * mask, mask], dim=1)  # (B, 2C+1, T)
        h = F.pad(h, (0, (-t) % self.cfg.patch))  # (B, 2C+1, T'), T' a multiple of patch
        h = self.x_embed(h).transpose(1, 2)  # (B, L, D), L = T' / patch
        b_emb = self.budget_embed(budget)  # (B, D)
        text = self.text_embed(text_emb * self.cfg.text_scale)  # (B, D)
        c = self.noise_embed(c_noise) + text + b_emb  # (B, D)
        c_final = c + self.final_budget_embed(budget)  # (B, D)
        return h, c, c_final

    def rope(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin (L, Dh/2) for tokens h (B, L, D)."""
        return rope_tables(h.shape[1], self.cfg.width // self.cfg.heads, self.cfg.rope_base, h)

    def head(self, h: torch.Tensor, c_final: torch.Tensor, frames: int) -> torch.Tensor:
        """Tokens (B, L, D) -> F output (B, C, frames), dropping the patch padding."""
        b, n, _ = h.shape  # (B, L, D)
        p, c = self.cfg.patch, self.cfg.latent_channels  # frames per token, latent channels
        out = self.final(h, c_final)  # (B, L, p*C)
        out = out.reshape(b, n, p, c).permute(0, 3, 1, 2)  # (B, C, L, p)
        return out.reshape(b, c, n * p)[:, :, :frames]  # (B, C, T)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, text_emb: torch.Tensor,
                budget: torch.Tensor, known: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, n_blocks: int | None = None) -> torch.Tensor:
        """x: (B, C, T) noisy latents already scaled by c_in; c_noise: (B,) = log(sigma)/4;
        text_emb: (B, 384) pooled text (or null_text); budget: (B,) in [0, 1];
        known: (B, C, T) context frames (any value where mask is 0); mask: (B, 1, T),
        1 = known. n_blocks: Presto-L layer count k (None = all). Returns (B, C, T).
        """
        channels = self.cfg.latent_channels
        if x.ndim != 3 or x.shape[1] != channels:  # before x[:, :1] below can fail otherwise
            raise ValueError(f"x must be (batch, {channels}, frames), got shape {tuple(x.shape)}")
        if known is None:
            known = torch.zeros_like(x)  # (B, C, T)
        if mask is None:
            mask = torch.zeros_like(x[:, :1])  # (B, 1, T): nothing known
        self.check_inputs(x, c_noise, text_emb, budget, known, mask)
        h, c, c_final = self.embed(x, c_noise, text_emb, budget, known, mask)  # (B,L,D), (B,D) x2
        cos, sin = self.rope(h)  # (L, Dh/2) each
        if self.cfg.exit_mode == "ranked":  # the route depends on each row's noise level
            sigmas = torch.exp(4.0 * c_noise.detach().float()).tolist()  # c_noise = ln(sigma)/4
            h = self.run_blocks(h, c, cos, sin, [self.route(n_blocks, s) for s in sigmas])
        else:
            for i in self.route(n_blocks):
                h = self.blocks[i](h, c, cos, sin)  # (B, L, D)
        return self.head(h, c_final, x.shape[2])  # (B, C, T)
