from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.train.__main__ import main as cli
from engine.train.cache_transport import LATENTS_FILE
from engine.train.latent_cache import open_latent_cache


@pytest.fixture(scope="session")
def cache_dir(base_run: Path) -> Path:
    return base_run / "latents"


@pytest.fixture(scope="session")
def bundle(cache_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    cli(["pack-cache", "--cache", str(cache_dir), "--out", str(out)])
    return out


def test_the_unpacked_cache_is_the_original_within_half_a_step(cache_dir, bundle, tmp_path):
    cli(["unpack-cache", "--bundle", str(bundle), "--out", str(tmp_path / "latents")])
    original, carried = open_latent_cache(cache_dir), open_latent_cache(tmp_path / "latents")
    record = carried.index["transport"]
    a = np.asarray(original.latents, dtype=np.float32)
    b = np.asarray(carried.latents, dtype=np.float32)
    assert a.shape == b.shape and carried.latents.dtype == np.float16
    # int8 rounding (half a step) plus float16 storage of the result
    assert np.abs(a - b).max() <= record["scale"] / 2 + 2e-3 * np.abs(a).max()
    assert record["error_rms"] == pytest.approx(float(np.sqrt(((a - b) ** 2).mean())), rel=0.2)
    np.testing.assert_array_equal(carried.text, original.text)
    assert carried.index["clips"] == original.index["clips"]
    assert carried.sigma_data == original.sigma_data


def test_the_bundle_is_smaller_than_the_float16_cache(cache_dir, bundle) -> None:
    packed = (bundle / LATENTS_FILE).stat().st_size
    assert packed < 0.5 * (cache_dir / "latents.npy").stat().st_size


def test_a_truncated_bundle_is_refused_and_leaves_no_cache(bundle, tmp_path) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("index.json", "text.npy"):
        (cut / name).write_bytes((bundle / name).read_bytes())
    data = (bundle / LATENTS_FILE).read_bytes()
    (cut / LATENTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(SystemExit, match="truncated upload"):
        cli(["unpack-cache", "--bundle", str(cut), "--out", str(tmp_path / "latents")])
    assert not (tmp_path / "latents" / "latents.npy").exists()
    (cut / LATENTS_FILE).write_bytes(b"not xz at all" * 100)
    with pytest.raises(SystemExit, match="not a readable xz stream"):
        cli(["unpack-cache", "--bundle", str(cut), "--out", str(tmp_path / "latents")])


def test_a_bundle_missing_a_file_says_which(bundle, tmp_path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "index.json").write_bytes((bundle / "index.json").read_bytes())
    with pytest.raises(SystemExit, match=f"missing text.npy, {LATENTS_FILE}"):
        cli(["unpack-cache", "--bundle", str(partial), "--out", str(tmp_path / "out")])


def test_packing_an_incomplete_cache_is_refused(cache_dir, tmp_path) -> None:
    index = json.loads((cache_dir / "index.json").read_text())
    index["complete"] = False
    broken = tmp_path / "cache"
    broken.mkdir()
    (broken / "index.json").write_text(json.dumps(index))
    (broken / "latents.npy").write_bytes((cache_dir / "latents.npy").read_bytes())
    with pytest.raises(SystemExit, match="incomplete"):
        cli(["pack-cache", "--cache", str(broken), "--out", str(tmp_path / "bundle")])
