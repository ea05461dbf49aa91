from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.train.__main__ import main as cli
from engine.train.base import prefix_mask
from engine.train.base_config import BaseTrainConfig, get_preset
from engine.train.latent_cache import build_latent_cache, open_latent_cache


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_training_writes_checkpoint_logs_plots_and_config(base_run: Path) -> None:
    for name in (
        "checkpoint.pt",
        "losses.jsonl",
        "losses.png",
        "valid.jsonl",
        "valid.png",
        "config.json",
        "train_state.json",
        "latents/index.json",
    ):
        assert (base_run / name).exists(), name
    log = rows(base_run / "losses.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["window"] <= 24 for r in log)
    val = rows(base_run / "valid.jsonl")
    assert [r["step"] for r in val] == [2, 3]
    assert set(val[0]) >= {"val_loss", "sigma_0.5", "sigma_5"}
    state = torch.load(base_run / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3 and set(state) >= {"model", "ema", "optimizer", "torch_rng"}
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    assert cfg.dit.latent_channels == 32 and cfg.sigma_data == state["sigma_data"]


def test_sigma_data_is_measured_on_the_normalised_train_latents(base_run: Path) -> None:
    cache = open_latent_cache(base_run / "latents")
    train = np.concatenate(
        [cache.window(c, 0, int(cache.frames[c])) for c in cache.splits["train"]], axis=1
    )  # (D, frames)
    assert cache.sigma_data == pytest.approx(float(train.std()), rel=1e-2)
    config = json.loads((base_run / "config.json").read_text())
    assert config["train"]["sigma_data"] == pytest.approx(cache.sigma_data, abs=1e-4)


def test_cache_holds_train_and_valid_clips_with_caption_embeddings(base_run: Path) -> None:
    cache = open_latent_cache(base_run / "latents")
    assert len(cache.splits["train"]) == 4 and len(cache.splits["valid"]) == 2  # no test clips
    assert cache.latents.shape == (int(cache.frames.sum()), 32)
    assert cache.text.shape == (6, 384)
    np.testing.assert_allclose(np.linalg.norm(cache.text, axis=1), 1.0, atol=1e-4)
    # 3 s of audio at 44.1 kHz is 64 whole latent frames of 2048 samples
    assert cache.frames[0] == 3 * 44100 // 2048


def test_resume_continues_the_step_count_and_the_log(
    base_run, base_corpus, base_codec, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "base",
        "--data",
        str(base_corpus),
        "--codec",
        str(base_codec),
        "--out",
        str(out),
        "--preset",
        "micro",
        "--cache",
        str(base_run / "latents"),
    ]
    cli([*args, "--steps", "2"])
    with pytest.raises(SystemExit):
        cli([*args, "--steps", "4"])  # refuses to overwrite without --resume
    cli([*args, "--steps", "4", "--resume"])
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 4
    log = rows(out / "losses.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    walls = [r["wall_s"] for r in log]
    assert walls == sorted(walls)  # wall time carries over the resume
    assert [r["step"] for r in rows(out / "valid.jsonl")] == [2, 4]


def test_an_interrupted_cache_build_resumes_to_the_same_latents(
    base_run, base_corpus, base_codec, tmp_path
) -> None:
    from engine.latent_codec import load_latent_codec

    class Flaky:
        """The real codec, failing on its third clip."""

        def __init__(self) -> None:
            self.inner, self.calls = load_latent_codec(base_codec), 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def encode(self, audio):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.inner.encode(audio)

    with pytest.raises(KeyboardInterrupt):
        build_latent_cache(base_corpus, base_codec, tmp_path, save_every_s=0.0, codec=Flaky())
    assert json.loads((tmp_path / "index.json").read_text())["done"] == 2
    resumed = build_latent_cache(base_corpus, base_codec, tmp_path)
    reference = open_latent_cache(base_run / "latents")
    np.testing.assert_array_equal(resumed.latents, reference.latents)
    assert resumed.sigma_data == pytest.approx(reference.sigma_data)


def test_batches_hold_same_length_windows_of_at_most_the_window(base_run: Path) -> None:
    cache = open_latent_cache(base_run / "latents")
    rng = np.random.default_rng(0)
    for _ in range(20):
        x0, text = cache.sample(rng, "train", 3, max_frames=50, patch=2, bucket_frames=8)
        assert x0.shape[0] == 3 and x0.shape[1] == 32 and text.shape == (3, 384)
        assert x0.shape[2] <= 50 and x0.shape[2] % 2 == 0 and x0.dtype == np.float32


def test_about_half_the_rows_get_a_known_prefix_that_leaves_frames_to_generate() -> None:
    cfg = get_preset("tiny")
    mask = prefix_mask(np.random.default_rng(0), 2000, 100, cfg)[:, 0]  # (B, T)
    known = mask.sum(1)
    assert 0.45 < (known > 0).mean() < 0.55
    assert known.max() <= 100 - cfg.min_new_frames
    # every known region is a prefix: ones, then zeros
    assert np.all(np.diff(mask, axis=1) <= 0)


@pytest.mark.slow
def test_torchrun_with_two_ranks_trains_and_rank_zero_writes(
    base_run, base_corpus, base_codec, tmp_path: Path
) -> None:
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "engine.train",
        "base",
        "--data",
        str(base_corpus),
        "--codec",
        str(base_codec),
        "--out",
        str(out),
        "--preset",
        "micro",
        "--steps",
        "2",
        "--cache",
        str(base_run / "latents"),
    ]
    subprocess.run(
        cmd, cwd=Path(__file__).resolve().parents[2], check=True, capture_output=True, timeout=300
    )
    state = json.loads((out / "train_state.json").read_text())
    assert state["world_size"] == 2 and state["steps"] == 2
    assert [r["step"] for r in rows(out / "losses.jsonl")] == [1, 2]


def test_resume_refuses_latents_of_another_codec(base_run, base_corpus, base_codec, tmp_path):
    import shutil

    other = tmp_path / "codec"
    shutil.copytree(base_codec, other, ignore=shutil.ignore_patterns("cache"))
    stats = json.loads((other / "latent_stats.json").read_text())
    stats["mean"] = [m + 0.1 for m in stats["mean"]]
    (other / "latent_stats.json").write_text(json.dumps(stats))
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(base_run / "checkpoint.pt", out / "checkpoint.pt")
    with pytest.raises(SystemExit, match="another codec"):
        cli(
            [
                "base",
                "--data",
                str(base_corpus),
                "--codec",
                str(other),
                "--out",
                str(out),
                "--preset",
                "micro",
                "--resume",
                "--steps",
                "5",
            ]
        )


def test_a_complete_cache_trains_without_the_corpus(base_run, base_codec, tmp_path) -> None:
    """How a run on a lent GPU starts: the carried cache alone, no corpus, no audio."""
    out = tmp_path / "run"
    cli(["base", "--codec", str(base_codec), "--out", str(out), "--preset", "micro",
         "--cache", str(base_run / "latents"), "--device", "cpu"])
    config = json.loads((out / "config.json").read_text())
    assert config["data"] is None and config["device"] == "cpu"
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 3


def test_without_corpus_or_cache_training_says_what_to_give(base_codec, tmp_path) -> None:
    with pytest.raises(SystemExit, match="--data .* or --cache"):
        cli(["base", "--codec", str(base_codec), "--out", str(tmp_path / "run"),
             "--preset", "micro"])
    with pytest.raises(SystemExit, match="complete latent cache"):
        cli(["base", "--codec", str(base_codec), "--out", str(tmp_path / "run2"),
             "--preset", "micro", "--cache", str(tmp_path / "no-such-cache")])


def test_a_batch_depends_on_the_step_alone(base_run: Path) -> None:
    """Batches drawn ahead on the prefetch thread are the ones drawn in place."""
    from engine.train.base import draw_batch

    cache = open_latent_cache(base_run / "latents")
    cfg = get_preset("micro")
    first, again, other = (draw_batch(cache, cfg, s, 0, 4) for s in (7, 7, 8))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape[:2] == (4, 32) and first[2].shape == (4, 1, first[0].shape[2])
    assert not all(a.shape == b.shape and np.array_equal(a, b)
                   for a, b in zip(first, other, strict=True))
