"""Fixtures: the real micro exported model (tests/runtime/support.py), built once per session.

PRESTO_TEST_EXPORTED=DIR reuses a root built earlier (ROOT/{text,codec,base}) instead, to
iterate on these tests without the ~40 s build.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.runtime import support


@pytest.fixture(scope="session")
def exported_root(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("PRESTO_TEST_EXPORTED")
    if prebuilt:
        return Path(prebuilt)
    return support.exported_root(tmp_path_factory)


@pytest.fixture(scope="session")
def served(exported_root):
    from engine.runtime.model import ServedModel

    return ServedModel.load(exported_root / "base", threads=1)
