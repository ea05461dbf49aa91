"""Shared test material: a tiny synthetic corpus, a briefly trained run, its export.

Built once per test session (module-level cache) under a pytest tmp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
_cache: dict[str, Path] = {}


def tone(seconds: float, f0: float, channels: int, seed: int) -> np.ndarray:
    """A decaying harmonic note sequence, (N, channels) float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    note = int(0.25 * SR)
    for start in range(0, n, note):
        f = f0 * 2 ** (rng.integers(0, 12) / 12)
        seg = t[: min(note, n - start)]
        env = np.exp(-6 * seg)
        x[start : start + len(seg)] = env * sum(
            np.sin(2 * np.pi * k * f * seg) / k for k in range(1, 5)
        )
    x = 0.2 * x / np.abs(x).max()
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def make_corpus(root: Path, n_train: int = 3, n_test: int = 2, seconds: float = 3.0) -> Path:
    """Corpus layout as engine.data builds it: metadata.jsonl + audio/<split>/*.flac."""
    rows = []
    for split, n in (("train", n_train), ("test", n_test)):
        (root / "audio" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            path = f"audio/{split}/{split}_{i}.flac"
            sf.write(root / path, tone(seconds, 220.0 + 40 * i, 1, i), SR)
            rows.append({"path": path, "split": split, "duration_s": seconds, "id": f"{split}{i}"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def corpus(tmp_factory) -> Path:
    if "corpus" not in _cache:
        _cache["corpus"] = make_corpus(tmp_factory.mktemp("corpus"))
    return _cache["corpus"]


def trained_run(tmp_factory) -> Path:
    """The 'test' preset trained for a few steps (seconds)."""
    if "run" not in _cache:
        from engine.train.codec import CodecRun, main

        _cache["run"] = main(CodecRun(corpus(tmp_factory), tmp_factory.mktemp("run"), "test"))
    return _cache["run"]


def exported_model(tmp_factory) -> Path:
    if "model" not in _cache:
        from engine.export.codec import main

        _cache["model"] = main(trained_run(tmp_factory), tmp_factory.mktemp("model"))
    return _cache["model"]


# The test codecs are trained for seconds and quantize to int8 worse than a real one (0.114
# held-out log-magnitude error with onnxruntime 1.31; the shipped codec: 0.028, held to
# engine.export.decoder_int8.MAX_LOG_MAG_ERROR = 0.1 and heard in test_shipped_codec.py).
# Tests of the int8 mechanics on them use this limit instead.
TINY_CODEC_MAX_ERROR = 0.25


def tone_latents(codec, seeds: range, seconds: float = 2.0) -> list[np.ndarray]:  # noqa: ANN001
    """Normalised latents (1, D, L) of tone() audio through a CodecRuntime's encoder: the
    kind of latents a codec trained on this corpus sees (e.g. to calibrate an int8 decoder)."""
    out = []
    for seed in seeds:
        audio = np.ascontiguousarray(tone(seconds, 180.0 + 20 * seed, 1, seed).T[None])
        out.append(codec.normalize(codec.encode(audio)))
    return out
