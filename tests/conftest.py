"""Fixtures shared across test packages: a tiny corpus, codec run and exported codec, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codec import support


@pytest.fixture(scope="session")
def codec_corpus(tmp_path_factory) -> Path:
    return support.corpus(tmp_path_factory)


@pytest.fixture(scope="session")
def codec_run(tmp_path_factory) -> Path:
    return support.trained_run(tmp_path_factory)


@pytest.fixture(scope="session")
def codec_model(tmp_path_factory) -> Path:
    return support.exported_model(tmp_path_factory)
