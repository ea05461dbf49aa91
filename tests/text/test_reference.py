import numpy as np
import pytest


@pytest.mark.slow
def test_golden_embeddings_still_match_a_live_sentence_transformers(golden):
    """Regenerates the stored reference (about 15 s to import and load)."""
    from sentence_transformers import SentenceTransformer

    from engine.text.minilm import package_model_dir

    texts, expected = golden
    model = SentenceTransformer(str(package_model_dir()), device="cpu")
    np.testing.assert_allclose(model.encode(texts, convert_to_numpy=True), expected, atol=1e-6)
