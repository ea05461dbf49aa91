"""One real export of all-MiniLM-L6-v2 per test session (about 10 s), shared by every package."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

_cache: dict[str, Path] = {}


def text_model_dir(tmp_factory) -> Path:
    if "text" not in _cache:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from engine.text.export import export_text_encoder

        with warnings.catch_warnings():  # the exporter's axis-rename chatter
            warnings.simplefilter("ignore")
            _cache["text"] = export_text_encoder(tmp_factory.mktemp("text_encoder"))
    return _cache["text"]
