"""Fixtures shared across test packages, each built once per session: a tiny corpus, codec run
and exported codec; and the real micro exported model (tests/runtime/support.py).

PRESTO_TEST_EXPORTED=DIR reuses a model root built earlier (ROOT/{text,codec,base}) instead,
to iterate on the engine tests without the ~40 s build.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.codec import support
from tests.runtime import support as runtime_support


@pytest.fixture(scope="session")
def codec_corpus(tmp_path_factory) -> Path:
    return support.corpus(tmp_path_factory)


@pytest.fixture(scope="session")
def codec_run(tmp_path_factory) -> Path:
    return support.trained_run(tmp_path_factory)


@pytest.fixture(scope="session")
def codec_model(tmp_path_factory) -> Path:
    return support.exported_model(tmp_path_factory)


@pytest.fixture(scope="session")
def exported_root(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("PRESTO_TEST_EXPORTED")
    if prebuilt:
        return Path(prebuilt)
    return runtime_support.exported_root(tmp_path_factory)


@pytest.fixture(scope="session")
def served(exported_root):
    from engine.runtime.model import ServedModel

    return ServedModel.load(exported_root / "base", threads=1)
