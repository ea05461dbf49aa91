"""A served model directory built for real: micro base run -> engine.export model, with a real
text-encoder export and codec export beside it. Built once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.codec import support as codec_support
from tests.text import support as text_support
from tests.train import base_support

_cache: dict[str, Path] = {}


def exported_root(tmp_factory) -> Path:
    """ROOT/{text,codec,base}: the layout of exported/ (base = the micro run, 3 steps)."""
    if "root" not in _cache:
        from engine.export.model import main

        root = tmp_factory.mktemp("exported")
        shutil.copytree(text_support.text_model_dir(tmp_factory), root / "text")
        shutil.copytree(codec_support.exported_model(tmp_factory), root / "codec")
        main(base_support.base_run(tmp_factory), root / "base", root / "text", root / "codec",
             name="base", mode="diffusion", steps=4, guidance=2.0, sampler="heun", budget=1.0,
             kind="base")
        _cache["root"] = root
    return _cache["root"]
