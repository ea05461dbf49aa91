"""One real export of all-MiniLM-L6-v2 per test session (about 10 s), shared by the text tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

GOLDEN = Path(__file__).with_name("golden_minilm.npz")


@pytest.fixture(scope="session")
def golden() -> tuple[list[str], np.ndarray]:
    """Prompts and their embeddings by sentence-transformers 6.2 (SentenceTransformer(package
    dir).encode, as test_reference.py checks), the last prompt longer than 256 tokens."""
    data = np.load(GOLDEN)
    return [str(t) for t in data["texts"]], data["embeddings"]


@pytest.fixture(scope="session")
def text_model_dir(tmp_path_factory) -> Path:
    from tests.text import support

    return support.text_model_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def encoder(text_model_dir):
    from engine.text import TextEncoder

    return TextEncoder(text_model_dir, threads=1)


@pytest.fixture(scope="session")
def minilm():
    from engine.text.minilm import MiniLM

    return MiniLM.from_package()
