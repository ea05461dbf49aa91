"""Serving-time text encoder: `tokenizers` + onnxruntime, no torch.

    enc = TextEncoder("models/text")
    emb = enc.embed(["a slow chorale for strings"])          # (1, 384) float32, unit length
    mix = enc.blend([("folk fiddle", 2.0), ("piano", 1.0)])  # (384,)
    null = enc.null_embedding(1)                             # (1, 384): the CFG "no prompt"

The empty-prompt embedding for classifier-free guidance is not MiniLM's
embedding of "": the DiT learns its own null embedding (DiT.null_text, zero at
initialisation, trained by dropping the text with probability ~0.1), and the
runtime installs it here with `set_null_embedding` from the DiT's model
directory. Until then it is the zero vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from engine.manifest import ManifestError, load_manifest
from engine.text.blend import blend_embeddings

ONNX_NAME = "text_encoder.onnx"
TOKENIZER_NAME = "tokenizer.json"
MANIFEST_NAME = "manifest.json"


# The text encoder's directory is checked like every model directory (engine.manifest).
ModelDirError = ManifestError


def check_model_dir(model_dir: Path) -> dict:
    """Read manifest.json (kind "text") and verify every listed file's sha256.

    ManifestError (alias ModelDirError) names the missing or altered file.
    """
    if not (Path(model_dir) / MANIFEST_NAME).is_file():
        raise ModelDirError(f"{model_dir} has no {MANIFEST_NAME}: export the text encoder with "
                            f"`python -m engine.text export --out {model_dir}`")
    return load_manifest(Path(model_dir), kind="text")


class TextEncoder:
    """Prompts -> unit-length 384-d MiniLM sentence embeddings (and token states)."""

    def __init__(self, model_dir: Path | str, threads: int = 2, verify: bool = True,
                 providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        model_dir = Path(model_dir)
        self.manifest = check_model_dir(model_dir) if verify else {}
        self.max_length = int(self.manifest.get("max_length", 256))
        self.dim = int(self.manifest.get("embedding_dim", 384))
        self.tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_NAME))
        # The shipped tokenizer.json pads every prompt to 128 tokens; pad to the
        # longest prompt of the batch and truncate at sentence-transformers' 256.
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_dir / ONNX_NAME), opts,
                                            providers=list(providers))
        self._null = np.zeros(self.dim, dtype=np.float32)

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """input_ids and attention_mask, both (B, L) int64, L = the longest prompt's tokens."""
        if isinstance(texts, str) or len(texts) == 0:
            raise ValueError("texts must be a non-empty list of strings")
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token_states (B, L, 384), attention_mask (B, L), embedding (B, 384)), float32."""
        ids, mask = self.tokenize(texts)
        states, emb = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return states, mask, emb

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(B, 384) float32 unit-length sentence embeddings."""
        ids, mask = self.tokenize(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        return self.session.run(["sentence_embedding"], feeds)[0]

    def blend(self, prompts: Sequence[tuple[str, float]]) -> np.ndarray:
        """[(text, weight), ...] -> (384,) mix; weights normalised to sum 1 (see blend.py)."""
        if len(prompts) == 0:
            raise ValueError("a prompt blend needs at least one (prompt, weight) pair, got none")
        texts = [text for text, _ in prompts]
        weights = [weight for _, weight in prompts]
        return blend_embeddings(self.embed(texts), weights)

    def set_null_embedding(self, vector: np.ndarray) -> None:
        """Install the DiT's learned empty-prompt embedding (384,) for guidance."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(f"null embedding must have shape ({self.dim},), got {vector.shape}")
        self._null = vector.copy()

    def null_embedding(self, batch: int = 1) -> np.ndarray:
        """(batch, 384) copies of the empty-prompt embedding (zeros until set)."""
        return np.repeat(self._null[None], batch, axis=0)
