"""The exported graph against the PyTorch MiniLM at batch sizes and lengths never traced."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine.manifest import sha256


def random_batch(batch: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """[CLS] words [SEP] [PAD]..., each row a different real length between 2 and `length`."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch, length), dtype=np.int64)
    mask = np.zeros((batch, length), dtype=np.int64)
    for row in range(batch):
        n = length if row == 0 else int(rng.integers(2, length + 1))
        ids[row, :n] = np.r_[101, rng.integers(1000, 30000, n - 2), 102] if n > 1 else [101]
        mask[row, :n] = 1
    return ids, mask


@pytest.mark.parametrize(("batch", "length"), [(1, 1), (1, 7), (3, 12), (5, 64), (2, 256)])
def test_onnx_matches_pytorch_at_any_batch_and_length(text_model_dir, minilm, batch, length):
    session = ort.InferenceSession(str(text_model_dir / "text_encoder.onnx"),
                                   providers=["CPUExecutionProvider"])
    ids, mask = random_batch(batch, length, seed=batch * 1000 + length)
    states, emb = session.run(None, {"input_ids": ids, "attention_mask": mask})
    with torch.no_grad():
        ref_states, ref_emb = minilm(torch.from_numpy(ids), torch.from_numpy(mask))
    assert states.shape == (batch, length, 384) and emb.shape == (batch, 384)
    np.testing.assert_allclose(emb, ref_emb.numpy(), rtol=0, atol=1e-5)
    real = mask.astype(bool)  # padded positions' states are never used
    np.testing.assert_allclose(states[real], ref_states.numpy()[real], rtol=0, atol=1e-4)


def test_pytorch_minilm_matches_sentence_transformers_reference(minilm, encoder, golden):
    texts, expected = golden
    ids, mask = encoder.tokenize(texts)
    with torch.no_grad():
        _, emb = minilm(torch.from_numpy(ids), torch.from_numpy(mask))
    np.testing.assert_allclose(emb.numpy(), expected, rtol=0, atol=1e-5)


def test_export_writes_a_manifest_with_the_hash_of_every_file(text_model_dir):
    manifest = json.loads((text_model_dir / "manifest.json").read_text())
    assert manifest["embedding_dim"] == 384 and manifest["max_length"] == 256
    assert set(manifest["files"]) == {"text_encoder.onnx", "tokenizer.json"}
    assert manifest["kind"] == "text" and manifest["format_version"] == 1
    for name, entry in manifest["files"].items():
        assert sha256(text_model_dir / name) == entry["sha256"]
