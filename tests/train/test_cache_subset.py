from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.train.__main__ import main as cli
from engine.train.latent_cache import open_latent_cache


def test_a_subset_keeps_every_held_out_clip_a_share_of_train_and_the_statistics(
    base_run: Path, tmp_path: Path
) -> None:
    full = open_latent_cache(base_run / "latents")
    out = tmp_path / "subset"
    cli(["subset-cache", "--cache", str(base_run / "latents"), "--out", str(out),
         "--fraction", "0.5", "--seed", "3"])
    sub = open_latent_cache(out)
    n_train = len(full.splits["train"])
    assert len(sub.splits["train"]) == max(1, round(0.5 * n_train))
    for split in set(full.splits) - {"train"}:
        assert len(sub.splits[split]) == len(full.splits[split])
    assert sub.sigma_data == full.sigma_data and sub.index["stats"] == full.index["stats"]
    by_path = {c["path"]: i for i, c in enumerate(full.index["clips"])}
    for j, clip in enumerate(sub.index["clips"]):  # every kept clip's frames and caption
        i = by_path[clip["path"]]
        np.testing.assert_array_equal(sub.window(j, 0, clip["frames"]),
                                      full.window(i, 0, clip["frames"]))
        np.testing.assert_array_equal(sub.text[j], full.text[i])
    record = json.loads((out / "index.json").read_text())["subset"]
    assert record["fraction"] == 0.5 and record["seed"] == 3


def test_a_subset_needs_a_share_and_a_complete_cache(base_run: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="fraction"):
        cli(["subset-cache", "--cache", str(base_run / "latents"), "--out", str(tmp_path / "a"),
             "--fraction", "0"])
    with pytest.raises(SystemExit, match="no index.json"):
        cli(["subset-cache", "--cache", str(tmp_path), "--out", str(tmp_path / "b"),
             "--fraction", "0.5"])
