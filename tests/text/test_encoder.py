import shutil

import numpy as np
import pytest

from engine.text import ModelDirError, TextEncoder


def test_embeddings_match_sentence_transformers_one_batch_or_one_by_one(encoder, golden):
    texts, expected = golden
    together = encoder.embed(texts)
    assert together.dtype == np.float32 and together.shape == (len(texts), 384)
    np.testing.assert_allclose(together, expected, rtol=0, atol=1e-5)
    for text, row in zip(texts, expected, strict=True):
        np.testing.assert_allclose(encoder.embed([text])[0], row, rtol=0, atol=1e-5)


def test_embeddings_have_unit_length(encoder):
    emb = encoder.embed(["strings", "a brass band march in C major"])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_tokenizer_pads_to_the_longest_prompt_and_truncates_at_256(encoder):
    ids, mask = encoder.tokenize(["piano", "a string quartet in D minor"])
    assert ids.shape == mask.shape and ids.dtype == np.int64
    assert ids[0, 0] == 101 and mask[0].sum() == 3 and mask[1].all()  # [CLS] piano [SEP]
    long_ids, _ = encoder.tokenize(["la " * 1000])
    assert long_ids.shape == (1, 256) and long_ids[0, -1] == 102


def test_encode_returns_token_states_for_cross_attention(encoder):
    states, mask, emb = encoder.encode(["folk fiddle tune", "organ"])
    assert states.shape == (2, mask.shape[1], 384) and emb.shape == (2, 384)


def test_prompts_must_be_a_non_empty_list(encoder):
    with pytest.raises(ValueError, match="non-empty list"):
        encoder.embed([])
    with pytest.raises(ValueError, match="non-empty list"):
        encoder.embed("a bare string")


def test_blend_mixes_prompt_embeddings_by_normalised_weight(encoder):
    a, b = encoder.embed(["a slow chorale", "a fast jig"])
    mix = encoder.blend([("a slow chorale", 2.0), ("a fast jig", 1.0)])
    expected = (2 * a + b) / 3
    np.testing.assert_allclose(mix, expected / np.linalg.norm(expected), atol=1e-6)
    np.testing.assert_allclose(encoder.blend([("a fast jig", 5.0)]), b, atol=1e-6)


@pytest.mark.parametrize(("prompts", "message"), [
    ([], "at least one"),
    ([("piano", -1.0), ("organ", 2.0)], ">= 0"),
    ([("piano", 0.0), ("organ", 0.0)], "all be zero"),
])
def test_blend_rejects_empty_negative_and_all_zero_weights(encoder, prompts, message):
    with pytest.raises(ValueError, match=message):
        encoder.blend(prompts)


def test_null_embedding_is_zero_until_the_dit_installs_its_own(text_model_dir):
    enc = TextEncoder(text_model_dir, threads=1, verify=False)
    np.testing.assert_array_equal(enc.null_embedding(3), np.zeros((3, 384), np.float32))
    learned = np.linspace(-1, 1, 384, dtype=np.float32)
    enc.set_null_embedding(learned)
    np.testing.assert_array_equal(enc.null_embedding(2), np.stack([learned, learned]))
    with pytest.raises(ValueError, match=r"\(384,\)"):
        enc.set_null_embedding(np.zeros(10))


def test_a_model_directory_with_a_changed_file_is_refused(text_model_dir, tmp_path):
    for name in ("manifest.json", "tokenizer.json"):
        shutil.copy(text_model_dir / name, tmp_path / name)
    (tmp_path / "text_encoder.onnx").symlink_to(text_model_dir / "text_encoder.onnx")
    with open(tmp_path / "tokenizer.json", "a") as f:
        f.write(" ")
    with pytest.raises(ModelDirError, match="tokenizer.json does not match"):
        TextEncoder(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ModelDirError, match="no manifest.json"):
        TextEncoder(tmp_path)
