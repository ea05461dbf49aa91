"""A tiny corpus with the attributes the quality yardstick classifies (family, tempo, mode)
and a classifier trained on it for a few steps. Built once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
FAMILIES = ("organ", "piano", "synth_lead")
TEMPI = (80.0, 120.0, 160.0)  # one per tempo band
MODES = ("major", "minor")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_cache: dict[str, Path] = {}


def render(family: str, bpm: float, mode: str, seconds: float, seed: int) -> np.ndarray:
    """One note per beat from the mode's scale; timbre by family. (N,) float32."""
    rng = np.random.default_rng(seed)
    n, beat = int(seconds * SR), int(SR * 60.0 / bpm)
    out = np.zeros(n)
    for start in range(0, n, beat):
        t = np.arange(min(beat, n - start)) / SR
        f = 220.0 * 2 ** (rng.choice(SCALES[mode]) / 12)
        if family == "piano":  # decaying harmonics
            note = np.exp(-6 * t) * sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3, 4))
        elif family == "organ":  # sustained odd harmonics
            note = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 3, 5))
            note *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
        else:  # buzzy sawtooth-like lead
            note = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 12))
            note *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.005)
        out[start:start + len(t)] = note
    return (0.2 * out / max(np.abs(out).max(), 1e-9)).astype(np.float32)


def make_attribute_corpus(root: Path, seconds: float = 3.0) -> Path:
    """metadata.jsonl + audio/<split>/*.flac: train 12, valid 3, test 6 clips."""
    rows = []
    plan = [("train", i) for i in range(12)] + [("valid", i) for i in range(3)] + [
        ("test", i) for i in range(6)]
    for k, (split, i) in enumerate(plan):
        family, bpm = FAMILIES[i % 3], TEMPI[(i // 3) % 3]
        mode = MODES[(i // 2) % 2]
        path = f"audio/{split}/{split}_{i}.flac"
        (root / "audio" / split).mkdir(parents=True, exist_ok=True)
        sf.write(root / path, render(family, bpm, mode, seconds, k), SR)
        rows.append({"id": f"{split}{i}", "path": path, "split": split, "duration_s": seconds,
                     "families": [family], "tempo_bpm": bpm, "mode": mode, "key": "C",
                     "work": f"w{k}",
                     "caption": f"{family.replace('_', ' ')}, {int(bpm)} BPM, in C {mode}"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def corpus(tmp_factory) -> Path:
    if "corpus" not in _cache:
        _cache["corpus"] = make_attribute_corpus(tmp_factory.mktemp("quality_corpus"))
    return _cache["corpus"]


def classifier_run(tmp_factory) -> Path:
    """engine.train classifier on the tiny corpus: 40 steps of batch 8."""
    if "run" not in _cache:
        from engine.bench.quality.train_classifier import ClassifierRun, main

        _cache["run"] = main(ClassifierRun(corpus(tmp_factory), tmp_factory.mktemp("clf_run"),
                                           minutes=5.0, steps=40, batch=8, eval_every=20))
    return _cache["run"]
