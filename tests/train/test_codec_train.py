from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.train.__main__ import main as cli
from engine.train.audio_cache import build_cache


def test_training_writes_checkpoint_logs_plot_and_latent_stats(codec_run: Path) -> None:
    for name in (
        "checkpoint.pt",
        "losses.jsonl",
        "losses.png",
        "config.json",
        "latent_stats.json",
        "train_state.json",
        "cache/audio.npy",
    ):
        assert (codec_run / name).exists(), name
    rows = [json.loads(x) for x in (codec_run / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss"]) for r in rows)
    stats = json.loads((codec_run / "latent_stats.json").read_text())
    assert len(stats["mean"]) == 32 and min(stats["std"]) > 0


def test_resume_continues_from_the_checkpoint(codec_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["codec", "--data", str(codec_corpus), "--out", str(out), "--preset", "test"]
    cli([*base, "--steps", "2"])
    with pytest.raises(SystemExit):
        cli([*base, "--steps", "3"])  # refuses to overwrite without --resume
    cli([*base, "--steps", "3", "--resume"])
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3
    steps = [json.loads(x)["step"] for x in (out / "losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_minutes_budget_stops_training_early(codec_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cli(
        [
            "codec",
            "--data",
            str(codec_corpus),
            "--out",
            str(out),
            "--preset",
            "test",
            "--steps",
            "1000",
            "--minutes",
            "0.0001",
        ]
    )
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 1
    assert (out / "latent_stats.json").exists()


def test_audio_cache_is_deterministic_and_segments_have_the_right_shape(
    codec_corpus: Path, tmp_path: Path
) -> None:
    a = build_cache(codec_corpus, tmp_path / "a", 0.01, 44100, 2, seed=3)
    b = build_cache(codec_corpus, tmp_path / "b", 0.01, 44100, 2, seed=3)
    np.testing.assert_array_equal(a.audio, b.audio)
    seg = a.sample(np.random.default_rng(0), 4, 8192)
    assert seg.shape == (4, 2, 8192) and seg.dtype == np.float32
    assert np.abs(seg).max() <= 1.0
