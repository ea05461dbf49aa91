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


def test_decoder_only_training_keeps_the_encoder_and_its_statistics(
    codec_model: Path, codec_corpus: Path, tmp_path: Path
) -> None:
    init, run = tmp_path / "init", tmp_path / "run"
    cli(["import-codec", "--model", str(codec_model), "--out", str(init)])
    for name, seed in (("train", "0"), ("valid", "5")):  # the tone corpus has no valid split
        cli(["pack-audio", "--data", str(codec_corpus), "--out", str(tmp_path / f"b-{name}"),
             "--megabytes", "10", "--excerpt", "1", "--seed", seed])
        cli(["unpack-audio", "--bundle", str(tmp_path / f"b-{name}"),
             "--out", str(tmp_path / f"c-{name}")])
    cli(["codec", "--cache", str(tmp_path / "c-train"), "--valid-cache",
         str(tmp_path / "c-valid"), "--init", str(init), "--freeze-encoder", "--out", str(run),
         "--preset", "test", "--steps", "4"])
    before = torch.load(init / "checkpoint.pt", weights_only=False)["model"]
    after = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    for key in (k for k in before if k.startswith("encoder.")):
        assert torch.equal(before[key], after[key]), key
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert json.loads((run / "latent_stats.json").read_text())["mean"] == json.loads(
        (init / "latent_stats.json").read_text())["mean"]
    rows = [json.loads(x) for x in (run / "valid.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and rows[0].get("best")
    best = torch.load(run / "best.pt", weights_only=False)
    assert best["optimizer"] is None and best["valid"]["score"] == min(r["score"] for r in rows)
    with pytest.raises(SystemExit, match="optimiser"):
        cli(["codec", "--cache", str(tmp_path / "c-train"), "--out", str(init),
             "--preset", "test", "--resume"])


def test_freeze_encoder_needs_init_and_a_cache_needs_its_files(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--init"):
        cli(["codec", "--cache", str(tmp_path), "--out", str(tmp_path / "r"), "--preset",
             "test", "--freeze-encoder"])
    with pytest.raises(SystemExit, match="no complete audio cache"):
        cli(["codec", "--cache", str(tmp_path / "none"), "--out", str(tmp_path / "r2"),
             "--preset", "test"])


def test_a_new_decoder_shape_keeps_the_encoder_and_starts_the_decoder_fresh() -> None:
    from engine.codec.autoencoder import Autoencoder
    from engine.codec.config import CodecConfig
    from engine.train.codec import init_config, load_init

    small = CodecConfig(enc_width=32, enc_blocks=(1, 1, 1), dec_width=32, dec_blocks=2)
    init = {"model": Autoencoder(small).state_dict()}
    wide = init_config(CodecConfig(dec_width=48, dec_blocks=3), small)
    assert (wide.enc_width, wide.dec_width, wide.dec_blocks) == (32, 48, 3)
    assert load_init(Autoencoder(wide), init) == ["encoder"]
    assert load_init(Autoencoder(small), init) == ["encoder", "decoder"]
