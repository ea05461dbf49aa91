"""The base-model fixtures of the trainer tests, each built once per session
(tests/train/base_support.py): a captioned tone corpus, a codec run, a micro base run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train import base_support


@pytest.fixture(scope="session")
def base_corpus(tmp_path_factory) -> Path:
    return base_support.corpus(tmp_path_factory)


@pytest.fixture(scope="session")
def base_codec(tmp_path_factory) -> Path:
    return base_support.codec_run(tmp_path_factory)


@pytest.fixture(scope="session")
def base_run(tmp_path_factory) -> Path:
    return base_support.base_run(tmp_path_factory)
