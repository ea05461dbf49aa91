"""Shared material for base-model tests: a captioned tone corpus, a tiny codec run, and a
base run trained for a few steps at the `micro` preset. Built once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from tests.codec import support

CAPTIONS = (
    "a slow chorale for strings",
    "a lively folk tune on fiddle",
    "solo piano in a minor key",
    "brass quartet, moderate tempo",
)
_cache: dict[str, Path] = {}


def make_captioned_corpus(root: Path) -> Path:
    """metadata.jsonl with captions and train/valid/test splits; clips of 2-3 s of tones."""
    rows = []
    for i, (split, seconds) in enumerate(
        [
            ("train", 3.0),
            ("train", 2.5),
            ("train", 2.0),
            ("train", 3.0),
            ("valid", 2.5),
            ("valid", 2.0),
            ("test", 2.0),
        ]
    ):
        path = f"audio/{split}/clip_{i}.flac"
        (root / "audio" / split).mkdir(parents=True, exist_ok=True)
        sf.write(root / path, support.tone(seconds, 200.0 + 30 * i, 1, i), support.SR)
        rows.append(
            {
                "path": path,
                "split": split,
                "duration_s": seconds,
                "id": f"c{i}",
                "caption": CAPTIONS[i % len(CAPTIONS)],
            }
        )
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def corpus(tmp_factory) -> Path:
    if "corpus" not in _cache:
        _cache["corpus"] = make_captioned_corpus(tmp_factory.mktemp("base_corpus"))
    return _cache["corpus"]


def codec_run(tmp_factory) -> Path:
    """The codec trainer's `test` preset, a few steps (shared with the codec tests)."""
    return support.trained_run(tmp_factory)


def base_run(tmp_factory) -> Path:
    """engine.train base at the micro preset: 3 steps, with its latent cache in RUN/latents."""
    if "base" not in _cache:
        from engine.train.base import BaseRun, main

        out = tmp_factory.mktemp("base_run")
        _cache["base"] = main(BaseRun(corpus(tmp_factory), codec_run(tmp_factory), out, "micro"))
    return _cache["base"]
