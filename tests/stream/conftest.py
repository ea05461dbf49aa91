from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime import support


@pytest.fixture(scope="session")
def exported_root(tmp_path_factory) -> Path:
    return support.exported_root(tmp_path_factory)


@pytest.fixture(scope="session")
def served(exported_root):
    from engine.runtime.model import ServedModel

    return ServedModel.load(exported_root / "base", threads=1)
